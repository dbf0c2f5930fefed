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

key="compose:$$:$RANDOM"
for p in "${proxies[@]}"; do expect PONG "$p" PING; done
expect OK "${proxies[0]}" SET "$key" one
for p in "${proxies[@]}"; do expect one "$p" GET "$key"; done   # now cached in both
expect one "$redis" GET "$key"
expect OK "${proxies[1]}" SET "$key" two                          # invalidates the first's L1
sleep 0.2
for p in "${proxies[@]}"; do expect two "$p" GET "$key"; done
expect OK "$redis" SET "$key" three                               # behind every frontcache
sleep 0.2
for p in "${proxies[@]}"; do expect three "$p" GET "$key"; done
cli "$redis" DEL "$key" >/dev/null
echo "compose-integration: cross-instance checks passed (${proxies[*]} over $redis)"

ctest --test-dir build -L integration -j"${FRONTCACHE_JOBS:-2}" --output-on-failure
