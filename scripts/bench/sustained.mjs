// SPDX-License-Identifier: Apache-2.0
// Sustained rows of `npm run bench` (bench.mjs --only ...,sustained): the
// rate one publisher process keeps up to one subscriber process when it
// does not wait for per-message acks, the same method for agnocast TS->TS
// (the roles below, child processes of this file) and C->C (cbench
// sustained-pub / sustained-sub), and with no agnocast, two plain Node
// processes over a Unix socket (sustained-uds: the floor under TS). TS
// runs twice: the publisher writes each message into a loan (zero-copy,
// row sustained-ts) or into one reused Uint8Array that publish(bytes)
// copies into the pool (sustained-ts-copy); C writes into the block it
// allocated, as a loan:
//   - 4 KiB messages (SIZE), for SECONDS (default 5; bench.mjs
//     --sustained-seconds, or SUSTAINED_SECONDS when run alone);
//   - the subscriber keep-last (not reliable), depth 64; the publisher's
//     depth (the entries it retains) 64 as well: a keep-last subscriber
//     gets only entries still retained, so with the publisher's default
//     depth it would lose whatever is more than that behind (sequence gaps);
//   - the subscriber reports back on an ack topic every REPORT (16)
//     messages of the stream (once its position, the bench seq of the last
//     message it received, is 16 past the last report's, so losses cannot
//     stop the reports), and on the end: its position, how many it
//     received, and its gaps (in the bench seqs, which skip where the
//     module's do with one publisher; in C the module seqs' gaps);
//   - the publisher publishes without waiting, except while it is WINDOW
//     (64) messages ahead of the subscriber's last report (then it waits
//     for the next report); first WARMUP (1 000, as the lock-step rows)
//     uncounted messages so, which the subscriber reports having reached
//     (it always reports the last of them), then the counted ones for
//     SECONDS; then an end marker (within the window too), and it waits
//     for its report;
//   - msg/s = messages received ÷ time from the first publish to the end's
//     report (everything delivered), MB/s = that × 4096 B ÷ 10⁶; lost =
//     published − received (and the gaps the subscriber counted, which
//     should agree);
//   - CPU a message: each end's CPU time (all its threads; the publisher's
//     over the counted part, the subscriber's from its first counted
//     message to the end) ÷ messages received.
// Run alone (`node scripts/bench/sustained.mjs [CBENCH]`, with the module
// loaded and the library built), it prints just these rows.
// SUSTAINED_DEBUG=1: both TS roles print their progress every second.
// SUSTAINED_PROF=DIR: only the loan row (the publish(bytes) row with
// SUSTAINED_PROF_MODE=copy), its two processes under V8's --cpu-prof
// (DIR/pub, DIR/sub; scripts/bench/profile-in-guest.sh sustained).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { start, run, cpuNs } from './proc.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '../..');
const DATA = '/agnocast_bench/ts_sus_data';
const ACK = '/agnocast_bench/ts_sus_ack';
export const SIZE = 4096;
export const WINDOW = 64;
export const DEPTH = 64;
export const REPORT = 16;
/** Uncounted messages first (JIT warm-up), as the lock-step rows' 1 000. */
export const WARMUP = 1000;
/** The publisher's depth: what it retains, so what a keep-last subscriber behind can still get. */
export const PUB_DEPTH = 64;
const now = () => process.hrtime.bigint();

function gcCounter() {
  let n = 0;
  const obs = new PerformanceObserver((list) => { n += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  return async () => {
    await new Promise((resolve) => setImmediate(resolve));
    obs.disconnect();
    return n;
  };
}

async function lib() {
  return import(path.join(ROOT, 'dist/index.js'));
}

/**
 * The bench's u64 fields as numbers, with no BigInt and no DataView per
 * message (as C reads a uint64_t): exact below 2^53; END's all-ones is
 * Infinity.
 */
const END_NUM = Infinity;
const u32le = (b, at) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
function getU64(b, at) {
  const lo = u32le(b, at), hi = u32le(b, at + 4);
  return hi === 0xffffffff && lo === 0xffffffff ? END_NUM : hi * 2 ** 32 + lo;
}
function setU64(b, at, v) {
  const lo = v === END_NUM ? 0xffffffff : v >>> 0, hi = v === END_NUM ? 0xffffffff : Math.floor(v / 2 ** 32);
  for (let k = 0; k < 4; k++) {
    b[at + k] = (lo >>> (8 * k)) & 0xff;
    b[at + 4 + k] = (hi >>> (8 * k)) & 0xff;
  }
}

/**
 * The subscriber: reports [pos, received, dropped, gc, cpu] every REPORT
 * messages and on the end (cpu, on the end only: its CPU time in ns from
 * its first counted message).
 */
async function roleSub(warmup) {
  const { join } = await lib();
  const node = join({ poolSize: '4M' });
  const ack = node.publisher(ACK, { depth: 1, transientLocal: true });
  const gc = gcCounter();
  let received = 0, reported = 0, dropped = 0, last = 0, cpu0 = 0;
  const report = (pos, gcs = 0, cpu = 0) => {
    const loan = ack.loan(40);
    reported = pos;
    setU64(loan.bytes, 0, pos);
    setU64(loan.bytes, 8, received);
    setU64(loan.bytes, 16, dropped);
    setU64(loan.bytes, 24, gcs);
    setU64(loan.bytes, 32, Math.round(cpu));
    loan.publish();
  };
  node.subscribe(DATA, { depth: DEPTH }, (msg) => {	// keep-last
    const seq = getU64(msg.data, 0);
    if (seq === END_NUM) {
      // Stay after the end's report, so the publisher reads it (leaving
      // would withdraw it); the driver ends us once the publisher exited.
      const cpu = received ? cpuNs().all - cpu0 : 0;
      void gc().then((n) => report(END_NUM, n, cpu));
      return;
    }
    // The gaps before a counted message count, as in C (one publisher:
    // the bench's seqs skip where the module's do, stats.dropped).
    if (last && seq > last + 1 && seq > warmup) dropped += seq - last - 1;
    last = seq;
    if (seq > warmup && !received++) cpu0 = cpuNs().all;
    if (seq - reported >= REPORT || seq === warmup) report(seq);
  });
  report(0);	// hello
  if (process.env.SUSTAINED_DEBUG) {
    setInterval(() => process.stderr.write(`sus-sub: received ${received} dropped ${dropped}\n`), 1000).unref();
  }
  process.once('SIGTERM', () => { node.close(); process.exit(0); });
  process.stdout.write('ready\n');
}

async function rolePub(seconds, warmup, mode) {
  const { join } = await lib();
  const node = join({ poolSize: '64M' });
  let last = { pos: 0, received: 0, dropped: 0, gc: 0, cpu: 0 };
  let reports = 0;
  let waiter = null;
  node.subscribe(ACK, { depth: 64, transientLocal: true }, (msg) => {
    const b = msg.data;
    const pos = getU64(b, 0);
    reports++;
    if (pos >= last.pos) last = { pos, received: getU64(b, 8), dropped: getU64(b, 16), gc: getU64(b, 24), cpu: getU64(b, 32) };
    if (waiter) { const w = waiter; waiter = null; w(); }
  });
  const pub = node.publisher(DATA, { depth: PUB_DEPTH });
  const nextReport = () => new Promise((resolve) => { waiter = resolve; });
  while (reports === 0) await nextReport();	// the subscriber's hello
  const gc = gcCounter();
  const scratch = new Uint8Array(SIZE);
  // The stamp (CLOCK_MONOTONIC, as C writes before PUBLISH), through a
  // reused 8-byte array: no DataView per message.
  const stamp64 = new BigUint64Array(1);
  const stamp8 = new Uint8Array(stamp64.buffer);
  const fill = (bytes, seq) => {
    setU64(bytes, 0, seq);
    stamp64[0] = now();
    bytes.set(stamp8, 8);
  };
  const publish = mode === 'copy' ? (seq, size) => {
    fill(scratch, seq);
    pub.publish(size === SIZE ? scratch : scratch.subarray(0, size));
  } : (seq, size) => {
    const loan = pub.loan(size);
    fill(loan.bytes, seq);
    loan.publish();
  };
  let seq = 0;
  /**
   * The next message, once it is less than WINDOW ahead of the last report
   * (the row's only wait). A promise only when it has to wait: an await per
   * message would cost the row a microtask turn the C row does not pay.
   */
  const publishWindowed = () => {
    if (seq - last.pos >= WINDOW) return nextReport().then(publishWindowed);
    publish(++seq, SIZE);
    return undefined;
  };
  while (seq < warmup) {	// uncounted, the same way
    const wait = publishWindowed();
    if (wait) await wait;
  }
  while (last.pos < warmup) await nextReport();	// all of it received
  if (process.env.SUSTAINED_DEBUG) {
    setInterval(() => process.stderr.write(`sus-pub: seq ${seq} last ${JSON.stringify(last)} ` +
      `reports ${reports} waiting ${!!waiter}\n`), 1000).unref();
  }
  const t0 = now(), cpu0 = cpuNs().all;
  const until = t0 + BigInt(Math.round(seconds * 1e9));
  while (now() < until) {
    const wait = publishWindowed();
    if (wait) await wait;
  }
  while (seq - last.pos >= WINDOW) await nextReport();	// the end, within the window too
  publish(END_NUM, 16);
  while (last.pos !== END_NUM) await nextReport();	// leaving earlier would withdraw it unread
  const secs = Number(now() - t0) / 1e9;
  const cpu = { sender_ns: cpuNs().all - cpu0, receiver_ns: last.cpu };
  const out = { size: SIZE, window: WINDOW, elapsed_s: secs, published: seq - warmup, received: last.received,
    dropped: last.dropped, gc: { sender: await gc(), receiver: last.gc }, cpu };
  process.stdout.write(JSON.stringify(out) + '\n');
  node.close();
  process.exit(0);
}

/**
 * The same pair with no agnocast: two plain Node processes over a Unix
 * socket, the same protocol (SIZE-byte messages, each a fresh Buffer the
 * socket takes as it is; the window; a 40-byte report every REPORT
 * messages and on the end, on the same socket back). The floor under the
 * TS rows: what two Node processes handing 4 KiB messages to each other
 * cost here, whatever carries them. The subscriber; sock: the publisher's.
 */
function roleUdsSub(sock, warmup) {
  const s = net.connect(sock);
  const gc = gcCounter();
  let received = 0, reported = 0, cpu0 = 0, pending = Buffer.alloc(0);
  const report = (pos, gcs = 0, cpu = 0) => {
    const b = Buffer.allocUnsafe(40);
    reported = pos;
    setU64(b, 0, pos);
    setU64(b, 8, received);
    setU64(b, 16, 0);	// a stream loses nothing
    setU64(b, 24, gcs);
    setU64(b, 32, Math.round(cpu));
    s.write(b);
  };
  s.on('data', (d) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    while (pending.length >= SIZE) {
      const seq = getU64(pending, 0);
      pending = pending.subarray(SIZE);
      if (seq === END_NUM) {
        const cpu = received ? cpuNs().all - cpu0 : 0;
        void gc().then((n) => report(END_NUM, n, cpu));
        return;
      }
      if (seq > warmup && !received++) cpu0 = cpuNs().all;
      if (seq - reported >= REPORT || seq === warmup) report(seq);
    }
  });
  s.once('connect', () => report(0));	// hello
}

/** The publisher of the plain Node pair (it starts the subscriber): as rolePub, over the socket. */
async function roleUdsPub(seconds, warmup) {
  const sock = path.join(os.tmpdir(), `agnocast-sustained-${process.pid}.sock`);
  fs.rmSync(sock, { force: true });
  const server = net.createServer();
  await new Promise((r) => server.listen(sock, r));
  const sub = spawn(process.execPath, [SELF, '--role', 'sus-uds-sub', sock, String(warmup)], { stdio: 'inherit' });
  const subExited = new Promise((r) => sub.on('exit', r));
  const s = await new Promise((r) => server.once('connection', r));
  let last = { pos: 0, received: 0, dropped: 0, gc: 0, cpu: 0 };
  let reports = 0, waiter = null, pending = Buffer.alloc(0);
  s.on('data', (d) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    while (pending.length >= 40) {
      const pos = getU64(pending, 0);
      reports++;
      if (pos >= last.pos) last = { pos, received: getU64(pending, 8), dropped: getU64(pending, 16), gc: getU64(pending, 24), cpu: getU64(pending, 32) };
      pending = pending.subarray(40);
    }
    if (waiter) { const w = waiter; waiter = null; w(); }
  });
  const nextReport = () => new Promise((resolve) => { waiter = resolve; });
  while (reports === 0) await nextReport();	// the subscriber's hello
  const gc = gcCounter();
  const stamp64 = new BigUint64Array(1);
  const stamp8 = new Uint8Array(stamp64.buffer);
  const publish = (seq) => {
    const b = Buffer.allocUnsafe(SIZE);	// the socket keeps it until written: a new one each time
    setU64(b, 0, seq);
    stamp64[0] = now();
    b.set(stamp8, 8);
    s.write(b);
  };
  let seq = 0;
  const publishWindowed = () => {
    if (seq - last.pos >= WINDOW) return nextReport().then(publishWindowed);
    publish(++seq);
    return undefined;
  };
  while (seq < warmup) {
    const wait = publishWindowed();
    if (wait) await wait;
  }
  while (last.pos < warmup) await nextReport();
  const t0 = now(), cpu0 = cpuNs().all;
  const until = t0 + BigInt(Math.round(seconds * 1e9));
  while (now() < until) {
    const wait = publishWindowed();
    if (wait) await wait;
  }
  while (seq - last.pos >= WINDOW) await nextReport();
  publish(END_NUM);
  while (last.pos !== END_NUM) await nextReport();
  const secs = Number(now() - t0) / 1e9;
  const cpu = { sender_ns: cpuNs().all - cpu0, receiver_ns: last.cpu };
  const out = { size: SIZE, window: WINDOW, elapsed_s: secs, published: seq - warmup, received: last.received,
    dropped: last.dropped, gc: { sender: await gc(), receiver: last.gc }, cpu };
  s.end();
  await subExited;
  server.close();
  fs.rmSync(sock, { force: true });
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** The row's rates, and each end's CPU time a received message in µs. */
function finish(r) {
  const msgsPerS = r.received / r.elapsed_s;
  const { cpu, ...rest } = r;
  return { ...rest, msgs_per_s: msgsPerS, mb_per_s: (msgsPerS * r.size) / 1e6, lost: r.published - r.received,
    cpu_pub_us: cpu.sender_ns / r.received / 1e3, cpu_sub_us: cpu.receiver_ns / r.received / 1e3 };
}

async function runTs(seconds, mode, profDir = null) {
  const prof = (role) => (profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, role)}`] : []);
  const sub = await start(process.execPath, [...prof('sub'), SELF, '--role', 'sus-sub', String(WARMUP)]);
  const pub = await start(process.execPath, [...prof('pub'), SELF, '--role', 'sus-pub', String(seconds), String(WARMUP), mode], { ready: false });
  const code = await pub.exited;
  sub.child.kill('SIGTERM');
  await sub.exited;
  if (code !== 0) throw new Error(`sustained TS publisher exited ${code}`);
  return finish(JSON.parse(pub.last()));
}

async function runUds(seconds) {
  const out = await run(process.execPath, [SELF, '--role', 'sus-uds-pub', String(seconds), String(WARMUP)]);
  return finish(JSON.parse(out[out.length - 1]));
}

async function runC(cbench, seconds) {
  const sub = await start(cbench, ['sustained-sub', String(WARMUP)]);
  const pub = await start(cbench, ['sustained-pub', String(SIZE), String(seconds), String(WINDOW), String(PUB_DEPTH),
    String(WARMUP)], { ready: false });
  const code = await pub.exited;
  const subCode = await sub.exited;
  if (code !== 0 || subCode !== 0) throw new Error(`cbench sustained-pub exited ${code}, sustained-sub ${subCode}`);
  const f = pub.last().split(' ');
  if (f[0] !== 'sustained' || f.length !== 9) throw new Error(`cbench: unexpected line ${pub.last()}`);
  const [size, window, secs, published, received, dropped, pubCpu, subCpu] = f.slice(1).map(Number);
  return finish({ size, window, elapsed_s: secs, published, received, dropped, gc: { sender: 0, receiver: 0 },
    cpu: { sender_ns: pubCpu, receiver_ns: subCpu } });
}

/**
 * The sustained rows: { seconds, size, window, depth, report_every, ts, ts_copy, uds, c, ts_over_c,
 * ts_copy_over_c, uds_over_c } (a row null when not run).
 */
export async function benchSustained({ cbench = path.join(ROOT, 'build/demo/cbench'), seconds = 5, ts = true,
  tsCopy = true, uds = true, c = true, profDir = null } = {}) {
  const out = { seconds, warmup: WARMUP, size: SIZE, window: WINDOW, depth: DEPTH, publisher_depth: PUB_DEPTH,
    report_every: REPORT, ts: null, ts_copy: null, uds: null, c: null, ts_over_c: null, ts_copy_over_c: null, uds_over_c: null };
  const errors = [];
  if (ts) out.ts = await runTs(seconds, 'loan', profDir).catch((e) => { errors.push(e.message); return null; });
  if (tsCopy) out.ts_copy = await runTs(seconds, 'copy', profDir).catch((e) => { errors.push(e.message); return null; });
  if (uds) out.uds = await runUds(seconds).catch((e) => { errors.push(e.message); return null; });
  if (c) out.c = await runC(cbench, seconds).catch((e) => { errors.push(e.message); return null; });
  if (out.ts && out.c) out.ts_over_c = out.ts.msgs_per_s / out.c.msgs_per_s;
  if (out.ts_copy && out.c) out.ts_copy_over_c = out.ts_copy.msgs_per_s / out.c.msgs_per_s;
  if (out.uds && out.c) out.uds_over_c = out.uds.msgs_per_s / out.c.msgs_per_s;
  if (errors.length) out.errors = errors;
  return out;
}

export function printSustained(r) {
  console.log(`\nsustained (1 publisher process → 1 subscriber process, ${r.size / 1024} KiB, ${r.seconds} s, keep-last depth ${r.depth}, ` +
    `publisher depth ${r.publisher_depth}, window ${r.window}, report every ${r.report_every}, ${r.warmup} uncounted first; msg/s = received ÷ first publish to end's report):`);
  const row = (label, x) => {
    if (!x) { console.log(`  ${label}: -`); return; }
    console.log(`  ${label}: ${x.msgs_per_s.toFixed(0)} msg/s, ${x.mb_per_s.toFixed(2)} MB/s; published ${x.published}, ` +
      `received ${x.received}, lost ${x.lost} (seq gaps ${x.dropped})` +
      (x.gc.sender || x.gc.receiver ? `; GCs ${x.gc.sender} / ${x.gc.receiver}` : '') +
      `; CPU a message: publisher ${x.cpu_pub_us.toFixed(1)} µs, subscriber ${x.cpu_sub_us.toFixed(1)} µs ` +
      `(time a message ${(1e6 / x.msgs_per_s).toFixed(1)} µs)`);
  };
  row('sustained-ts      agnocast TS→TS, loan         ', r.ts);
  row('sustained-ts-copy agnocast TS→TS, publish(bytes)', r.ts_copy);
  row('sustained-uds     plain Node, Unix socket       ', r.uds);
  row('sustained-c       agnocast C→C                  ', r.c);
  if (r.ts_over_c !== null) console.log(`  TS ÷ C: ${(r.ts_over_c * 100).toFixed(1)} % (loan)`);
  if (r.ts_copy_over_c !== null) console.log(`  TS ÷ C: ${(r.ts_copy_over_c * 100).toFixed(1)} % (publish(bytes))`);
  if (r.uds_over_c) console.log(`  plain Node ÷ C: ${(r.uds_over_c * 100).toFixed(1)} % (no agnocast)`);
  for (const e of r.errors ?? []) console.log(`  FAILED: ${e}`);
}

const i = process.argv.indexOf('--role');
if (process.argv[1] === SELF) {
  const role = i >= 0 ? process.argv[i + 1] : null;
  if (role === 'sus-sub') await roleSub(Number(process.argv[i + 2]));
  else if (role === 'sus-pub') await rolePub(Number(process.argv[i + 2]), Number(process.argv[i + 3]), process.argv[i + 4]);
  else if (role === 'sus-uds-pub') await roleUdsPub(Number(process.argv[i + 2]), Number(process.argv[i + 3]));
  else if (role === 'sus-uds-sub') roleUdsSub(process.argv[i + 2], Number(process.argv[i + 3]));
  else if (role === null) {
    const profDir = process.env.SUSTAINED_PROF || null;
    const copy = process.env.SUSTAINED_PROF_MODE === 'copy';
    printSustained(await benchSustained({ cbench: process.argv[2] || undefined, seconds: Number(process.env.SUSTAINED_SECONDS ?? 5),
      profDir, ts: !profDir || !copy, tsCopy: !profDir || copy, uds: !profDir, c: !profDir }));
  }
}
