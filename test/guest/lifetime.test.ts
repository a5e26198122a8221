// SPDX-License-Identifier: Apache-2.0
// Views that cannot escape, iteration with flat memory, and worker_threads
// (issue 9). Each case runs in a child process of its own (dist/).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { totals, ZERO } from './actors.js';

const dist = new URL('../../dist/index.js', import.meta.url).pathname;

function run(script: string, args: string[] = []): Record<string, unknown> {
  const out = execFileSync('node', [...args, '--input-type=module', '-e', script], { encoding: 'utf8' });
  const last = out.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

describe('views that cannot escape', () => {
  it('a loan and a received view cannot be transferred: the original stays attached and is revoked on publish/release', () => {
    const r = run(`
      import { join } from '${dist}';
      const node = join({ poolSize: '1M' });
      const pub = node.publisher('/life/xfer');
      const sub = node.subscribe('/life/xfer', { depth: 4 });
      // Node 20 copies an untransferable buffer in a transfer list; later
      // versions throw (DataCloneError, or V8's TypeError for a detach key
      // that does not match the addon's): either way the memory stays.
      const tryTransfer = (buf) => {
        const at = node.native.addressOf(buf);
        try {
          const copy = structuredClone(buf, { transfer: [buf] });
          return node.native.addressOf(copy) !== at && buf.byteLength > 0 ? 'copied' : 'transferred';
        } catch (e) { return e.name; }
      };
      const loan = pub.loan(8);
      loan.bytes.set([1, 2, 3, 4, 5, 6, 7, 8]);
      const loanTry = tryTransfer(loan.buffer);
      const loanAfter = loan.bytes.byteLength;
      const { port1 } = new MessageChannel();
      let portTry;
      try { port1.postMessage(loan.buffer, [loan.buffer]); portTry = loan.bytes.byteLength === 8 ? 'copied' : 'transferred'; } catch (e) { portTry = e.name; }
      port1.close();
      loan.publish();
      const m = sub.take();
      const view = m.data;
      const viewTry = tryTransfer(view.buffer);
      const sum = view.reduce((a, b) => a + b, 0);
      m.release();
      console.log(JSON.stringify({ loanTry, loanAfter, portTry, afterPublish: loan.bytes.byteLength,
        viewTry, sum, afterRelease: view.byteLength }));
      node.close();`);
    for (const k of ['loanTry', 'portTry', 'viewTry']) expect(['copied', 'DataCloneError', 'TypeError']).toContain(r[k]);
    expect(r).toMatchObject({ loanAfter: 8, afterPublish: 0, sum: 36, afterRelease: 0 });
  });

  it('retain() keeps a message through async I/O until release()', () => {
    const r = run(`
      import { join } from '${dist}';
      import { PassThrough } from 'node:stream';
      const node = join({ poolSize: '1M' });
      const pub = node.publisher('/life/io');
      const sub = node.subscribe('/life/io', { depth: 4 });
      pub.publish(Buffer.from('payload'));
      const m = (await sub.receive()).retain();
      const sink = new PassThrough();
      const written = await new Promise((resolve) => sink.write(m.data, () => resolve(sink.read().toString())));
      const heldDuring = sub.stats.held;
      m.release();
      console.log(JSON.stringify({ written, heldDuring, heldAfter: sub.stats.held }));
      node.close();`);
    expect(r).toEqual({ written: 'payload', heldDuring: 1, heldAfter: 0 });
  });
});

describe('iteration with flat memory', () => {
  // Messages per loop: 100 000 by default (about 15 s a loop in the 6.1
  // guest; test/run-in-guest.sh asks for 20 000 on the debug kernel);
  // AGNOCAST_FLAT_MESSAGES=1000000 for the 10^6 (run by hand, about
  // 3 minutes a loop in the 6.1 guest).
  const n = Number(process.env.AGNOCAST_FLAT_MESSAGES ?? 100_000);
  it(`heap and RSS stay flat over ${n} iterated messages, with and without a signal`, () => {
    // The publisher sends bursts of 4 while the loop waits, so a quarter of
    // the messages come through the wait on the fd (the path that leaked:
    // ≈ 0.7 KB a wait, 15 MiB over these loops). Heap (after a full
    // collection) and RSS are taken once a tenth of the messages went
    // through and at the end, after a warm-up loop (n / 5 messages, at most
    // 20 000). Bounds: heap growth
    // under 1 MiB (40 bytes a wait at 10^5), RSS growth under 32 MiB (the
    // process's RSS settles near 100 MiB: by hand over 10^6 messages in the
    // 6.12 guest, 88 MiB at 10^5, 101 MiB at 4·10^5, 101–103 MiB to 10^6).
    const r = run(`
      import { join } from '${dist}';
      const n = ${n}, burst = 4;
      const node = join({ poolSize: '4M' });
      const out = {};
      const sample = () => { globalThis.gc(); const m = process.memoryUsage(); return { heap: m.heapUsed, rss: m.rss }; };
      // Iterates count messages on topic; at (after) returns the sample
      // taken once that many went through, and the last one.
      const loop = async (topic, signal, count, at) => {
        const pub = node.publisher(topic);
        const sub = node.subscribe(topic, { depth: 16 });
        const it = sub.messages(signal ? { signal } : {})[Symbol.asyncIterator]();
        let first, seen = 0, waits = 0;
        while (seen < count) {
          // The queue is empty: this next() waits for the fd.
          const next = it.next();
          await new Promise((r) => setImmediate(r));
          for (let k = 0; k < burst; k++) pub.publish(Buffer.from('x'));
          if ((await next).done) throw new Error('the iteration ended');
          waits++;
          for (let k = 1; k < burst; k++) if ((await it.next()).done) throw new Error('the iteration ended');
          seen += burst;
          if (!first && seen >= at) first = sample();
        }
        const last = sample();
        await it.return();
        const r = { seen, waits, first, last, heapGrowth: last.heap - first.heap, rssGrowth: last.rss - first.rss,
          held: sub.stats.held, dropped: sub.stats.dropped };
        sub.close();
        pub.close();
        return r;
      };
      // Warm-up: the JIT's tiers and V8's young generation grow to their
      // working size in the first tens of thousands of messages.
      await loop('/life/flat/warm-up', undefined, Math.min(20000, n / 5), 0);
      out.plain = await loop('/life/flat', undefined, n, n / 10);
      out.signal = await loop('/life/flat/signal', new AbortController().signal, n, n / 10);
      console.log(JSON.stringify(out));
      node.close();`, ['--expose-gc']);
    console.log(`heap and RSS from ${n / 10} to ${n} iterated messages:`, JSON.stringify(r));
    for (const k of ['plain', 'signal']) {
      const v = r[k] as { seen: number; heapGrowth: number; rssGrowth: number; held: number; dropped: number };
      expect(v.seen).toBe(n);
      expect(v.dropped).toBe(0);
      expect(v.heapGrowth).toBeLessThan(1024 * 1024);
      expect(v.rssGrowth).toBeLessThan(32 * 1024 * 1024);
      expect(v.held).toBe(0);
    }
    expect(totals()).toEqual(ZERO);
  }, Math.max(600_000, n * 2));
});

describe('worker_threads', () => {
  it('a worker joins the same process state; its close() leaves the main thread working; an ended worker takes its endpoints along', () => {
    const r = run(`
      import { join } from '${dist}';
      import { Worker } from 'node:worker_threads';
      const node = join({ poolSize: '2M' });
      const sub = node.subscribe('/life/worker', { depth: 16 });
      // Each worker publishes a, b, c, says its pid, and on 'done' closes
      // its node (or not) and lets its thread end. A keep-last subscriber
      // gets a publisher's messages only while the publisher is there, so
      // the worker waits until they were read.
      const worker = (closes) => {
        // The worker inherits --input-type=module: its code is a module too.
        const w = new Worker(\`
          import { parentPort } from 'node:worker_threads';
          import { join } from '${dist}';
          const node = join({ poolSize: '2M' });
          const pub = node.publisher('/life/worker');
          for (const t of ['a', 'b', 'c']) pub.publish(Buffer.from(t));
          parentPort.postMessage(node.pid);
          parentPort.once('message', () => {
            if (${'${closes}'}) node.close();
            parentPort.close();
          });\`, { eval: true });
        const pid = new Promise((resolve, reject) => { w.once('message', resolve); w.on('error', reject); });
        const exited = new Promise((resolve) => w.on('exit', resolve));
        return { w, pid, exited };
      };
      const got = [];
      const read = async (n) => {
        for (let i = 0; i < n; i++) {
          const m = await sub.receive({ timeoutMs: 30000 });
          got.push(m ? Buffer.from(m.data).toString() : 'timeout');
          m?.release();
        }
      };
      const w1 = worker(true);
      const workerPid = await w1.pid;
      await read(3);
      w1.w.postMessage('done');
      await w1.exited;
      // The main thread's subscription and discovery survived the worker's close().
      const pub = node.publisher('/life/worker');
      pub.publish(Buffer.from('main'));
      await read(1);
      pub.close();
      const w2 = worker(false);
      await w2.pid;
      await read(3);
      w2.w.postMessage('done');
      await w2.exited;
      const left = node.native.topicInfo('/life/worker').publishers.length;
      console.log(JSON.stringify({ samePid: workerPid === process.pid, got, left, joins: node.native.joins() }));
      node.close();`);
    expect(r).toEqual({ samePid: true, got: ['a', 'b', 'c', 'main', 'a', 'b', 'c'], left: 0, joins: 1 });
    expect(totals()).toEqual(ZERO);
  });
});
