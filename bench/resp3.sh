#!/usr/bin/env bash
# What RESP3 costs on the L1 hit path: GETs answered from L1 by one frontcache (1 worker), with
# `redis-benchmark` in RESP2 and with `redis-benchmark -3` (HELLO 3 on every connection; L1 keeps
# a cached reply per protocol), in one run, interleaved rounds (RESP2, RESP3, then RESP3, RESP2,
# ...). Besides requests/s, frontcache's CPU per request: the time on CPU of all its threads,
# summed from /proc/<pid>/task/*/schedstat before and after each run (bench/lib/cpu.sh, as
# bench/tls.sh), divided by the requests.
#
# Then the invalidation latency to a RESP3 tracking client: integration/node/csc.js (node-redis
# with its client-side cache, reading through this frontcache) with writes through a second
# frontcache on the same Redis and directly on Redis, and the same client on Redis itself for
# comparison; skipped when node or integration/node/node_modules is missing.
#
#   bench/resp3.sh
#   FRONTCACHE_BIN=build-ci/frontcache BENCH_ROUNDS=5 bench/resp3.sh
#
# Environment: FRONTCACHE_BIN (default: build the release preset), BENCH_ROUNDS (3),
# BENCH_REQUESTS (200000 per run), BENCH_CLIENTS (50), BENCH_WORKERS (frontcache workers, 1),
# BENCH_PIPELINES ("1 16"), BENCH_CSC_ROUNDS (500 writes per writer).
# Writes bench/results/resp3-<date>.md (and prints it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/lib/ports.sh
source bench/lib/cpu.sh
source bench/lib/setup.sh

bench_load_settings
csc_rounds="${BENCH_CSC_ROUNDS:-500}"
keys=10000

bench_frontcache_bin
bench_workdir resp3

# ---- processes -----------------------------------------------------------------------------
rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
  --logfile "$work/redis.log" >/dev/null &
pids+=("$!")
wait_pong "$rport"

start_frontcache() {  # start_frontcache NAME PORT: a frontcache in front of the Redis
  {
    printf 'listen: 127.0.0.1:%s\nworkers: %s\nupstream:\n  address: 127.0.0.1:%s\n' \
      "$2" "$workers" "$rport"
    bench_cache_yaml
  } >"$work/$1.yaml"
  "$bin" --config "$work/$1.yaml" 2>"$work/$1.log" &
  pids+=("$!")
  wait_pong "$2"
}
pport="$(free_port)"
start_frontcache frontcache "$pport"
proxy_pid="${pids[-1]}"

# The keys redis-benchmark -r asks for (key:000000000000 ...), 100-byte values, set on Redis.
bench_key_commands SET key: "$keys" | bench_pipe "$rport"

bench_get() {  # bench_get PROTOCOL PIPELINE: prints requests/s
  local resp=()
  if [[ "$1" == resp3 ]]; then resp=(-3); fi
  redis-benchmark -h 127.0.0.1 -p "$pport" "${resp[@]}" -t get -r "$keys" -d 100 -n "$requests" \
    -c "$clients" -P "$2" --csv | awk -F'"' '$2 == "GET" {print $4}'
}
l1() {  # l1 FIELD: a number from INFO frontcache
  redis-cli -p "$pport" info frontcache | tr -d '\r' | sed -n "s/^$1://p"
}

# Warm-up: fills L1 with each protocol's replies (an entry per protocol); 20 draws per key
# leave none of them out.
warm_requests=$((requests > 20 * keys ? requests : 20 * keys))
requests="$warm_requests" bench_get resp2 16 >/dev/null
requests="$warm_requests" bench_get resp3 16 >/dev/null

raw="$work/raw.tsv"
: >"$raw"
hits_before="$(l1 l1_hits)"
misses_before="$(l1 l1_misses)"
for p in $pipelines; do
  for ((r = 1; r <= rounds; r++)); do
    order="resp2 resp3"
    if ((r % 2 == 0)); then order="resp3 resp2"; fi
    for proto in $order; do
      before="$(cpu_ns "$proxy_pid")"
      rps="$(bench_get "$proto" "$p")"
      after="$(cpu_ns "$proxy_pid")"
      printf '%s\t%s\t%s\t%s\t%s\n' "$p" "$r" "$proto" "$rps" \
        "$(cpu_us_per_request "$before" "$after" "$requests")" >>"$raw"
    done
  done
done
hits=$(($(l1 l1_hits) - hits_before))
misses=$(($(l1 l1_misses) - misses_before))

# ---- invalidation latency to a RESP3 tracking client ----------------------------------------
csc_rows=""
if command -v node >/dev/null 2>&1 && [[ -d integration/node/node_modules/redis ]]; then
  bport="$(free_port)"
  start_frontcache second "$bport"
  csc() {  # csc PORT WRITERS...: csc.js's summary as table rows
    CSC_ROUNDS="$csc_rounds" node integration/node/csc.js 127.0.0.1 "$@" 2>/dev/null |
      sed -n 's/^OK //p' | node -e '
        const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
        for (const [name, v] of Object.entries(s)) {
          if (!v.ack_to_invalidated_us) continue;
          const a = v.ack_to_invalidated_us, t = v.sent_to_invalidated_us;
          console.log(`| ${name} | ${v.rounds} | ${a.p50} | ${a.p99} | ${t.p50} | ${t.p99} | ${v.invalidated_before_ack} |`);
        }'
  }
  csc_rows="$(csc "$pport" "through another frontcache=127.0.0.1:$bport" \
    "directly on Redis=127.0.0.1:$rport")"
  csc_rows+=$'\n'"$(csc "$rport" "Redis itself (no frontcache)=127.0.0.1:$rport")"
fi

# ---- report --------------------------------------------------------------------------------
out="bench/results/resp3-$(date +%Y-%m-%d).md"
mkdir -p bench/results
{
  echo "# RESP3 on the L1 hit path, and invalidation latency to a tracking client ($(date +%Y-%m-%d))"
  echo
  echo "redis-benchmark -t get -r $keys -d 100 -n $requests -c $clients, without and with \`-3\`,"
  echo "$rounds interleaved rounds per pipeline depth, medians. frontcache $(basename "$(dirname "$bin")")/frontcache"
  echo "(\`$("$bin" --version 2>/dev/null | head -1 || echo '?')\`), workers $workers, every measured GET an L1 hit"
  echo "(l1_hits $hits, l1_misses $misses over the measured runs); $(nproc) cores shared by"
  echo "redis-benchmark, Redis and frontcache. CPU per request: time on CPU of all frontcache's"
  echo "threads (/proc/<pid>/task/*/schedstat) over the run, divided by requests."
  echo
  echo "Ratios are the median of each round's RESP3/RESP2 ratio (the two runs of a round are"
  echo "back to back, so drift in the machine's load cancels out better than between medians)."
  echo
  pair_table "$raw" "$pipelines" protocol resp2 resp3 RESP2
  echo
  echo "Raw rows (pipeline, round, protocol, requests/s, CPU µs per request):"
  echo
  echo '```'
  cat "$raw"
  echo '```'
  if [[ -n "$csc_rows" ]]; then
    echo
    echo "## Invalidation latency to a RESP3 tracking client"
    echo
    echo "integration/node/csc.js: node-redis with \`RESP: 3\` and \`clientSideCache\` reads through"
    echo "the frontcache above (CLIENT TRACKING in default mode, served by frontcache); each of"
    echo "$csc_rounds keys is read twice (the second read a local hit), written once by the writer, and"
    echo "the time until the client-side cache drops the entry (its \`invalidate\` event) is taken"
    echo "from the write's acknowledgement (0 when the invalidation arrived first) and from the"
    echo "write's sending. The next read must return the new value. µs; the second frontcache has"
    echo "the same config. The last row is the same client on Redis, for comparison."
    echo
    echo "| writer | writes | ack → invalidated p50 | p99 | sent → invalidated p50 | p99 | invalidated before the ack |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    echo "$csc_rows"
  fi
} | tee "$out"
