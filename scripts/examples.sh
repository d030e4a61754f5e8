#!/usr/bin/env bash
# Smoke-runs the example servers from build dir $1 on loopback: each must
# answer a request, stop on SIGINT with exit status 0, and (in a sanitizer
# build) print no sanitizer report. Part of scripts/test.sh.
set -uo pipefail
bdir=${1:-build}
fail=0
port=$((20000 + RANDOM % 20000))

# run NAME URL EXPECT CMD...: start CMD, fetch URL until it answers, check
# EXPECT in the body, SIGINT, wait.
run() {
    local name=$1 url=$2 expect=$3; shift 3
    local log; log=$(mktemp)
    "$@" >"$log" 2>&1 &
    local pid=$!
    local body="" i
    for i in $(seq 1 50); do
        body=$(curl -s --max-time 2 "$url" 2>/dev/null) && [ -n "$body" ] && break
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
port=$((port + 2))
run demo_workers "http://127.0.0.1:$port/user/7" "/user/7" \
    "$bdir/examples/demo" --port "$port" --static examples/static --workers 2
port=$((port + 2))
run embed "http://127.0.0.1:$port/hello" "Hello, world" "$bdir/examples/embed" "$port"
exit $fail
