#!/usr/bin/env bash
# `redis-cli --cluster reshard` of 1,000 slots between two masters of a local 3-master Redis
# Cluster, under a read/write load through frontcache (upstream.mode: cluster). Prints the
# reshard's duration, the reads and writes done, wrong answers, lost acknowledged writes and
# error replies; exits non-zero on a wrong answer or a lost write. The measurement is the
# opt-in integration test ClusterReshard.* (integration/cluster_reshard_test.cpp).
#
#   bench/cluster_reshard.sh [BUILD_DIR]      (default: build-ci)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-ci}"
bin="$build/integration/cluster_integration_test"
[[ -x "$bin" ]] || { echo "no $bin: build the cluster_integration_test target first" >&2; exit 2; }
FRONTCACHE_CLUSTER_RESHARD=1 exec "$bin" --gtest_filter='ClusterReshard.*'
