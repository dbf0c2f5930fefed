# shellcheck shell=bash
# CPU accounting shared by bench scripts (sourced).

# cpu_ns PID...: time on CPU of every thread of the processes so far, summed, in ns (the first
# field of each /proc/PID/task/*/schedstat: user and system time as the scheduler counts it).
# frontcache-load --cpu-pid reads the same files over its measured window.
cpu_ns() {
  local p
  for p in "$@"; do cat /proc/"$p"/task/*/schedstat; done | awk '{s += $1} END {printf "%.0f", s}'
}

# cpu_us_per_request BEFORE_NS AFTER_NS REQUESTS: µs on CPU per request, 2 decimals.
cpu_us_per_request() {
  awk -v b="$1" -v a="$2" -v n="$3" 'BEGIN {printf "%.2f", (a - b) / 1000 / n}'
}

# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# round_ratio RAW PIPELINE COLUMN NUM DEN: the median over rounds of NUM's value over DEN's in
# the same round, 2 decimals. RAW has tab-separated rows: pipeline, round, target, then values
# (COLUMN counts from 1 over the whole row). The two runs of a round are back to back, so drift
# in the machine's load cancels out better than between two medians.
round_ratio() {
  awk -v p="$2" -v c="$3" -v num="$4" -v den="$5" '$1 == p {v[$2, $3] = $c; r[$2] = 1}
    END {for (i in r) printf "%.3f\n", v[i, num] / v[i, den]}' "$1" | median |
    awk '{printf "%.2f", $1}'
}

# pair_table RAW PIPELINES COLUMN_NAME BASE OTHER BASE_LABEL: the markdown table of two targets
# measured in the same rounds (RAW rows: pipeline, round, target, requests/s, CPU µs per
# request): per pipeline depth, each target's medians, and OTHER's per-round ratios to BASE.
pair_table() {
  local raw="$1" pipelines="$2" column="$3" base="$4" other="$5" label="$6" p t rps cpu
  echo "| pipeline | $column | requests/s | CPU µs per request | requests/s vs $label | CPU vs $label |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for p in $pipelines; do
    for t in "$base" "$other"; do
      rps="$(awk -v p="$p" -v t="$t" '$1 == p && $3 == t {print $4}' "$raw" | median)"
      cpu="$(awk -v p="$p" -v t="$t" '$1 == p && $3 == t {print $5}' "$raw" | median)"
      local rps_ratio=1.00 cpu_ratio=1.00
      if [[ "$t" == "$other" ]]; then
        rps_ratio="$(round_ratio "$raw" "$p" 4 "$other" "$base")"
        cpu_ratio="$(round_ratio "$raw" "$p" 5 "$other" "$base")"
      fi
      echo "| $p | $t | $rps | $cpu | $rps_ratio | $cpu_ratio |"
    done
  done
}
