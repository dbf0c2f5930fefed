#!/usr/bin/env bash
# Installs what is missing, builds Release, starts a local redis-server on the configured
# upstream port when nothing answers there, and runs frontcache in the foreground.
#   scripts/run.sh [config.yaml]      (default: config/frontcache.yaml)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
config="${1:-config/frontcache.yaml}"

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build -j"${FRONTCACHE_JOBS:-2}" --target frontcache

build/frontcache --config "$config" --check-config >/dev/null

# upstream.address from the file (host:port under `upstream:`).
upstream=$(awk '/^upstream:/{u=1; next} /^[^ #]/{u=0} u && $1=="address:"{print $2; exit}' "$config")
upstream="${upstream:-127.0.0.1:6379}"
host="${upstream%:*}"; port="${upstream##*:}"
host="${host#[}"; host="${host%]}"

redis_pid=""
if ! redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  case "$host" in
    127.*|localhost|::1) ;;
    *) echo "run.sh: upstream $upstream does not answer and is not local; start it first" >&2; exit 1 ;;
  esac
  echo "run.sh: nothing answers on $upstream; starting a local redis-server there"
  redis-server --port "$port" --bind "$host" --save "" --appendonly no \
    --logfile "$root/build/redis-$port.log" &
  redis_pid=$!
  trap '[[ -n "$redis_pid" ]] && kill "$redis_pid" 2>/dev/null' EXIT
  for _ in $(seq 50); do redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

listen=$(awk '$1=="listen:"{print $2; exit}' "$config")
echo "run.sh: frontcache on ${listen:-127.0.0.1:6380} -> redis $upstream"
echo "run.sh: connect with: redis-cli -p ${listen##*:}     (Ctrl-C stops)"
build/frontcache --config "$config"
