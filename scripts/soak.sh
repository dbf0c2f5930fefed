#!/usr/bin/env bash
# Runs the differential tester and the network fuzzer with fresh seeds for as long as asked and
# prints the figures: commands compared, multi-client reads checked, staleness percentiles, fuzz
# connections, sanitizer reports. Exits non-zero if any part found something.
#   scripts/soak.sh 3600           one hour (default)
#   FRONTCACHE_BIN=/path/frontcache scripts/soak.sh 600   soak another binary (the fuzzer
#                                  still uses the ASan build unless SOAK_FUZZ_BIN is set)
#   SOAK_SINGLE_ARGS="--forms mb"  SOAK_MULTI_ARGS=...  SOAK_FUZZ_ARGS="--no-inline"
#                                  extra options per part (e.g. to look past a known bug)
# Time split: single-client 35 %, multi-client 15 % without and 20 % with faults, fuzz 30 %.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
secs="${1:-3600}"
jobs="${FRONTCACHE_JOBS:-2}"
dt=integration/differential
out="${SOAK_OUT:-$root/build-ci/soak-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"

cmake --preset ci >/dev/null && cmake --build build-ci -j"$jobs" --target frontcache || exit 2
bin="${FRONTCACHE_BIN:-$root/build-ci/frontcache}"
fuzz_bin="${SOAK_FUZZ_BIN:-}"
if [[ -z "$fuzz_bin" ]]; then
  cmake --preset asan >/dev/null && cmake --build build-asan -j"$jobs" --target frontcache || exit 2
  fuzz_bin="$root/build-asan/frontcache"
fi

status=0
run() {  # name, then the command; output goes to the terminal and $out/name.log
  local name="$1"; shift
  echo "==== soak: $name ($(date +%T))"
  "$@" 2>&1 | tee "$out/$name.log"
  local rc="${PIPESTATUS[0]}"
  [[ "$rc" -ne 0 ]] && status=1
  echo "==== soak: $name exit $rc"
}

run single python3 "$dt/diff_runner.py" --frontcache "$bin" --duration $((secs * 35 / 100)) \
  --commands 20000 --max-mismatches 20 --shrink-classes 3 --shrink-seconds 60 \
  --shrink-total-seconds $((secs * 10 / 100)) \
  --repro-dir "$out/repros" --summary-json "$out/single.json" ${SOAK_SINGLE_ARGS:-}
run multi python3 "$dt/diff_runner.py" --frontcache "$bin" --multi \
  --duration $((secs * 15 / 100)) --summary-json "$out/multi.json" ${SOAK_MULTI_ARGS:-}
run multi-faults python3 "$dt/diff_runner.py" --frontcache "$bin" --multi --faults \
  --duration $((secs * 20 / 100)) --summary-json "$out/multi-faults.json" ${SOAK_MULTI_ARGS:-}
run fuzz python3 "$dt/net_fuzz.py" --frontcache "$fuzz_bin" --duration $((secs * 30 / 100)) \
  --summary-json "$out/fuzz.json" ${SOAK_FUZZ_ARGS:-}

echo
echo "==== soak figures ($secs s, logs and reproducers in $out)"
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
s = load('single.json')
if s:
    print('single-client: %d programs, %d commands compared, %d mismatches %s, %d tool errors, '
          'skips %s' % (s['programs'], s['compared'], s['mismatches'], s['mismatch_kinds'] or '',
                        s['model_errors'], s['skipped']))
for name in ('multi.json', 'multi-faults.json'):
    m = load(name)
    if m:
        print('%s: %d reads checked, %d writes, %d violations, staleness max %.1f ms, p99 %.1f ms, '
              'p99.9 %.1f ms, faults %s' % (name[:-5], m['reads'], m['writes'], m['violations'],
                                            m['staleness_max_ms'], m['staleness_p99_ms'],
                                            m['staleness_p999_ms'], m['faults'] or '-'))
f = load('fuzz.json')
if f:
    print('fuzz: %d connections, checker %d requests / %d failures, invalid RESP %d, proxy alive %s, '
          'max RSS %d MB' % (f['connections'], f['checker_requests'], f['checker_failures'],
                             f['invalid_resp'], f['alive'], f['rss_max_mb']))
PY
grep -h "sanitizer reports\|SANITIZER" "$out"/*.log | sort | uniq -c
exit "$status"
