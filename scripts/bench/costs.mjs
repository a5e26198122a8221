// SPDX-License-Identifier: Apache-2.0
// What single operations cost in this run, C and Node side by side: the
// floor under the TS→TS ÷ C→C ratios. Under QEMU's TCG every instruction
// is emulated, but not at one rate: a system call's work is the guest
// kernel's, while an addon call or a V8 allocation is JIT-compiled code
// with indirect jumps, which TCG runs far slower than straight C. Run
// beside the host's figures (node scripts/bench/costs.mjs on the host: the
// rows that need /dev/agnocast are left out) this shows how much more a
// Node operation is inflated than a C one.
//   C (cbench costs N): a system call, malloc + free 4 KiB, and with the
//     module agnocast_alloc + free, agnocast_alloc + publish 4 KiB (depth
//     1, no subscriber);
//   Node (this file, --role measure N, its own process): one addon call
//     (addressOf), a BigInt, a Uint8Array, a small object; with the module
//     the addon's loan + free, and the library's loan + dispose,
//     loan + publish and publish(bytes) of 4 KiB on a topic of depth 1
//     with no subscriber; and a received message's cost to its subscriber:
//     32 messages of 4 KiB published in this process, then timed from there
//     until a callback subscription (keep-last, depth 64) has received them
//     all, its callback reading one byte of each through `data` (the loop's
//     turn, RECEIVE of the batch with the previous one's releases, the
//     Message, the view, the release with its detach), per message.
// Each is timed over N calls after N / 10 uncounted ones (JIT warm-up).
// Usage: node scripts/bench/costs.mjs [CBENCH] [N]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '../..');
const TOPIC = '/agnocast_bench/ts_cost';
const TOPIC_RX = '/agnocast_bench/ts_cost_rx';

/** ns per call of f(i) over n calls, after n / 10 uncounted ones. */
function perCall(n, f) {
  for (let i = 0; i < n / 10; i++) f(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Number(process.hrtime.bigint() - t0) / n;
}

/** ns per received message, over about n of them in batches of 32 (see the top). */
async function perReceived(node, n) {
  const BATCH = 32;
  const pub = node.publisher(TOPIC_RX, { depth: 64 });
  const bytes = new Uint8Array(4096);
  let got = 0, want = 0, sum = 0, wake = () => {};
  const sub = node.subscribe(TOPIC_RX, { depth: 64 }, (msg) => {
    sum += msg.data[0];
    if (++got === want) wake();
  });
  let elapsed = 0n;
  const round = async (timed) => {
    want = got + BATCH;
    const all = new Promise((resolve) => { wake = resolve; });
    for (let k = 0; k < BATCH; k++) pub.publish(bytes);
    const t0 = process.hrtime.bigint();
    await all;
    if (timed) elapsed += process.hrtime.bigint() - t0;
  };
  const rounds = Math.ceil(n / BATCH);
  for (let r = 0; r < rounds / 10; r++) await round(false);
  for (let r = 0; r < rounds; r++) await round(true);
  sub.close();
  pub.close();
  if (sub.stats.dropped) throw new Error(`costs: the receive row lost ${sub.stats.dropped} messages (byte sum ${sum})`);
  return Number(elapsed) / (rounds * BATCH);
}

async function measure(n) {
  const { native } = await import(path.join(ROOT, 'dist/native.js'));
  const addon = native();	// the library's own loader, with its ABI check
  const out = {};
  const ab = new ArrayBuffer(64);
  let sink = 0n, keep;
  out.addon_call = perCall(n, () => { sink ^= addon.addressOf(ab); });
  out.bigint = perCall(n, (i) => { sink ^= BigInt(i); });
  out.uint8array = perCall(n, () => { keep = new Uint8Array(16); });
  out.object = perCall(n, (i) => { keep = { a: i, b: i, c: i }; });
  if (fs.existsSync('/dev/agnocast')) {
    const { join } = await import(path.join(ROOT, 'dist/index.js'));
    const node = join({ poolSize: '4M' });
    const pub = node.publisher(TOPIC, { depth: 1 });
    const bytes = new Uint8Array(4096);
    out.addon_loan_free_4k = perCall(n, () => { addon.free(addon.loan(4096)); });
    out.loan_dispose_4k = perCall(n, () => { pub.loan(4096)[Symbol.dispose](); });
    out.loan_publish_4k = perCall(n, () => { pub.publish(pub.loan(4096)); });
    out.publish_bytes_4k = perCall(n, () => { pub.publish(bytes); });
    out.receive_4k = await perReceived(node, n);
    node.close();
  }
  void keep;
  return out;
}

const C_NAMES = {
  syscall: 'C: a system call (getppid)',
  malloc_free_4k: 'C: malloc + free, 4 KiB',
  pool_alloc_free_4k: 'C: agnocast_alloc + agnocast_free, 4 KiB',
  alloc_publish_4k: 'C: agnocast_alloc + agnocast_publish, 4 KiB',
};
const NODE_NAMES = {
  addon_call: 'Node: one addon call (addressOf)',
  bigint: 'Node: a BigInt',
  uint8array: 'Node: new Uint8Array(16)',
  object: 'Node: a three-field object',
  addon_loan_free_4k: 'Node: addon loan + free, 4 KiB',
  loan_dispose_4k: 'TS: pub.loan + dispose, 4 KiB',
  loan_publish_4k: 'TS: pub.publish(pub.loan), 4 KiB',
  publish_bytes_4k: 'TS: pub.publish(bytes), 4 KiB',
  receive_4k: 'TS: a received message, 4 KiB, batches of 32',
};

/** Both sides' costs in ns per call: { c: {...}, node: {...} }. */
export function benchCosts({ cbench = path.join(ROOT, 'build/demo/cbench'), n = 100000 } = {}) {
  const c = {};
  for (const line of execFileSync(cbench, ['costs', String(n)], { encoding: 'utf8' }).split('\n')) {
    const m = /^cost (\S+) (\d+)$/.exec(line);
    if (m) c[m[1]] = Number(m[2]);
  }
  const nodeOut = execFileSync(process.execPath, [SELF, '--role', 'measure', String(n)], { encoding: 'utf8' });
  return { n, c, node: JSON.parse(nodeOut) };
}

export function printCosts(r) {
  console.log(`\nwhat single operations cost in this run (ns per call, over ${r.n} calls each):`);
  for (const [names, side] of [[C_NAMES, r.c], [NODE_NAMES, r.node]]) {
    for (const [k, label] of Object.entries(names)) {
      if (side[k] !== undefined) console.log(`  ${label.padEnd(46)} ${side[k].toFixed(0).padStart(8)}`);
    }
  }
}

if (process.argv[1] === SELF) {
  const i = process.argv.indexOf('--role');
  if (i >= 0 && process.argv[i + 1] === 'measure') {
    process.stdout.write(JSON.stringify(await measure(Number(process.argv[i + 2]))) + '\n');
  } else {
    printCosts(benchCosts({ cbench: process.argv[2] || undefined, n: Number(process.argv[3] ?? 100000) }));
  }
}
