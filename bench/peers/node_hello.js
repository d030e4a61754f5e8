// Node peer for the hello benchmarks (libuv + llhttp, like tornuv):
// http.createServer answering every request with "Hello, world".
//   node node_hello.js [--port N] [--address A]
'use strict';
const http = require('http');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const port = Number(arg('--port', '9203'));
const address = arg('--address', '127.0.0.1');
const body = Buffer.from('Hello, world');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.listen(port, address, () => {
  console.log(`node_hello: listening on ${address}:${port}`);
});
