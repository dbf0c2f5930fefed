#!/usr/bin/env bash
# Builds the resp fuzz targets with clang libFuzzer (ASan + UBSan) and runs each for a short
# while on its seed corpus in tests/fuzz/corpus/<name>/. Exits non-zero on a crash or a broken
# invariant, and 0 with a message when clang++ is not installed.
#
#   FUZZ_SECONDS=20   run time per target
#   FUZZ_OUT=build/fuzz   binaries, working corpora and crash artifacts
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
out="${FUZZ_OUT:-build/fuzz}"
cxx="${CXX_FUZZ:-clang++}"

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz-smoke: $cxx not found; skipping the fuzz smoke test"
  exit 0
fi

mkdir -p "$out"
status=0
for name in request_parser reply_framer; do
  bin="$out/${name}_fuzz"
  echo "fuzz-smoke: building $bin"
  "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Iinclude src/resp/*.cpp "tests/fuzz/${name}_fuzz.cpp" -lfmt -o "$bin"

  # New inputs go to a scratch corpus; the committed seeds are only read.
  work="$out/corpus-$name"
  mkdir -p "$work"
  echo "fuzz-smoke: running $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
      -artifact_prefix="$out/${name}-" "$work" "tests/fuzz/corpus/$name" 2>"$out/$name.log"; then
    echo "fuzz-smoke: $name FAILED; see $out/$name.log and $out/${name}-*"
    tail -n 40 "$out/$name.log"
    status=1
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/$name.log" |
      sed "s/^/fuzz-smoke: $name /"
  fi
done
exit "$status"
