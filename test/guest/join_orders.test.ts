// SPDX-License-Identifier: Apache-2.0
// Publishers and subscribers in separate processes find each other whichever
// starts first, and read the publisher's bytes at the publisher's address.
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));

describe('joining in every order', () => {
  it('subscriber first, then the publisher, then a second subscriber (3 processes)', async () => {
    const a = await actor();
    await a.call('subscribe', { topic: '/orders/1', depth: 10 });
    const p = await actor();
    await p.call('publisher', { topic: '/orders/1', depth: 10 });
    const first = await p.call<{ seq: string; address: string }>('publish', { topic: '/orders/1', text: 'one' });
    const b = await actor();
    await b.call('subscribe', { topic: '/orders/1', depth: 10 });
    const second = await p.call<{ seq: string; address: string }>('publish', { topic: '/orders/1', text: 'two' });

    const atA = await a.call<{ seq: string; text: string; pid: number; address: string }[]>('messages', { topic: '/orders/1', count: 2 });
    expect(atA.map((m) => m.text)).toEqual(['one', 'two']);
    expect(atA.map((m) => m.address)).toEqual([first.address, second.address]);
    expect(atA.every((m) => m.pid === p.pid)).toBe(true);
    // A volatile late joiner gets what came after it only.
    const atB = await b.call<{ text: string; address: string }[]>('messages', { topic: '/orders/1', count: 1 });
    expect(atB).toMatchObject([{ text: 'two', address: second.address }]);
  });

  it('publisher first, subscribers after', async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/orders/2', depth: 10 });
    const a = await actor();
    const b = await actor();
    await a.call('subscribe', { topic: '/orders/2' });
    await b.call('subscribe', { topic: '/orders/2' });
    expect(await p.call('counts', { topic: '/orders/2' })).toMatchObject({ subscribers: 2 });
    const sent = await p.call<{ address: string }>('publish', { topic: '/orders/2', text: 'hello' });
    for (const s of [a, b]) {
      expect(await s.call('messages', { topic: '/orders/2', count: 1 }))
        .toMatchObject([{ text: 'hello', address: sent.address, pid: p.pid }]);
    }
  });

  it('two publishers in two processes on one topic, one subscriber', async () => {
    const s = await actor();
    await s.call('subscribe', { topic: '/orders/3' });
    const p1 = await actor();
    const p2 = await actor();
    await p1.call('publisher', { topic: '/orders/3' });
    await p2.call('publisher', { topic: '/orders/3' });
    await p1.call('publish', { topic: '/orders/3', text: 'from 1' });
    await p2.call('publish', { topic: '/orders/3', text: 'from 2' });
    const got = await s.call<{ text: string; pid: number; seq: string }[]>('messages', { topic: '/orders/3', count: 2 });
    expect(got.map((m) => [m.text, m.pid])).toEqual([['from 1', p1.pid], ['from 2', p2.pid]]);
    expect(BigInt(got[1]!.seq)).toBeGreaterThan(BigInt(got[0]!.seq));
  });
});
