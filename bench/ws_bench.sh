#!/usr/bin/env bash
# WebSocket benchmark: tornuv's demo (/ws/echo) against Node's `ws` package
# (bench/peers/node_ws_echo.js; skipped when node or npm is missing), with
# bench/ws_load as the client. Short runs, for a shared machine.
#
#   bench/ws_bench.sh [--duration S] [--idle N] [BUILD_DIR]
#
# BUILD_DIR (default build-rel) must be a Release build with
# -DTN_BUILD_BENCH=ON. Each server is pinned to CPU 0, ws_load to CPU 1.
# Prints a Markdown table: messages per second, messages per server
# CPU-second (utime + stime from /proc), MiB/s for 64 KiB messages, and KB
# of server memory per idle upgraded connection (VmRSS delta / N).
set -uo pipefail
cd "$(dirname "$0")/.."
duration=5
idle=2000
bdir=build-rel
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --idle) idle=$2; shift 2 ;;
        *) bdir=$1; shift ;;
    esac
done
load=$bdir/bench/ws_load
demo=$bdir/examples/demo
[ -x "$load" ] && [ -x "$demo" ] || { echo "build $bdir with -DTN_BUILD_BENCH=ON first"; exit 1; }
ulimit -n $((idle + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
scratch=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$scratch"
}
trap cleanup EXIT
tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
port=$((30000 + RANDOM % 20000))

start_server() { # name: sets spid and sport
    sport=$port; port=$((port + 1))
    case $1 in
        tornuv)
            taskset -c 0 "$demo" --port "$sport" --static examples/static >"$scratch/$1.log" 2>&1 &
            ;;
        node-ws)
            NODE_PATH="$scratch/node_modules" taskset -c 0 node bench/peers/node_ws_echo.js \
                "$sport" >"$scratch/$1.log" 2>&1 &
            ;;
    esac
    spid=$!
    pids+=("$spid")
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$1 did not start"; return 1
}

servers=(tornuv)
if command -v node >/dev/null && command -v npm >/dev/null &&
    (cd "$scratch" && timeout 180 npm install --no-audit --no-fund --silent ws >/dev/null 2>&1); then
    servers+=(node-ws)
else
    echo "(node-ws: skipped, node/npm missing or ws not installable)"
fi

echo "| server | scenario | msgs/s | msgs per server CPU-s | MiB/s |"
echo "|---|---|---|---|---|"
for s in "${servers[@]}"; do
    start_server "$s" || continue
    for sc in "16:16:16" "1024:16:16" "65536:4:4"; do
        IFS=: read -r size c w <<<"$sc"
        t0=$(cpu_ticks "$spid")
        out=$(taskset -c 1 "$load" --port "$sport" -c "$c" -w "$w" -s "$size" \
            --duration "$duration" --warmup 1 2>&1)
        t1=$(cpu_ticks "$spid")
        res=$(sed -n 's/^RESULT //p' <<<"$out")
        mps=$(sed -nE 's/.*msgs_per_s=([0-9.]+).*/\1/p' <<<"$res")
        mib=$(sed -nE 's/.*mib_per_s=([0-9.]+).*/\1/p' <<<"$res")
        err=$(sed -nE 's/.*errors=([0-9]+).*/\1/p' <<<"$res")
        if [ -z "$mps" ] || [ "${err:-1}" != 0 ]; then
            echo "| $s | ${size} B, c$c w$w | failed: $(tail -1 <<<"$out") | | |"
            continue
        fi
        # the CPU delta spans warm-up and measurement: scale messages to it
        cpu=$(awk -v a="$t0" -v b="$t1" -v t="$tick" 'BEGIN {print (b - a) / t}')
        per=$(awk -v m="$mps" -v d="$duration" -v c="$cpu" -v w=1 \
            'BEGIN {if (c > 0) printf "%.0f", m * (d + w) / c; else print "n/a"}')
        echo "| $s | ${size} B, c$c w$w | $mps | $per | $mib |"
    done
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
done

echo
echo "| server | idle upgraded connections | KB per connection |"
echo "|---|---|---|"
for s in "${servers[@]}"; do
    start_server "$s" || continue
    sleep 0.5
    before=$(rss_kb "$spid")
    taskset -c 1 "$load" --port "$sport" -c "$idle" --hold --duration 3 >"$scratch/hold.out" 2>&1 &
    lpid=$!
    for _ in $(seq 1 150); do grep -q RESULT "$scratch/hold.out" && break; sleep 0.1; done
    sleep 1
    after=$(rss_kb "$spid")
    held=$(sed -nE 's/^RESULT held=([0-9]+).*/\1/p' "$scratch/hold.out")
    wait "$lpid" 2>/dev/null
    if [ -n "$held" ] && [ "$held" -gt 0 ]; then
        echo "| $s | $held | $(awk -v a="$before" -v b="$after" -v n="$held" \
            'BEGIN {printf "%.2f", (b - a) / n}') |"
    else
        echo "| $s | failed: $(tail -1 "$scratch/hold.out") | |"
    fi
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
done
