#!/usr/bin/env bash
# Interoperability with Node's `ws` package, both directions:
#   1. a `ws` client against the demo's /ws/echo: text and binary echoes up
#      to 1 MiB unchanged, a ping answered, a close code echoed, and a text
#      frame with invalid UTF-8 refused with 1007;
#   2. examples/ws_client against a `ws` echo server, with and without
#      permessage-deflate (each side inflates what the other compressed).
# Needs node and npm; `ws` is installed into a scratch directory outside the
# repository. Without them this test is skipped with the reason printed
# (exit 0); any interoperability failure exits 1.
# Usage: tests/peer/ws_node_peer.sh BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/../.."
bdir=${1:-build}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "ws_node_peer: skipped: node or npm is not installed"; exit 0
fi
scratch=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$scratch"
}
trap cleanup EXIT
if ! (cd "$scratch" && timeout 180 npm install --no-audit --no-fund --silent ws >/dev/null 2>&1); then
    echo "ws_node_peer: skipped: npm could not install the ws package"; exit 0
fi
export NODE_PATH="$scratch/node_modules"
port=$((10000 + RANDOM % 20000)) # below the ephemeral range
nport=$((port + 1))
"$bdir/examples/demo" --port "$port" --static examples/static >"$scratch/demo.log" 2>&1 &
pids+=($!)
fail=0

cat >"$scratch/client.js" <<'JS'
const WebSocket = require("ws");
const url = process.argv[2];
const sizes = [0, 125, 126, 65535, 65536, 1 << 20];
function fail(m) { console.log("node client: FAILED: " + m); process.exit(1); }
function open(u) {
  return new Promise((res, rej) => {
    const ws = new WebSocket(u);
    ws.on("open", () => res(ws));
    ws.on("error", rej);
  });
}
function next(ws) {
  return new Promise((res) => ws.once("message", (d, binary) => res([d, binary])));
}
(async () => {
  let ws;
  for (let i = 0; i < 50 && !ws; i++) {
    try { ws = await open(url); } catch (e) { await new Promise((r) => setTimeout(r, 100)); }
  }
  if (!ws) fail("cannot connect");
  for (const n of sizes) {
    const text = "é".repeat(n >> 1) + (n & 1 ? "x" : "");
    ws.send(text);
    let [d, bin] = await next(ws);
    if (bin || d.toString() !== text) fail("text echo of " + n);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (i * 7) & 255;
    ws.send(b);
    [d, bin] = await next(ws);
    if (!bin || !Buffer.from(d).equals(b)) fail("binary echo of " + n);
  }
  const pong = new Promise((res) => ws.once("pong", (d) => res(d.toString())));
  ws.ping("node");
  if ((await pong) !== "node") fail("pong");
  const closed = new Promise((res) => ws.once("close", (code) => res(code)));
  ws.close(4321, "bye");
  if ((await closed) !== 4321) fail("close code not echoed");
  // invalid UTF-8 in a text frame: the server must fail the connection with 1007
  const bad = await open(url);
  const c2 = new Promise((res) => bad.once("close", (code) => res(code)));
  bad.send(Buffer.from([0x68, 0xc0, 0xaf]), { binary: false });
  const code = await c2;
  if (code !== 1007) fail("invalid UTF-8 closed with " + code);
  console.log("node client against tornuv: ok");
  process.exit(0);
})().catch((e) => fail(String(e)));
JS
if ! timeout 60 node "$scratch/client.js" "ws://127.0.0.1:$port/ws/echo"; then
    fail=1
fi

cat >"$scratch/server.js" <<'JS'
const WebSocket = require("ws");
const wss = new WebSocket.Server({ host: "127.0.0.1", port: +process.argv[2],
                                   perMessageDeflate: { threshold: 0 } });
wss.on("connection", (ws) => ws.on("message", (d, binary) => ws.send(d, { binary })));
wss.on("listening", () => console.log("node server listening"));
JS
node "$scratch/server.js" "$nport" >"$scratch/server.log" 2>&1 &
pids+=($!)
for i in $(seq 1 50); do grep -q listening "$scratch/server.log" && break; sleep 0.1; done
for flags in "" "--deflate"; do
    if ! timeout 60 "$bdir/examples/ws_client" "ws://127.0.0.1:$nport/" $flags --rounds 2; then
        echo "ws_node_peer: ws_client $flags against the node server FAILED"; fail=1
    fi
done
[ $fail -eq 0 ] && echo "ws_node_peer: ok"
exit $fail
