#!/usr/bin/env bash
# The main job: installs what is missing, builds everything (Release) and
# starts the demo site of examples/demo.c (web layer: pages, JSON, static
# files, a long-polling chat) on 127.0.0.1:8888 (override: PORT=9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release
port=${PORT:-8888}
echo "== starting examples/demo: open http://127.0.0.1:$port/ in a browser (Ctrl-C stops it)"
echo "   or: curl http://127.0.0.1:$port/hello"
exec build-release/examples/demo --port "$port" --static examples/static --access-log
