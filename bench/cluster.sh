#!/usr/bin/env bash
# frontcache in front of a Redis Cluster against a cluster-aware client on the nodes: a local
# 3-master cluster (no replicas, no persistence), GETs and SETs from redis-benchmark through
# frontcache (upstream.mode: cluster; GETs are L1 hits after a warm-up that reads every key)
# and the same workloads from `redis-benchmark --cluster` on the masters directly, in
# interleaved rounds (direct, frontcache, then frontcache, direct, ...). Besides requests/s,
# CPU per request of the proxy and of the masters summed: time on CPU of all their threads
# (/proc/<pid>/task/*/schedstat, bench/lib/cpu.sh) before and after each run, divided by the
# requests. Exits non-zero when the cluster does not form, a fill or a run reports an error,
# a direct GET misses, or more than 1% of the GETs through frontcache are not L1 hits.
#
#   bench/cluster.sh
#   FRONTCACHE_BIN=build-ci/frontcache BENCH_ROUNDS=5 bench/cluster.sh
#
# Environment: FRONTCACHE_BIN (default: build the release preset), BENCH_ROUNDS (3),
# BENCH_REQUESTS (200000 per unpipelined run; times the pipeline depth, at most 8 times, with
# -P), BENCH_CLIENTS (50), BENCH_WORKERS (frontcache workers, 1), BENCH_PIPELINES ("1 16").
# Writes bench/results/cluster-<date>.md (and prints it).
#
# Threaded redis-benchmark (which --cluster always is) stops its clock on a 250 ms timer tick
# after the last reply, so a run's requests/s is low by up to 250 ms of its duration: runs
# should last several seconds, hence the longer pipelined runs.
#
# What redis-benchmark --cluster (7.0) sends, and why both targets are comparable: it reads the
# masters from CLUSTER NODES, binds each client to one master (client i to master i mod 3) and
# runs one thread per master unless --threads says otherwise. Its default tests' keys are
# `key:{tag}:__rand_int__`, where {tag} becomes a hash tag of the *first* slot the client's
# master owns, so every master gets its own 10,000 keys, all in one slot. Through frontcache the
# keys are the plain `key:__rand_int__`, 10,000 keys hashed over all slots (a third per master
# or so). Both spread the requests over all the masters: directly by how fast each thread and
# master pair goes (unevenly: the -n total is shared), through frontcache by the keys' slots; the
# report shows each master's share from INFO commandstats. redis-benchmark runs with 3 threads
# for both targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/lib/ports.sh
source bench/lib/cpu.sh
source bench/lib/setup.sh
source bench/lib/cluster.sh

bench_load_settings
keys=10000
masters=3

bench_frontcache_bin
bench_workdir cluster

# ---- the cluster ---------------------------------------------------------------------------
bench_cluster "$masters"
seed="${node_ports[0]}"

# Each master's keys for redis-benchmark --cluster: one short SET run shows the hash tag it
# uses on every master (the keys are key:{tag}:<12 digits>); all 10,000 are then set on it.
redis-benchmark -p "$seed" --cluster -t set -r "$keys" -d 100 -n 3000 -c "$masters" -q \
  >"$work/tag-probe.log"
tags=()
slots=()
for port in "${node_ports[@]}"; do
  key="$(redis-cli -p "$port" randomkey)"
  tag="$(sed -n 's/^key:{\(.*\)}:[0-9]\{12\}$/\1/p' <<<"$key")"
  [[ -n "$tag" ]] || { echo "no redis-benchmark key on master $port (got '$key')" >&2; exit 1; }
  tags+=("$tag")
  slots+=("$(redis-cli -p "$port" cluster keyslot "$key")")
  bench_key_commands SET "key:{$tag}:" "$keys" | bench_pipe "$port"
done

# ---- frontcache ----------------------------------------------------------------------------
pport="$(free_port)"
seeds="$(printf '"127.0.0.1:%s", ' "${node_ports[@]:1}")"
{
  cat <<EOF
listen: 127.0.0.1:$pport
workers: $workers
upstream:
  mode: cluster
  address: 127.0.0.1:$seed
  seeds: [${seeds%, }]
EOF
  bench_cache_yaml
} >"$work/frontcache.yaml"

# A fresh frontcache per run: an idle one would still receive every master's tracking
# invalidations for the direct runs' writes (it subscribes to them, as in bench/run.sh).
proxy_pid=""
start_frontcache() {
  "$bin" --config "$work/frontcache.yaml" 2>>"$work/frontcache.log" &
  proxy_pid=$!
  pids+=("$proxy_pid")
  wait_pong "$pport"
  for _ in $(seq 300); do
    [[ "$(fc_info l1_state)" == armed ]] && return 0
    sleep 0.05
  done
  echo "frontcache's L1 was not armed on every master within 15 s; log: " >&2
  cat "$work/frontcache.log" >&2
  return 1
}
fc_info() {  # fc_info FIELD: a field of frontcache's INFO frontcache
  redis-cli -p "$pport" info frontcache | tr -d '\r' | sed -n "s/^$1://p"
}

# frontcache's keys, key:000000000000 ..., written through it.
start_frontcache
bench_key_commands SET key: "$keys" | bench_pipe "$pport"
bench_stop "$proxy_pid"

# Where the keys are: per master, redis-benchmark --cluster's keys (one slot each) and the
# plain keys frontcache's clients use.
key_rows=""
for i in "${!node_ports[@]}"; do
  total="$(redis-cli -p "${node_ports[$i]}" dbsize)"
  tagged="$(redis-cli -p "${node_ports[$i]}" --scan --pattern "key:{${tags[$i]}}:*" | wc -l)"
  range="$(redis-cli -p "${node_ports[$i]}" cluster nodes |
    awk '/myself/ {for (j = 9; j <= NF; j++) printf "%s%s", (j > 9 ? "," : ""), $j}')"
  key_rows+="| $((i + 1)) | ${range:-?} | \`key:{${tags[$i]}}:…\` (slot ${slots[$i]}) | $tagged | $((total - tagged)) |"$'\n'
done

# ---- runs ----------------------------------------------------------------------------------
# calls CMD: each master's calls of CMD since the last CONFIG RESETSTAT, comma-separated, then
# a tab and the other commands the masters ran (name=calls, summed over the masters; INFO,
# CONFIG and CLUSTER are this script's and redis-benchmark's own, left out).
calls() {
  local port one all="" n out=()
  for port in "${node_ports[@]}"; do
    one="$(redis-cli -p "$port" info commandstats | tr -d '\r')"
    n="$(sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" <<<"$one")"
    out+=("${n:-0}")
    all+="$one"$'\n'
  done
  printf '%s\t%s\n' "$(IFS=,; echo "${out[*]}")" "$(awk -F'[_:=,]' -v c="$1" '
    /^cmdstat_/ && $2 != c && $2 !~ /^(info|config|cluster)/ {n[$2] += $4}
    END {for (k in n) printf "%s%s=%s", (o++ ? "," : ""), k, n[k]; if (!o) printf "-"}' <<<"$all")"
}
reset_stats() {
  local port
  for port in "${node_ports[@]}"; do redis-cli -p "$port" config resetstat >/dev/null; done
}
keyspace_misses() {  # summed over the masters
  local port s=0 n
  for port in "${node_ports[@]}"; do
    n="$(redis-cli -p "$port" info stats | tr -d '\r' | sed -n 's/^keyspace_misses://p')"
    s=$((s + n))
  done
  echo "$s"
}

n_for() { echo $((requests * ($1 < 8 ? $1 : 8))); }  # n_for PIPELINE: requests per run

# bench TARGET WORKLOAD PIPELINE [N]: redis-benchmark through frontcache or --cluster on the
# masters; prints requests/s, fails on an error reply (redis-benchmark 7 exits on one) or no
# result.
bench() {
  local args=(-p "$pport" --threads "$masters") out
  if [[ "$1" == direct ]]; then args=(-p "$seed" --cluster); fi
  out="$(redis-benchmark -h 127.0.0.1 "${args[@]}" -t "$2" -r "$keys" -d 100 \
    -n "${4:-$(n_for "$3")}" -c "$clients" -P "$3" --csv 2>&1)" || {
    echo "redis-benchmark failed ($1 $2 -P $3): $out" >&2
    return 1
  }
  if grep -qi 'error' <<<"$out"; then
    echo "redis-benchmark reported errors ($1 $2 -P $3):" >&2
    grep -i 'error' <<<"$out" | head -5 >&2
    return 1
  fi
  awk -F'"' -v t="${2^^}" '$2 == t {print $4; found = 1} END {exit !found}' <<<"$out" || {
    echo "no $2 result from redis-benchmark ($1 -P $3): $out" >&2
    return 1
  }
}

raw="$work/raw.tsv"
: >"$raw"
l1_hits=0 l1_misses=0 l1_bypassed=0
run() {  # run TARGET WORKLOAD PIPELINE ROUND: one measured run, a row of $raw
  local target="$1" workload="$2" p="$3" r="$4" h0 m0 b0
  if [[ "$target" == frontcache ]]; then
    start_frontcache
    if [[ "$workload" == get ]]; then
      # Reads every key once, which fills the L1: the measured GETs are all hits.
      bench_key_commands GET key: "$keys" | bench_pipe "$pport"
    else
      bench "$target" set 16 "$((requests / 4))" >/dev/null  # connections and buffers warm
    fi
    h0="$(fc_info l1_hits)" m0="$(fc_info l1_misses)" b0="$(fc_info l1_bypass_not_current)"
  fi
  reset_stats
  local p0=0 n0 p1=0 n1 rps
  if [[ "$target" == frontcache ]]; then p0="$(cpu_ns "$proxy_pid")"; fi
  n0="$(cpu_ns "${node_pids[@]}")"
  rps="$(bench "$target" "$workload" "$p")"
  n1="$(cpu_ns "${node_pids[@]}")"
  if [[ "$target" == frontcache ]]; then p1="$(cpu_ns "$proxy_pid")"; fi
  local proxy_us
  proxy_us="$(cpu_us_per_request "$p0" "$p1" "$(n_for "$p")")"
  if [[ "$target" == frontcache ]]; then
    l1_hits=$((l1_hits + $(fc_info l1_hits) - h0))
    l1_misses=$((l1_misses + $(fc_info l1_misses) - m0))
    l1_bypassed=$((l1_bypassed + $(fc_info l1_bypass_not_current) - b0))
    bench_stop "$proxy_pid"
  elif [[ "$workload" == get ]] && (($(keyspace_misses) > 0)); then
    echo "direct GETs missed keys on the masters: the fill did not cover them" >&2
    return 1
  fi
  local nodes_us
  nodes_us="$(cpu_us_per_request "$n0" "$n1" "$(n_for "$p")")"
  printf '%s:%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$p" "$r" "$target" "$rps" \
    "$proxy_us" "$nodes_us" "$(awk -v a="$proxy_us" -v b="$nodes_us" 'BEGIN {printf "%.2f", a + b}')" \
    "$(calls "$workload")" | tee -a "$raw" >&2
}

load_before="$(uptime)"
for p in $pipelines; do
  for ((r = 1; r <= rounds; r++)); do
    order="direct frontcache"
    if ((r % 2 == 0)); then order="frontcache direct"; fi
    for workload in get set; do
      for target in $order; do run "$target" "$workload" "$p" "$r"; done
    done
  done
done
load_after="$(uptime)"
# A GET the L1 did not answer: a miss, or a bypass while a master's invalidation stream was not
# proven current (fence rounds late on a busy machine). Beyond 1% the runs did not measure hits.
measured_gets=0
for p in $pipelines; do measured_gets=$((measured_gets + rounds * $(n_for "$p"))); done
if ((100 * (l1_misses + l1_bypassed) > measured_gets)); then
  echo "frontcache's L1 did not answer $l1_misses + $l1_bypassed of $measured_gets GETs" >&2
  exit 1
fi

# ---- report --------------------------------------------------------------------------------
# share CASE TARGET: each master's share (%) of the commands that reached the masters over all
# rounds, the lowest and highest share of one master in one run, and those commands per request.
share() {
  awk -v c="$1" -v t="$2" -v n="$(n_for "${1#*:}")" '$1 == c && $3 == t {
      k = split($8, v, ","); s = 0; runs++
      for (i = 1; i <= k; i++) {s += v[i]; sum[i] += v[i]}
      all += s
      for (i = 1; s && i <= k; i++) {x = 100 * v[i] / s; lo = (lo == "" || x < lo) ? x : lo; hi = (x > hi) ? x : hi}
    }
    END {
      if (all / runs / n < 0.01) printf "–"
      else {for (i = 1; i <= k; i++) printf "%s%.0f", (i > 1 ? "/" : ""), 100 * sum[i] / all; printf " (%.0f–%.0f)", lo, hi}
      printf " | %.2f", all / runs / n
    }' "$raw"
}
out="bench/results/cluster-$(date +%Y-%m-%d).md"
mkdir -p bench/results
{
  echo "# frontcache in front of a 3-master Redis Cluster vs redis-benchmark --cluster ($(date +%Y-%m-%d))"
  echo
  runs="$(for p in $pipelines; do printf -- '-P %s -n %s; ' "$p" "$(n_for "$p")"; done)"
  echo "redis-benchmark -t get|set -r $keys -d 100 -c $clients --threads $masters (${runs%; })"
  echo "through frontcache (\`$(basename "$(dirname "$bin")")/frontcache\`, \`$("$bin" --version 2>/dev/null | head -1 || echo '?')\`,"
  echo "upstream.mode: cluster, workers $workers, a fresh process per run), and \`redis-benchmark --cluster\`"
  echo "with the same options on the masters directly (it runs one thread per master); $rounds"
  echo "interleaved rounds, medians. A local cluster of $masters masters (redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'),"
  echo "no replicas, no persistence); $(nproc) cores shared by redis-benchmark, the masters and"
  echo "frontcache. GETs through frontcache are L1 hits (warm-up: every key read once; over the"
  echo "measured GET runs l1_hits $l1_hits, l1_misses $l1_misses, l1_bypass_not_current $l1_bypassed:"
  echo "GETs sent to the masters while an invalidation stream was not proven current); SETs are"
  echo "forwarded to the slot's master. CPU per request: time on CPU of all threads (/proc/<pid>/task/*/schedstat) over the"
  echo "run, divided by requests; \"masters\" is the $masters redis-servers summed, \"total\" adds frontcache."
  echo
  echo "Ratios are the median of each round's frontcache/direct ratio (the two runs of a round are"
  echo "back to back, so drift in the machine's load cancels out better than between medians)."
  echo "Load: before \`${load_before# }\`, after \`${load_after# }\`."
  echo
  echo "| workload | pipeline | target | requests/s | frontcache CPU µs/req | masters CPU µs/req | total CPU µs/req | requests/s vs direct | masters CPU vs direct | total CPU vs direct | share per master %, all rounds (one run: lowest–highest) | commands at the masters per request |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
  for workload in get set; do
    for p in $pipelines; do
      c="$workload:$p"
      for target in direct frontcache; do
        col() { awk -v c="$c" -v t="$target" -v k="$1" '$1 == c && $3 == t {print $k}' "$raw" | median; }
        rps="$(col 4 | awk '{printf "%.0f", $1}')"
        ratios="1.00 | 1.00 | 1.00"
        if [[ "$target" == frontcache ]]; then
          ratios="$(round_ratio "$raw" "$c" 4 frontcache direct) | $(round_ratio "$raw" "$c" 6 frontcache direct) | $(round_ratio "$raw" "$c" 7 frontcache direct)"
        fi
        proxy="$(col 5)"
        [[ "$target" == direct ]] && proxy="–"
        echo "| ${workload^^} | $p | $target | $rps | $proxy | $(col 6) | $(col 7) | $ratios | $(share "$c" "$target") |"
      done
    done
  done
  echo
  echo "Keys per master (SCAN and DBSIZE): redis-benchmark --cluster's keys sit in"
  echo "one slot per master, the first slot the master owns; frontcache's clients use the plain keys."
  echo
  echo "| master | slots | redis-benchmark --cluster keys | count | plain keys (through frontcache) |"
  echo "| --- | --- | --- | ---: | ---: |"
  printf '%s' "$key_rows"
  echo
  echo "Other commands the masters ran during the measured runs (besides the benchmark's own"
  echo "command, and INFO, CONFIG, CLUSTER), per request:"
  echo
  for workload in get set; do
    for p in $pipelines; do
      for target in direct frontcache; do
        others="$(awk -v c="$workload:$p" -v t="$target" -v n="$(n_for "$p")" '$1 == c && $3 == t {
            rounds++; k = split($9, a, ","); for (i = 1; i <= k; i++) if (split(a[i], kv, "=") == 2) v[kv[1]] += kv[2]
          } END {for (x in v) printf "%s%s %.3f", (o++ ? ", " : ""), x, v[x] / rounds / n; if (!o) printf "none"}' "$raw")"
        echo "- ${workload^^} -P $p, $target: $others"
      done
    done
  done
  echo
  echo "Raw rows (workload:pipeline, round, target, requests/s, frontcache, masters and total CPU"
  echo "µs per request, each master's calls of the command, the masters' other commands):"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} | tee "$out"
