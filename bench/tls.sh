#!/usr/bin/env bash
# TLS hits: GETs through frontcache's TLS listener (answered from L1; the proxy's upstream
# connections are TLS too) against the same GETs on Redis's own TLS port, with
# `redis-benchmark --tls`, in one run, interleaved rounds (Redis, frontcache, Redis, ...). Besides
# requests/s, each server's CPU per request: the time on CPU of all its threads, summed from
# /proc/<pid>/task/*/schedstat before and after each run, divided by the requests.
#
#   bench/tls.sh
#   FRONTCACHE_BIN=build-ci/frontcache BENCH_ROUNDS=5 bench/tls.sh
#
# Environment: FRONTCACHE_BIN (default: build the release preset), BENCH_ROUNDS (3),
# BENCH_REQUESTS (200000 per run), BENCH_CLIENTS (50), BENCH_WORKERS (frontcache workers, 1),
# BENCH_PIPELINES ("1 16"). Writes bench/results/tls-<date>.md (and prints it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/lib/ports.sh
source bench/lib/cpu.sh
source bench/lib/setup.sh

bench_load_settings
keys=10000

bench_frontcache_bin
bench_workdir tls

# ---- certificates: a CA and a server certificate for 127.0.0.1 ---------------------------
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$work/ca-key.pem" -out "$work/ca.pem" -days 2 \
  -subj "/CN=bench CA" 2>/dev/null
openssl req "${ec[@]}" -keyout "$work/server-key.pem" -out "$work/server.csr" \
  -subj "/CN=bench server" 2>/dev/null
echo "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
  -set_serial 1 -days 2 -extfile "$work/server.ext" -out "$work/server.pem" 2>/dev/null
tls_cli=(--tls --cacert "$work/ca.pem" -h 127.0.0.1)

# ---- processes -----------------------------------------------------------------------------
rport="$(free_port)"
redis-server --port 0 --tls-port "$rport" --bind 127.0.0.1 --tls-cert-file "$work/server.pem" \
  --tls-key-file "$work/server-key.pem" --tls-ca-cert-file "$work/ca.pem" \
  --tls-auth-clients no --save "" --appendonly no --logfile "$work/redis.log" >/dev/null &
redis_pid=$!
pids+=("$redis_pid")
wait_pong "$rport" "${tls_cli[@]}"

fport="$(free_port)"
pport="$(free_port)"
{
  cat <<EOF
listen: 127.0.0.1:$pport
workers: $workers
tls:
  listen: 127.0.0.1:$fport
  cert_file: $work/server.pem
  key_file: $work/server-key.pem
upstream:
  address: 127.0.0.1:$rport
  tls:
    ca_file: $work/ca.pem
EOF
  bench_cache_yaml
} >"$work/frontcache.yaml"
"$bin" --config "$work/frontcache.yaml" 2>"$work/frontcache.log" &
proxy_pid=$!
pids+=("$proxy_pid")
wait_pong "$fport" "${tls_cli[@]}"

# The keys redis-benchmark -r asks for (key:000000000000 ...), 100-byte values, set on Redis.
bench_key_commands SET key: "$keys" | bench_pipe "$rport" "${tls_cli[@]}"

bench_get() {  # bench_get PORT PIPELINE: prints requests/s
  redis-benchmark "${tls_cli[@]}" -p "$1" -t get -r "$keys" -d 100 -n "$requests" \
    -c "$clients" -P "$2" --csv | awk -F'"' '$2 == "GET" {print $4}'
}

# Warm-up: fills the L1 (and gets both processes' TLS and allocator state going).
bench_get "$fport" 16 >/dev/null
bench_get "$rport" 16 >/dev/null

raw="$work/raw.tsv"
: >"$raw"
for p in $pipelines; do
  for ((r = 1; r <= rounds; r++)); do
    for target in redis frontcache; do
      if [[ "$target" == redis ]]; then port="$rport" pid="$redis_pid"; else port="$fport" pid="$proxy_pid"; fi
      before="$(cpu_ns "$pid")"
      rps="$(bench_get "$port" "$p")"
      after="$(cpu_ns "$pid")"
      cpu_us="$(cpu_us_per_request "$before" "$after" "$requests")"
      printf '%s\t%s\t%s\t%s\t%s\n' "$p" "$r" "$target" "$rps" "$cpu_us" >>"$raw"
    done
  done
done

info="$(redis-cli "${tls_cli[@]}" -p "$fport" info frontcache | tr -d '\r')"
hits="$(sed -n 's/^l1_hits://p' <<<"$info")"
misses="$(sed -n 's/^l1_misses://p' <<<"$info")"
failures="$(sed -n 's/^tls_handshake_failures://p' <<<"$info")"

out="bench/results/tls-$(date +%Y-%m-%d).md"
mkdir -p bench/results
{
  echo "# TLS hits: frontcache vs Redis's TLS port ($(date +%Y-%m-%d))"
  echo
  echo "redis-benchmark --tls -t get -r $keys -d 100 -n $requests -c $clients, $rounds interleaved"
  echo "rounds per pipeline depth, medians. frontcache: workers $workers, every GET an L1 hit after"
  echo "the warm-up (l1_hits $hits, l1_misses $misses for the whole run), TLS to the upstream too;"
  echo "$(nproc) cores shared by redis-benchmark, Redis and frontcache. CPU per request: time on CPU of"
  echo "all the server's threads (/proc/<pid>/task/*/schedstat) over the run, divided by requests."
  echo "Client-side TLS handshake failures during the run: ${failures:-?}."
  echo
  echo "Ratios are the median of each round's frontcache/Redis ratio (the two runs of a round are"
  echo "back to back, so drift in the machine's load cancels out better than between medians)."
  echo
  pair_table "$raw" "$pipelines" target redis frontcache Redis
  echo
  echo "Raw rows (pipeline, round, target, requests/s, CPU µs per request):"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} | tee "$out"
