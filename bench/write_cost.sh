#!/usr/bin/env bash
# What a forwarded write costs, for two frontcache binaries in one run (e.g. a release before
# the invalidation fence and the current one): SETs from redis-benchmark through a proxy with
# one worker and L1 on, in interleaved rounds (A, B, A, B, ...), each against a fresh
# redis-server. Per SET: the proxy's CPU and Redis's CPU (time on CPU of all threads, from
# /proc/<pid>/task/*/schedstat), and the commands Redis ran (INFO commandstats) by name.
#
#   bench/write_cost.sh OLD_BINARY NEW_BINARY
#
# Environment: BENCH_ROUNDS (3), BENCH_REQUESTS (100000), BENCH_CLIENTS (50), BENCH_YAML_A and
# BENCH_YAML_B (YAML appended to the config of the first and the second binary: the same binary
# twice with e.g. BENCH_YAML_B=$'invalidation:\n  tracking: default' compares two settings).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/lib/ports.sh"
source "$root/bench/lib/cpu.sh"
source "$root/bench/lib/setup.sh"
[[ $# -eq 2 ]] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
bins=("$(realpath "$1")" "$(realpath "$2")")
rounds="${BENCH_ROUNDS:-3}"
requests="${BENCH_REQUESTS:-100000}"
clients="${BENCH_CLIENTS:-50}"
bench_workdir writes

extra_yaml=("${BENCH_YAML_A:-}" "${BENCH_YAML_B:-}")

run_one() {  # run_one BINARY EXTRA_YAML: prints "proxy_us redis_us commands-per-set"
  local bin="$1" rport pport rpid ppid
  rport="$(free_port)"
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
    --logfile "$work/redis.log" >/dev/null &
  rpid=$!
  pids+=("$rpid")
  wait_port "$rport"
  pport="$(free_port)"
  printf 'listen: 127.0.0.1:%s\nworkers: 1\nupstream:\n  address: 127.0.0.1:%s\n' \
    "$pport" "$rport" >"$work/fc.yaml"
  [[ -z "$2" ]] || printf '%s\n' "$2" >>"$work/fc.yaml"
  "$bin" --config "$work/fc.yaml" >"$work/fc.log" 2>&1 &
  ppid=$!
  pids+=("$ppid")
  wait_port "$pport"
  until [[ "$(redis-cli -p "$pport" set warm up 2>/dev/null)" == OK ]]; do sleep 0.05; done
  redis-cli -p "$rport" config resetstat >/dev/null
  local p0 r0 p1 r1
  p0="$(cpu_ns "$ppid")"
  r0="$(cpu_ns "$rpid")"
  redis-benchmark -p "$pport" -t set -n "$requests" -c "$clients" -r 10000 -d 100 -q >/dev/null
  p1="$(cpu_ns "$ppid")"
  r1="$(cpu_ns "$rpid")"
  local stats
  stats="$(redis-cli -p "$rport" info commandstats | tr -d '\r' |
    awk -F'[_:=,]' '/^cmdstat_/ && $2 != "info" && $2 != "config" {printf "%s=%s ", $2, $4}')"
  awk -v p="$((p1 - p0))" -v r="$((r1 - r0))" -v n="$requests" -v s="$stats" \
    'BEGIN {printf "%.2f\t%.2f\t%s\n", p / n / 1000, r / n / 1000, s}'
  kill "$ppid" "$rpid"
  wait "$ppid" "$rpid" 2>/dev/null || true
}

echo -e "round\tbinary\tproxy_cpu_us_per_set\tredis_cpu_us_per_set\tredis_commands"
for round in $(seq "$rounds"); do
  for i in 0 1; do
    echo -e "$round\t$(basename "$(dirname "${bins[$i]}")")/$(basename "${bins[$i]}")\t$(run_one "${bins[$i]}" "${extra_yaml[$i]}")"
  done
done
