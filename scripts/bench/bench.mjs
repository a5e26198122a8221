// SPDX-License-Identifier: Apache-2.0
// `npm run bench` (through scripts/bench.sh): one-way latency (p50, p99) and
// lock-step message rate per message size for agnocast TS->TS, agnocast
// C->C, and, side by side, a Unix domain socket (net, length-prefixed),
// child_process IPC (fork, serialization 'advanced') and worker_threads
// postMessage (structured clone, a copy).
//
// Every transport runs lock-step: the sender sends message n+1 only after
// the receiver's ack of message n, so each latency is unloaded. Every
// transport runs ROUNDS interleaved rounds, each with count/ROUNDS messages
// of every size (small to large, then large to small, and so on; one
// uncounted message first at each size in each round), so that JIT
// warm-up, GC and the machine's load land on every size alike; the table
// gives p50 over all rounds with the lowest and highest round p50 (the
// spread), p99, the rate, and the garbage collections (PerformanceObserver
// 'gc' entries) of the sender during the rounds and of the receiver over
// its whole run. Latency =
// receiver's CLOCK_MONOTONIC once the message is readable - the timestamp
// the sender wrote into the message's first 16 bytes (seq, t) right before
// sending (process.hrtime.bigint() is CLOCK_MONOTONIC, as is the C side's
// clock_gettime). Rate = messages / elapsed time of the lock-step run
// (round trips per second). Every JavaScript transport first runs WARMUP
// uncounted 64 B messages, so that its code is compiled by V8's optimizing
// tiers (under QEMU's TCG fresh code is expensive until then), and one
// uncounted message per size.
//
// agnocast senders write only the 16-byte header into the loan: the point of
// zero copy is that the payload is written in place once, by its producer,
// whatever transport follows. Copying peers send a pre-filled buffer.
//
// Two rows go over NATS (scripts/bench/nats.mjs): plain NATS client to
// client, and agnocast -> bridge -> NATS -> bridge -> agnocast.
//
// Usage: node scripts/bench/bench.mjs [--sizes 64:200,4K:200,...] [--out DIR]
//        [--only ts,ts-spin,c,uds,cp,worker,nats,bridge,sustained,fanout,costs] [--cbench PATH]
//        [--sustained-seconds 5] [--replot bench.json]
// sustained: the sustained rows of sustained.mjs, TS->TS with loans and
// with publish(bytes), plain Node over a Unix socket, and C->C (or one of
// them: sustained-ts, sustained-ts-copy, sustained-uds, sustained-c): 4 KiB
// for --sustained-seconds, the publisher at most 64 messages ahead of the
// keep-last subscriber's reports instead of lock-step; msg/s, MB/s,
// published, received, lost, each end's CPU time a message.
// fanout: the fan-out rows of fanout.mjs (1 -> 1, 4 and 8 latency to the
// last subscriber, TS and C; sustained reliable throughput at 4 KiB).
// costs: what single operations cost, C and Node side by side (costs.mjs).
// Writes DIR/bench.json and DIR/bench.svg; prints the table and the targets.
import { spawn, fork } from 'node:child_process';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createInterface } from 'node:readline';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { benchBridge, benchNats, roleNatsSub } from './nats.mjs';
import { benchFanout, printFanout } from './fanout.mjs';
import { benchSustained, printSustained } from './sustained.mjs';
import { benchCosts, printCosts } from './costs.mjs';
import { start, run, pct, mean } from './proc.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '../..');
const END = 0xffffffffffffffffn;
const TS_DATA = '/agnocast_bench/ts_data';
const TS_ACK = '/agnocast_bench/ts_ack';
const now = () => process.hrtime.bigint();
/** The ts-spin row: both TS ends busy-poll this long after each message (subscribe's spin option). */
const SPIN_US = 2000;
const spinOption = () => (process.env.AGNOCAST_BENCH_SPIN_US ? { spin: Number(process.env.AGNOCAST_BENCH_SPIN_US) } : {});

function header(u8) { return new DataView(u8.buffer, u8.byteOffset, 16); }
function stamp(u8, seq) {
  const dv = header(u8);
  dv.setBigUint64(0, seq, true);
  dv.setBigUint64(8, now(), true);
}
/** [seq, latency ns] of a received message. */
function latencyOf(u8) {
  const t = now();
  const dv = header(u8);
  return [dv.getBigUint64(0, true), Number(t - dv.getBigUint64(8, true))];
}

function parseSize(s) {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}
function parseSizes(spec) {
  return spec.split(',').map((tok) => {
    const [s, c] = tok.split(':');
    return { size: parseSize(s), count: Number(c) };
  });
}
function fmtSize(n) {
  if (n >= 1024 ** 2) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024) return `${n / 1024} KiB`;
  return `${n} B`;
}

const WARMUP = 1000;
const ROUNDS = 5;

/** Counts this thread's garbage collections from now until stop(). */
function gcCounter() {
  let n = 0;
  const obs = new PerformanceObserver((list) => { n += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  return {
    async stop() {
      await new Promise((resolve) => setImmediate(resolve));	// entries are delivered asynchronously
      obs.disconnect();
      return n;
    },
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[(s.length - 1) >> 1] : NaN;
}

/** The messages of round r at a size: count spread over ROUNDS rounds, at least 1. */
function perRound(count, r) {
  return Math.max(1, Math.floor(count / ROUNDS) + (r < count % ROUNDS ? 1 : 0));
}

/** The sizes of round r, in order: small to large, then large to small. */
function roundOrder(sizes, r) {
  return r % 2 ? [...sizes].reverse() : sizes;
}

/**
 * Generic lock-step driver: send(u8, seq) then await ack(seq) -> latency ns.
 * ROUNDS interleaved rounds (see the top). Returns { runs: [{ size, lat,
 * rounds: [round p50 ns], rate }], gc: { sender } }.
 */
async function lockstep(sizes, alloc, sendAndWait, progress = () => {}) {
  let seq = 0n;
  const small = alloc(64);
  for (let i = 0; i < WARMUP; i++) await sendAndWait(small, ++seq);
  progress('warm');
  const gc = gcCounter();
  const acc = new Map(sizes.map(({ size }) => [size, { size, buf: alloc(size), lat: [], rounds: [], ns: 0n }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const { size, count } of roundOrder(sizes, r)) {
      const a = acc.get(size);
      await sendAndWait(a.buf, ++seq);	// uncounted
      const lat = [];
      const t0 = now();
      for (let i = perRound(count, r); i > 0; i--) lat.push(await sendAndWait(a.buf, ++seq));
      a.ns += now() - t0;
      a.lat.push(...lat);
      a.rounds.push(median(lat));
    }
    progress(`round ${r + 1}`);
  }
  const runs = sizes.map(({ size }) => {
    const a = acc.get(size);
    return { size, lat: a.lat, rounds: a.rounds, rate: a.lat.length / (Number(a.ns) / 1e9) };
  });
  return { runs, gc: { sender: await gc.stop() } };
}

// ---------------------------------------------------------------- roles ---

/** A map of acks with one waiter: ack(seq) resolves once that seq was acked. */
function ackBox() {
  const got = new Map();
  let waiter = null;
  return {
    put(seq, lat) {
      if (waiter && waiter.seq === seq) { const w = waiter; waiter = null; w.resolve(lat); }
      else got.set(seq, lat);
    },
    wait(seq) {
      if (got.has(seq)) { const v = got.get(seq); got.delete(seq); return Promise.resolve(v); }
      return new Promise((resolve) => { waiter = { seq, resolve }; });
    },
  };
}

async function roleAgnSub(data = TS_DATA, ack = TS_ACK) {
  const { join } = await import(path.join(ROOT, 'dist/index.js'));
  const node = join({ poolSize: '16M' });
  let ackPub;
  // After END: ack it and stay, so the publisher reads that ack (leaving
  // would withdraw it); the driver ends us once the publisher has exited.
  const gc = gcCounter();
  process.once('SIGTERM', async () => {
    node.close();
    fs.writeSync(1, `gc ${await gc.stop()}\n`);
    process.exit(0);
  });
  node.subscribe(data, { depth: 64, ...spinOption() }, (msg) => {
    const [seq, lat] = latencyOf(msg.data);
    const loan = ackPub.loan(16);
    const dv = new DataView(loan.buffer, loan.bytes.byteOffset, 16);
    dv.setBigUint64(0, seq, true);
    dv.setBigUint64(8, BigInt(lat), true);
    loan.publish();
  });
  ackPub = node.publisher(ack, { depth: 1, transientLocal: true });
  const hello = ackPub.loan(16);
  new DataView(hello.buffer, hello.bytes.byteOffset, 16).setBigUint64(0, 0n, true);
  hello.publish();
  process.stdout.write('ready\n');
}

/**
 * With `go` (the bridged row), waits for a "go" line on stdin instead of
 * the subscriber's hello: the driver says when both bridges carry both topics.
 */
async function roleAgnPub(spec, data = TS_DATA, ack = TS_ACK, go = false) {
  const { join } = await import(path.join(ROOT, 'dist/index.js'));
  const node = join({ poolSize: '256M' });
  const box = ackBox();
  node.subscribe(ack, { depth: 64, transientLocal: !go, ...spinOption() }, (msg) => {
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, 16);
    box.put(dv.getBigUint64(0, true), Number(dv.getBigUint64(8, true)));
  });
  const pub = node.publisher(data, { depth: 1 });
  if (go) {
    process.stdout.write('subscribed\n');
    await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
  } else {
    await box.wait(0n);	// the subscriber's hello
  }
  const results = await lockstep(parseSizes(spec), (size) => size, (size, seq) => {
    const loan = pub.loan(size);
    stamp(loan.bytes, seq);
    loan.publish();
    return box.wait(seq);
  }, (what) => go && process.stderr.write(`[${what}] `));
  const end = pub.loan(16);
  stamp(end.bytes, END);
  end.publish();
  await box.wait(END);	// leaving earlier would withdraw END unread
  process.stdout.write(JSON.stringify(results) + '\n');
  node.close();
  process.exit(0);
}

function roleUdsPeer(sock) {
  const gc = gcCounter();
  const s = net.connect(sock);
  let chunks = [], total = 0, need = -1;
  s.on('data', (d) => {
    chunks.push(d);
    total += d.length;
    for (;;) {
      if (need < 0) {
        if (total < 8) return;
        const b = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
        need = Number(b.readBigUInt64LE(0));
        chunks = [b.subarray(8)];
        total -= 8;
      }
      if (total < need) return;
      const b = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
      const msg = b.subarray(0, need);
      const [seq, lat] = latencyOf(msg);
      const rest = b.subarray(need);
      chunks = rest.length ? [rest] : [];
      total = rest.length;
      need = -1;
      if (seq === END) {	// ack END with the GC count
        void gc.stop().then((n) => {
          const fin = Buffer.allocUnsafe(16);
          fin.writeBigUInt64LE(END, 0);
          fin.writeBigUInt64LE(BigInt(n), 8);
          s.end(fin);
        });
        return;
      }
      const ack = Buffer.allocUnsafe(16);
      ack.writeBigUInt64LE(seq, 0);
      ack.writeBigUInt64LE(BigInt(lat), 8);
      s.write(ack);
    }
  });
}

function roleCpPeer() {
  const gc = gcCounter();
  process.on('message', (m) => {
    const u8 = m instanceof Uint8Array ? m : new Uint8Array(m);
    const [seq, lat] = latencyOf(u8);
    if (seq === END) { void gc.stop().then((n) => process.send([END, n], () => process.disconnect())); return; }
    process.send([seq, lat]);
  });
}

function roleWorker() {
  const gc = gcCounter();
  parentPort.on('message', (u8) => {
    const [seq, lat] = latencyOf(u8);
    if (seq === END) { void gc.stop().then((n) => { parentPort.postMessage([END, n]); parentPort.close(); }); return; }
    parentPort.postMessage([seq, lat]);
  });
}

// -------------------------------------------------------------- drivers ---

async function benchTs(sizes, spec, spinUs = 0) {
  let receiverGc = null;
  const env = spinUs ? { ...process.env, AGNOCAST_BENCH_SPIN_US: String(spinUs) } : process.env;
  const sub = await start(process.execPath, [SELF, '--role', 'agn-sub'], { env, onLine: (line) => {
    const m = /^gc (\d+)$/.exec(line);
    if (m) receiverGc = Number(m[1]);
  } });
  const out = await run(process.execPath, [SELF, '--role', 'agn-pub', spec], env);
  sub.child.kill('SIGTERM');
  await sub.exited;
  const r = JSON.parse(out[out.length - 1]);
  r.gc.receiver = receiverGc;
  return r;
}

/**
 * The same rounds as lockstep(), as blocks of cbench's SIZE:COUNT list
 * (each block one uncounted message more; cbench warms nothing else up: C).
 */
async function benchC(sizes, spec, cbench) {
  const blocks = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const { size, count } of roundOrder(sizes, r)) blocks.push({ size, n: perRound(count, r) + 1 });
  }
  const sub = await start(cbench, ['sub']);
  const lines = await run(cbench, ['pub', blocks.map((b) => `${b.size}:${b.n}`).join(',')]);
  await sub.exited;
  const acc = new Map(sizes.map(({ size }) => [size, { lat: [], rounds: [], secs: 0 }]));
  let at = 0;
  for (const { size, n } of blocks) {
    const a = acc.get(size);
    const lat = lines.slice(at + 1, at + n).map((l) => Number(l.split(' ')[1]));	// the first is uncounted
    const rate = lines[at + n].split(' ');
    if (rate[0] !== 'rate' || Number(rate[1]) !== size) throw new Error(`cbench: unexpected line ${lines[at + n]}`);
    at += n + 1;
    a.lat.push(...lat);
    a.rounds.push(median(lat));
    a.secs += n / Number(rate[2]);
  }
  return { runs: sizes.map(({ size }) => { const a = acc.get(size); return { size, lat: a.lat, rounds: a.rounds, rate: a.lat.length / a.secs }; }),
    gc: { sender: 0, receiver: 0 } };
}

const filled = (size) => new Uint8Array(size).fill(0x5a);

async function benchUds(sizes) {
  const sock = path.join(os.tmpdir(), `agnocast-bench-${process.pid}.sock`);
  fs.rmSync(sock, { force: true });
  const server = net.createServer();
  await new Promise((r) => server.listen(sock, r));
  const conn = new Promise((r) => server.once('connection', r));
  const child = spawn(process.execPath, [SELF, '--role', 'uds-peer', sock], { stdio: 'inherit' });
  const exited = new Promise((r) => child.on('exit', r));
  const s = await conn;
  const box = ackBox();
  let pending = Buffer.alloc(0);
  s.on('data', (d) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    while (pending.length >= 16) {
      box.put(pending.readBigUInt64LE(0), Number(pending.readBigUInt64LE(8)));
      pending = pending.subarray(16);
    }
  });
  const send = (u8, seq) => {
    const len = Buffer.allocUnsafe(8);
    len.writeBigUInt64LE(BigInt(u8.length));
    stamp(u8, seq);
    s.write(len);
    s.write(u8);
  };
  const results = await lockstep(sizes, filled, (u8, seq) => { send(u8, seq); return box.wait(seq); });
  send(filled(16), END);
  results.gc.receiver = await box.wait(END);
  await exited;
  s.destroy();
  server.close();
  fs.rmSync(sock, { force: true });
  return results;
}

async function benchCp(sizes) {
  const child = fork(SELF, ['--role', 'cp-peer'], { serialization: 'advanced', stdio: 'inherit' });
  const exited = new Promise((r) => child.on('exit', r));
  const box = ackBox();
  child.on('message', ([seq, lat]) => box.put(seq, lat));
  const results = await lockstep(sizes, filled, (u8, seq) => {
    stamp(u8, seq);
    child.send(u8);
    return box.wait(seq);
  });
  const end = filled(16);
  stamp(end, END);
  child.send(end);
  results.gc.receiver = await box.wait(END);
  await exited;
  return results;
}

async function benchWorker(sizes) {
  const w = new Worker(SELF, { workerData: { role: 'worker' } });
  const exited = new Promise((r) => w.on('exit', r));
  const box = ackBox();
  w.on('message', ([seq, lat]) => box.put(seq, lat));
  const results = await lockstep(sizes, filled, (u8, seq) => {
    stamp(u8, seq);
    w.postMessage(u8);	// structured clone: a copy, no transfer list
    return box.wait(seq);
  });
  const end = filled(16);
  stamp(end, END);
  w.postMessage(end);
  results.gc.receiver = await box.wait(END);
  await exited;
  return results;
}

// ---------------------------------------------------------------- report ---

function summarize(runs) {
  return runs.map(({ size, lat, rounds, rate }) => {
    const s = [...lat].sort((a, b) => a - b);
    return { size, count: s.length, p50_us: pct(s, 50) / 1e3, p99_us: pct(s, 99) / 1e3,
      round_p50_min_us: Math.min(...rounds) / 1e3, round_p50_max_us: Math.max(...rounds) / 1e3, msgs_per_s: rate };
  });
}

const fmtUs = (us) => (!Number.isFinite(us) ? '-' : us >= 1e4 ? us.toFixed(0) : us >= 100 ? us.toFixed(1) : us.toFixed(2));
const fmtRate = (r) => (!Number.isFinite(r) || !r ? '-' : r >= 100 ? r.toFixed(0) : r.toFixed(1));
const fmtX = (x) => (Number.isFinite(x) ? `${x >= 100 ? x.toFixed(0) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}x` : '-');

function svgPlot(transports, labels) {
  const W = 840, H = 480, L = 80, R = 260, T = 40, B = 60;
  const colors = ['#d62728', '#ff7f0e', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b'];
  const pts = Object.entries(transports).map(([k, rows]) =>
    [k, rows.filter((r) => Number.isFinite(r.p50_us) && r.p50_us > 0)]);
  const all = pts.flatMap(([, r]) => r);
  if (!all.length) return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n';
  const xs = all.map((r) => Math.log2(r.size)), ys = all.map((r) => Math.log10(r.p50_us));
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const y0 = Math.floor(Math.min(...ys)), y1 = Math.ceil(Math.max(...ys)) || y0 + 1;
  const px = (s) => L + ((Math.log2(s) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (us) => T + (1 - (Math.log10(us) - y0) / (y1 - y0 || 1)) * (H - T - B);
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${(L + W - R) / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">One-way latency p50 vs message size (lock-step; bars: lowest to highest round p50)</text>`);
  // y grid: decades
  for (let d = y0; d <= y1; d++) {
    const y = py(10 ** d);
    const lab = d >= 6 ? `${10 ** (d - 6)} s` : d >= 3 ? `${10 ** (d - 3)} ms` : `${10 ** d} µs`;
    o.push(`<line x1="${L}" y1="${y.toFixed(1)}" x2="${W - R}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    o.push(`<text x="${L - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${esc(lab)}</text>`);
  }
  const sizes = [...new Set(all.map((r) => r.size))].sort((a, b) => a - b);
  for (const s of sizes) {
    const x = px(s);
    o.push(`<line x1="${x.toFixed(1)}" y1="${T}" x2="${x.toFixed(1)}" y2="${H - B}" stroke="#eee"/>`);
    o.push(`<text x="${x.toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${esc(fmtSize(s))}</text>`);
  }
  o.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="black"/>`);
  o.push(`<text x="${(L + W - R) / 2}" y="${H - 15}" text-anchor="middle">message size (log scale)</text>`);
  o.push(`<text transform="translate(20 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">latency p50 (log scale)</text>`);
  pts.forEach(([k, rows], i) => {
    const c = colors[i % colors.length];
    const d = rows.map((r, j) => `${j ? 'L' : 'M'}${px(r.size).toFixed(1)} ${py(r.p50_us).toFixed(1)}`).join(' ');
    if (rows.length) o.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    // The spread: lowest to highest round p50, with caps.
    for (const r of rows.filter((q) => q.round_p50_min_us > 0 && q.round_p50_max_us > 0)) {
      const x = px(r.size), lo = py(r.round_p50_min_us), hi = py(r.round_p50_max_us);
      o.push(`<path d="M${x.toFixed(1)} ${lo.toFixed(1)} V${hi.toFixed(1)} M${(x - 4).toFixed(1)} ${lo.toFixed(1)} h8 M${(x - 4).toFixed(1)} ${hi.toFixed(1)} h8" stroke="${c}" stroke-width="1"/>`);
    }
    for (const r of rows) o.push(`<circle cx="${px(r.size).toFixed(1)}" cy="${py(r.p50_us).toFixed(1)}" r="3" fill="${c}"/>`);
    const ly = T + 10 + i * 22;
    o.push(`<line x1="${W - R + 15}" y1="${ly}" x2="${W - R + 40}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    o.push(`<text x="${W - R + 46}" y="${ly + 4}">${esc(labels[k])}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}

async function main() {
  const args = process.argv.slice(2);
  const opt = { sizes: '64:200,4K:200,64K:200,1M:100,16M:30,64M:20', out: path.join(ROOT, 'docs'),
    only: 'ts,ts-spin,c,uds,cp,worker,nats,bridge,sustained,fanout,costs', cbench: path.join(ROOT, 'build/demo/cbench'), replot: '',
    'sustained-seconds': '5' };
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i].replace(/^--/, '');
    if (!(k in opt) || args[i + 1] === undefined) throw new Error('usage: bench.mjs [--sizes S:N,...] [--out DIR] [--only ts,ts-spin,c,uds,cp,worker,nats,bridge,sustained,fanout,costs] ' +
      '[--cbench PATH] [--sustained-seconds S] [--replot bench.json]');
    opt[k] = args[i + 1];
  }
  if (opt.replot) {	// --replot bench.json: redraw DIR/bench.svg from saved results
    const saved = JSON.parse(fs.readFileSync(opt.replot, 'utf8'));
    fs.writeFileSync(path.join(opt.out, 'bench.svg'), svgPlot(saved.results, saved.labels));
    return;
  }
  const sizes = parseSizes(opt.sizes);
  const only = new Set(opt.only.split(','));
  const labels = { ts: 'agnocast TS→TS', 'ts-spin': `agnocast TS→TS, spin ${SPIN_US} µs`, c: 'agnocast C→C', uds: 'Unix socket (net)',
    cp: 'child_process IPC (advanced)', worker: 'worker_threads postMessage',
    nats: 'plain NATS client→client', bridge: 'agnocast→bridge→NATS→bridge→agnocast' };
  const runners = {
    ts: null, 'ts-spin': null,	// below
    c: () => benchC(sizes, opt.sizes, opt.cbench),
    uds: () => benchUds(sizes), cp: () => benchCp(sizes), worker: () => benchWorker(sizes),
    nats: () => benchNats({ self: SELF, sizes, lockstep, filled, stamp, ackBox }),
    bridge: () => benchBridge({ root: ROOT, self: SELF, spec: sizes.map((s) => `${s.size}:${s.count}`).join(',') }),
  };
  // TS pub parses sizes itself (K/M suffixes ok); give it the numeric form.
  runners.ts = () => benchTs(sizes, sizes.map((s) => `${s.size}:${s.count}`).join(','));
  runners['ts-spin'] = () => benchTs(sizes, sizes.map((s) => `${s.size}:${s.count}`).join(','), SPIN_US);
  const results = {}, gcs = {};
  for (const k of Object.keys(runners)) {
    if (!only.has(k)) continue;
    const t0 = Date.now();
    process.stderr.write(`bench: ${labels[k]} ... `);
    try {
      const { runs, gc } = await runners[k]();
      results[k] = summarize(runs);
      gcs[k] = gc;
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (e) {
      process.stderr.write(`FAILED: ${e.message}\n`);
    }
  }
  // The sustained rows (sustained.mjs): --only sustained runs all four, sustained-ts / sustained-ts-copy / sustained-uds / sustained-c one.
  let sustained = null;
  const susTs = only.has('sustained') || only.has('sustained-ts'), susC = only.has('sustained') || only.has('sustained-c');
  const susTsCopy = only.has('sustained') || only.has('sustained-ts-copy');
  const susUds = only.has('sustained') || only.has('sustained-uds');
  if (susTs || susTsCopy || susUds || susC) {
    const seconds = Number(opt['sustained-seconds']);
    if (!(seconds > 0)) throw new Error(`bad --sustained-seconds ${opt['sustained-seconds']}`);
    const t0 = Date.now();
    process.stderr.write(`bench: sustained, ${seconds} s each ... `);
    sustained = await benchSustained({ cbench: opt.cbench, seconds, ts: susTs, tsCopy: susTsCopy, uds: susUds, c: susC });
    if (sustained.errors) {
      process.stderr.write(`FAILED: ${sustained.errors.join('; ')}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  }

  // The table.
  const keys = Object.keys(results);
  const get = (k, size) => results[k]?.find((r) => r.size === size);
  console.log(`\nagnocast bench: kernel ${os.release()}, node ${process.version}, ${os.cpus().length} CPU(s)` +
    ` (${os.cpus()[0]?.model ?? '?'}); lock-step, ${ROUNDS} interleaved rounds, latency in µs`);
  const head = ['size', ...keys.map((k) => `${labels[k]} p50 (round p50 min–max) / p99 / msg/s`)];
  const rows = sizes.map(({ size }) => [fmtSize(size), ...keys.map((k) => {
    const r = get(k, size);
    return r ? `${fmtUs(r.p50_us)} (${fmtUs(r.round_p50_min_us)}–${fmtUs(r.round_p50_max_us)}) / ${fmtUs(r.p99_us)} / ${fmtRate(r.msgs_per_s)}` : '-';
  })]);
  const table = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  if (keys.length) {	// none with only the sustained or fan-out rows
    for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
    console.log('\ngarbage collections (sender during the rounds / receiver over its run; C: none):');
    for (const k of keys) console.log(`  ${labels[k]}: ${gcs[k]?.sender ?? '-'} / ${gcs[k]?.receiver ?? '-'}`);
  }

  const ratios = [];
  if (results.ts) {
    const peers = keys.filter((k) => k !== 'ts');
    console.log(`\np50 speed-up of agnocast TS→TS (peer p50 ÷ TS p50; > 1: TS is faster)`);
    const rh = ['size', ...peers.map((k) => labels[k])];
    const rr = sizes.map(({ size }) => {
      const ts = get('ts', size);
      const row = { size };
      for (const k of peers) row[k] = (get(k, size)?.p50_us ?? NaN) / (ts?.p50_us ?? NaN);
      ratios.push(row);
      return [fmtSize(size), ...peers.map((k) => fmtX(row[k]))];
    });
    const t2 = [rh, ...rr];
    const w2 = rh.map((_, i) => Math.max(...t2.map((r) => r[i].length)));
    for (const r of t2) console.log(r.map((c, i) => c.padEnd(w2[i])).join('  '));
  }
  if (sustained) printSustained(sustained);
  let costs = null;
  if (only.has('costs')) {
    process.stderr.write('bench: single operations ... ');
    try {
      costs = benchCosts({ cbench: opt.cbench });
      process.stderr.write('done\n');
      printCosts(costs);
    } catch (e) {
      process.stderr.write(`FAILED: ${e.message}\n`);
      process.exitCode = 1;
    }
  }

  // The targets (issue 13), as figures.
  const targets = {};
  const ts64 = get('ts', 64), uds64 = get('uds', 64);
  const mark = (ok) => (ok ? 'MET' : 'NOT MET');
  console.log('\ntargets (figures only, nothing fails):');
  const both = sizes.filter(({ size }) => get('ts', size) && get('c', size));
  if (both.length) {
    const worst = Math.max(...both.map(({ size }) => get('ts', size).p50_us / get('c', size).p50_us));
    targets.ts_over_c_p50_worst = { value: worst, target: '<= 2', met: worst <= 2 };
    console.log(`  TS→TS p50 ÷ C→C p50, worst size: ${worst.toFixed(2)} (` +
      both.map(({ size }) => `${fmtSize(size)} ${(get('ts', size).p50_us / get('c', size).p50_us).toFixed(1)}`).join(', ') +
      `) (target ≤ 2 at every size): ${mark(worst <= 2)}`);
    const c64 = get('c', 64);
    if (uds64 && c64) {
      // The same lock-step round trip between two Node processes with no
      // agnocast in it: what a sleeping Node receiver costs on this machine.
      targets.ts_over_c_p50_worst.node_floor = uds64.p50_us / c64.p50_us;
      console.log(`    the floor under it: ${labels.uds} at 64 B (two Node processes, no agnocast) p50 ÷ C→C p50 = ` +
        `${fmtUs(uds64.p50_us)} ÷ ${fmtUs(c64.p50_us)} µs = ${(uds64.p50_us / c64.p50_us).toFixed(2)}`);
    }
  }
  const spinBoth = sizes.filter(({ size }) => get('ts-spin', size) && get('c', size));
  if (spinBoth.length) {
    const worst = Math.max(...spinBoth.map(({ size }) => get('ts-spin', size).p50_us / get('c', size).p50_us));
    targets.ts_spin_over_c_p50_worst = { value: worst, target: '<= 2', met: worst <= 2 };
    console.log(`  with spin (both ends busy-poll ${SPIN_US} µs), TS→TS p50 ÷ C→C p50, worst size: ${worst.toFixed(2)} (` +
      spinBoth.map(({ size }) => `${fmtSize(size)} ${(get('ts-spin', size).p50_us / get('c', size).p50_us).toFixed(1)}`).join(', ') +
      `) (target ≤ 2): ${mark(worst <= 2)}`);
  }
  const tsRows = sizes.map(({ size }) => get('ts', size)).filter(Boolean);
  if (tsRows.length > 1) {
    const ps = tsRows.map((r) => r.p50_us);
    const x = Math.max(...ps) / Math.min(...ps);
    targets.ts_p50_across_sizes = { value: x, target: '<= 1.5', met: x <= 1.5 };
    console.log(`  TS→TS p50 highest ÷ lowest across sizes = ${fmtUs(Math.max(...ps))} ÷ ${fmtUs(Math.min(...ps))} µs = ${x.toFixed(2)} (target ≤ 1.5): ${mark(x <= 1.5)}`);
  }
  // These two for the default and for the spin row (spin on both ends).
  const copying = ['uds', 'cp', 'worker'].filter((k) => get(k, 1024 ** 2));
  const best = copying.length ? copying.reduce((a, b) => (get(a, 1024 ** 2).p50_us <= get(b, 1024 ** 2).p50_us ? a : b)) : null;
  const worker64 = get('worker', 64);
  for (const [k, key, what] of [['ts', '', 'TS→TS'], ['ts-spin', '_spin', `TS→TS with spin`]]) {
    const at1M = get(k, 1024 ** 2), at64 = get(k, 64);
    if (at1M && best) {
      const x = get(best, 1024 ** 2).p50_us / at1M.p50_us;
      targets[`ts${key}_vs_best_copying_1MiB`] = { value: x, peer: best, target: '>= 20', met: x >= 20 };
      console.log(`  at 1 MiB, best copying peer (${labels[best]}) p50 ÷ ${what} p50 = ${fmtUs(get(best, 1024 ** 2).p50_us)} ÷ ${fmtUs(at1M.p50_us)} µs = ${x.toFixed(1)}x (target ≥ 20x): ${mark(x >= 20)}`);
    }
    if (at64 && worker64) {
      const x = at64.p50_us / worker64.p50_us;
      targets[`ts${key}_vs_worker_64B`] = { value: x, target: '<= 1.0', met: x <= 1 };
      console.log(`  at 64 B, ${what} p50 ÷ worker_threads postMessage p50 = ${fmtUs(at64.p50_us)} ÷ ${fmtUs(worker64.p50_us)} µs = ${x.toFixed(2)} (target ≤ 1, no slower): ${mark(x <= 1)}`);
    }
  }
  // The floor under the default row's two peer targets: a sleeping Node
  // receiver in another process, with no agnocast (the Unix socket at 64 B).
  if (uds64 && ts64) {
    const parts = [];
    if (best) parts.push(`best copying peer at 1 MiB ÷ it = ${fmtUs(get(best, 1024 ** 2).p50_us)} ÷ ${fmtUs(uds64.p50_us)} µs = ${(get(best, 1024 ** 2).p50_us / uds64.p50_us).toFixed(1)}x (20x needs ≥ 20)`);
    if (worker64) parts.push(`it ÷ worker_threads at 64 B = ${(uds64.p50_us / worker64.p50_us).toFixed(2)} (no slower needs ≤ 1)`);
    if (parts.length) console.log(`    the floor under the default row: ${labels.uds} at 64 B (a Node process woken by another, no agnocast): ${parts.join('; ')}`);
  }

  for (const [key, row, what] of [['ts', 'sustained_ts_over_c_4KiB', 'loan'], ['ts_copy', 'sustained_ts_copy_over_c_4KiB', 'publish(bytes)']]) {
    const ts = sustained?.[key], c = sustained?.c;
    if (!ts || !c) continue;
    const x = ts.msgs_per_s / c.msgs_per_s;
    targets[row] = { value: x, target: '>= 0.5', met: x >= 0.5, window: sustained.window, lost_ts: ts.lost, lost_c: c.lost };
    console.log(`  sustained at ${fmtSize(sustained.size)}, window ${sustained.window}, TS→TS (${what}) msg/s ÷ C→C msg/s = ` +
      `${ts.msgs_per_s.toFixed(0)} ÷ ${c.msgs_per_s.toFixed(0)} = ${(x * 100).toFixed(1)} % ` +
      `(lost: TS ${ts.lost} of ${ts.published}, C ${c.lost} of ${c.published}) (target ≥ 50 %): ${mark(x >= 0.5)}`);
    // Each end's own work a message, timed alone (costs row), against C's
    // time a message: above 2, that end alone cannot keep 50 %. The
    // subscriber's: a received message and its share of the reports (a
    // loan and a publish every report_every messages).
    const k = costs?.node ?? {};
    const ends = [['publisher', key === 'ts' ? k.loan_publish_4k : k.publish_bytes_4k,
      key === 'ts' ? 'pub.publish(pub.loan(4 KiB))' : 'pub.publish(bytes)'],
    ['subscriber', k.receive_4k && k.loan_publish_4k ? k.receive_4k + k.loan_publish_4k / sustained.report_every : undefined,
      `a received message + 1/${sustained.report_every} of a report (loan + publish)`]];
    for (const [end, ns, op] of ends) {
      if (!ns) continue;
      const f = ns / (1e9 / c.msgs_per_s);
      targets[row][`${end}_floor`] = f;
      console.log(`    the ${end}'s ${op} alone (costs row) ÷ C→C's time a message = ` +
        `${(ns / 1e3).toFixed(1)} ÷ ${(1e6 / c.msgs_per_s).toFixed(1)} µs = ${f.toFixed(2)} (50 % needs ≤ 2)`);
    }
    // Where the row's time goes: each end's CPU time a message in the run
    // (all threads, from its first counted message to the end) beside the
    // time a message; what an end spends beyond its work alone is the
    // hand-overs (sleeping, being woken, the loop's turn), which C pays too.
    if (ts.cpu_pub_us !== undefined && c.cpu_pub_us !== undefined) {
      const fmt = (x) => `${x.cpu_pub_us.toFixed(1)} / ${x.cpu_sub_us.toFixed(1)} µs in ${(1e6 / x.msgs_per_s).toFixed(1)} µs`;
      targets[row].cpu_us = { publisher: ts.cpu_pub_us, subscriber: ts.cpu_sub_us, c_publisher: c.cpu_pub_us, c_subscriber: c.cpu_sub_us };
      console.log(`    in the run, CPU a message (publisher / subscriber, all threads) in the time a message: TS ${fmt(ts)}; C ${fmt(c)}`);
    }
    // The floor: the same pair as two plain Node processes over a Unix
    // socket, no agnocast (each message a fresh Buffer the socket takes).
    const u = sustained.uds;
    if (u) {
      const f = u.msgs_per_s / c.msgs_per_s;
      targets[row].node_floor = f;
      console.log(`    the floor under it: the same pair as plain Node processes over a Unix socket (no agnocast) ÷ C→C = ` +
        `${u.msgs_per_s.toFixed(0)} ÷ ${c.msgs_per_s.toFixed(0)} = ${(f * 100).toFixed(1)} % (50 % needs ≥ 50 %); ` +
        `its CPU a message ${u.cpu_pub_us.toFixed(1)} / ${u.cpu_sub_us.toFixed(1)} µs in ${(1e6 / u.msgs_per_s).toFixed(1)} µs`);
    }
  }

  const big = sizes.filter(({ size }) => size >= 1024 ** 2 && get('bridge', size) && get('nats', size));
  if (big.length) {
    const worst = Math.max(...big.map(({ size }) => get('bridge', size).p50_us / get('nats', size).p50_us));
    targets.bridge_vs_nats_1MiB_up = { value: worst, target: '<= 1.2', met: worst <= 1.2 };
    for (const { size } of big) {
      const br = get('bridge', size), nt = get('nats', size);
      console.log(`  at ${fmtSize(size)}, bridged p50 ÷ plain NATS p50 = ${fmtUs(br.p50_us)} ÷ ${fmtUs(nt.p50_us)} µs = ` +
        `${(br.p50_us / nt.p50_us).toFixed(2)}; rate ${fmtRate(br.msgs_per_s)} vs ${fmtRate(nt.msgs_per_s)} msg/s`);
    }
    console.log(`  bridge cost at 1 MiB and above: worst p50 ratio ${worst.toFixed(2)} (target ≤ 1.2): ${worst <= 1.2 ? 'MET' : 'NOT MET'}`);
  }

  let fanout = null;
  if (only.has('fanout')) {
    process.stderr.write('bench: fan-out ... ');
    try {
      fanout = await benchFanout(opt.cbench);
      process.stderr.write('done\n');
      printFanout(fanout, fmtUs);
      const at = (rows, n) => rows?.find?.((r) => r.subscribers === n);
      const f1 = at(fanout.latency, 1), f8 = at(fanout.latency, 8), c1 = at(fanout.c, 1), c8 = at(fanout.c, 8);
      if (f1 && f8) {
        const x = f8.p50_us / f1.p50_us;
        targets.fanout8_over_single = { value: x, target: '<= 2', met: x <= 2, c: c1 && c8 ? c8.p50_us / c1.p50_us : null };
        console.log(`  fan-out 1 → 8, last subscriber p50 ÷ one subscriber's p50 (the same row) = ${fmtUs(f8.p50_us)} ÷ ${fmtUs(f1.p50_us)} µs = ${x.toFixed(2)} (target ≤ 2): ${mark(x <= 2)}` +
          (c1 && c8 ? `; C in the same run: ${fmtUs(c8.p50_us)} ÷ ${fmtUs(c1.p50_us)} µs = ${(c8.p50_us / c1.p50_us).toFixed(2)}` : ''));
        // Where it goes: the subscribers' turns share the vCPUs, so the last
        // one waits for about the other N - 1 turns (each a subscriber's CPU
        // time a message) spread over them, then for its own wake-up.
        const cpus = os.cpus().length;
        const model = (one, cpu) => ((8 - 1) * cpu / cpus + one.p50_us) / one.p50_us;
        const parts = [['TS', f1, f8], ['C', c1, c8]].filter(([, one, eight]) => one && eight?.cpu_sub_us).map(([lang, one, eight]) => {
          const cpu = mean(eight.cpu_sub_us);
          return `${lang} (7 × ${fmtUs(cpu)} ÷ ${cpus} + ${fmtUs(one.p50_us)}) ÷ ${fmtUs(one.p50_us)} = ${model(one, cpu).toFixed(2)} (measured ${(eight.p50_us / one.p50_us).toFixed(2)})`;
        });
        if (parts.length) {
          console.log(`    where it goes: the last of 8 waits for the other 7 subscribers' turns on ${cpus} vCPUs, ` +
            `(7 × a subscriber's CPU time a message ÷ vCPUs + the one-subscriber p50) ÷ that p50: ${parts.join('; ')}`);
        }
        const u = fanout.uds;
        if (u?.cpu_sub_us) {
          const floor = model(u, u.cpu_sub_us[0]);
          targets.fanout8_over_single.node_floor = floor;
          console.log(`    the floor under it: a plain Node receiver (Unix socket, no agnocast) in the same formula, ` +
            `(7 × ${fmtUs(u.cpu_sub_us[0])} ÷ ${cpus} + ${fmtUs(u.p50_us)}) ÷ ${fmtUs(u.p50_us)} = ${floor.toFixed(2)} (≤ 2 needs a Node turn ≤ ${fmtUs(u.p50_us * cpus / 7)} µs of CPU)`);
        }
      }
    } catch (e) {
      process.stderr.write(`FAILED: ${e.message}\n`);
      process.exitCode = 1;
    }
  }

  fs.mkdirSync(opt.out, { recursive: true });
  const json = { fanout, sustained, costs, date: new Date().toISOString(), kernel: os.release(), node: process.version,
    cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? null, sizes, rounds: ROUNDS, gc: gcs, method: 'lock-step, interleaved rounds; latency = receiver CLOCK_MONOTONIC - sender timestamp in message; rate = messages / elapsed', labels, results, ratios_peer_p50_over_ts_p50: ratios, targets };
  fs.writeFileSync(path.join(opt.out, 'bench.json'), JSON.stringify(json, null, 2) + '\n');
  fs.writeFileSync(path.join(opt.out, 'bench.svg'), svgPlot(results, labels));
  console.log(`\nwrote ${path.join(opt.out, 'bench.json')} and ${path.join(opt.out, 'bench.svg')}`);
  if (Object.keys(results).length !== keys.length || keys.length !== [...only].filter((k) => k in runners).length) process.exitCode = 1;
}

if (!isMainThread) {
  if (workerData?.role === 'worker') roleWorker();
} else {
  const i = process.argv.indexOf('--role');
  const role = i >= 0 ? process.argv[i + 1] : null;
  if (role === 'agn-sub') await roleAgnSub(process.argv[i + 2], process.argv[i + 3]);
  else if (role === 'agn-pub') await roleAgnPub(process.argv[i + 2], process.argv[i + 3], process.argv[i + 4], process.argv[i + 5] === 'go');
  else if (role === 'nats-sub') await roleNatsSub(process.argv[i + 2], latencyOf);
  else if (role === 'uds-peer') roleUdsPeer(process.argv[i + 2]);
  else if (role === 'cp-peer') roleCpPeer();
  else await main();
}
