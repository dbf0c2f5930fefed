# Shared by the scripts that run a client library's own tests against Redis and through
# frontcache (ioredis_test_suite.sh, redispy_test_suite.sh). Source it; needs $bin and $out.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; }

# start_side SIDE REDIS_PORT PORT: a fresh redis-server on REDIS_PORT and, for SIDE proxy, a
# frontcache on PORT in front of it (admin commands allowed: the suites flush and configure).
# Sets suite_dir and suite_pid.
start_side() {
  local side=$1 rport=$2 port=$3
  suite_dir=$(mktemp -d /tmp/client-suite.XXXXXX)
  suite_pid=""
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$suite_dir" --logfile "$suite_dir/redis.log" --enable-debug-command yes
  wait_port "$rport"
  if [ "$side" = proxy ]; then
    printf 'listen: 127.0.0.1:%s\nworkers: 2\nupstream:\n  address: 127.0.0.1:%s\nadmin_commands: forward\nlog:\n  level: warn\n' \
      "$port" "$rport" > "$suite_dir/fc.yaml"
    "$bin" --config "$suite_dir/fc.yaml" > "$out/frontcache.log" 2>&1 &
    suite_pid=$!
    wait_port "$port"
  fi
}

# stop_side REDIS_PORT: stops what start_side started.
stop_side() {
  [ -n "$suite_pid" ] && kill "$suite_pid" 2>/dev/null && wait "$suite_pid" 2>/dev/null
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1
  rm -rf "$suite_dir"
}
