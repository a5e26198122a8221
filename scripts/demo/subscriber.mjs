// SPDX-License-Identifier: Apache-2.0
// The demo's subscriber on the TypeScript library (subscriber.c is the C
// one): receives DEMO_TOPIC, checks every message where it lies (no copy),
// measures one-way latency, releases, acknowledges on DEMO_ACK_TOPIC, and
// prints a table per message size. See demo.h.
//   node scripts/demo/subscriber.mjs [--name NAME] [--ready FILE] [--timeout SECONDS]
// The flags are subscriber.c's but for --no-queue: the library always has
// a discovery queue once it subscribes. Exit status 0 only if every message
// arrived, in order, intact. Needs `npm run build` (dist/ and the addon).
import fs from 'node:fs';
import { join } from '../../dist/index.js';
/** @typedef {import('../../dist/index.js').Message} Message */
import {
  ACK, DEMO_ACK_MAGIC, DEMO_ACK_TOPIC, DEMO_DONE_SIGNAL, DEMO_END, DEMO_MSG_MAGIC, DEMO_PROOF,
  DEMO_SUB_DEPTH, DEMO_TOPIC, MSG, args, demoFill, demoFillLast, die, exit, fmtSize, hex, nowNs,
  pfn, ready, say, seconds, setup, view, watchdog,
} from './demo.mjs';

const ERRORS_SHOWN = 10;
const opts = args('subscriber.mjs [--name NAME] [--ready FILE] [--timeout SECONDS]', ['name', 'ready', 'timeout']);
const name = opts.name ?? 'subscriber';
const timeout = seconds(opts.timeout ?? '60', '--timeout');

/** @typedef {{ len: number, count: number, tFirstPub: bigint, tLastRecv: bigint, lat: number[] }} SizeStats */
/** Per message size. */
const sizes = /** @type {Map<number, SizeStats>} */ (new Map());
let errors = 0;
let expected = 1;	// the index of the next message
let received = 0;
let publisher = 0;	// its pid, from the first message
let done = false;	// END came
let ackScheduled = false;
let finishing = false;

/** @param {string} text */
function error(text) {
  if (errors++ < ERRORS_SHOWN) say(`VERIFY FAILED: ${text}`);
}

// The publisher signals once it read our ack of END (demo.h): only then may
// we go, as leaving withdraws our ack if it was not read yet. We listen
// from the start, so an early signal cannot kill us.
let publisherDone = () => {};
const publisherRead = new Promise((resolve) => { publisherDone = () => resolve(undefined); });
process.on(DEMO_DONE_SIGNAL, () => publisherDone());

const node = join({ poolSize: '1M', poolMax: '1M' });	// only acks go in our own pool
setup(name, () => node.close());
say(`pid ${node.pid}, joined: own pool ${hex(node.pool.address)} (acks only)`);

const dog = watchdog(timeout, () => {
  if (done) die(`the publisher did not signal within ${timeout} s that it read our ack of END`);
  die(`nothing for ${timeout} s (received ${received} messages)`);
});
const sub = node.subscribe(DEMO_TOPIC, { depth: DEMO_SUB_DEPTH }, onMessage);
const publishers = sub.publisherCount;
say(`subscribed to ${DEMO_TOPIC}, discovery queue /new_publisher@${node.pid} created; ` +
  (publishers
    ? `${publishers} publisher there already: its pool is mapped, listed by ADD_SUBSCRIBER`
    : 'no publisher yet: it will announce itself on our queue'));
const ackPub = node.publisher(DEMO_ACK_TOPIC, { depth: 1, transientLocal: true });
sendAck(0);
say(`said hello on ${DEMO_ACK_TOPIC}` +
  (ackPub.subscriberCount ? ' and announced our ack pool on the /new_publisher@<pid> of the publisher reading it' : '') +
  '; waiting (libuv watches the subscription\'s fd)');
ready(opts.ready);

/** @param {number} index */
function sendAck(index) {
  const loan = ackPub.loan(ACK.size);
  const v = view(loan.bytes);
  v.setUint32(ACK.magic, DEMO_ACK_MAGIC, true);
  v.setInt32(ACK.pid, node.pid, true);
  v.setBigUint64(ACK.index, BigInt(index), true);
  loan.publish();
}

/*
 * One ack per wake-up, as subscriber.c sends one per RECEIVE: the library
 * hands every message of a wake-up to onMessage and releases each as it
 * returns; this microtask runs once they all were, so the index it sends
 * was released.
 */
function scheduleAck() {
  if (ackScheduled) return;
  ackScheduled = true;
  queueMicrotask(() => {
    ackScheduled = false;
    sendAck(expected - 1);
    if (done && !finishing) void finish();
  });
}

/** @param {Message} msg */
function onMessage(msg) {
  const tRecv = nowNs();
  dog.kick();
  scheduleAck();
  if (msg.publisherPid !== publisher) {
    if (publisher) die(`a second publisher (process ${msg.publisherPid}) on ${DEMO_TOPIC}`);
    publisher = msg.publisherPid;
  }
  const bytes = msg.data;	// the publisher's memory, read in place
  const v = view(bytes);
  if (msg.length < MSG.size || v.getUint32(MSG.magic, true) !== DEMO_MSG_MAGIC) {
    error(`seq ${msg.seq} at ${hex(msg.address)} (${msg.length} bytes) is not a demo message`);
    return;
  }
  const index = Number(v.getBigUint64(MSG.index, true));
  const flags = v.getUint32(MSG.flags, true);
  if (done) error(`message ${index} after END`);
  if (index !== expected) error(`expected message ${expected}, got ${index}: ${index - expected} missing`);
  expected = index + 1;
  const len = Number(v.getBigUint64(MSG.len, true));
  if (len !== msg.length) error(`message ${index} says ${len} bytes, the entry ${msg.length}`);
  if (flags & DEMO_END) {
    if (index !== received + 1) error(`END says ${index - 1} messages were sent, ${received} arrived`);
    showReadOnly(msg.address);	// after the measurements
    done = true;
    return;
  }
  const first = bytes[MSG.size];
  const last = bytes[msg.length - 1];
  if (msg.length > MSG.size && (first !== demoFill(index) || last !== demoFillLast(index))) {
    const byte = (/** @type {number | undefined} */ b) => `0x${(b ?? 0).toString(16).padStart(2, '0')}`;
    error(`message ${index}: first byte ${byte(first)}, last byte ${byte(last)}, ` +
      `expected ${byte(demoFill(index))}, ${byte(demoFillLast(index))}`);
  }
  received++;
  record(msg.length, v.getBigUint64(MSG.tPubNs, true), tRecv);
  if (flags & DEMO_PROOF) showZeroCopy(msg, v, index);
}

/**
 * @param {number} len
 * @param {bigint} tPub
 * @param {bigint} tRecv
 */
function record(len, tPub, tRecv) {
  let s = sizes.get(len);
  if (!s) sizes.set(len, (s = { len, count: 0, tFirstPub: tPub, tLastRecv: 0n, lat: [] }));
  s.count++;
  s.lat.push(Number(tRecv - tPub));
  s.tLastRecv = tRecv;
}

/**
 * The subscriber's view address is the publisher's loan address, and the pages the same.
 * @param {Message} msg
 * @param {DataView} v its header
 * @param {number} index
 */
function showZeroCopy(msg, v, index) {
  const size = fmtSize(msg.length);
  const loanAddr = v.getBigUint64(MSG.loanAddr, true);
  const pubFirst = v.getBigUint64(MSG.pfnFirst, true);
  const pubLast = v.getBigUint64(MSG.pfnLast, true);
  if (loanAddr !== msg.address) {
    error(`${size} message ${index}: publisher wrote at ${hex(loanAddr)}, we read at ${hex(msg.address)}`);
    return;
  }
  const first = pfn(msg.address);
  const last = pfn(msg.address + BigInt(msg.length) - 1n);
  let pages;
  if (first && last && pubFirst && pubLast) {
    if (first !== pubFirst || last !== pubLast) {
      error(`${size} message ${index}: physical frames differ (publisher ${hex(pubFirst)}..${hex(pubLast)}, ` +
        `us ${hex(first)}..${hex(last)})`);
      return;
    }
    pages = first === last
      ? `same address, same physical pages: PFN ${hex(first)} in both processes`
      : `same address, same physical pages: PFN ${hex(first)} (first byte) and ${hex(last)} (last byte) in both processes`;
  } else {
    pages = 'same address; physical pages not compared: /proc/self/pagemap shows frames to root only';
  }
  say(`zero-copy ${size.padStart(7)}: publisher wrote at ${hex(loanAddr)}, subscriber's view at ${hex(msg.address)} (${pages})`);
}

/*
 * Our view of the publisher's pool is read-only: the library maps it
 * PROT_READ from a descriptor opened O_RDONLY, so it cannot be made
 * writable and a write kills the writer. Node has no fork() to show that on
 * a throwaway copy of this process (subscriber.c does); we show the mapping
 * as the kernel lists it.
 */
/** @param {bigint} address */
function showReadOnly(address) {
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (!m || address < BigInt(`0x${m[1]}`) || address >= BigInt(`0x${m[2]}`)) continue;
    if (m[3] !== 'r--s') error(`the publisher's pool is mapped ${m[3]} here, not r--s (${line})`);
    else {
      say(`read-only: /proc/self/maps lists the publisher's pool here as r--s ` +
        `(0x${m[1]}-0x${m[2]} ${m[4]}): a write there would kill this process`);
    }
    return;
  }
  error(`${hex(address)} is in no mapping of /proc/self/maps`);
}

/**
 * @param {SizeStats} s
 * @param {number} q
 */
function pct(s, q) {
  const rank = Math.max(1, Math.floor(q * s.count + 0.999999));
  return ((s.lat[rank - 1] ?? 0) / 1e3).toFixed(1);
}

function report() {
  say(`${received} messages and END received; ` + (errors
    ? 'SOME FAILED VERIFICATION (above)'
    : 'none missing, every one verified in place (header, first and last byte)'));
  const widths = [9, 7, 10, 10, 11, 11];
  const row = (/** @type {(string | number)[]} */ ...cols) =>
    `    ${cols.map((c, i) => String(c).padStart(widths[i] ?? 0)).join(' ')}\n`;
  let out = row('size', 'count', 'p50 µs', 'p99 µs', 'msg/s', 'MB/s');
  for (const s of sizes.values()) {
    const secs = Number(s.tLastRecv - s.tFirstPub) / 1e9;
    const rate = secs > 0 ? s.count / secs : 0;
    s.lat.sort((a, b) => a - b);
    out += row(fmtSize(s.len), s.count, pct(s, 0.5), pct(s, 0.99), rate.toFixed(0), (rate * s.len / 1e6).toFixed(1));
  }
  process.stdout.write(out +
    '    (MB/s: message bytes delivered per second; the publisher writes only the\n' +
    '    header and the first and last byte, the rest of a message is never touched)\n');
}

/* END came and its ack is out: stay until the publisher read it (demo.h). */
async function finish() {
  finishing = true;
  await publisherRead;
  dog.stop();
  say(`the publisher (process ${publisher}) signalled that it read our last ack`);
  report();
  exit(errors ? 1 : 0);
}
