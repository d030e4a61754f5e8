#!/usr/bin/env bash
# The main job: installs what is missing, builds everything (Release) and
# starts the main example, the echo server written on IOLoop handlers, on
# 127.0.0.1:8888 (override: PORT=9000 scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh netcat-openbsd
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release
port=${PORT:-8888}
main=echo_handlers
echo "== starting examples/$main on 127.0.0.1:$port (Ctrl-C stops it)"
echo "   try: printf 'hello\\n' | nc -q1 127.0.0.1 $port"
exec build-release/examples/$main "$port"
