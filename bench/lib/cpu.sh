# cpu_ns PID: time on CPU of every thread of a process so far, in ns (the first field of each
# /proc/PID/task/*/schedstat: user and system time as the scheduler counts it). Sourced by
# bench scripts; frontcache-load --cpu-pid reads the same files over its measured window.
cpu_ns() {
  cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'
}
