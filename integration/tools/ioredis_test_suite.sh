#!/bin/bash
# Runs ioredis's own functional tests (mocha) through frontcache and against a plain
# redis-server, and lists the tests that fail only through the proxy. Not part of CI: it needs
# ioredis's source tree with its devDependencies (~620 npm packages) and port 6379, which the
# suite hard-codes; ~1 min per side.
#
# usage: integration/tools/ioredis_test_suite.sh IOREDIS_SRC FRONTCACHE_BIN OUT_DIR
#   IOREDIS_SRC: ioredis at the tag of the version integration/node uses, `npm ci` done, e.g.
#     git -C <ioredis clone> archive v5.11.1 lib test bin package.json package-lock.json \
#       tsconfig.json | tar -x -C /tmp/ioredis && (cd /tmp/ioredis && npm ci)
#   Results: OUT_DIR/{redis,proxy}.json (mocha's json reporter), OUT_DIR/summary.
#   docs/redis-test-suite.md says what the differences mean.
set -u
src=$(realpath "$1"); bin=$(realpath "$2"); out=$(realpath -m "$3")
mkdir -p "$out"
if redis-cli -p 6379 ping >/dev/null 2>&1; then
  echo "port 6379 is taken: the ioredis suite needs it" >&2
  exit 2
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; }
run_side() {  # side
  local side=$1 dir rport pid=""
  dir=$(mktemp -d /tmp/ioredis-suite.XXXXXX)
  rport=6379
  [ "$side" = proxy ] && rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$dir" --logfile "$dir/redis.log"
  wait_port "$rport"
  if [ "$side" = proxy ]; then
    printf 'listen: 127.0.0.1:6379\nworkers: 2\nupstream:\n  address: 127.0.0.1:%s\nadmin_commands: forward\nlog:\n  level: warn\n' \
      "$rport" > "$dir/fc.yaml"
    "$bin" --config "$dir/fc.yaml" > "$out/frontcache.log" 2>&1 &
    pid=$!
    wait_port 6379
  fi
  (cd "$src" && TS_NODE_TRANSPILE_ONLY=true NODE_ENV=test timeout 900 npx mocha \
     "test/helpers/*.ts" "test/functional/*.ts" --reporter json \
     --reporter-option output="$out/$side.json" > "$out/$side.out" 2>&1)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1
  rm -rf "$dir"
}
run_side redis
run_side proxy
python3 - "$out" <<'PY' | tee "$out/summary"
import json, sys
out = sys.argv[1]
res = {side: json.load(open('%s/%s.json' % (out, side))) for side in ('redis', 'proxy')}
failed = {side: {t['fullTitle']: t['err'].get('message', '') for t in r['failures']}
          for side, r in res.items()}
for side, r in res.items():
    s = r['stats']
    print('%-6s %d passing, %d failing, %d pending' % (side, s['passes'], s['failures'], s['pending']))
print('failing only through the proxy:')
for title in sorted(set(failed['proxy']) - set(failed['redis'])):
    print('  %s\n      %s' % (title, failed['proxy'][title].splitlines()[0][:160] if failed['proxy'][title] else ''))
print('failing only on Redis:')
for title in sorted(set(failed['redis']) - set(failed['proxy'])):
    print('  ' + title)
PY
