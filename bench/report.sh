#!/usr/bin/env bash
# Turns bench/run.sh's raw rows into the Markdown report and the PNG chart.
#   bench/report.sh RAW.tsv OUT.md OUT.png
# RAW.tsv columns: scenario target round ops/s p50 p99 p99.9 read-p50 (µs) notes, then CPU µs per
# operation of the target's process and of the upstream Redis behind it (may be empty).
# Rows of one scenario and target are summarised by their median over rounds; CPU ratios are
# the median of each round's ratio (targets of one round run back to back, so drift cancels
# better than between medians).
set -euo pipefail
raw="$1"
out_md="$2"
out_png="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

summary=$(mktemp)
cpu_ratios=$(mktemp)
trap 'rm -f "$summary" "$summary.dat" "$summary.cpu" "$cpu_ratios"' EXIT

# One line per scenario+target: scenario target rps p50 p99 p999 read_p50 notes cpu upstream_cpu
# (first seen order kept; medians over rounds; notes of every round joined).
awk -F'\t' '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
      t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
    }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    k = $1 SUBSEP $2
    if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    for (c = 4; c <= 8; c++) v[k, c] = v[k, c] " " $c
    for (c = 10; c <= 11; c++) if ($c != "") v[k, c] = v[k, c] " " $c
    if ($9 != "" && !((k, $9) in noted)) {  # each distinct note once
      noted[k, $9] = 1
      notes[k] = notes[k] (notes[k] == "" ? "" : "; ") $9
    }
  }
  END {
    for (i = 1; i <= n; i++) {
      k = order[i]
      split(k, p, SUBSEP)
      printf "%s\t%s", p[1], p[2]
      for (c = 4; c <= 8; c++) printf "\t%s", median(v[k, c])
      printf "\t%s", notes[k]
      for (c = 10; c <= 11; c++) printf "\t%s", (v[k, c] == "" ? "" : median(v[k, c]))
      printf "\n"
    }
  }' "$raw" >"$summary"

# Per scenario+target, medians of the per-round CPU ratios: against direct Redis's CPU per op,
# against twemproxy's, and the upstream Redis's CPU per op against its CPU behind twemproxy.
awk -F'\t' '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
      t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
    }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  FNR == NR {
    if ($2 == "direct" && $10 > 0) d[$1, $3] = $10
    if ($2 == "twemproxy" && $10 > 0) { t[$1, $3] = $10; tu[$1, $3] = $11 }
    next
  }
  $10 != "" {
    k = $1 SUBSEP $2
    if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    if (d[$1, $3] > 0) rd[k] = rd[k] " " $10 / d[$1, $3]
    if (t[$1, $3] > 0 && $2 != "twemproxy" && $2 != "direct") rt[k] = rt[k] " " $10 / t[$1, $3]
    if (tu[$1, $3] > 0 && $11 != "" && $2 != "twemproxy") ru[k] = ru[k] " " $11 / tu[$1, $3]
  }
  END {
    for (i = 1; i <= n; i++) {
      k = order[i]
      split(k, p, SUBSEP)
      printf "%s\t%s\t%s\t%s\t%s\n", p[1], p[2], (rd[k] == "" ? "" : sprintf("%.2f", median(rd[k]))),
        (rt[k] == "" ? "" : sprintf("%.2f", median(rt[k]))), (ru[k] == "" ? "" : sprintf("%.2f", median(ru[k])))
    }
  }' "$raw" "$raw" >"$cpu_ratios"
cpu_ratio() {  # cpu_ratio SCENARIO TARGET COLUMN(3: × Redis, 4: × twemproxy, 5: upstream × behind twemproxy)
  awk -F'\t' -v s="$1" -v t="$2" -v c="$3" '$1 == s && $2 == t {print $c}' "$cpu_ratios"
}

rps_of() { awk -F'\t' -v s="$1" -v t="$2" '$1 == s && $2 == t {print $3}' "$summary"; }

{
  echo "# frontcache benchmark, $(date +%Y-%m-%d)"
  echo
  echo "Produced by \`bench/run.sh\` (method and caveats: [docs/benchmarks.md](../../docs/benchmarks.md))."
  echo
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- load generator, Redis, the relay and the proxies share those cores (frontcache-load is one thread); pinning: ${pin:-0}"
  echo "- frontcache $(git -C "$root" rev-parse --short HEAD) ($(git -C "$root" rev-parse --abbrev-ref HEAD)), workers: ${workers_list:-1 2}; L1 hit counters present: ${caching:-unknown}"
  echo "- $(redis-server --version | cut -d' ' -f1-3), $(nutcracker --version 2>&1 | head -1 | sed 's/This is //')"
  echo "- ${rounds:-?} interleaved rounds of ${secs:-?} s measured (after 1 s warm-up) per target; medians shown; relay delay ${delay_us:-250} µs each way"
  if [[ "${caching:-}" != yes ]]; then
    echo
    echo "**This build has no L1 cache in the request path: scenarios a, b and d measure forwarding, not hits.**"
  fi
  echo
  echo "![throughput relative to direct Redis]($(basename "$out_png"))"
  echo
  echo "## Throughput and latency"
  echo
  echo "| scenario | target | ops/s | p50 µs | p99 µs | p99.9 µs | × direct | × twemproxy | notes |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  awk -F'\t' '
    FNR == NR { if ($2 == "direct") d[$1] = $3; if ($2 == "twemproxy") tw[$1] = $3; next }
    $1 !~ /^m-/ {
      rd = ($2 != "direct" && d[$1] > 0) ? sprintf("%.2f", $3 / d[$1]) : ""
      rt = ($2 ~ /^frontcache/ && tw[$1] > 0) ? sprintf("%.2f", $3 / tw[$1]) : ""
      printf "| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, rd, rt, $8
    }' "$summary" "$summary"
  if [[ -s "$cpu_ratios" ]]; then
    echo
    echo "## CPU per operation"
    echo
    echo "Time on CPU of all threads of the process (\`/proc/PID/task/*/schedstat\`) over the measured"
    echo "window, divided by the operations of that window: the target's own process (Redis for"
    echo "direct, nutcracker, frontcache, frontcache-echo) and the upstream Redis behind a proxy."
    echo "Ratios are medians of the per-round ratios. frontcache-echo answers every request with"
    echo "fixed reply bytes from one epoll loop: the least a server can spend per request here."
    echo
    echo "| scenario | target | ops/s | p50 µs | p99 µs | CPU µs/op | × Redis | × twemproxy | upstream Redis µs/op | upstream × behind twemproxy |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F'\t' '
      FNR == NR { rd[$1, $2] = $3; rt[$1, $2] = $4; ru[$1, $2] = $5; next }
      $9 != "" {
        u = ($2 == "direct" || $2 == "echo" || $10 == "") ? "" : sprintf("%.2f", $10)
        printf "| %s | %s | %.0f | %.0f | %.0f | %.2f | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $9,
          ($2 == "direct" ? "" : rd[$1, $2]), rt[$1, $2], u, ru[$1, $2]
      }' "$cpu_ratios" "$summary"
  fi
  if grep -q '^m-' "$summary"; then
    echo
    echo "## Memory per cached entry"
    echo
    echo "| value size | target | measurement |"
    echo "| --- | --- | --- |"
    awk -F'\t' '$1 ~ /^m-/ {printf "| %s B | %s | %s |\n", substr($1, 3), $2, $8}' "$summary"
  fi
  echo
  echo "## Against the targets"
  echo
  echo "| target | measured |"
  echo "| --- | --- |"
  check() {  # check LABEL SCENARIO TARGET_NAME
    local d f t
    d=$(rps_of "$2" direct); t=$(rps_of "$2" twemproxy)
    for w in ${workers_list:-1 2}; do
      f=$(rps_of "$2" "frontcache-w$w")
      [[ -z "$f" || -z "$d" ]] && continue
      echo "| $1, w$w | $(awk -v f="$f" -v d="$d" -v t="${t:-0}" 'BEGIN {printf "%.2f× direct", f / d; if (t > 0) printf ", %.2f× twemproxy", f / t}') |"
    done
  }
  check "(a) hits ≥ 1.0× direct" a
  check "(b) pipelined hits ≥ 1.0× direct" b
  check "(c) SET P1 ≥ 0.8× direct, ≥ 1.3× twemproxy" c-P1
  check "(c) SET P16" c-P16
  check "(d) 0.5 ms hop, closed loop ≥ 3× direct" d-closed
  # The ceiling of that ratio here: frontcache-echo answering the same mix at once.
  e=$(rps_of d-closed echo); d=$(rps_of d-closed direct)
  [[ -n "$e" && -n "$d" ]] &&
    echo "| (d) ceiling on this machine: frontcache-echo, every request answered at once | $(awk -v e="$e" -v d="$d" 'BEGIN {printf "%.2f× direct", e / d}') |"
  col_of() { awk -F'\t' -v s="$1" -v t="$2" -v c="$3" '$1 == s && $2 == t {print $c}' "$summary"; }
  for w in ${workers_list:-1 2}; do
    f=$(col_of a "frontcache-w$w" 5); d=$(col_of a direct 5)
    [[ -n "$f" && -n "$d" ]] && echo "| (a) hit p99 no worse than direct's, w$w | ${f%.*} µs vs ${d%.*} µs |"
    f=$(col_of d-open "frontcache-w$w" 7); d=$(col_of d-open direct 7)
    [[ -n "$f" && -n "$d" ]] && echo "| (d) read p50 (open loop, mostly hits) < 1/4 of direct's, w$w | ${f%.*} µs vs ${d%.*} µs ($(awk -v f="$f" -v d="$d" 'BEGIN {printf "%.2f×", f / d}')) |"
    for idle in 1000 10000; do
      n=$(col_of "e-$idle" "frontcache-w$w" 8)
      [[ -n "$n" ]] && echo "| (e) < 20 KB RSS per idle connection, constant upstream connections, $idle idle, w$w | ${n//;/ /} |"
    done
  done
  if [[ -s "$cpu_ratios" ]]; then
    echo
    echo "## CPU goals (issue 16; goals, not gates)"
    echo
    echo "| goal | measured (median of per-round ratios) |"
    echo "| --- | --- |"
    goal() {  # goal LABEL SCENARIO COLUMN LIMIT [COLUMN2 LIMIT2]
      local w v v2 verdict
      for w in ${workers_list:-1 2}; do
        v=$(cpu_ratio "$2" "frontcache-w$w" "$3")
        [[ -z "$v" ]] && continue
        verdict=$(awk -v v="$v" -v l="$4" 'BEGIN {print (v <= l ? "met" : "missed")}')
        if [[ -n "${5:-}" ]]; then
          v2=$(cpu_ratio "$2" "frontcache-w$w" "$5")
          [[ -n "$v2" ]] && verdict="$verdict; upstream ${v2}× (≤ $6: $(awk -v v="$v2" -v l="$6" 'BEGIN {print (v <= l ? "met" : "missed")}'))"
        fi
        echo "| $1, w$w | ${v}× ($verdict) |"
      done
    }
    goal "(a) L1 hit CPU ≤ 0.85× Redis's per GET" a 3 0.85
    goal "(b) L1 hit, pipelines of 16, ≤ 0.7× Redis's" b 3 0.7
    goal "(c) forwarded SET CPU ≤ 0.8× twemproxy's" c-P1 4 0.8 5 1.0
    goal "(f) forwarded miss CPU ≤ 0.8× twemproxy's" f 4 0.8 5 1.0
    goal "(g) forwarded miss of a key Redis has, CPU ≤ 0.8× twemproxy's" g 4 0.8 5 1.0
  fi
  true
} >"$out_md"

# Chart: throughput relative to direct Redis, per scenario and target; below it, when CPU was
# measured, CPU µs per operation of each target's own process relative to direct Redis's.
chart_data() {  # chart_data COLUMN SCENARIO_REGEX: one table, targets as columns
  awk -F'\t' -v c="$1" -v re="$2" '
    FNR == NR { if ($2 == "direct") d[$1] = $c; next }
    $1 ~ re && $c != "" {
      if (!($1 in row)) { row[$1] = ++n; name[n] = $1 }
      if (!($2 in col)) { col[$2] = ++m; cname[m] = $2 }
      val[$1, $2] = d[$1] > 0 ? $c / d[$1] : "?"
    }
    END {
      printf "scenario"; for (j = 1; j <= m; j++) printf "\t%s", cname[j]; printf "\n"
      for (i = 1; i <= n; i++) {
        printf "%s", name[i]
        for (j = 1; j <= m; j++) { v = val[name[i], cname[j]]; printf "\t%s", v == "" ? "?" : v }
        printf "\n"
      }
    }' "$summary" "$summary"
}
chart_data 3 '^(a|b|c-P1|c-P16|f|d-closed|e-1000|e-10000)$' >"$summary.dat"
chart_data 9 '^(a|b|c-P1|c-P16|f|d-closed)$' >"$summary.cpu"
cols=$(head -1 "$summary.dat" | awk -F'\t' '{print NF}')
cpu_cols=$(head -1 "$summary.cpu" | awk -F'\t' '{print NF}')
if command -v gnuplot >/dev/null && ((cols > 1)); then
  panels=1 height=520
  if ((cpu_cols > 1)); then panels=2 height=1000; fi
  gnuplot <<EOF
set terminal pngcairo size 1000,$height noenhanced font ",11"
set output "$out_png"
set datafile separator "\t"
set datafile missing "?"
set multiplot layout $panels,1
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set yrange [0:*]
set title "frontcache benchmark $(date +%Y-%m-%d): throughput relative to direct Redis (same run)"
set ylabel "ops/s ÷ direct Redis ops/s"
plot for [c=2:$cols] "$summary.dat" using c:xtic(1) title columnhead(c), 1 with lines lc rgb "black" dt 2 notitle
if ($panels > 1) {
  set title "CPU per operation of each target's own process, relative to direct Redis's (lower is better)"
  set ylabel "CPU µs/op ÷ Redis CPU µs/op"
  plot for [c=2:$cpu_cols] "$summary.cpu" using c:xtic(1) title columnhead(c), 1 with lines lc rgb "black" dt 2 notitle
}
unset multiplot
EOF
fi
