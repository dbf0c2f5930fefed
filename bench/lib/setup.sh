# shellcheck shell=bash
# Process and data setup shared by bench scripts (sourced after ports.sh, from the repository
# root: `cd "$root"` first).

# bench_workdir NAME: a fresh temporary directory in $work, an empty $pids, and an EXIT trap
# that kills every process whose pid is still in $pids and removes the directory.
bench_workdir() {
  work="$(mktemp -d "${TMPDIR:-/tmp}/frontcache-bench-$1.XXXXXX")"
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# bench_stop PID: stops one process started by the script (SIGTERM, then waits for it) and
# takes it off $pids, so that the trap does not signal a pid the system may have reused.
bench_stop() {
  local p kept=()
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in "${pids[@]}"; do [[ "$p" == "$1" ]] || kept+=("$p"); done
  pids=("${kept[@]}")
}

# bench_load_settings: the load every target gets, from the environment: $rounds
# (BENCH_ROUNDS, 3), $requests per run (BENCH_REQUESTS, 200000), $clients (BENCH_CLIENTS, 50),
# $workers of frontcache (BENCH_WORKERS, 1), $pipelines (BENCH_PIPELINES, "1 16").
bench_load_settings() {
  rounds="${BENCH_ROUNDS:-3}"
  requests="${BENCH_REQUESTS:-200000}"
  clients="${BENCH_CLIENTS:-50}"
  workers="${BENCH_WORKERS:-1}"
  pipelines="${BENCH_PIPELINES:-1 16}"
}

# bench_frontcache_bin: sets $bin to the frontcache binary to measure: $FRONTCACHE_BIN, or else
# the release preset, built now (dependencies installed first).
bench_frontcache_bin() {
  if [[ -z "${FRONTCACHE_BIN:-}" ]]; then
    bash scripts/install-deps.sh
    cmake --preset release >/dev/null
    cmake --build build -j"${FRONTCACHE_JOBS:-2}" --target frontcache
    FRONTCACHE_BIN="build/frontcache"
  fi
  # shellcheck disable=SC2034  # for the script that sources this
  bin="$(realpath "$FRONTCACHE_BIN")"
}

# wait_pong PORT [CLI_ARGS...]: until PING on 127.0.0.1:PORT answers PONG (10 s at most).
wait_pong() {
  local port="$1"
  shift
  for _ in $(seq 200); do
    if [[ "$(redis-cli "$@" -p "$port" ping 2>/dev/null)" == PONG ]]; then return 0; fi
    sleep 0.05
  done
  echo "no PONG on port $port" >&2
  return 1
}

# bench_key_commands VERB PREFIX COUNT: VERB (SET with a 100-byte value, or GET) for the keys
# PREFIX000000000000 ... that redis-benchmark -r COUNT draws (12 digits), one inline command a
# line, for `redis-cli --pipe`.
bench_key_commands() {
  local value="" i
  if [[ "$1" == SET ]]; then value=" $(head -c 100 /dev/zero | tr '\0' v)"; fi
  for ((i = 0; i < $3; i++)); do printf '%s %s%012d%s\r\n' "$1" "$2" "$i" "$value"; done
}

# bench_pipe PORT [CLI_ARGS...] < COMMANDS: redis-cli --pipe, failing when any reply was an error
# (redis-cli prints "errors: N, replies: M" last).
bench_pipe() {
  local port="$1" out
  shift
  out="$(redis-cli "$@" -p "$port" --pipe)"
  if ! grep -q '^errors: 0,' <<<"$out"; then
    echo "redis-cli --pipe to port $port: $out" >&2
    return 1
  fi
}

# bench_cache_yaml: the cache and log blocks every benchmarked frontcache gets (every key
# cached, 5 minutes, 1 GB), to append to a generated config.
bench_cache_yaml() {
  cat <<'YAML'
cache:
  max_memory: 1gb
  max_ttl: 300s
  rules:
    - match: "*"
      ttl: 300s
log:
  level: warn
YAML
}
