#!/usr/bin/env bash
# Installs what is missing, builds (warnings as errors), and runs every unit and integration
# test through ctest. Exits non-zero on any failure. `.ci/run` calls this.
#   scripts/test.sh            all tests
#   scripts/test.sh -L unit    extra arguments go to ctest
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-deps.sh

jobs="${FRONTCACHE_JOBS:-2}"
cmake --preset ci >/dev/null
cmake --build build-ci -j"$jobs"

# Integration tests start their own redis-server processes on free loopback ports; the suite is
# run two at a time, which is what this 2-core machine takes without timing noise.
# The libFuzzer smoke run over the network parsers is a ctest test too (fuzz_smoke).
ctest --test-dir build-ci -j"$jobs" --output-on-failure --timeout 900 "$@"
