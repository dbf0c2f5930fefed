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
source "$(dirname "$0")/suite_lib.sh"
run_side() {  # side: Redis on 6379, or frontcache on 6379 in front of Redis on another port
  local side=$1 rport=6379
  [ "$side" = proxy ] && rport=$(free_port)
  start_side "$side" "$rport" 6379
  (cd "$src" && TS_NODE_TRANSPILE_ONLY=true NODE_ENV=test timeout 900 npx mocha \
     "test/helpers/*.ts" "test/functional/*.ts" --reporter json \
     --reporter-option output="$out/$side.json" > "$out/$side.out" 2>&1)
  stop_side "$rport"
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
