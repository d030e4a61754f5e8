#!/usr/bin/env bash
# Demo RSS while it streams both ways (issue 15): a 256 MiB upload to
# /upload and a 64 MiB download from /stream read at 4 MiB/s, at the same
# time, on loopback. Prints idle RSS, the peak RSS sampled every 100 ms,
# and the upload's answer. Usage: bench/stream_rss.sh [build-dir]
set -uo pipefail
bdir=${1:-build}
port=$((20000 + RANDOM % 20000))
"$bdir/examples/demo" --port "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for i in $(seq 1 50); do curl -s --max-time 1 "http://127.0.0.1:$port/hello" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
idle=$(rss)
curl -s --limit-rate 4M -o /dev/null "http://127.0.0.1:$port/stream?mb=64" &
down=$!
# a sparse file: Content-Length framing without 256 MiB of disk
src=$(mktemp)
truncate -s $((256 << 20)) "$src"
curl -s -T "$src" "http://127.0.0.1:$port/upload" >"$src.out" &
up=$!
peak=$idle
while kill -0 $down 2>/dev/null || kill -0 $up 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.1
done
wait $down $up
echo "idle RSS ${idle} kB, peak ${peak} kB during a 256 MiB upload + a 64 MiB download at 4 MiB/s"
echo "upload answer: $(cat "$src.out")"
rm -f "$src" "$src.out"
