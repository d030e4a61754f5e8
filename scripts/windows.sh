#!/usr/bin/env bash
# Windows subset: cross-builds tornuv with mingw-w64 (warnings as errors) and
# runs the Windows test subset and echo and demo smoke checks under wine.
# This is a mingw-w64 build run under wine on Linux, NOT real Windows.
#
#   scripts/windows.sh            everything (installs what is missing first)
#   scripts/windows.sh --no-run   build only
#
# Everything lives under build-win/: libuv, PCRE2 and OpenSSL built from
# Debian's own source packages (cached: a rerun reuses them), the tornuv build, and the
# WINEPREFIX. Exits non-zero on any failure. See docs/WINDOWS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run=1
[ "${1:-}" = "--no-run" ] && run=0

bw=$root/build-win
deps=$bw/deps        # install prefix of libuv, PCRE2 and OpenSSL (Windows builds)
srcs=$bw/src         # Debian source packages
tc=$root/cmake/mingw-w64.cmake
mkdir -p "$bw" "$srcs"
t0=$(date +%s)

# ---------------------------------------------------------------------------
echo "== packages"
pkgs=(gcc-mingw-w64-x86-64 wine wine64 cmake ninja-build pkgconf dpkg-dev node-llhttp
      libz-mingw-w64-dev make perl)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "   installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------------------
# Debian ships neither libuv nor PCRE2 for mingw, but both source packages
# build unchanged with the toolchain file. apt-get source needs a deb-src
# entry: a temporary one, derived from the machine's own sources, removed
# again right after (trap), so the machine's apt configuration is unchanged.
debsrc_file=/etc/apt/sources.list.d/tornuv-windows-src.sources
remove_debsrc() {
    if [ -f "$debsrc_file" ]; then
        $sudo rm -f "$debsrc_file"
        $sudo apt-get update -qq || true
    fi
}
fetch_source() { # fetch_source <source package>: unpacks it under $srcs once
    local pkg=$1
    if compgen -G "$srcs/$pkg-[0-9]*/" >/dev/null; then return 0; fi
    if ! apt-cache showsrc "$pkg" >/dev/null 2>&1 || [ -z "$(apt-cache showsrc "$pkg" 2>/dev/null)" ]; then
        if [ ! -f "$debsrc_file" ]; then
            local base=""
            for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
                [ -f "$f" ] && { base=$f; break; }
            done
            [ -n "$base" ] || { echo "no apt sources file to derive a deb-src entry from"; exit 1; }
            if [[ $base == *.sources ]]; then
                sed 's/^Types: deb$/Types: deb-src/' "$base" | $sudo tee "$debsrc_file" >/dev/null
            else
                debsrc_file=/etc/apt/sources.list.d/tornuv-windows-src.list
                sed -n 's/^deb /deb-src /p' "$base" | $sudo tee "$debsrc_file" >/dev/null
            fi
            trap remove_debsrc EXIT
            $sudo apt-get update -qq
        fi
    fi
    # The newest version first; a mirror may list a version whose files it
    # does not serve (a security update's .dsc, say): then an older one.
    local v
    for v in $(apt-cache showsrc "$pkg" | sed -n 's/^Version: //p' | sort -u -r -V); do
        if (cd "$srcs" && apt-get source -qq "$pkg=$v" >/dev/null 2>&1); then
            echo "   $pkg $v"
            return 0
        fi
        rm -rf "${srcs:?}/$pkg-"[0-9]*/
    done
    echo "apt-get source $pkg failed for every listed version"
    exit 1
}

dep_built() { [ -f "$deps/.stamp-$1" ]; }

if ! dep_built libuv; then
    echo "== libuv for mingw (Debian source package; cached afterwards)"
    fetch_source libuv1
    src=$(compgen -G "$srcs/libuv1-[0-9]*/" | head -1)
    cmake -S "$src" -B "$bw/libuv-build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$tc" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$deps" \
        -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF >/dev/null
    cmake --build "$bw/libuv-build" >/dev/null
    cmake --install "$bw/libuv-build" >/dev/null
    touch "$deps/.stamp-libuv"
fi

if ! dep_built pcre2; then
    echo "== PCRE2 for mingw (Debian source package; cached afterwards)"
    fetch_source pcre2
    src=$(compgen -G "$srcs/pcre2-[0-9]*/" | head -1)
    cmake -S "$src" -B "$bw/pcre2-build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$tc" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$deps" \
        -DBUILD_SHARED_LIBS=OFF -DPCRE2_BUILD_PCRE2_8=ON -DPCRE2_BUILD_PCRE2_16=OFF \
        -DPCRE2_BUILD_PCRE2_32=OFF -DPCRE2_BUILD_PCRE2GREP=OFF -DPCRE2_BUILD_TESTS=OFF \
        -DPCRE2_SUPPORT_JIT=OFF >/dev/null
    cmake --build "$bw/pcre2-build" >/dev/null
    cmake --install "$bw/pcre2-build" >/dev/null
    touch "$deps/.stamp-pcre2"
fi
if ! dep_built openssl; then
    echo "== OpenSSL for mingw (Debian source package, libraries only; cached afterwards)"
    fetch_source openssl
    src=$(compgen -G "$srcs/openssl-[0-9]*/" | head -1)
    ob=$bw/openssl-build
    rm -rf "$ob"
    mkdir -p "$ob"
    # Static libcrypto + libssl only (build_libs: no programs or docs; no tests, engines or
    # loadable modules, and none of the legacy algorithms TLS never uses.
    # --libdir=lib: one layout for CMake's FindOpenSSL (not lib64).
    # Its compiler warnings go to a log, shown only if the build fails.
    olog=$bw/openssl-build.log
    t1=$(date +%s)
    if ! { (cd "$ob" && perl "$src/Configure" mingw64 \
            --cross-compile-prefix=x86_64-w64-mingw32- --prefix="$deps" --libdir=lib \
            no-shared no-module no-engine no-dso no-tests no-legacy no-comp \
            no-idea no-mdc2 no-rc5 no-md4 no-seed no-camellia no-whirlpool no-srp no-ssl3 \
            no-sm2 no-sm3 no-sm4 no-gost no-ts no-cms no-ui-console) &&
           make -C "$ob" -s -j"$(nproc)" build_libs &&
           make -C "$ob" -s install_dev; } >"$olog" 2>&1; then
        tail -n 40 "$olog"
        echo "OpenSSL build failed (log: $olog)"
        exit 1
    fi
    echo "   OpenSSL built in $(($(date +%s) - t1)) s"
    touch "$deps/.stamp-openssl"
fi
remove_debsrc
trap - EXIT
echo "   deps ready ($(($(date +%s) - t0)) s)"

# ---------------------------------------------------------------------------
echo "== configure + build tornuv (mingw-w64, warnings as errors)"
tb=$bw/tornuv
cmake -S . -B "$tb" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$tc" -DCMAKE_PREFIX_PATH="$deps" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTN_WERROR=ON -DTN_PREFER_STATIC_UV=ON \
    -DTN_PCRE2_STATIC=ON -DTN_REQUIRE_TLS=ON -DOPENSSL_USE_STATIC_LIBS=ON \
    -DTN_BUILD_TESTS=ON -DTN_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$tb"
[ $run -eq 1 ] || exit 0

# ---------------------------------------------------------------------------
# wine: a prefix of our own inside the build directory, booted once, and a
# persistent wineserver warmed up before the tests (without it every test
# program pays wine's start-up, or waits for a server that is shutting down).
export WINEPREFIX=$bw/wineprefix WINEDEBUG=-all WINEARCH=win64
# No Mono or Gecko: nothing here needs .NET or HTML, and their installers
# would only slow wineboot down (or ask).
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
mkdir -p "$WINEPREFIX"
# Status 2: a server for this prefix is already running (a run that was
# interrupted, say); it serves as well.
wineserver -p || [ $? -eq 2 ]
stop_wine() { wineserver -k 2>/dev/null || true; }
trap stop_wine EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "== wineboot (first run only)"
    wineboot -i >/dev/null 2>&1
fi
wine cmd /c exit >/dev/null 2>&1 || true

status=0
echo "== Windows test subset under wine (mingw-w64 build, not real Windows)"
log=$tb/ctest.log
if ! (cd "$tb" && ctest -V --timeout 300 >"$log" 2>&1); then
    status=1
fi
# ctest -V prefixes each program's output with its test number.
grep -E 'Test +#|tests passed|[0-9]+: [0-9]+ passed|\[FAIL\]|\[SKIP\]' "$log" || true
# Per-program "N passed, N failed" lines summed into one total.
passed=0; failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < <(
    sed -nE 's/^[0-9]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' "$log")
echo "   windows subset: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] || status=1

echo "== echo smoke: examples/echo_stream.exe under wine, a Linux client"
out=$tb/echo_stream.out
wine "$tb/examples/echo_stream.exe" 0 >"$out" 2>&1 &
echo_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$out" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
reply=""
if [ -n "$port" ]; then
    # bash's /dev/tcp: no extra package; the line goes to the Windows server
    # and its echo comes back (5 s at most).
    reply=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'hello from linux\n' >&3; head -n1 <&3" || true)
fi
kill "$echo_pid" 2>/dev/null || true
wait "$echo_pid" 2>/dev/null || true
if [ "$reply" = "hello from linux" ]; then
    echo "   echo_stream.exe on port $port answered: $reply"
else
    echo "   echo smoke FAILED (port '${port}', reply '${reply}')"; cat "$out"; status=1
fi

echo "== demo smoke: examples/demo.exe (the web layer) under wine, a Linux client"
out=$tb/demo.out
wine "$tb/examples/demo.exe" --port 0 --static examples/static >"$out" 2>&1 &
demo_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -nE 's|.*serving http://127\.0\.0\.1:([0-9]+)/.*|\1|p' "$out" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
body=""; css=""
if [ -n "$port" ]; then
    body=$(curl -s --max-time 5 "http://127.0.0.1:$port/hello" || true)
    css=$(curl -s --max-time 5 "http://127.0.0.1:$port/static/style.css" | head -c 40 || true)
fi
kill "$demo_pid" 2>/dev/null || true
wait "$demo_pid" 2>/dev/null || true
if [ "$body" = "Hello, world" ] && [[ "$css" == *"tornuv demo stylesheet"* ]]; then
    echo "   demo.exe on port $port answered /hello and /static/style.css"
else
    echo "   demo smoke FAILED (port '${port}', body '${body}', css '${css}')"; cat "$out"; status=1
fi

echo "== windows.sh: $( [ $status -eq 0 ] && echo passed || echo FAILED ) in $(($(date +%s) - t0)) s"
exit $status
