#!/usr/bin/env bash
# Where one server's CPU goes per request, for one workload: CPU µs per request (schedstat),
# syscalls per request (perf's syscall tracepoints, or strace -c when perf cannot), and a
# cpu-clock profile of the process (perf record), kernel and user space together.
#
#   bench/profile.sh TARGET WORKLOAD [SECONDS]
#     TARGET   frontcache | redis | twemproxy | echo
#     WORKLOAD hit | hit16 | set | set16 | miss
#   FRONTCACHE_BIN=/path/frontcache BENCH_BIN_DIR=build-ci bench/profile.sh frontcache hit
#
# Needs the bench tools built (frontcache-load, frontcache-echo: BENCH_BIN_DIR, default
# build-ci) and perf (linux-perf). Writes its files under $BENCH_BIN_DIR/profile-TARGET-WORKLOAD/
# and prints the summary: syscalls per request, top kernel and user symbols.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/lib/ports.sh
source bench/lib/cpu.sh

target="${1:?target: frontcache | redis | twemproxy | echo}"
workload="${2:?workload: hit | hit16 | set | set16 | miss}"
secs="${3:-6}"
bin="$(realpath "${BENCH_BIN_DIR:-build-ci}")"
fc_bin="$(realpath "${FRONTCACHE_BIN:-$bin/frontcache}")"
workers="${BENCH_WORKERS:-1}"
out="$bin/profile-$target-$workload"
rm -rf "$out"
mkdir -p "$out"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --logfile "$out/redis.log" \
  >/dev/null &
redis_pid=$!
pids+=("$redis_pid")
wait_port "$rport"
"$bin/frontcache-load" --port "$rport" --populate-only --keys 10000 --value-size 100 \
  --key-prefix hit: >/dev/null

port=$rport pid=$redis_pid
case "$target" in
  redis) ;;
  frontcache)
    port=$(free_port)
    cat >"$out/frontcache.yaml" <<EOF
listen: 127.0.0.1:$port
workers: $workers
upstream:
  address: 127.0.0.1:$rport
  connections_per_worker: 2
cache:
  max_memory: 1gb
  max_ttl: 300s
  rules:
    - match: "miss:*"
      ttl: 300s
      negative_ttl: 0s
    - match: "*"
      ttl: 300s
log:
  level: warn
EOF
    "$fc_bin" --config "$out/frontcache.yaml" >"$out/frontcache.log" 2>&1 &
    pid=$!
    ;;
  twemproxy)
    port=$(free_port)
    cat >"$out/nutcracker.yml" <<EOF
bench:
  listen: 127.0.0.1:$port
  hash: fnv1a_64
  distribution: ketama
  redis: true
  server_connections: 1
  servers:
    - 127.0.0.1:$rport:1
EOF
    nutcracker -c "$out/nutcracker.yml" -s "$(free_port)" -o "$out/nutcracker.log" &
    pid=$!
    ;;
  echo)
    port=$(free_port)
    "$bin/frontcache-echo" --listen "127.0.0.1:$port" --value-size 100 >/dev/null &
    pid=$!
    ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
pids+=("$pid")
wait_port "$port"
sleep 0.3

case "$workload" in
  hit) args=(--workload get --keys 10000 --key-prefix hit: --pipeline 1) ;;
  hit16) args=(--workload get --keys 10000 --key-prefix hit: --pipeline 16) ;;
  set) args=(--workload set --keys 10000 --key-prefix set: --value-size 100 --pipeline 1) ;;
  set16) args=(--workload set --keys 10000 --key-prefix set: --value-size 100 --pipeline 16) ;;
  miss) args=(--workload get --keys 10000 --key-prefix miss: --pipeline 1) ;;
  *) echo "unknown workload $workload" >&2; exit 2 ;;
esac
# Warm-up (fills the L1), then the measured load with perf attached for most of it.
"$bin/frontcache-load" --port "$port" --clients 50 --warmup 0.5 --seconds 1.5 "${args[@]}" \
  >/dev/null 2>&1
"$bin/frontcache-load" --port "$port" --clients 50 --warmup 0.5 --seconds "$secs" \
  --cpu-pid "$pid" --cpu-pid "$redis_pid" "${args[@]}" >"$out/load.json" 2>/dev/null &
load_pid=$!
sleep 1
perf_secs=$((secs - 2))
c0=$(cpu_ns "$pid")
perf stat -e 'syscalls:sys_enter_*' -p "$pid" -o "$out/syscalls.txt" -- sleep "$perf_secs" \
  >/dev/null 2>&1 &
stat_pid=$!
perf record -e cpu-clock -F 4999 -g -p "$pid" -o "$out/perf.data" -- sleep "$perf_secs" \
  >/dev/null 2>&1 || true
wait "$stat_pid" || true
c1=$(cpu_ns "$pid")
wait "$load_pid" || true
json=$(cat "$out/load.json")
jget() { [[ "$2" =~ \"$1\":(-?[0-9.]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0; }
rps=$(jget rps "$json")
requests=$(awk -v r="$rps" -v s="$perf_secs" 'BEGIN {printf "%.0f", r * s}')

{
  echo "target $target, workload $workload, workers $workers: $rps req/s;" \
    "CPU µs/req (load window): $target $(jget cpu1_us_per_op "$json"), redis $(jget cpu2_us_per_op "$json")"
  echo "CPU in the perf window: $(awk -v a="$c1" -v b="$c0" -v n="$requests" 'BEGIN {printf "%.2f", (a - b) / 1000 / n}') µs/req (perf attached: tracing adds its own cost)"
  echo
  echo "syscalls per request (perf window, ~$requests requests):"
  awk -v n="$requests" '/syscalls:sys_enter_/ {gsub(",", "", $1); if ($1 + 0 > 0) printf "  %-28s %8.3f\n", $2, $1 / n}' \
    "$out/syscalls.txt" | sed 's/syscalls:sys_enter_//' | sort -k2 -rn | head -12
  echo
  echo "top symbols (self, cpu-clock samples):"
  perf report -i "$out/perf.data" --no-children --sort sym --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -40
} | tee "$out/summary.txt"
