# shellcheck shell=bash
# shellcheck disable=SC2154  # work and pids: set by bench_workdir (setup.sh)
# A throwaway local Redis Cluster for bench scripts (sourced after ports.sh and setup.sh; uses
# $work and $pids from bench_workdir).

# bench_cluster N: N cluster-enabled redis-servers on free loopback ports (no replicas, no
# persistence), joined by `redis-cli --cluster create`; returns once every node reports
# cluster_state:ok. Sets node_ports and node_pids (arrays, in the order the slots were handed
# out: the first node owns the lowest slots).
bench_cluster() {
  local n="$1" i port dir addrs=()
  node_ports=()
  node_pids=()
  for ((i = 0; i < n; i++)); do
    port="$(free_port)"
    dir="$work/node-$port"
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
      --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
      --logfile "$dir/redis.log" >/dev/null &
    pids+=("$!")
    node_pids+=("$!")
    node_ports+=("$port")
    addrs+=("127.0.0.1:$port")
  done
  for port in "${node_ports[@]}"; do wait_pong "$port"; done
  if ! redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
    >"$work/cluster-create.log" 2>&1; then
    echo "redis-cli --cluster create failed:" >&2
    cat "$work/cluster-create.log" >&2
    return 1
  fi
  for port in "${node_ports[@]}"; do
    for ((i = 0; ; i++)); do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      if ((i >= 300)); then
        echo "the cluster node on port $port never reported cluster_state:ok" >&2
        return 1
      fi
      sleep 0.1
    done
  done
}
