// SPDX-License-Identifier: Apache-2.0
// Fan-out rows of `npm run bench` (bench.mjs --only ...,fanout):
//   - latency to the last of N subscriber processes (N = 1, 4, 8): the
//     publisher sends message n+1 once every subscriber acked message n;
//     each ack carries that subscriber's latency (its CLOCK_MONOTONIC at
//     receipt - the stamp in the message); a message's figure is the
//     largest of the N (the last subscriber), and the row gives its p50;
//     the same for C (N `cbench sub`s and `cbench pub 64:COUNT N`), so
//     that the machine's own cost of waking N processes is measured beside;
//     each row also gives the CPU time (all threads) each process spent a
//     message from the first counted one to the end: what the N turns
//     that share the vCPUs cost;
//   - the same 1 -> 1 between two plain Node processes over a Unix socket
//     (no agnocast): the CPU a Node process spends on a message it is
//     woken for, the floor under a TS subscriber's turn;
//   - sustained throughput: 4 KiB messages to 4 reliable subscribers for
//     FANOUT_SECONDS (default 5), published with publishAsync (it waits while a
//     subscriber's queue is full); msg/s and, per subscriber,
//     published - received (0: nothing lost, as reliable promises).
// Roles run as child processes of this file: --role fan-sub K RELIABLE,
// --role fan-pub N MODE, --role fan-uds-pub (which starts fan-uds-peer).
// Run alone, the file prints just these rows.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, run as runProc, p50p99Us, cpuNs, mean } from './proc.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '../..');
const DATA = '/agnocast_bench/fan_data';
const ACK = '/agnocast_bench/fan_ack';
const END = 0xffffffffffffffffn;
const COUNT = 300n, WARM = 50n;	// latency rows: messages, of which the first WARM uncounted
const now = () => process.hrtime.bigint();

async function lib() {
  return import(path.join(ROOT, 'dist/index.js'));
}

/**
 * A subscriber: acks [seq, latency ns, k, received] for every message
 * (latency mode) or the end only; the end's ack also carries its CPU time
 * (all threads, main thread) in ns a message from its first message past
 * WARM to the end.
 */
async function roleSub(k, reliable) {
  const { join } = await lib();
  const node = join({ poolSize: '8M' });
  const ack = node.publisher(ACK, { depth: 64 });
  let received = 0, cpu0 = null, after = 0;
  const send = (seq, lat) => {
    const loan = ack.loan(40);
    const dv = new DataView(loan.buffer);
    dv.setBigUint64(0, seq, true);
    dv.setBigUint64(8, BigInt(lat), true);
    dv.setUint32(16, k, true);
    dv.setUint32(20, received, true);
    if (seq === END) {
      const c = cpuNs();
      dv.setFloat64(24, (c.all - cpu0.all) / after, true);
      dv.setFloat64(32, (c.main - cpu0.main) / after, true);
    }
    loan.publish();
  };
  node.subscribe(DATA, { depth: 64, reliable }, (msg) => {
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, 16);
    const seq = dv.getBigUint64(0, true);
    const lat = Number(now() - dv.getBigUint64(8, true));
    if (cpu0) after++;
    else if (seq > WARM) cpu0 = cpuNs();
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
  const acks = new Map();	// seq -> { count, max, received[], cpu[] }
  let waiter = null;
  node.subscribe(ACK, { depth: 256 }, (msg) => {
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, 40);
    const seq = dv.getBigUint64(0, true);
    const a = acks.get(seq) ?? { count: 0, max: 0, received: [], cpu: [] };
    a.count++;
    a.max = Math.max(a.max, Number(dv.getBigUint64(8, true)));
    a.received[dv.getUint32(16, true)] = dv.getUint32(20, true);
    if (seq === END) a.cpu[dv.getUint32(16, true)] = { all: dv.getFloat64(24, true), main: dv.getFloat64(32, true) };
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
    let cpu0;
    for (let seq = 1n; seq <= COUNT; seq++) {
      if (seq === WARM + 1n) cpu0 = cpuNs();
      send(seq, 64).publish();
      const a = await allAcked(seq);
      if (seq > WARM) lat.push(a.max);	// the first WARM warm up
      acks.delete(seq);
    }
    send(END, 16).publish();
    const e = await allAcked(END);
    out = { subscribers: n, ...p50p99Us(lat), ...cpuRow((cpuNs().all - cpu0.all) / Number(COUNT - WARM), e.cpu.map((c) => c.all), e.cpu.map((c) => c.main)) };
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

/** C's latency row for n subscribers: as rolePub's, COUNT messages of 64 B, the first WARM uncounted. */
async function runC(cbench, n) {
  const subs = [];
  for (let k = 0; k < n; k++) subs.push(await start(cbench, ['sub', String(WARM)]));
  const pub = await start(cbench, ['pub', `64:${WARM},64:${COUNT - WARM}`, String(n)], { ready: false });
  const code = await pub.exited;
  const subCodes = await Promise.all(subs.map((s) => s.exited));	// they leave after the end's ack
  if (code !== 0 || subCodes.some((c) => c !== 0)) throw new Error(`C fan-out 1 -> ${n}: cbench pub exited ${code}, subs ${subCodes.join(', ')}`);
  const lat = pub.lines().filter((l) => !/^(rate|cpu) /.test(l)).map((l) => Number(l.split(' ')[1]));
  if (lat.length !== Number(COUNT)) throw new Error(`C fan-out 1 -> ${n}: ${lat.length} latencies, not ${COUNT}`);
  const cpu = (line) => {
    const m = /^cpu (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`C fan-out 1 -> ${n}: no CPU time in '${line}'`);
    return Number(m[1]) / Number(m[2]);
  };
  return { subscribers: n, ...p50p99Us(lat.slice(Number(WARM))), ...cpuRow(cpu(pub.last()), subs.map((s) => cpu(s.last()))) };
}

/**
 * A plain Node receiver (no agnocast) for the CPU a Node process spends on
 * one message it is woken for: a Unix socket peer that answers each 16-byte
 * [seq, stamp] with [seq, latency ns]; the end's answer carries its CPU time
 * (all threads, main thread) in ns a message from the first message past
 * WARM to the end.
 */
function roleUdsPeer(sock) {
  const s = net.connect(sock);
  let cpu0 = null, after = 0, pending = Buffer.alloc(0);
  s.on('data', (d) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    while (pending.length >= 16) {
      const seq = pending.readBigUInt64LE(0);
      const lat = Number(now() - pending.readBigUInt64LE(8));
      pending = pending.subarray(16);
      if (cpu0) after++;
      else if (seq > WARM) cpu0 = cpuNs();
      const out = Buffer.allocUnsafe(seq === END ? 32 : 16);
      out.writeBigUInt64LE(seq, 0);
      out.writeBigUInt64LE(BigInt(lat), 8);
      if (seq !== END) { s.write(out); continue; }
      const c = cpuNs();
      out.writeDoubleLE((c.all - cpu0.all) / after, 16);
      out.writeDoubleLE((c.main - cpu0.main) / after, 24);
      s.end(out);
    }
  });
}

/** The sender beside roleUdsPeer (which it starts): COUNT lock-step messages, a row like rolePub's. */
async function roleUdsPub() {
  const sock = path.join(os.tmpdir(), `agnocast-fanout-${process.pid}.sock`);
  fs.rmSync(sock, { force: true });
  const server = net.createServer();
  await new Promise((r) => server.listen(sock, r));
  const peer = spawn(process.execPath, [SELF, '--role', 'fan-uds-peer', sock], { stdio: 'inherit' });
  const s = await new Promise((r) => server.once('connection', r));
  let pending = Buffer.alloc(0), waiter = null;
  s.on('data', (d) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    const size = pending.length >= 16 && pending.readBigUInt64LE(0) === END ? 32 : 16;
    if (pending.length < size) return;
    const reply = pending.subarray(0, size);
    pending = pending.subarray(size);
    waiter(reply);
  });
  const send = (seq) => {
    const b = Buffer.allocUnsafe(16);
    b.writeBigUInt64LE(seq, 0);
    b.writeBigUInt64LE(now(), 8);
    const got = new Promise((r) => { waiter = r; });
    s.write(b);
    return got;
  };
  const lat = [];
  let cpu0;
  for (let seq = 1n; seq <= COUNT; seq++) {
    if (seq === WARM + 1n) cpu0 = cpuNs();
    const r = await send(seq);
    if (seq > WARM) lat.push(Number(r.readBigUInt64LE(8)));
  }
  const fin = await send(END);
  const pubNs = (cpuNs().all - cpu0.all) / Number(COUNT - WARM);
  await new Promise((r) => peer.on('exit', r));
  server.close();
  fs.rmSync(sock, { force: true });
  const out = { subscribers: 1, ...p50p99Us(lat), ...cpuRow(pubNs, [fin.readDoubleLE(16)], [fin.readDoubleLE(24)]) };
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** The CPU fields of a latency row, in µs a message: the publisher's and each subscriber's (all threads). */
function cpuRow(pubNs, subsNs, subsMainNs = null) {
  const us = (xs) => xs.map((x) => x / 1e3);
  return { cpu_pub_us: pubNs / 1e3, cpu_sub_us: us(subsNs), ...(subsMainNs ? { cpu_sub_main_us: us(subsMainNs) } : {}) };
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
  const udsOut = await runProc(process.execPath, [SELF, '--role', 'fan-uds-pub']);
  const uds = JSON.parse(udsOut[udsOut.length - 1]);
  return { latency, c, uds, throughput: await run(4, 'throughput') };
}

/** The CPU line of a latency row: each subscriber's (mean, range; main thread), the publisher's, their sum. */
function cpuText(l, fmtUs) {
  const subs = l.cpu_sub_us;
  const range = subs.length > 1 ? ` (${fmtUs(Math.min(...subs))}–${fmtUs(Math.max(...subs))})` : '';
  const main = l.cpu_sub_main_us ? `, its main thread ${fmtUs(mean(l.cpu_sub_main_us))}` : '';
  return `a subscriber ${fmtUs(mean(subs))} µs${range}${main}; the publisher ${fmtUs(l.cpu_pub_us)} µs; ` +
    `all ${l.subscribers + 1} processes ${fmtUs(subs.reduce((a, b) => a + b, 0) + l.cpu_pub_us)} µs`;
}

export function printFanout(r, fmtUs) {
  console.log('\nfan-out (agnocast, one publisher process, N subscriber processes; ÷ 1: p50 over the same row with one subscriber):');
  for (const [lang, rows] of [['TS', r.latency], ['C', r.c ?? []]]) {
    const one = rows.find((l) => l.subscribers === 1);
    for (const l of rows) {
      console.log(`  ${lang} 1 -> ${l.subscribers}, 64 B, last subscriber's latency: p50 ${fmtUs(l.p50_us)} µs, p99 ${fmtUs(l.p99_us)} µs` +
        (one && l !== one ? ` (÷ 1: ${(l.p50_us / one.p50_us).toFixed(2)})` : ''));
      if (l.cpu_sub_us) console.log(`      CPU a message: ${cpuText(l, fmtUs)}`);
    }
  }
  if (r.uds) {
    console.log(`  plain Node 1 -> 1 over a Unix socket (no agnocast), 64 B: p50 ${fmtUs(r.uds.p50_us)} µs, p99 ${fmtUs(r.uds.p99_us)} µs`);
    console.log(`      CPU a message: ${cpuText(r.uds, fmtUs).replace('a subscriber', 'the receiver').replace('the publisher', 'the sender')}`);
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
  else if (role === 'fan-uds-pub') await roleUdsPub();
  else if (role === 'fan-uds-peer') roleUdsPeer(process.argv[i + 2]);
  // Alone (`node scripts/bench/fanout.mjs [CBENCH]`, with the module
  // loaded): just these rows; the C ones with CBENCH (build/demo/cbench).
  else if (role === null) printFanout(await benchFanout(process.argv[2] ?? null), (us) => us.toFixed(1));
}
