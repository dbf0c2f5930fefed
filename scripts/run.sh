#!/usr/bin/env bash
# Installs what is missing, builds Release, starts a local redis-server on the configured
# upstream address when nothing listens there, and runs frontcache until this script is stopped
# (Ctrl-C, or kill of this script: frontcache drains and exits, then the redis-server it started).
#   scripts/run.sh [config.yaml]      (default: config/frontcache.yaml)
# Environment: FRONTCACHE_BIN=path uses that binary and skips install and build;
# FRONTCACHE_RUN_DIR=dir holds the redis-server log (default: build/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
config="${1:-config/frontcache.yaml}"
bin="${FRONTCACHE_BIN:-build/frontcache}"
rundir="${FRONTCACHE_RUN_DIR:-$root/build}"

redis_pid=""
fc_pid=""
cleanup() {
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

state="$(probe)"
case "$state" in
  redis)
    echo "run.sh: Redis answers on $upstream"
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

echo "run.sh: frontcache on $listen -> redis $upstream"
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
