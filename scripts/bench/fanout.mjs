// SPDX-License-Identifier: Apache-2.0
// Fan-out rows of `npm run bench` (bench.mjs --only ...,fanout):
//   - latency to the last of N subscriber processes (N = 4, 8): the
//     publisher sends message n+1 once every subscriber acked message n;
//     each ack carries that subscriber's latency (its CLOCK_MONOTONIC at
//     receipt - the stamp in the message); a message's figure is the
//     largest of the N (the last subscriber), and the row gives its p50;
//   - sustained throughput: 4 KiB messages to 4 reliable subscribers for
//     FANOUT_SECONDS (default 5), published with publishAsync (it waits while a
//     subscriber's queue is full); msg/s and, per subscriber,
//     published - received (0: nothing lost, as reliable promises).
// Roles run as child processes of this file: --role fan-sub K RELIABLE,
// --role fan-pub N MODE. Run alone, the file prints just these rows.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '../..');
const DATA = '/agnocast_bench/fan_data';
const ACK = '/agnocast_bench/fan_ack';
const END = 0xffffffffffffffffn;
const now = () => process.hrtime.bigint();

async function lib() {
  return import(path.join(ROOT, 'dist/index.js'));
}

/** A subscriber: acks [seq, latency ns, k, received] for every message (latency mode) or END only. */
async function roleSub(k, reliable) {
  const { join } = await lib();
  const node = join({ poolSize: '8M' });
  const ack = node.publisher(ACK, { depth: 64 });
  let received = 0;
  const send = (seq, lat) => {
    const loan = ack.loan(32);
    const dv = new DataView(loan.buffer);
    dv.setBigUint64(0, seq, true);
    dv.setBigUint64(8, BigInt(lat), true);
    dv.setUint32(16, k, true);
    dv.setUint32(20, received, true);
    loan.publish();
  };
  node.subscribe(DATA, { depth: 64, reliable }, (msg) => {
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, 16);
    const seq = dv.getBigUint64(0, true);
    const lat = Number(now() - dv.getBigUint64(8, true));
    if (seq !== END) received++;
    if (!reliable || seq === END) send(seq, lat);
  });
  process.once('SIGTERM', () => { node.close(); process.exit(0); });
  process.stdout.write('ready\n');
}

async function rolePub(n, mode) {
  const { join } = await lib();
  const node = join({ poolSize: '64M' });
  const pub = node.publisher(DATA, { depth: 1 });
  const acks = new Map();	// seq -> { count, max, received[] }
  let waiter = null;
  node.subscribe(ACK, { depth: 256 }, (msg) => {
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, 24);
    const seq = dv.getBigUint64(0, true);
    const a = acks.get(seq) ?? { count: 0, max: 0, received: [] };
    a.count++;
    a.max = Math.max(a.max, Number(dv.getBigUint64(8, true)));
    a.received[dv.getUint32(16, true)] = dv.getUint32(20, true);
    acks.set(seq, a);
    if (waiter && waiter.seq === seq && a.count === n) { const w = waiter; waiter = null; w.resolve(a); }
  });
  await pub.waitForSubscribers(n);
  const allAcked = (seq) => {
    const a = acks.get(seq);
    if (a && a.count === n) return Promise.resolve(a);
    return new Promise((resolve) => { waiter = { seq, resolve }; });
  };
  const send = (seq, size) => {
    const loan = pub.loan(size);
    const dv = new DataView(loan.buffer, 0, 16);
    dv.setBigUint64(0, seq, true);
    dv.setBigUint64(8, now(), true);
    return loan;
  };
  let out;
  if (mode === 'latency') {
    const lat = [];
    for (let seq = 1n; seq <= 300n; seq++) {
      send(seq, 64).publish();
      const a = await allAcked(seq);
      if (seq > 50n) lat.push(a.max);	// the first 50 warm up
      acks.delete(seq);
    }
    lat.sort((a, b) => a - b);
    out = { subscribers: n, p50_us: lat[Math.floor(lat.length / 2)] / 1e3, p99_us: lat[Math.ceil(lat.length * 0.99) - 1] / 1e3 };
  } else {
    const seconds = Number(process.env.FANOUT_SECONDS ?? 5);
    const t0 = now();
    let published = 0;
    const until = t0 + BigInt(Math.round(seconds * 1e9));
    while (now() < until) {
      await pub.publishAsync(send(BigInt(published + 1), 4096));
      published++;
    }
    const secs = Number(now() - t0) / 1e9;
    await pub.publishAsync(send(END, 16));
    const a = await allAcked(END);
    out = { subscribers: n, size: 4096, published, msgs_per_s: published / secs,
      lost: a.received.map((r) => published - r) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  node.close();
  process.exit(0);
}

function start(args) {
  const child = spawn(process.execPath, [SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout });
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  let last = '';
  return new Promise((resolve, reject) => {
    let ready = false;
    rl.on('line', (line) => {
      if (!ready && line === 'ready') { ready = true; resolve({ child, exited, result: () => last }); }
      else last = line;
    });
    child.on('exit', (code) => {
      if (!ready && code === 0) resolve({ child, exited, result: () => last });
      else if (!ready) reject(new Error(`fan-out ${args.join(' ')} exited ${code}`));
    });
  });
}

async function run(n, mode) {
  const subs = [];
  for (let k = 0; k < n; k++) subs.push(await start(['--role', 'fan-sub', String(k), mode === 'throughput' ? '1' : '0']));
  const pub = await start(['--role', 'fan-pub', String(n), mode]);
  const code = await pub.exited;
  for (const s of subs) s.child.kill('SIGTERM');
  await Promise.all(subs.map((s) => s.exited));
  if (code !== 0) throw new Error(`fan-out publisher exited ${code}`);
  return JSON.parse(pub.result());
}

/** The fan-out rows: 1 -> 4 and 1 -> 8 latency, 1 -> 4 reliable throughput at 4 KiB. */
export async function benchFanout() {
  return {
    latency: [await run(4, 'latency'), await run(8, 'latency')],
    throughput: await run(4, 'throughput'),
  };
}

export function printFanout(r, fmtUs) {
  console.log('\nfan-out (agnocast TS, one publisher process, N subscriber processes):');
  for (const l of r.latency) {
    console.log(`  1 -> ${l.subscribers}, 64 B, last subscriber's latency: p50 ${fmtUs(l.p50_us)} µs, p99 ${fmtUs(l.p99_us)} µs`);
  }
  const t = r.throughput;
  console.log(`  1 -> ${t.subscribers} reliable, 4 KiB, sustained: ${t.msgs_per_s.toFixed(0)} msg/s ` +
    `(${t.published} published; lost per subscriber: ${t.lost.join(', ')})`);
}

const i = process.argv.indexOf('--role');
if (process.argv[1] === SELF) {
  const role = i >= 0 ? process.argv[i + 1] : null;
  if (role === 'fan-sub') await roleSub(Number(process.argv[i + 2]), process.argv[i + 3] === '1');
  else if (role === 'fan-pub') await rolePub(Number(process.argv[i + 2]), process.argv[i + 3]);
  // Alone (`node scripts/bench/fanout.mjs`, with the module loaded): just these rows.
  else if (role === null) printFanout(await benchFanout(), (us) => us.toFixed(1));
}
