#!/usr/bin/env bash
# Smoke test of the benchmark tools (ctest label `bench`, not a timing gate): a throwaway
# redis-server, frontcache-relay in front of it, and frontcache-load for about a second in each
# mode through the relay. Passes when every run completes with replies and no errors.
#   bench/smoke.sh PATH/frontcache-load PATH/frontcache-relay
set -euo pipefail
load="$1"
relay="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib/ports.sh"
if ! command -v redis-server >/dev/null; then
  echo "redis-server missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --logfile "" >/dev/null &
pids+=($!)
wait_port "$rport"
xport=$(free_port)
"$relay" --listen "127.0.0.1:$xport" --upstream "127.0.0.1:$rport" --delay-us 250 >/dev/null &
pids+=($!)
wait_port "$xport"

check() {  # check NAME JSON: ops > 0, no errors, not failed
  local name="$1" json="$2"
  echo "$name: $json"
  [[ "$json" =~ \"ops\":([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) || { echo "$name: no ops" >&2; exit 1; }
  [[ "$json" == *'"errors":0,'* ]] || { echo "$name: errors" >&2; exit 1; }
  [[ "$json" == *'"failed":false'* ]] || { echo "$name: failed" >&2; exit 1; }
}

common=(--host 127.0.0.1 --port "$xport" --keys 1000 --value-size 100 --warmup 0.1 --seconds 0.5)
check populate+closed "$("$load" "${common[@]}" --populate --clients 4 --pipeline 4 --workload mix --zipf)"
check open "$("$load" "${common[@]}" --clients 4 --open --rate 2000 --workload get --uniform)"
check idle "$("$load" "${common[@]}" --clients 2 --idle 20 --workload set)"
# Through the 250 µs relay each round trip takes at least 0.5 ms.
json=$("$load" "${common[@]}" --clients 1 --workload get)
[[ "$json" =~ \"p50_us\":([0-9]+) ]] && ((BASH_REMATCH[1] >= 450)) || {
  echo "relay delay not applied: $json" >&2
  exit 1
}
