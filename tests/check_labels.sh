#!/usr/bin/env bash
# Fails when a registered ctest test carries none of the suite's labels, so that `ctest -L unit`
# (and -L integration, fuzz, sim, bench) selects every test of its kind and none is forgotten.
# Usage: check_labels.sh BUILD_DIR
set -euo pipefail
build="$1"
ctest --test-dir "$build" -N --show-only=json-v1 | python3 -c '
import json, sys
known = {"unit", "integration", "fuzz", "sim", "bench"}
tests = json.load(sys.stdin)["tests"]
unlabelled = []
for t in tests:
    labels = set()
    for p in t.get("properties", []):
        if p["name"] == "LABELS":
            labels.update(p["value"])
    if not labels & known:
        unlabelled.append(t["name"])
if unlabelled:
    print("check_labels: %d of %d tests have none of the labels %s:" % (len(unlabelled), len(tests), ", ".join(sorted(known))))
    for name in unlabelled:
        print("  " + name)
    sys.exit(1)
print("check_labels: all %d tests labelled" % len(tests))
'
