#!/bin/bash
# Runs redis-py's own tests (pytest) through frontcache and against a plain redis-server, and
# lists the tests that fail only through the proxy. Not part of CI: it needs redis-py's source
# tree and Debian's python3-redis, python3-pytest, python3-pytest-asyncio and
# python3-pytest-timeout (the suite of the redis-py version Debian ships: 4.3.4); ~3 min a side.
#
# usage: integration/tools/redispy_test_suite.sh REDISPY_SRC FRONTCACHE_BIN OUT_DIR
#   REDISPY_SRC: redis-py at the tag of Debian's python3-redis, e.g.
#     git -C <redis-py clone> archive v4.3.4 tests | tar -x -C /tmp/redispy
#   The tests of Redis modules (bloom, graph, json, search, timeseries), Cluster, Sentinel and
#   TLS are left out (no such server here), and so is `test_auth`, which sets `requirepass` in
#   Redis and AUTHs with it: the proxy answers AUTH against its own users (docs/security.md), so
#   through it the test fails, its teardown leaves Redis with a password the proxy does not
#   know, and every later test needing a new upstream connection fails too. Results: OUT_DIR/{redis,proxy}.xml (JUnit) and
#   OUT_DIR/summary; docs/redis-test-suite.md says what the differences mean.
set -u
src=$(realpath "$1"); bin=$(realpath "$2"); out=$(realpath -m "$3")
mkdir -p "$out"
source "$(dirname "$0")/suite_lib.sh"
files=$(cd "$src" && ls tests/test_*.py tests/test_asyncio/test_*.py |
  grep -Ev 'bloom|graph|json|search|timeseries|cluster|sentinel|ssl')
run_side() {  # side
  local side=$1 rport port
  rport=$(free_port)
  port=$rport
  [ "$side" = proxy ] && port=$(free_port)
  start_side "$side" "$rport" "$port"
  # shellcheck disable=SC2086  # one word per test file
  (cd "$src" && timeout 1200 /usr/bin/python3 -m pytest -q -p no:cacheprovider --timeout 60 \
     --redis-url="redis://localhost:$port/9" --junitxml="$out/$side.xml" $files \
     --deselect tests/test_commands.py::TestRedisCommands::test_auth \
     > "$out/$side.out" 2>&1)
  stop_side "$rport"
}
run_side redis
run_side proxy
python3 - "$out" <<'PY' | tee "$out/summary"
import sys
import xml.etree.ElementTree as ET
out = sys.argv[1]
failed, counts = {}, {}
for side in ('redis', 'proxy'):
    root = ET.parse('%s/%s.xml' % (out, side)).getroot()
    f, n = {}, {'passed': 0, 'failed': 0, 'skipped': 0}
    for case in root.iter('testcase'):
        name = '%s::%s' % (case.get('classname'), case.get('name'))
        bad = case.find('failure') if case.find('failure') is not None else case.find('error')
        if bad is not None:
            f[name] = (bad.get('message') or '').splitlines()[0][:160] if bad.get('message') else ''
            n['failed'] += 1
        elif case.find('skipped') is not None:
            n['skipped'] += 1
        else:
            n['passed'] += 1
    failed[side], counts[side] = f, n
for side in ('redis', 'proxy'):
    print('%-6s %d passed, %d failed or errors, %d skipped' % (
        side, counts[side]['passed'], counts[side]['failed'], counts[side]['skipped']))
print('failing only through the proxy:')
for name in sorted(set(failed['proxy']) - set(failed['redis'])):
    print('  %s\n      %s' % (name, failed['proxy'][name]))
print('failing only on Redis:')
for name in sorted(set(failed['redis']) - set(failed['proxy'])):
    print('  ' + name)
PY
