// Node peer for the echo benchmarks: a net server that echoes every
// \n-terminated line; all complete lines of one 'data' event go back in one
// write, an unfinished line waits for the rest (as bench/floor_echo.c).
//   node node_echo.js [--port N] [--address A]
'use strict';
const net = require('net');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const port = Number(arg('--port', '9204'));
const address = arg('--address', '127.0.0.1');
const MAX_LINE = 64 * 1024;

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  let part = null;
  sock.on('data', (chunk) => {
    const data = part ? Buffer.concat([part, chunk]) : chunk;
    const last = data.lastIndexOf(10);
    if (last < 0) {
      part = data;
    } else {
      sock.write(data.subarray(0, last + 1));
      part = last + 1 < data.length ? data.subarray(last + 1) : null;
    }
    if (part && part.length > MAX_LINE) sock.destroy();
  });
  sock.on('error', () => {});
});
server.listen(port, address, () => {
  console.log(`node_echo: listening on ${address}:${port}`);
});
