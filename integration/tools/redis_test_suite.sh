#!/bin/bash
# Runs Redis's own Tcl test suite (external mode) through frontcache, unit by unit, each against
# a fresh redis-server with a fresh frontcache in front of it, and the same units against a
# plain redis-server for comparison. Not part of CI (it needs Redis's source tree, ~15 min).
#
# usage: integration/tools/redis_test_suite.sh REDIS_SRC FRONTCACHE_BIN OUT_DIR [unit ...]
#   REDIS_SRC: a checkout of redis/redis at the upstream's version (tests/ and runtest are used,
#   from a copy). Units default to every unit/* of tests/test_helper.tcl. Results: OUT_DIR/
#   {proxy,redis}/<unit>.log and summary (one "unit rc=N" line each); docs/redis-test-suite.md
#   says what the differences mean.
#
# The copy's harness skips tests that cannot run through any proxy of a shared Redis: those that
# attach to the replication stream (SYNC is never forwarded) and that create ACL users in Redis
# to AUTH as them (AUTH is answered by the proxy, against its own users).
set -u
src=$1; bin=$2; out=$3; shift 3
tree=$(mktemp -d /tmp/redis-suite.XXXXXX)
cp -r "$src/tests" "$src/runtest" "$tree/"
mkdir -p "$tree/src"
extra='[string match *attach_to_replication_stream* $code] || [string match -nocase {*acl setuser*} $code] || '
python3 - "$tree/tests/support/test.tcl" "$extra" <<'PY'
import sys
path, extra = sys.argv[1], sys.argv[2]
s = open(path).read()
old = "    if {[search_pattern_list $name $::skiptests]} {"
assert old in s, "unexpected tests/support/test.tcl"
s = s.replace(old, "    if {" + extra + "[search_pattern_list $name $::skiptests]} {", 1)
open(path, "w").write(s)
PY
units="$*"
[ -z "$units" ] && units=$(sed -n '/set ::all_tests {/,/}/p' "$tree/tests/test_helper.tcl" | grep -o 'unit/[^ ]*')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run_unit() {  # side unit
  local side=$1 unit=$2 dir rport port pid=""
  dir=$(mktemp -d /tmp/redis-suite-run.XXXXXX); rport=$(free_port)
  redis-server --port "$rport" --save "" --appendonly no --daemonize yes --dir "$dir" \
    --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" --enable-debug-command yes
  port=$rport
  if [ "$side" = proxy ]; then
    port=$(free_port)
    printf 'listen: 127.0.0.1:%s\nworkers: 2\nupstream:\n  address: 127.0.0.1:%s\n  command_timeout: 60s\nadmin_commands: forward\nlog:\n  level: warn\n' \
      "$port" "$rport" > "$dir/fc.yaml"
    "$bin" --config "$dir/fc.yaml" >> "$out/proxy/frontcache.log" 2>&1 &
    pid=$!
  fi
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  (cd "$tree" && timeout 900 ./runtest --host 127.0.0.1 --port "$port" --tags -needs:repl \
     --single "$unit" > "$out/$side/$(echo "$unit" | tr / _).log" 2>&1)
  echo "$unit rc=$?" >> "$out/$side/summary"
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1
  rm -rf "$dir"
}
mkdir -p "$out/proxy" "$out/redis"
: > "$out/proxy/summary"; : > "$out/redis/summary"
for unit in $units; do
  run_unit proxy "$unit"
  run_unit redis "$unit"
done
rm -rf "$tree"
echo "units failing through the proxy only:"
join -v1 <(grep -v 'rc=0' "$out/proxy/summary" | sort) <(grep -v 'rc=0' "$out/redis/summary" | sort)
