#!/usr/bin/env bash
# What `docker-compose run integration` runs (docker-compose.yml), from the image's build stage:
#   1. against the compose stack: a write through one frontcache is seen through the other and
#      through Redis, and a write made directly in the Redis container reaches both caches;
#   2. the integration suite (ctest -L integration), whose tests start their own redis-server
#      and frontcache on loopback ports (some kill and restart Redis, which the shared container
#      must not suffer).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

redis="${FRONTCACHE_COMPOSE_REDIS:-redis:6379}"
read -r -a proxies <<<"${FRONTCACHE_COMPOSE_PROXIES:-frontcache:6380 frontcache-2:6380}"

cli() {  # cli host:port args...
  local addr="$1"; shift
  redis-cli -h "${addr%:*}" -p "${addr##*:}" "$@"
}
expect() {  # expect want host:port args...
  local want="$1"; shift
  local got
  got="$(cli "$@")"
  if [[ "$got" != "$want" ]]; then
    echo "compose-integration: $* -> '$got', expected '$want'" >&2
    exit 1
  fi
}
eventually() {  # eventually want host:port args...: until the invalidation has arrived (30 s guard)
  local want="$1"; shift
  local got=""
  for _ in $(seq 1500); do
    got="$(cli "$@")"
    [[ "$got" == "$want" ]] && return 0
    sleep 0.02
  done
  echo "compose-integration: $* -> '$got', still not '$want' after 30 s" >&2
  exit 1
}

key="compose:$$:$RANDOM"
for p in "${proxies[@]}"; do expect PONG "$p" PING; done
expect OK "${proxies[0]}" SET "$key" one
for p in "${proxies[@]}"; do expect one "$p" GET "$key"; done   # now cached in both
expect one "$redis" GET "$key"
expect OK "${proxies[1]}" SET "$key" two                          # invalidates the first's L1
for p in "${proxies[@]}"; do eventually two "$p" GET "$key"; done
expect OK "$redis" SET "$key" three                               # behind every frontcache
for p in "${proxies[@]}"; do eventually three "$p" GET "$key"; done
cli "$redis" DEL "$key" >/dev/null
echo "compose-integration: cross-instance checks passed (${proxies[*]} over $redis)"

ctest --test-dir build -L integration -j"${FRONTCACHE_JOBS:-2}" --output-on-failure
