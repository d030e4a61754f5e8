// WebSocket echo peer for bench/ws_load: Node's `ws` package (found through
// NODE_PATH), no compression, every message sent back as it came.
//   node node_ws_echo.js PORT
const WebSocket = require("ws");
const wss = new WebSocket.Server({ host: "127.0.0.1", port: +process.argv[2],
                                   path: "/ws/echo", perMessageDeflate: false });
wss.on("connection", (ws) => ws.on("message", (d, binary) => ws.send(d, { binary })));
wss.on("listening", () => console.log("node ws echo listening"));
