// SPDX-License-Identifier: Apache-2.0
// The demo's publisher on the TypeScript library (publisher.c is the C
// one): waits for its subscribers' hellos on DEMO_ACK_TOPIC, then for each
// size loans pool memory, writes the header and the first and last byte
// (the rest is never touched) and publishes it on DEMO_TOPIC; published
// blocks come back to the pool as subscribers release them. See demo.h.
//   node scripts/demo/publisher.mjs [--sizes 64:500,4K:500,...] [--subscribers N]
//                                   [--window N] [--ready FILE] [--timeout SECONDS]
// The flags are publisher.c's but for --no-queue: the library always has a
// discovery queue once it subscribes (to the acks). AGNOCAST_MEMPOOL_SIZE
// sets the pool's initial size (default 256M); the library grows it as
// needed. Needs `npm run build` (dist/ and the addon).
import { join, PoolExhaustedError } from '../../dist/index.js';
import {
  ACK, DEMO_ACK_MAGIC, DEMO_ACK_TOPIC, DEMO_DONE_SIGNAL, DEMO_END, DEMO_MSG_MAGIC, DEMO_PROOF,
  DEMO_TOPIC, DEMO_WINDOW_MAX, MSG, SUBS_MAX, args, demoFill, demoFillLast, die, exit, fmtSize,
  hex, nowNs, parseSize, pfn, ready, say, seconds, setup, view, watchdog,
} from './demo.mjs';

const DEFAULT_SIZES = '64:500,4K:500,64K:500,1M:200,16M:100,64M:50';
const usage = 'publisher.mjs [--sizes SIZE:COUNT,...] [--subscribers N] [--window N] [--ready FILE] [--timeout SECONDS]';
const opts = args(usage, ['sizes', 'subscribers', 'window', 'ready', 'timeout']);
setup('publisher');
const expect = Number(opts.subscribers ?? 2);
const window = Number(opts.window ?? 1);
const timeout = seconds(opts.timeout ?? '60', '--timeout');
if (!Number.isInteger(expect) || expect < 1 || expect > SUBS_MAX) die(`--subscribers ${opts.subscribers}: from 1 to ${SUBS_MAX}`);
if (!Number.isInteger(window) || window < 1 || window > DEMO_WINDOW_MAX) die(`--window ${opts.window}: from 1 to ${DEMO_WINDOW_MAX}`);
const runs = parseSizes(opts.sizes ?? DEFAULT_SIZES);

/** Subscriber pid -> highest index it acknowledged. */
const subs = /** @type {Map<number, number>} */ (new Map());
let index = 0;	// of the last message published
let wakeAckWaiter = /** @type {() => void} */ (() => {});

const node = join({ poolSize: /** @type {import('../../dist/index.js').Size} */ (process.env.AGNOCAST_MEMPOOL_SIZE || '256M') });
setup('publisher', () => node.close());
for (const run of runs) {
  const need = (window + 2) * Math.ceil(run.len / 4096) * 4096;
  if (need > node.pool.max) {
    die(`a ${fmtSize(run.len)} message with --window ${window} needs a pool of ${need} bytes ` +
      `(it may grow to ${node.pool.max}): raise AGNOCAST_MEMPOOL_SIZE`);
  }
}
say(`pid ${node.pid}, joined: own pool ${fmtSize(node.pool.size)} at ${hex(node.pool.address)} ` +
  `(grows up to ${fmtSize(node.pool.max)})`);

const dog = watchdog(timeout, () => {
  for (const [pid, acked] of subs) {
    if (acked < index) say(`subscriber ${pid} acknowledged up to ${acked} of ${index}`);
  }
  die(`no progress for ${timeout} s (${subs.size} subscribers said hello)`);
});
const ackSub = node.subscribe(DEMO_ACK_TOPIC, { depth: 1024, transientLocal: true }, onAck);
const ackers = ackSub.publisherCount;
say(`subscribed to ${DEMO_ACK_TOPIC} (transient-local), discovery queue /new_publisher@${node.pid} created; ` +
  (ackers
    ? `${count(ackers, 'subscriber')} said hello before we came: ${ackers === 1 ? 'its ack pool is' : 'their ack pools are'} mapped, listed by ADD_SUBSCRIBER`
    : 'no subscriber there yet'));
const pub = node.publisher(DEMO_TOPIC, { depth: window });
const listeners = pub.subscriberCount;
say(`publishing on ${DEMO_TOPIC} (history depth ${window} = window)` +
  (listeners ? `; announced ourselves to the ${count(listeners, 'subscriber')} there already, on ${listeners === 1 ? 'its' : 'their'} /new_publisher@<pid>` : '') +
  `; waiting for ${expect} subscribers' hellos`);
ready(opts.ready);

while (subs.size < expect) await nextAck();
const t0 = nowNs();
let total = 0;
for (const run of runs) {
  for (let j = 0; j < run.count; j++) await publishOne(run.len, j ? 0 : DEMO_PROOF, run);
  total += run.count;
}
await publishOne(MSG.size, DEMO_END);
while (minAcked() < index) await nextAck();
const secs = Number(nowNs() - t0) / 1e9;
dog.stop();

// Every subscriber may go now: its last ack was read (demo.h).
for (const pid of subs.keys()) {
  try {
    process.kill(pid, DEMO_DONE_SIGNAL);
  } catch (e) {
    die(`cannot signal subscriber ${pid} that its last ack was read: ${e instanceof Error ? e.message : e}`);
  }
}
const pids = [...subs.keys()].join(', ');
say(`${total} messages and END published in ${secs.toFixed(2)} s, all acknowledged by subscribers ${pids}; ` +
  `signalled each (${DEMO_DONE_SIGNAL}) that its last ack was read`);
for (const r of runs) {
  const p = r.proof ?? { index: 0, address: 0n, pfnFirst: 0n, pfnLast: 0n };
  say(`${fmtSize(r.len).padStart(9)} x ${String(r.count).padEnd(5)} message ${String(p.index).padEnd(5)} ` +
    `written at ${hex(p.address)} (PFN ${hex(p.pfnFirst)} .. ${hex(p.pfnLast)})`);
}
copyForScale(Math.max(...runs.map((r) => r.len)));
exit(0);

/**
 * @param {number} n
 * @param {string} what
 */
function count(n, what) {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/**
 * @typedef {{ index: number, address: bigint, pfnFirst: bigint, pfnLast: bigint }} Proof
 *   the message of a size that carried DEMO_PROOF
 * @typedef {{ len: number, count: number, proof: Proof | undefined }} Run
 */

/**
 * @param {string} spec SIZE:COUNT,...
 * @returns {Run[]}
 */
function parseSizes(spec) {
  return spec.split(',').map((tok) => {
    const [size, times, extra] = tok.split(':');
    const len = parseSize(size);
    if (times === undefined || extra !== undefined) die(`--sizes: '${tok}' is not SIZE:COUNT`);
    if (len < MSG.size || !/^[1-9]\d*$/.test(times)) {
      die(`--sizes: bad size or count in '${tok}' (sizes from ${MSG.size} bytes)`);
    }
    return { len, count: Number(times), proof: undefined };
  });
}

function minAcked() {
  return subs.size ? Math.min(...subs.values()) : 0;
}

/*
 * Resolves at the next ack (or hello). The watchdog ends a wait that lasts:
 * it is also how we learn that a subscriber died, which publisher.c sees on
 * a pidfd (Node has none, and the library tells no one when a process
 * leaves).
 */
function nextAck() {
  return new Promise((resolve) => { wakeAckWaiter = () => resolve(undefined); });
}

/** @param {import('../../dist/index.js').Message} msg */
function onAck(msg) {
  const v = view(msg.data);
  if (msg.length < ACK.size || v.getUint32(ACK.magic, true) !== DEMO_ACK_MAGIC ||
      v.getInt32(ACK.pid, true) !== msg.publisherPid) {
    die(`seq ${msg.seq} on ${DEMO_ACK_TOPIC} from process ${msg.publisherPid} is not an ack`);
  }
  const pid = msg.publisherPid;
  const acked = Number(v.getBigUint64(ACK.index, true));
  if (!subs.has(pid)) {
    if (subs.size === SUBS_MAX) die(`more than ${SUBS_MAX} subscribers`);
    subs.set(pid, 0);
    say(`subscriber process ${pid} said hello`);
  }
  if (acked > (subs.get(pid) ?? 0)) subs.set(pid, acked);
  dog.kick();
  wakeAckWaiter();
}

/**
 * Publishes message index + 1 of len bytes.
 * @param {number} len
 * @param {number} flags DEMO_*
 * @param {Run} [run] where a DEMO_PROOF message is noted
 */
async function publishOne(len, flags, run) {
  // Never more than `window` unacknowledged: our history depth.
  while (index + 1 - minAcked() > window) await nextAck();
  let loan;
  try {
    loan = pub.loan(len);
  } catch (e) {
    if (e instanceof PoolExhaustedError) die(`${e.message}: raise AGNOCAST_MEMPOOL_SIZE or lower --window`);
    throw e;
  }
  index++;
  const bytes = loan.bytes;
  const v = view(bytes);
  v.setUint32(MSG.magic, DEMO_MSG_MAGIC, true);
  v.setUint32(MSG.flags, flags, true);
  v.setBigUint64(MSG.index, BigInt(index), true);
  v.setBigUint64(MSG.len, BigInt(len), true);
  v.setBigUint64(MSG.loanAddr, loan.address, true);
  v.setBigUint64(MSG.pfnFirst, 0n, true);
  v.setBigUint64(MSG.pfnLast, 0n, true);
  if (len > MSG.size) {
    bytes[MSG.size] = demoFill(index);
    bytes[len - 1] = demoFillLast(index);
  }
  if (flags & DEMO_PROOF) {
    const pfnFirst = pfn(loan.address);
    const pfnLast = pfn(loan.address + BigInt(len) - 1n);
    v.setBigUint64(MSG.pfnFirst, pfnFirst, true);
    v.setBigUint64(MSG.pfnLast, pfnLast, true);
    if (run) run.proof = { index, address: loan.address, pfnFirst, pfnLast };
  }
  v.setBigUint64(MSG.tPubNs, nowNs(), true);
  loan.publish();
}

/** @param {number} len */
function copyForScale(len) {
  const src = Buffer.alloc(len, 1);
  const dst = Buffer.alloc(len, 2);
  const t = nowNs();
  src.copy(dst);
  const ms = Number(nowNs() - t) / 1e6;
  say(`for scale: one copy of ${fmtSize(len)} (Buffer.copy) takes ${ms.toFixed(2)} ms on this machine ` +
    '(what a copying transport pays per message and per subscriber)');
}
