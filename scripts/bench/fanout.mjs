// SPDX-License-Identifier: Apache-2.0
// Fan-out rows of `npm run bench` (bench.mjs --only ...,fanout):
//   - latency to the last of N subscriber processes (N = 1, 4, 8): the
//     publisher sends message n+1 once every subscriber acked message n;
//     each ack carries that subscriber's latency (its CLOCK_MONOTONIC at
//     receipt - the stamp in the message); a message's figure is the
//     largest of the N (the last subscriber), and the row gives its p50;
//     the same for C (N `cbench sub`s and `cbench pub 64:COUNT N`), so
//     that the machine's own cost of waking N processes is measured beside;
//   - sustained throughput: 4 KiB messages to 4 reliable subscribers for
//     FANOUT_SECONDS (default 5), published with publishAsync (it waits while a
//     subscriber's queue is full); msg/s and, per subscriber,
//     published - received (0: nothing lost, as reliable promises).
// Roles run as child processes of this file: --role fan-sub K RELIABLE,
// --role fan-pub N MODE. Run alone, the file prints just these rows.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, run as runProc, p50p99Us } from './proc.mjs';

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
    out = { subscribers: n, ...p50p99Us(lat) };
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

async function run(n, mode) {
  const subs = [];
  for (let k = 0; k < n; k++) subs.push(await start(process.execPath, [SELF, '--role', 'fan-sub', String(k), mode === 'throughput' ? '1' : '0']));
  try {
    const out = await runProc(process.execPath, [SELF, '--role', 'fan-pub', String(n), mode]);
    return JSON.parse(out[out.length - 1]);
  } finally {
    for (const s of subs) s.child.kill('SIGTERM');
    await Promise.all(subs.map((s) => s.exited));
  }
}

/** C's latency row for n subscribers: as rolePub's, 300 messages of 64 B, the first 50 uncounted. */
async function runC(cbench, n) {
  const subs = [];
  for (let k = 0; k < n; k++) subs.push(await start(cbench, ['sub']));
  const pub = await start(cbench, ['pub', '64:300', String(n)], { ready: false });
  const code = await pub.exited;
  const subCodes = await Promise.all(subs.map((s) => s.exited));	// they leave after the end's ack
  if (code !== 0 || subCodes.some((c) => c !== 0)) throw new Error(`C fan-out 1 -> ${n}: cbench pub exited ${code}, subs ${subCodes.join(', ')}`);
  const lat = pub.lines().filter((l) => !l.startsWith('rate ')).map((l) => Number(l.split(' ')[1]));
  if (lat.length !== 300) throw new Error(`C fan-out 1 -> ${n}: ${lat.length} latencies, not 300`);
  return { subscribers: n, ...p50p99Us(lat.slice(50)) };
}

/**
 * The fan-out rows: 1 -> 1, 4 and 8 latency for TS and, with cbench, for
 * C; 1 -> 4 reliable throughput at 4 KiB (TS).
 */
export async function benchFanout(cbench = null) {
  const latency = [];
  for (const n of [1, 4, 8]) latency.push(await run(n, 'latency'));
  const c = [];
  if (cbench) for (const n of [1, 4, 8]) c.push(await runC(cbench, n));
  return { latency, c, throughput: await run(4, 'throughput') };
}

export function printFanout(r, fmtUs) {
  console.log('\nfan-out (agnocast, one publisher process, N subscriber processes; ÷ 1: p50 over the same row with one subscriber):');
  for (const [lang, rows] of [['TS', r.latency], ['C', r.c ?? []]]) {
    const one = rows.find((l) => l.subscribers === 1);
    for (const l of rows) {
      console.log(`  ${lang} 1 -> ${l.subscribers}, 64 B, last subscriber's latency: p50 ${fmtUs(l.p50_us)} µs, p99 ${fmtUs(l.p99_us)} µs` +
        (one && l !== one ? ` (÷ 1: ${(l.p50_us / one.p50_us).toFixed(2)})` : ''));
    }
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
  // Alone (`node scripts/bench/fanout.mjs [CBENCH]`, with the module
  // loaded): just these rows; the C ones with CBENCH (build/demo/cbench).
  else if (role === null) printFanout(await benchFanout(process.argv[2] ?? null), (us) => us.toFixed(1));
}
