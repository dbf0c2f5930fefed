#!/usr/bin/env bash
# Installs what is missing, builds Release, starts a local redis-server on the configured
# upstream address when nothing listens there, and runs frontcache until this script is stopped
# (Ctrl-C, or kill of this script: frontcache drains and exits, then the redis-server it started).
#   scripts/run.sh [config.yaml]      (default: config/frontcache.yaml)
#   scripts/run.sh --cluster [config.yaml]
# --cluster starts a fresh local Redis Cluster of 3 masters (127.0.0.1, ports 7000-7002, or
# FRONTCACHE_CLUSTER_PORT .. +2; `redis-cli --cluster create`) and runs frontcache in front of it
# with the config's upstream.mode/address/seeds replaced (upstream.mode: cluster, the 3 nodes).
# Environment: FRONTCACHE_BIN=path uses that binary and skips install and build;
# FRONTCACHE_RUN_DIR=dir holds the redis-server logs (default: build/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cluster=0
if [[ "${1:-}" == "--cluster" ]]; then
  cluster=1
  shift
fi
config="${1:-config/frontcache.yaml}"
bin="${FRONTCACHE_BIN:-build/frontcache}"
rundir="${FRONTCACHE_RUN_DIR:-$root/build}"

redis_pid=""
fc_pid=""
node_pids=()
cleanup() {
  for p in "${node_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ -n "$fc_pid" ]] && kill -0 "$fc_pid" 2>/dev/null; then
    kill -TERM "$fc_pid" 2>/dev/null || true
    wait "$fc_pid" 2>/dev/null || true
  fi
  if [[ -n "$redis_pid" ]] && kill -0 "$redis_pid" 2>/dev/null; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
# A signal ends the script through the EXIT trap, which stops what it started.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ -z "${FRONTCACHE_BIN:-}" ]]; then
  bash scripts/install-deps.sh
  cmake --preset release >/dev/null
  cmake --build build -j"${FRONTCACHE_JOBS:-2}" --target frontcache
fi
mkdir -p "$rundir"

# --cluster: 3 cluster-enabled redis-servers, joined by `redis-cli --cluster create`, and a copy
# of the config whose upstream block says mode: cluster with the nodes as seeds.
start_cluster() {
  local base="${FRONTCACHE_CLUSTER_PORT:-7000}" p nodes=() dir
  for p in "$base" $((base + 1)) $((base + 2)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "run.sh: something listens on 127.0.0.1:$p already; stop it or set FRONTCACHE_CLUSTER_PORT" >&2
      exit 1
    fi
    dir="$rundir/cluster-$p"
    rm -rf "$dir"
    mkdir -p "$dir"
    redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
      --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
      --logfile "$dir/redis.log" &
    node_pids+=($!)
    nodes+=("127.0.0.1:$p")
  done
  for p in "$base" $((base + 1)) $((base + 2)); do
    for ((tries = 0; ; tries++)); do
      [[ "$(redis-cli -p "$p" ping 2>/dev/null)" == PONG ]] && break
      if ((tries >= 300)); then
        echo "run.sh: the cluster node on port $p did not start; log: $rundir/cluster-$p/redis.log" >&2
        exit 1
      fi
      sleep 0.1
    done
  done
  echo "run.sh: creating a Redis Cluster of 3 masters on ${nodes[*]} (logs: $rundir/cluster-*/)"
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$rundir/cluster-create.log"
  for p in "$base" $((base + 1)) $((base + 2)); do
    for ((tries = 0; ; tries++)); do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      if ((tries >= 600)); then
        echo "run.sh: the cluster never reached cluster_state:ok; see $rundir/cluster-create.log" >&2
        exit 1
      fi
      sleep 0.1
    done
  done
  local seeds="[\"${nodes[1]}\", \"${nodes[2]}\"]"
  local derived="$rundir/frontcache-cluster.yaml"
  # The config as given, with upstream.mode/address/seeds replaced in its `upstream:` block.
  awk -v addr="${nodes[0]}" -v seeds="$seeds" '
    /^upstream:/ { print; print "  mode: cluster"; print "  address: " addr; print "  seeds: " seeds; inup = 1; done = 1; next }
    inup && /^[^ #]/ { inup = 0 }
    inup && /^  (mode|address|seeds):/ { next }
    { print }
    END { if (!done) { print "upstream:"; print "  mode: cluster"; print "  address: " addr; print "  seeds: " seeds } }
  ' "$config" >"$derived"
  config="$derived"
}
if ((cluster)); then
  start_cluster
fi

# The binary resolves the config (file, defaults, quoting, comments) as it will run with it.
upstream="$("$bin" --config "$config" --print upstream)"
listen="$("$bin" --config "$config" --print listen)"
host="${upstream%:*}"
port="${upstream##*:}"
host="${host#[}"
host="${host%]}"

# What answers on the upstream address: redis | refused | silent | other:<what it said>.
# Bounded: a holder that accepts and never answers must not hang the script.
probe() {
  local out rc=0
  out="$(timeout 3 redis-cli -h "$host" -p "$port" ping 2>&1)" || rc=$?
  if ((rc == 124)); then
    echo silent
    return
  fi
  case "$out" in
    PONG | NOAUTH* | *"-NOAUTH"* | WRONGPASS* | "ERR AUTH"*) echo redis ;;
    *"Connection refused"*) echo refused ;;
    *) echo "other:${out//$'\n'/ }" ;;
  esac
}

state=redis
((cluster)) || state="$(probe)"
case "$state" in
  redis)
    ((cluster)) || echo "run.sh: Redis answers on $upstream"
    ;;
  refused)
    case "$host" in
      127.* | localhost | ::1) ;;
      *)
        echo "run.sh: nothing listens on $upstream and it is not local; start that Redis first" >&2
        exit 1
        ;;
    esac
    redis_log="$rundir/redis-$port.log"
    echo "run.sh: nothing listens on $upstream; starting a local redis-server there (log: $redis_log)"
    : >"$redis_log"
    redis-server --port "$port" --bind "$host" --save "" --appendonly no \
      --logfile "$redis_log" &
    redis_pid=$!
    for ((tries = 0; ; tries++)); do
      state="$(probe)"
      [[ "$state" == redis ]] && break
      if ! kill -0 "$redis_pid" 2>/dev/null || ((tries >= 300)); then
        echo "run.sh: redis-server did not start on $upstream; its log ($redis_log):" >&2
        sed 's/^/  /' "$redis_log" >&2
        exit 1
      fi
      sleep 0.1
    done
    ;;
  silent)
    echo "run.sh: something accepts connections on $upstream but does not answer PING within 3 s;" \
      "it is not a working Redis. Stop it, or set upstream.address in $config to your Redis." >&2
    exit 1
    ;;
  other:*)
    echo "run.sh: $upstream answers, but not as Redis (redis-cli ping said: ${state#other:})." \
      "Stop that service, or set upstream.address in $config to your Redis." >&2
    exit 1
    ;;
esac

if ((cluster)); then
  echo "run.sh: frontcache on $listen -> Redis Cluster (seed $upstream; config $config)"
else
  echo "run.sh: frontcache on $listen -> redis $upstream"
fi
echo "run.sh: connect with: redis-cli -p ${listen##*:}     (Ctrl-C stops)"
"$bin" --config "$config" &
fc_pid=$!
# From now on a signal is passed on to frontcache, which drains and exits; then the EXIT trap
# stops the redis-server this script started.
trap 'kill -TERM "$fc_pid" 2>/dev/null || true' INT TERM HUP
status=0
wait "$fc_pid" || status=$?
# A trapped signal interrupts `wait`: wait again until frontcache has really exited.
while kill -0 "$fc_pid" 2>/dev/null; do
  status=0
  wait "$fc_pid" || status=$?
done
fc_pid=""
exit "$status"
