#!/usr/bin/env bash
# End-to-end benchmark: frontcache against direct Redis and twemproxy, measured in one run on
# this machine, in interleaved rounds (direct, twemproxy, frontcache, direct, ...) so that drift
# hits every target alike. Besides throughput and latency, every run reports the CPU time per
# operation of the server measured and of the upstream Redis behind it (all threads, from
# /proc/PID/task/*/schedstat over the measured window): on two shared cores requests/s mostly
# say who won the fight for the cores, CPU per operation is what a deployment pays.
# Writes bench/results/<date>.md, .tsv and .png (and latest.md / latest.png).
#
#   bench/run.sh                      everything (about 15 minutes with the defaults)
#   BENCH_SCENARIOS="a c" bench/run.sh
#
# Environment: BENCH_SECONDS (measured seconds per run, 4), BENCH_ROUNDS (3), BENCH_WORKERS
# (frontcache worker counts, "1 2"), BENCH_DELAY_US (relay delay per direction, 250),
# BENCH_SCENARIOS ("a b c f g d e m"), BENCH_PIN (1: load generator on CPU 1, every server on CPU 0),
# BENCH_BIN_DIR (a build directory holding frontcache and the bench tools, e.g. build-ci: used as
# it is instead of building the release preset), BENCH_BASELINE_BIN (a second frontcache binary,
# measured in the same rounds as "baseline-wN": before/after figures from one run),
# BENCH_YAML and BENCH_BASELINE_YAML (YAML appended to the frontcache config of the current and the
# baseline binary: the same binary as baseline with BENCH_YAML=$'invalidation:\n  tracking: default'
# compares two settings in one run).
#
# Scenarios (docs/benchmarks.md has the method):
#   a  GET, all hits, 50 clients, no pipelining           b  the same with pipelines of 16
#   c  SET, 50 clients, pipelines of 1 and 16             f  GET misses: keys Redis does not have,
#                                                            nil not cached, 50 clients
#   g  GET misses of keys Redis has (the rule's TTL is 1 ms: every read is a fill), 50 clients
#                                                         d  Redis behind a 0.5 ms hop (relay):
#      90/10 GET/SET, Zipf over 100k keys, 1 KB values, closed loop and open loop
#   e  1,000 and 10,000 idle connections plus 50 working: RSS per connection, upstream
#      connections, working clients' latency
#   m  RSS per cached entry, 100 B and 1 KB values (needs the L1)
# Scenarios a-c, f and g also measure frontcache-echo (bench/echo/): a minimal epoll server
# answering with the same reply bytes, the physical limit of CPU per request on this machine.
# Scenario d's closed loop measures it with 1 KB values: every request answered at once, as
# by a proxy whose every read hits and whose writes cost nothing: the most any proxy could
# serve of that mix here, with the load generator on the same cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/lib/ports.sh

secs="${BENCH_SECONDS:-4}"
rounds="${BENCH_ROUNDS:-3}"
workers_list="${BENCH_WORKERS:-1 2}"
delay_us="${BENCH_DELAY_US:-250}"
scenarios="${BENCH_SCENARIOS:-a b c f g d e m}"
pin="${BENCH_PIN:-0}"
baseline_bin="${BENCH_BASELINE_BIN:-}"
warmup=1

bash scripts/install-deps.sh --bench
if [[ -n "${BENCH_BIN_DIR:-}" ]]; then
  bin="$(realpath "$BENCH_BIN_DIR")"
else
  cmake --preset release >/dev/null
  cmake --build build -j"${FRONTCACHE_JOBS:-2}" \
    --target frontcache frontcache-load frontcache-relay frontcache-echo
  bin="$root/build"
fi
ulimit -n "$(ulimit -Hn)"
[[ -n "$baseline_bin" ]] && baseline_bin="$(realpath "$baseline_bin")"

work="$bin/bench-run"
rm -rf "$work"
mkdir -p "$work" bench/results
raw="$work/raw.tsv"
: >"$raw"

load_pin=() server_pin=()
if [[ "$pin" == 1 ]]; then load_pin=(taskset -c 1); server_pin=(taskset -c 0); fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# ---- processes --------------------------------------------------------------------------

start_redis() {  # start_redis PORT: a throwaway redis-server; sets last_pid
  "${server_pin[@]}" redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no \
    --maxclients 15000 --logfile "$work/redis-$1.log" >/dev/null &
  last_pid=$!
  pids+=("$last_pid")
  wait_port "$1"
}

start_twemproxy() {  # start_twemproxy PORT UPSTREAM_PORT
  local conf="$work/nutcracker-$1.yml"
  cat >"$conf" <<EOF
bench:
  listen: 127.0.0.1:$1
  hash: fnv1a_64
  distribution: ketama
  redis: true
  server_connections: 1
  servers:
    - 127.0.0.1:$2:1
EOF
  "${server_pin[@]}" nutcracker -c "$conf" -s "$(free_port)" -a 127.0.0.1 -o "$work/nutcracker-$1.log" &
  last_pid=$!
  pids+=("$last_pid")
  wait_port "$1"
}

start_frontcache() {  # start_frontcache PORT UPSTREAM_PORT WORKERS [BINARY [EXTRA_YAML]]
  local conf="$work/frontcache-$1.yaml"
  cat >"$conf" <<EOF
listen: 127.0.0.1:$1
workers: $3
upstream:
  address: 127.0.0.1:$2
  connections_per_worker: 2
cache:
  max_memory: 2gb
  max_ttl: 300s
  rules:
    - match: "miss:*"     # scenario f: every GET a miss (nil replies are not cached)
      ttl: 300s
      negative_ttl: 0s
    - match: "fill:*"     # scenario g: every GET a miss of a key Redis has (entries live 1 ms)
      ttl: 1ms
    - match: "*"
      ttl: 300s
limits:
  max_clients: 15000
log:
  level: warn
EOF
  local extra="${5-${BENCH_YAML:-}}"
  [[ -z "$extra" ]] || printf '%s\n' "$extra" >>"$conf"
  "${server_pin[@]}" "${4:-$bin/frontcache}" --config "$conf" >"$work/frontcache-$1.log" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
  wait_port "$1"
  sleep 0.2  # upstream connections
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

load() {  # load PORT ARGS...: one frontcache-load run, JSON on stdout
  local port="$1"
  shift
  "${load_pin[@]}" "$bin/frontcache-load" --port "$port" --warmup "$warmup" --seconds "$secs" "$@" \
    2>>"$work/load.log" || echo '{"ops":0,"failed":true}'
}

# GET calls the upstream Redis has served (INFO commandstats).
get_calls() {
  redis-cli -p "$rport" info commandstats | tr -d '\r' |
    awk -F'[=,:]' '$1 == "cmdstat_get" {print $3; found = 1} END {if (!found) print 0}'
}

# run_d NAME PORT ARGS...: one scenario-d run through frontcache; the hit ratio is the share of
# the GETs sent (warm-up included) that never reached Redis, counted by Redis itself.
run_d() {
  local scen="$1" name="$2" port="$3" g0 g1 j
  shift 3
  g0=$(get_calls)
  j=$(load "$port" --clients 50 --cpu-pid "$pid_of_port" --cpu-pid "$redis_pid" "$@")
  g1=$(get_calls)
  record "$scen" "$name" "$r" "$j" \
    "$(awk -v g=$((g1 - g0)) -v n="$(jget sent_reads "$j")" 'BEGIN {printf "hit=%.3f", (n > 0 ? 1 - g / n : 0)}')"
}

jget() { [[ "$2" =~ \"$1\":(-?[0-9.]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0; }

# Raw rows, columns: scenario target round ops/s p50 p99 p99.9 read-p50 (µs) notes, then the CPU
# µs per operation of the target's own process and of the upstream Redis behind it (loads run
# with `--cpu-pid TARGET --cpu-pid REDIS`; empty when not measured).
record() {  # record SCENARIO TARGET ROUND JSON [EXTRA]
  local j="$4" c1="" c2=""
  [[ "$j" == *'"cpu1_us_per_op"'* ]] && c1=$(jget cpu1_us_per_op "$j")
  [[ "$j" == *'"cpu2_us_per_op"'* ]] && c2=$(jget cpu2_us_per_op "$j")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(jget rps "$j")" \
    "$(jget p50_us "$j")" "$(jget p99_us "$j")" "$(jget p999_us "$j")" \
    "$(jget read_p50_us "$j")" "${5:-}" "$c1" "$c2" >>"$raw"
  echo "  $1 $2 round $3: $(jget rps "$j") ops/s p50 $(jget p50_us "$j") p99 $(jget p99_us "$j") p99.9 $(jget p999_us "$j")${c1:+ cpu $c1 us/op}${c2:+ redis $c2 us/op} ${5:-}"
}

# ---- the shared targets -------------------------------------------------------------------

rport=$(free_port); start_redis "$rport"; redis_pid=$last_pid
xport=$(free_port)
"${server_pin[@]}" "$bin/frontcache-relay" --listen "127.0.0.1:$xport" \
  --upstream "127.0.0.1:$rport" --delay-us "$delay_us" >/dev/null &
pids+=($!)
wait_port "$xport"
tport=$(free_port); start_twemproxy "$tport" "$rport"; twem_pid=$last_pid
eport=$(free_port)
"${server_pin[@]}" "$bin/frontcache-echo" --listen "127.0.0.1:$eport" --value-size 100 >/dev/null &
echo_pid=$!
pids+=("$echo_pid")
wait_port "$eport"
eport1k=$(free_port)  # scenario d's values
"${server_pin[@]}" "$bin/frontcache-echo" --listen "127.0.0.1:$eport1k" --value-size 1024 >/dev/null &
echo1k_pid=$!
pids+=("$echo1k_pid")
wait_port "$eport1k"
# frontcache instances run only while their scenarios do: every instance subscribes to Redis's
# invalidations, so an idle one would still take CPU on every write of every other target.
declare -A fc_port fc_pid fcx_port fcx_pid
fc_mode=none
use_frontcache() {  # use_frontcache direct|relay|none: start that set of instances, stop others
  if [[ "$fc_mode" == "$1" ]]; then return 0; fi
  for w in $workers_list; do
    [[ -n "${fc_pid[$w]:-}" ]] && stop_pid "${fc_pid[$w]}" && fc_pid[$w]=""
    [[ -n "${fcx_pid[$w]:-}" ]] && stop_pid "${fcx_pid[$w]}" && fcx_pid[$w]=""
  done
  for w in $workers_list; do
    if [[ "$1" == none ]]; then
      break
    elif [[ "$1" == direct ]]; then
      fc_port[$w]=$(free_port); start_frontcache "${fc_port[$w]}" "$rport" "$w"; fc_pid[$w]=$last_pid
    else
      fcx_port[$w]=$(free_port); start_frontcache "${fcx_port[$w]}" "$xport" "$w"; fcx_pid[$w]=$last_pid
    fi
  done
  fc_mode=$1
}
use_frontcache direct
first_w=${workers_list%% *}
caching=no
if redis-cli -p "${fc_port[$first_w]}" info frontcache | grep -Eq '(^|_)hits:'; then caching=yes; fi
echo "bench: redis :$rport, relay :$xport (+${delay_us}us each way), twemproxy :$tport," \
  "L1 counters: $caching"

# Keys: hit:* (10k x 100 B) for a/b/e, set:* written by c, fill:* (10k x 100 B) for g,
# zipf:* (100k x 1 KB) for d.
for prefix in hit: fill:; do
  "$bin/frontcache-load" --port "$rport" --populate-only --keys 10000 --value-size 100 \
    --key-prefix "$prefix" >/dev/null
done
"$bin/frontcache-load" --port "$rport" --populate-only --keys 100000 --value-size 1024 \
  --key-prefix zipf: >/dev/null

# Scenarios a-c: one frontcache process per run, started just before it (the 1 s warm-up
# fills the L1 with the 10k keys), so that no idle instance takes invalidations meanwhile.
run_basic() {  # run_basic SCENARIO ARGS...
  local scen="$1" p pid
  shift
  use_frontcache none
  echo "scenario $scen"
  for r in $(seq "$rounds"); do
    record "$scen" direct "$r" "$(load "$rport" --clients 50 --cpu-pid "$redis_pid" "$@")"
    record "$scen" twemproxy "$r" \
      "$(load "$tport" --clients 50 --cpu-pid "$twem_pid" --cpu-pid "$redis_pid" "$@")"
    for w in $workers_list; do
      p=$(free_port); start_frontcache "$p" "$rport" "$w"; pid=$last_pid
      record "$scen" "frontcache-w$w" "$r" \
        "$(load "$p" --clients 50 --cpu-pid "$pid" --cpu-pid "$redis_pid" "$@")"
      stop_pid "$pid"
      if [[ -n "$baseline_bin" ]]; then
        p=$(free_port); start_frontcache "$p" "$rport" "$w" "$baseline_bin" "${BENCH_BASELINE_YAML:-}"; pid=$last_pid
        record "$scen" "baseline-w$w" "$r" \
          "$(load "$p" --clients 50 --cpu-pid "$pid" --cpu-pid "$redis_pid" "$@")"
        stop_pid "$pid"
      fi
    done
    record "$scen" echo "$r" "$(load "$eport" --clients 50 --cpu-pid "$echo_pid" "$@")"
  done
}

for s in $scenarios; do
  case "$s" in
    a) run_basic a --workload get --keys 10000 --key-prefix hit: --pipeline 1 ;;
    b) run_basic b --workload get --keys 10000 --key-prefix hit: --pipeline 16 ;;
    c)
      run_basic c-P1 --workload set --keys 10000 --key-prefix set: --value-size 100 --pipeline 1
      run_basic c-P16 --workload set --keys 10000 --key-prefix set: --value-size 100 --pipeline 16
      ;;
    f) run_basic f --workload get --keys 10000 --key-prefix miss: --pipeline 1 ;;
    g) run_basic g --workload get --keys 10000 --key-prefix fill: --pipeline 1 ;;
    d)
      echo "scenario d (Redis behind a ${delay_us}us-each-way relay)"
      mix=(--workload mix --read-ratio 0.9 --zipf --keys 100000 --key-prefix zipf: --value-size 1024)
      use_frontcache relay
      # Steady state first: an unmeasured closed-loop run fills each L1 with the hot keys.
      for w in $workers_list; do load "${fcx_port[$w]}" --clients 50 "${mix[@]}" >/dev/null; done
      for r in $(seq "$rounds"); do
        record d-closed direct "$r" "$(load "$xport" --clients 50 --cpu-pid "$redis_pid" "${mix[@]}")"
        for w in $workers_list; do
          pid_of_port=${fcx_pid[$w]}
          run_d d-closed "frontcache-w$w" "${fcx_port[$w]}" "${mix[@]}"
        done
        record d-closed echo "$r" "$(load "$eport1k" --clients 50 --cpu-pid "$echo1k_pid" "${mix[@]}")"
        record d-open direct "$r" \
          "$(load "$xport" --clients 50 --cpu-pid "$redis_pid" --open --rate 5000 "${mix[@]}")"
        for w in $workers_list; do
          pid_of_port=${fcx_pid[$w]}
          run_d d-open "frontcache-w$w" "${fcx_port[$w]}" --open --rate 5000 "${mix[@]}"
        done
      done
      ;;
    e)
      use_frontcache none
      # Fresh processes per measurement: freed memory of an earlier run would hide RSS growth.
      for idle in 1000 10000; do
        echo "scenario e-$idle"
        for r in $(seq "$rounds"); do
          p=$(free_port); start_redis "$p"; pid=$last_pid
          "$bin/frontcache-load" --port "$p" --populate-only --keys 10000 --key-prefix hit: >/dev/null
          j=$(load "$p" --clients 50 --workload get --keys 10000 --key-prefix hit: --idle "$idle" --rss-pid "$pid")
          record "e-$idle" direct "$r" "$j" "$(awk -v a="$(jget rss_idle_kb "$j")" -v b="$(jget rss_before_kb "$j")" -v n="$idle" 'BEGIN {printf "rss_per_conn=%.0f", (a - b) * 1024 / n}')"
          stop_pid "$pid"
          p=$(free_port); start_twemproxy "$p" "$rport"; pid=$last_pid
          j=$(load "$p" --clients 50 --workload get --keys 10000 --key-prefix hit: --idle "$idle" --rss-pid "$pid" --upstream-port "$rport")
          record "e-$idle" twemproxy "$r" "$j" "$(awk -v a="$(jget rss_idle_kb "$j")" -v b="$(jget rss_before_kb "$j")" -v n="$idle" 'BEGIN {printf "rss_per_conn=%.0f", (a - b) * 1024 / n}') upstream_clients=$(jget upstream_clients "$j")"
          stop_pid "$pid"
          for w in $workers_list; do
            p=$(free_port); start_frontcache "$p" "$rport" "$w"; pid=$last_pid
            j=$(load "$p" --clients 50 --workload get --keys 10000 --key-prefix hit: --idle "$idle" --rss-pid "$pid" --upstream-port "$rport")
            record "e-$idle" "frontcache-w$w" "$r" "$j" "$(awk -v a="$(jget rss_idle_kb "$j")" -v b="$(jget rss_before_kb "$j")" -v n="$idle" 'BEGIN {printf "rss_per_conn=%.0f", (a - b) * 1024 / n}') upstream_clients=$(jget upstream_clients "$j")"
            stop_pid "$pid"
          done
        done
      done
      ;;
    m)
      use_frontcache none
      echo "scenario m (RSS per cached entry)"
      for vs in 100 1024; do
        n=100000
        "$bin/frontcache-load" --port "$rport" --populate-only --keys "$n" --value-size "$vs" --key-prefix "m$vs:" >/dev/null
        p=$(free_port); start_frontcache "$p" "$rport" 1; pid=$last_pid
        before=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
        g0=$(get_calls)
        for _ in 1 2; do
          "$bin/frontcache-load" --port "$p" --sweep-only --keys "$n" --key-prefix "m$vs:" >/dev/null
        done
        g1=$(get_calls)
        after=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
        entries=$(redis-cli -p "$p" info frontcache | tr -d '\r' | awk -F: '$1 == "l1_entries" {print $2}')
        entries=${entries:-0}
        printf 'm-%s\tfrontcache-w1\t1\t0\t0\t0\t0\t0\t%s\t\t\n' "$vs" \
          "$(awk -v a="$after" -v b="$before" -v n="$entries" 'BEGIN {printf "rss_per_entry=%.0f", (n > 0 ? (a - b) * 1024 / n : 0)}') entries=$entries upstream_gets=$((g1 - g0))/$((2 * n))" >>"$raw"
        echo "  m-$vs: $(tail -1 "$raw" | cut -f9)"
        stop_pid "$pid"
        redis-cli -p "$rport" eval "for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end" 0 "m$vs:*" >/dev/null
      done
      ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done

# ---- report ------------------------------------------------------------------------------

date_tag=$(date +%Y-%m-%d)
out_md="bench/results/$date_tag.md"
out_png="bench/results/$date_tag.png"
cp "$raw" "bench/results/$date_tag.tsv"
cp "$raw" bench/results/latest.tsv
export caching secs rounds delay_us pin workers_list baseline_bin
bash bench/report.sh "$raw" "$out_md" "$out_png"
cp "$out_md" bench/results/latest.md
cp "$out_png" bench/results/latest.png 2>/dev/null || true
echo "bench: wrote $out_md and $out_png"
