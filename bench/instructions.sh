#!/usr/bin/env bash
# User-space instructions per request of frontcache for one workload, counted by valgrind's
# callgrind over a fixed number of requests. Unlike CPU time the count does not move with the
# machine's load, so two builds can be compared on a busy machine (BASELINE_BIN: a second
# binary, measured the same way, and the ratio). Kernel work (syscalls, TCP) is not counted:
# bench/run.sh and bench/profile.sh measure it as time. Cache misses are not visible either.
#
#   bench/instructions.sh WORKLOAD [REQUESTS]      WORKLOAD: hit | hit16 | set | set16 | miss | nil
#   FRONTCACHE_BIN=build-ci/frontcache BASELINE_BIN=/path/old/frontcache bench/instructions.sh hit16
#
# The load is redis-benchmark (50 clients, 100-byte values, 10,000 keys); hits are measured
# after a pass that fills the L1. miss: GETs of keys Redis has, under a 1 ms rule TTL (every
# GET is a fill: the read and its PTTL); nil: GETs of keys Redis does not have, nils not cached.
# Prints "<binary> <workload> <instructions per request>" and,
# with the top functions by inclusive cost, writes callgrind.out.* under $BENCH_OUT.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/lib/ports.sh
source bench/lib/setup.sh

workload="${1:?workload: hit | hit16 | set | set16 | miss | nil}"
requests="${2:-100000}"
fc_bin="$(realpath "${FRONTCACHE_BIN:-build-ci/frontcache}")"
baseline_bin="${BASELINE_BIN:+$(realpath "$BASELINE_BIN")}"
out="${BENCH_OUT:-$(mktemp -d /tmp/fc-instructions.XXXXXX)}"
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

case "$workload" in
  hit) test=get pipeline=1 ;;
  hit16) test=get pipeline=16 ;;
  set) test=set pipeline=1 ;;
  set16) test=set pipeline=16 ;;
  miss) test=get pipeline=1 ;;
  nil) test=get pipeline=1 ;;
  *) echo "unknown workload $workload" >&2; exit 2 ;;
esac
bench() { redis-benchmark -p "$1" -t "$test" -n "$2" -c 50 -P "$pipeline" -r 10000 -d 100 -q >/dev/null; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --logfile "$out/redis.log" \
  >/dev/null &
pids+=($!)
wait_port "$rport"
# Every key redis-benchmark's -r 10000 can draw ("key:" and 12 digits), except for nil.
[[ "$workload" == nil ]] || bench_key_commands SET key: 10000 | bench_pipe "$rport"
cache_yaml() {
  case "$workload" in
    miss | nil)
      printf 'cache:\n  max_memory: 1gb\n  rules:\n    - match: "*"\n'
      if [[ "$workload" == miss ]]; then
        printf '      ttl: 1ms\n'
      else
        printf '      ttl: 300s\n      negative_ttl: 0s\n'
      fi
      printf 'log:\n  level: warn\n'
      ;;
    *) bench_cache_yaml ;;
  esac
}

# measure BINARY: instructions per request, and the top functions (written to $out).
measure() {
  local binary="$1" tag="$2" port pid
  port=$(free_port)
  cat >"$out/$tag.yaml" <<EOF
listen: 127.0.0.1:$port
workers: 1
upstream:
  address: 127.0.0.1:$rport
  connections_per_worker: 2
$(cache_yaml)
EOF
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.$tag" \
    "$binary" --config "$out/$tag.yaml" >"$out/$tag.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  local tries=0  # valgrind starts slowly: up to 2 minutes
  until redis-cli -p "$port" info frontcache 2>/dev/null | grep -q 'l1_state:armed'; do
    ((++tries < 600)) || { echo "frontcache under valgrind did not arm" >&2; exit 1; }
    sleep 0.2
  done
  # Fill the L1 (and warm the process), then count only the measured requests.
  bench "$port" 200000
  callgrind_control -z "$pid" >/dev/null
  bench "$port" "$requests"
  callgrind_control -d "$pid" >/dev/null
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  local dump
  dump=$(ls -t "$out"/callgrind.out."$tag".* 2>/dev/null | head -1)
  local ir
  ir=$(awk '/^summary:/ {print $2}' "$dump")
  awk -v ir="$ir" -v n="$requests" 'BEGIN {printf "%.0f\n", ir / n}' >"$out/$tag.per_request"
  callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | head -60 >"$out/$tag.top.txt" || true
}

measure "$fc_bin" current
current=$(cat "$out/current.per_request")
echo "$fc_bin $workload $current instructions per request ($requests requests)"
if [[ -n "$baseline_bin" ]]; then
  measure "$baseline_bin" baseline
  baseline=$(cat "$out/baseline.per_request")
  echo "$baseline_bin $workload $baseline instructions per request"
  awk -v c="$current" -v b="$baseline" 'BEGIN {printf "current / baseline: %.3f\n", c / b}'
fi
echo "callgrind output and top functions: $out"
