#!/usr/bin/env bash
# Hit-ratio points lost at K shards (default 16) against 1 on the 41 LIRS trace sizes.
#   tools/sim/shard_cost.sh [SIM_BINARY] [SHARDS]
# Prints each size, each trace's average and the overall average and worst.
set -euo pipefail
sim=${1:-build-ci/frontcache-sim}
k=${2:-16}
dir=${TRACE_DIR:-$(dirname "$0")/../../../shared/traces}
declare -A sizes=(
  [loop]=100,250,500,750,1000,1250 [gli]=250,500,750,1000,1250,1500,1750,2000
  [multi1]=250,500,1000,2000 [multi2]=500,1000,2000,4000 [multi3]=500,1000,2000,4000
  [2_pools]=500,1000,2000,4000 [cs]=100,250,500,1000 [cpp]=100,250,500 [ps]=250,500,1000,2000)
order=(loop gli multi1 multi2 multi3 2_pools cs cpp ps)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in "${order[@]}"; do
  for s in 1 "$k"; do
    "$sim" --trace "$dir/lirs_$t.trace.gz" --capacity "${sizes[$t]}" --policy frontcache \
      --shards "$s" > "$tmp/$t.$s" &
    while (( $(jobs -rp | wc -l) >= ${JOBS:-2} )); do wait -n; done
  done
done
wait
for t in "${order[@]}"; do
  paste -d' ' "$tmp/$t.1" "$tmp/$t.$k" | awk -v t="$t" '{print t, $2, $5, $10, $5 - $10}'
done | awk -v k="$k" '
  { printf "%-8s %5d 1 shard %6.2f %d shards %6.2f loss %5.2f\n", $1, $2, $3, k, $4, $5
    sum += $5; n++; ts[$1] += $5; tn[$1]++; if (!($1 in seen)) { seen[$1] = 1; o[++m] = $1 }
    if (n == 1 || $5 > worst) { worst = $5; wl = $1 " " $2 } }
  END { for (i = 1; i <= m; i++) printf "%s %.2f  ", o[i], ts[o[i]] / tn[o[i]]; print ""
        printf "average %.3f worst %.2f (%s) over %d sizes\n", sum / n, worst, wl, n }'
