#!/usr/bin/env bash
# Smoke-runs the example servers from build dir $1 on loopback: each must
# answer a request, stop on SIGINT with exit status 0, and (in a sanitizer
# build) print no sanitizer report. Part of scripts/test.sh.
set -uo pipefail
bdir=${1:-build}
fail=0
port=$((20000 + RANDOM % 20000))
curl_extra=() # more curl options for run (the HTTPS runs trust the test CA)

# run NAME URL EXPECT CMD...: start CMD, fetch URL until it answers, check
# EXPECT in the body, SIGINT, wait.
run() {
    local name=$1 url=$2 expect=$3; shift 3
    local log; log=$(mktemp)
    "$@" >"$log" 2>&1 &
    local pid=$!
    local body="" i
    for i in $(seq 1 50); do
        body=$(curl -s --max-time 2 "${curl_extra[@]}" "$url" 2>/dev/null) && [ -n "$body" ] && break
        sleep 0.1
    done
    kill -INT "$pid" 2>/dev/null
    local rc=0
    wait "$pid" || rc=$?
    if [[ "$body" != *"$expect"* ]] || [ $rc -ne 0 ] ||
        grep -qE 'Sanitizer|runtime error:' "$log"; then
        echo "   $name: FAILED (exit $rc, body '${body:0:60}')"; sed -n 1,40p "$log"; fail=1
    else
        echo "   $name: ok"
    fi
    rm -f "$log"
}

run hello_http "http://127.0.0.1:$port/x" "Hello, world" \
    "$bdir/examples/hello_http" --port "$port"
port=$((port + 2))
run hello_http_workers "http://127.0.0.1:$port/x" "Hello, world" \
    "$bdir/examples/hello_http" --port "$port" --workers 2
port=$((port + 2))
run demo "http://127.0.0.1:$port/user/7" "/user/7" \
    "$bdir/examples/demo" --port "$port" --static examples/static
# The same two over HTTPS only, with a certificate from scripts/devcert.sh.
certs=$(mktemp -d)
bash scripts/devcert.sh "$certs" >/dev/null
curl_extra=(--cacert "$certs/ca.pem")
port=$((port + 2))
run "hello_http (HTTPS)" "https://localhost:$port/x" "Hello, world" \
    "$bdir/examples/hello_http" --port "$port" --certfile "$certs/cert.pem" --keyfile "$certs/key.pem"
port=$((port + 2))
run "demo (HTTPS)" "https://localhost:$port/user/7" "/user/7" \
    "$bdir/examples/demo" --port "$port" --static examples/static \
    --certfile "$certs/cert.pem" --keyfile "$certs/key.pem"
curl_extra=()
rm -rf "$certs"
port=$((port + 2))
run demo_workers "http://127.0.0.1:$port/user/7" "/user/7" \
    "$bdir/examples/demo" --port "$port" --static examples/static --workers 2
port=$((port + 2))
run embed "http://127.0.0.1:$port/hello" "Hello, world" "$bdir/examples/embed" "$port"

# webspider crawls a running demo with a queue and four workers: every page
# linked from the index must be fetched with 200, the spider exit 0.
port=$((port + 2))
log=$(mktemp)
"$bdir/examples/demo" --port "$port" --static examples/static >"$log" 2>&1 &
demo_pid=$!
for i in $(seq 1 50); do
    curl -s --max-time 2 "http://127.0.0.1:$port/hello" >/dev/null 2>&1 && break
    sleep 0.1
done
out=$(timeout 60 "$bdir/examples/webspider" --port "$port" --workers 4 2>&1)
rc=$?
kill -INT "$demo_pid" 2>/dev/null
wait "$demo_pid"
demo_rc=$?
if [ $rc -ne 0 ] || [ $demo_rc -ne 0 ] || [[ "$out" != *"200 /large"* ]] ||
    [[ "$out" != *"0 failed"* ]] || grep -qE 'Sanitizer|runtime error:' "$log" ||
    [[ "$out" == *Sanitizer* ]] || [[ "$out" == *"runtime error:"* ]]; then
    echo "   webspider: FAILED (exit $rc, demo exit $demo_rc)"; echo "$out" | sed -n 1,40p
    sed -n 1,20p "$log"; fail=1
else
    echo "   webspider: ok ($(echo "$out" | tail -1))"
fi
rm -f "$log"

# subproc: output streamed, exit status passed on (128+signal), timeout with
# SIGTERM then SIGKILL, and bounded memory for 50 MB of child output.
sp=$bdir/examples/subproc
# check NAME COND: report one subproc check.
check() {
    if [ "$2" = 1 ]; then echo "   subproc $1: ok"; else echo "   subproc $1: FAILED"; fail=1; fi
}
t=$(mktemp -d)
rc=0; "$sp" -- sh -c 'echo out; echo err >&2; exit 3' >"$t/o" 2>"$t/e" || rc=$?
check "output and exit status" "$([ $rc -eq 3 ] && [ "$(cat "$t/o")" = out ] &&
    [ "$(cat "$t/e")" = err ] && echo 1)"
rc=0; "$sp" -- sh -c 'kill -TERM $$' >/dev/null 2>&1 || rc=$?
check "killed by SIGTERM -> 143" "$([ $rc -eq 143 ] && echo 1)"
rc=0; s0=$(date +%s)
"$sp" --timeout 200 -- sh -c 'trap "" TERM; exec sleep 20' >/dev/null 2>"$t/e" || rc=$?
check "timeout: SIGTERM ignored, SIGKILL after the grace (exit $rc)" \
    "$([ $rc -eq 137 ] && grep -q timeout "$t/e" && [ $(($(date +%s) - s0)) -lt 10 ] && echo 1)"
rc=0; "$sp" -- "$t/no-such-program" >/dev/null 2>&1 || rc=$?
check "missing program -> 127" "$([ $rc -eq 127 ] && echo 1)"
"$sp" --stats -- sh -c 'echo small' 2>"$t/e0" >/dev/null
n=$("$sp" --stats -- head -c 50000000 /dev/zero 2>"$t/e1" | wc -c)
base=$(sed -nE 's/.*peak RSS ([0-9]+) KiB.*/\1/p' "$t/e0")
big=$(sed -nE 's/.*peak RSS ([0-9]+) KiB.*/\1/p' "$t/e1")
echo "   subproc 50 MB through a pipe: peak RSS ${big:-?} KiB (a tiny run: ${base:-?} KiB)"
if grep -q 'TN_SANITIZE:BOOL=ON' "$bdir/CMakeCache.txt" 2>/dev/null; then
    # ASan's quarantine holds freed chunks: RSS says nothing there.
    check "50 MB delivered" "$([ "$n" = 50000000 ] && echo 1)"
else
    check "50 MB delivered, RSS grew < 4 MiB" "$([ "$n" = 50000000 ] && [ -n "$big" ] &&
        [ $((big - base)) -lt 4096 ] && echo 1)"
fi
rm -rf "$t"
# fetch: two URLs over one keep-alive connection to hello_http (exit 0, both
# bodies), then a refused connection (exit 1, one line on stderr).
# (a port another program on the machine holds is left for a fresh one)
for attempt in 1 2 3; do
    port=$((20000 + RANDOM % 20000))
    "$bdir/examples/hello_http" --port "$port" >/dev/null 2>&1 &
    hpid=$!
    up=0
    for i in $(seq 1 50); do
        curl -s --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null | grep -q 'Hello' && { up=1; break; }
        kill -0 "$hpid" 2>/dev/null || break
        sleep 0.1
    done
    [ $up = 1 ] && break
    kill -INT "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null
done
out=$("$bdir/examples/fetch" --include "http://127.0.0.1:$port/a" "http://127.0.0.1:$port/b" 2>&1)
frc=$?
err=$("$bdir/examples/fetch" "http://127.0.0.1:1/" 2>&1 >/dev/null)
erc=$?
kill -INT "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null
if [ $frc -ne 0 ] || [ "$(grep -c 'Hello, world' <<<"$out")" -ne 2 ] ||
    ! grep -q '^HTTP/1.1 200 OK' <<<"$out" || [ $erc -ne 1 ] ||
    [ "$(wc -l <<<"$err")" -ne 1 ] || grep -qE 'Sanitizer|runtime error:' <<<"$out$err"; then
    echo "   fetch: FAILED (exit $frc/$erc)"; echo "$out"; echo "$err"; fail=1
else
    echo "   fetch: ok"
fi
exit $fail
