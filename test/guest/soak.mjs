// SPDX-License-Identifier: Apache-2.0
/**
 * One process of the soak (soak.test.ts): `node --expose-gc soak.mjs ROLE TOPIC`.
 * ROLE: pub | callback | iterator | polling | reliable. Talks to the test
 * over the IPC channel: sends {memory} samples (heap after a full
 * collection, RSS) after AGNOCAST_SOAK_WARMUP messages (default 2 000),
 * every AGNOCAST_SOAK_EVERY messages (default 100 000) and at the end;
 * on {finish, lastSeq} (subscribers: once it has seen lastSeq) or {stop}
 * (publisher) sends
 * {final: stats}; a subscriber then closes its node and exits 0, the
 * publisher does so on {exit}. Anything uncaught exits 70.
 */
import { join } from '../../dist/index.js';

const [role, topic] = process.argv.slice(2);
const every = Number(process.env.AGNOCAST_SOAK_EVERY ?? 100000);
const warmup = Number(process.env.AGNOCAST_SOAK_WARMUP ?? 2000);
process.on('uncaughtException', (e) => {
  console.error(`soak ${role} ${process.pid}: uncaught ${e?.stack ?? e}`);
  process.exit(70);
});
process.on('unhandledRejection', (e) => {
  console.error(`soak ${role} ${process.pid}: unhandled rejection ${e?.stack ?? e}`);
  process.exit(71);
});
let warnings = 0;
process.on('warning', () => warnings++);

const node = join({ poolSize: '8M', poolMax: '64M' });
let count = 0;
let lastSeq = 0n;
let finishAt;
const sample = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  process.send({ memory: { role, count, heap: m.heapUsed, rss: m.rss } });
};
const seen = (msg) => {
  // Read every byte: a view over a revoked block would fault here.
  const d = msg.data;
  if (d.length && (d[0] !== (d.length & 0xff) || d[d.length - 1] !== (d.length & 0xff))) {
    throw new Error(`message ${msg.seq}: corrupt payload of ${d.length} bytes`);
  }
  if (msg.seq > lastSeq) lastSeq = msg.seq;
  if (++count % every === 0 || count === warmup) sample();
};

const sizes = [64, 1024, 4096, 65536, 1 << 20];
const tick = () => new Promise((r) => setImmediate(r));

if (role === 'pub') {
  const pub = node.publisher(topic, { depth: 4 });
  let stop = false;
  process.on('message', (m) => { if (m.stop) stop = true; });
  process.send({ ready: true });
  let seq = 0n;
  let blocked = 0;
  while (!stop) {
    const size = sizes[count % sizes.length];
    const loan = pub.loan(size);
    loan.bytes[0] = size & 0xff;
    loan.bytes[size - 1] = size & 0xff;
    try {
      seq = await pub.publishAsync(loan, { timeoutMs: 100 });
    } catch (e) {
      if (e.code !== 'AGNOCAST_TIMEOUT') throw e;
      blocked++;
      loan[Symbol.dispose]();
      await tick();
      continue;
    }
    if (++count % every === 0 || count === warmup) sample();
    if (count % 64 === 0) await tick();
  }
  sample();
  process.send({ final: { role, count, lastSeq: String(seq), blocked, warnings } });
  // Stay until the subscribers saw the last message: a keep-last
  // subscriber gets a publisher's messages only while the publisher is there.
  process.on('message', (m) => {
    if (!m.exit) return;
    node.close();
    process.exit(0);
  });
} else {
  const reliable = role === 'reliable';
  const sub = role === 'callback'
    ? node.subscribe(topic, { depth: 8 }, async (msg) => {
      seen(msg);
      await new Promise((r) => setTimeout(r, 2)); // a slow handler
      check();
    })
    : node.subscribe(topic, { depth: 8, reliable });
  let errors = 0;
  sub.on('error', (e) => {
    errors++;
    console.error(`soak ${role}: ${e.message}`);
  });
  const finish = () => {
    sample();
    const final = { role, count, lastSeq: String(lastSeq), errors, warnings, ...sub.stats };
    sub.close();
    final.heldAfterClose = sub.stats.held;
    process.send({ final });
    node.close();
    process.exit(0);
  };
  function check() {
    if (finishAt !== undefined && lastSeq >= finishAt) finish();
  }
  process.on('message', (m) => {
    if (m.finish) {
      finishAt = BigInt(m.lastSeq);
      check();
    }
  });
  process.send({ ready: true });
  if (role === 'iterator' || role === 'reliable') {
    for await (const msg of sub) {
      seen(msg);
      if (count % 16 === 0) await tick();
      check();
    }
  } else if (role === 'polling') {
    for (;;) {
      const msg = sub.take();
      if (msg) {
        seen(msg);
        msg.release();
        check();
      } else {
        await new Promise((r) => setTimeout(r, 1));
        check();
      }
    }
  }
}
