#!/usr/bin/env bash
# Builds tornuv and runs the whole test suite.
#   scripts/test.sh              build/ (warnings as errors), format + layering checks, all tests,
#                                the install/consumer check, the headless-browser chat test and
#                                the WebSocket interoperability test with Node's ws (if node exists)
#   scripts/test.sh --sanitize   build-asan/ with ASan+UBSan; any sanitizer report fails the run
# Prints one Criterion synthesis per test program and a final "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
mode=plain
[ "${1:-}" = "--sanitize" ] && mode=sanitize
bash scripts/deps.sh

if [ "$mode" = plain ]; then
    bdir=build
    cmake_flags=(-DTN_WERROR=ON)
    echo "== format check (clang-format)"
    files=$(git ls-files '*.c' '*.h' 2>/dev/null || find include lib shim tests examples bench -name '*.[ch]')
    if ! clang-format --dry-run --Werror $files; then
        echo "clang-format: the files above are not formatted (run clang-format -i)"; exit 1
    fi
    echo "== layering check: lib/ and include/ (but include/tornuv/uv.h) name no libuv"
    if grep -rnE '#include[[:space:]]*[<"]uv\.h[>"]|\buv_[a-z_]+_t\b' lib include | grep -v '^include/tornuv/uv\.h:'; then
        echo "libuv outside shim/"; exit 1
    fi
else
    bdir=build-asan
    cmake_flags=(-DTN_WERROR=ON -DTN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi

echo "== build ($bdir)"
cmake -S . -B "$bdir" -G Ninja "${cmake_flags[@]}" >/dev/null
cmake --build "$bdir"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_pass=0; total_fail=0; failed_progs=()
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in "$bdir"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    rc=0
    "$t" --jobs=2 >"$log" 2>&1 || rc=$?
    # Criterion prints its own synthesis line; show it and any failure detail.
    grep -vE '^\[----\] .*(Running|Configuration)' "$log" | grep -E 'Synthesis|FAIL|fail|crash|Sanitizer|runtime error:|Assertion' || true
    syn=$(grep -E 'Synthesis: Tested:' "$log" | tail -1 || true)
    pass=$(sed -nE 's/.*Passing: ([0-9]+).*/\1/p' <<<"$syn"); pass=${pass:-0}
    fail=$(sed -nE 's/.*Failing: ([0-9]+).*/\1/p' <<<"$syn"); fail=${fail:-0}
    crash=$(sed -nE 's/.*Crashing: ([0-9]+).*/\1/p' <<<"$syn"); crash=${crash:-0}
    fail=$((fail + crash))
    if [ -z "$syn" ] || [ $rc -ne 0 ]; then fail=$((fail > 0 ? fail : 1)); fi
    if grep -qE 'LeakSanitizer|AddressSanitizer|runtime error:' "$log"; then
        echo "   sanitizer report in $name:"; grep -E -A20 'LeakSanitizer|AddressSanitizer|runtime error:' "$log" | head -60
        fail=$((fail > 0 ? fail : 1))
    fi
    [ "$fail" -gt 0 ] && { failed_progs+=("$name"); tail -40 "$log"; }
    total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
done

echo "== examples: answer a request, stop cleanly on SIGINT"
if bash scripts/examples.sh "$bdir"; then
    total_pass=$((total_pass + 1))
else
    failed_progs+=(examples); total_fail=$((total_fail + 1))
fi

if [ "$mode" = plain ]; then
    echo "== install + consumer project (find_package and pkg-config)"
    bash scripts/consumer.sh "$bdir" || { failed_progs+=(consumer); total_fail=$((total_fail + 1)); }
    echo "== browser: headless Chromium on the demo's chat (tests/browser/chat_test.py)"
    bash scripts/deps.sh chromium chromium-driver python3
    if python3 tests/browser/chat_test.py "$bdir" 2>/dev/null; then
        total_pass=$((total_pass + 1))
    else
        failed_progs+=(browser_chat); total_fail=$((total_fail + 1))
    fi
    echo "== peer: Node's ws package against the WebSocket server and client (skipped without node)"
    if bash tests/peer/ws_node_peer.sh "$bdir"; then
        total_pass=$((total_pass + 1))
    else
        failed_progs+=(ws_node_peer); total_fail=$((total_fail + 1))
    fi
fi

[ ${#failed_progs[@]} -gt 0 ] && echo "failed: ${failed_progs[*]}"
echo "tests ($mode): $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
