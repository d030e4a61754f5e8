#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan+UBSan) in build-fuzz/ and runs
# each on a scratch copy of its seed corpus for SECONDS seconds (default 60).
# Fails on any crash, sanitizer report or leak.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/deps.sh clang libclang-rt-14-dev
# The sanitizer runtime lives in the library as well, so the core is built
# instrumented too (-fsanitize=fuzzer-no-link adds coverage without main()).
CC=clang cmake -S . -B build-fuzz -G Ninja -DTN_FUZZ=ON -DTN_BUILD_TESTS=OFF \
    -DTN_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" >/dev/null
cmake --build build-fuzz
status=0
for bin in build-fuzz/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz_}
    work=$(mktemp -d)
    cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    echo "== fuzz_$name for ${seconds}s"
    if ! "$bin" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$work" >"$work.log" 2>&1; then
        echo "fuzz_$name FAILED:"; tail -60 "$work.log"; status=1
    else
        grep -E 'stat::number_of_executed_units|Done' "$work.log" | tail -2
    fi
    rm -rf "$work" "$work.log"
done
exit $status
