#!/usr/bin/env bash
# The main job: installs what is missing, builds everything (Release) and
# starts the main example, the HTTP server of examples/hello_http.c, on
# 127.0.0.1:8888 (override: PORT=9000 scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release
port=${PORT:-8888}
main=hello_http
echo "== starting examples/$main on http://127.0.0.1:$port/ (Ctrl-C stops it)"
echo "   try: curl http://127.0.0.1:$port/hello"
exec build-release/examples/$main --port "$port"
