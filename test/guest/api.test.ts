// SPDX-License-Identifier: Apache-2.0
// The library in one process: iteration, take, retain/release, detached
// views, and errors. (This test process joins, so no zero-totals checks.)
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ClosedError, DetachedError, InvalidArgumentError, join, type Message,
} from '../../src/index.js';

const node = join({ poolSize: '4M' });
afterAll(() => node.close());

const text = (m: Message) => Buffer.from(m.data).toString();

describe('one process', () => {
  it('publishes a loan without copying and reads it back at the same address', async () => {
    const pub = node.publisher('/api/loan');
    const sub = node.subscribe('/api/loan');
    const loan = pub.loan(5);
    loan.bytes.set(Buffer.from('hello'));
    const address = loan.address;
    loan.publish();
    // Published: the loan's views are detached (length 0) and cannot be used again.
    expect(loan.bytes.byteLength).toBe(0);
    expect(() => loan.buffer).toThrow(DetachedError);
    for await (const msg of sub) {
      expect(text(msg)).toBe('hello');
      expect(msg.address).toBe(address);
      expect(msg.publisherPid).toBe(process.pid);
      break;
    }
    sub.close();
    pub.close();
  });

  it('releases each message when the loop moves on; a released view has length 0', async () => {
    const pub = node.publisher('/api/iter');
    const sub = node.subscribe('/api/iter');
    for (const t of ['a', 'b', 'c']) pub.publish(Buffer.from(t));
    const seen: Message[] = [];
    const views: Uint8Array[] = [];
    for await (const msg of sub) {
      seen.push(msg);
      views.push(msg.data);
      if (seen.length === 3) break;
    }
    expect(seen.map((m) => m.released)).toEqual([true, true, true]);
    expect(views.map((v) => v.byteLength)).toEqual([0, 0, 0]);
    expect(() => seen[0]!.data).toThrow(DetachedError);
    sub.close();
    pub.close();
  });

  it('keeps a retained message past its callback until release()', async () => {
    const pub = node.publisher('/api/retain');
    let kept: Message | undefined;
    const got = new Promise<void>((resolve) => {
      node.subscribe('/api/retain', (msg) => {
        kept = msg.retain();
        resolve();
      });
    });
    pub.publish(Buffer.from('keep me'));
    await got;
    expect(kept && text(kept)).toBe('keep me');
    kept?.release();
    expect(kept?.released).toBe(true);
    pub.close();
  });

  it('take() returns the newest unseen message and skips older ones', () => {
    const pub = node.publisher('/api/take');
    const sub = node.subscribe('/api/take').unref();
    expect(sub.take()).toBeNull();
    for (const t of ['1', '2', '3']) pub.publish(Buffer.from(t));
    const m = sub.take();
    expect(m && text(m)).toBe('3');
    m?.release();
    expect(sub.take()).toBeNull();
    sub.close();
    pub.close();
  });

  it('an AbortSignal and close() end iteration cleanly', async () => {
    const sub = node.subscribe('/api/abort');
    const ac = new AbortController();
    const loop = (async () => {
      let n = 0;
      for await (const _ of sub.messages({ signal: ac.signal })) n++;
      return n;
    })();
    ac.abort();
    expect(await loop).toBe(0);
    const loop2 = (async () => {
      for await (const _ of sub) { /* nothing comes */ }
      return 'ended';
    })();
    sub.close();
    expect(await loop2).toBe('ended');
  });

  it('closing a subscription detaches the messages it handed out, retained ones too', async () => {
    const pub = node.publisher('/api/close');
    const sub = node.subscribe('/api/close');
    pub.publish(Buffer.from('x'));
    let kept: Message | undefined;
    for await (const msg of sub) {
      kept = msg.retain();
      break;
    }
    const view = kept!.data;
    sub.close();
    expect(view.byteLength).toBe(0);
    pub.close();
  });

  it('bad arguments throw the documented error classes', () => {
    expect(() => node.publisher('has space')).toThrow(InvalidArgumentError);
    expect(() => node.publisher('')).toThrow(InvalidArgumentError);
    expect(() => node.subscribe('/x', { depth: 0 })).toThrow(InvalidArgumentError);
    expect(() => node.subscribe('/x', { depth: 2000 })).toThrow(/1 to 1024/);
    const pub = node.publisher('/api/errors');
    expect(() => pub.loan(-1)).toThrow(InvalidArgumentError);
    const loan = pub.loan(4);
    expect(() => pub.publish(loan, 5)).toThrow(InvalidArgumentError);
    // The refused publish left the loan usable.
    expect(loan.bytes.byteLength).toBe(4);
    loan[Symbol.dispose]();
    pub.close();
    expect(() => pub.loan(1)).toThrow(ClosedError);
  });

  it('publish(bytes) copies any view in one call; a refused publish gives its block back', () => {
    // 3 MiB out of a 4 MiB pool, refused 20 times by a full reliable
    // queue: a block kept by a refusal would exhaust the pool at the second.
    const script = `
      import { join } from './dist/index.js';
      const node = join({ poolSize: '4M', poolMax: '4M' });
      const pub = node.publisher('/api/copy');
      const sub = node.subscribe('/api/copy', { depth: 1, reliable: true });
      pub.publish(new Float32Array([1.5, -2]));
      const codes = new Set();
      for (let i = 0; i < 20; i++) {
        try {
          pub.publish(Buffer.alloc(3 * 1024 * 1024));
          codes.add('published');
        } catch (e) {
          codes.add(e.code);
        }
      }
      const m = sub.take();
      const first = Array.from(new Float32Array(m.data.slice().buffer));
      m.release();
      const dv = new DataView(new ArrayBuffer(8), 2, 4);
      dv.setUint32(0, 0xdeadbeef);
      pub.publish(dv);
      const m2 = sub.take();
      const second = Buffer.from(m2.data).toString('hex');
      m2.release();
      console.log(JSON.stringify({ first, codes: [...codes], second }));
      node.close();`;
    const out = execFileSync('node', ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toEqual({ first: [1.5, -2], codes: ['AGNOCAST_WOULD_BLOCK'], second: 'deadbeef' });
  });

  it('unpublished loans go back to the pool when garbage-collected', () => {
    // A child with --expose-gc loans 3 MiB out of a 4 MiB pool 20 times,
    // dropping each: without the finalizer it would run out after one.
    // V8 frees external backing stores on its own schedule after a
    // collection, so a refused loan collects and waits for the next turn
    // again; a real leak still fails once the bound is reached.
    const script = `
      import { join } from './dist/index.js';
      const node = join({ poolSize: '4M', poolMax: '4M' });
      const pub = node.publisher('/api/gc');
      const turn = () => new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 20; i++) {
        for (let attempt = 0; ; attempt++) {
          try {
            pub.loan(3 * 1024 * 1024);
            break;
          } catch (e) {
            if (e.code !== 'AGNOCAST_POOL_EXHAUSTED' || attempt === 200) throw e;
          }
          await turn();	// a new WeakRef keeps its target alive until the job ends
          globalThis.gc();
          await turn();	// finalizers run on a later turn
        }
      }
      console.log('ok');`;
    const out = execFileSync('node', ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('ok');
  });
});
