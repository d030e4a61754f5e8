// Client benchmark peer: N keep-alive GETs at concurrency C with Node's
// built-in fetch (undici). Prints "requests wall_s cpu_s req_per_cpu_s",
// the same line bench/client_tornuv and bench/client_curl print; CPU is the
// process's own user + system time (process.cpuUsage()), after a warm-up
// of 100 requests that is not counted (the first fetch loads undici).
//
//   node node_fetch_client.js URL N C
'use strict';

const [url, nArg, cArg] = process.argv.slice(2);
const total = Number(nArg);
const conc = Number(cArg);
if (!url || !(total >= 1) || !(conc >= 1)) {
  console.error('usage: node_fetch_client.js URL N C');
  process.exit(2);
}

let started = 0;
let finished = 0;
let failed = 0;

async function worker() {
  while (started < total) {
    started++;
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status !== 200) failed++;
    } catch (e) {
      failed++;
    }
    finished++;
  }
}

async function main() {
  // Warm-up, not counted: Node loads and compiles undici on the first fetch.
  for (let i = 0; i < 100; i++) await (await fetch(url)).arrayBuffer();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const workers = [];
  for (let i = 0; i < Math.min(conc, total); i++) workers.push(worker());
  await Promise.all(workers);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const du = process.cpuUsage(cpu0);
  const cpu = (du.user + du.system) / 1e6;
  const ok = finished - failed;
  console.log(`${ok} ${wall.toFixed(3)} ${cpu.toFixed(3)} ${cpu > 0 ? Math.round(ok / cpu) : 0}`);
  if (failed) {
    console.error(`node_fetch_client: ${failed} failed`);
    process.exitCode = 1;
  }
}

main();
