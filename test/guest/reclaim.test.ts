// SPDX-License-Identifier: Apache-2.0
// Publisher memory goes back to its pool once subscribers release it.
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));

const big = (tag: string) => `${tag}:`.padEnd(300 * 1024, 'x');

describe('release and reclaim', () => {
  it('a small pool carries many times its size when subscribers release', async () => {
    const p = await actor({ poolSize: '1M', poolMax: '1M' });
    await p.call('publisher', { topic: '/reclaim/flow', depth: 1 });
    const s = await actor();
    await s.call('subscribe', { topic: '/reclaim/flow', depth: 1 });
    for (let i = 1; i <= 20; i++) {
      await p.call('publish', { topic: '/reclaim/flow', text: big(`m${i}`) });
      await s.call('messages', { topic: '/reclaim/flow', count: i });
    }
    const got = await s.call<{ text: string }[]>('received', { topic: '/reclaim/flow' });
    expect(got.map((m) => m.text.slice(0, 4))).toContain('m20:');
  });

  it('held messages keep their memory until released, then the publisher can loan it again', async () => {
    const p = await actor({ poolSize: '1M', poolMax: '1M' });
    await p.call('publisher', { topic: '/reclaim/hold', depth: 1 });
    const s = await actor();
    await s.call('subscribe', { topic: '/reclaim/hold', depth: 10, hold: true });
    let exhausted: { code?: string } | undefined;
    for (let i = 1; i <= 10 && !exhausted; i++) {
      try {
        await p.call('publish', { topic: '/reclaim/hold', text: big(`h${i}`) });
        await s.call('messages', { topic: '/reclaim/hold', count: i });
      } catch (e) {
        exhausted = e as { code?: string };
      }
    }
    expect(exhausted?.code).toBe('AGNOCAST_POOL_EXHAUSTED');
    await s.call('releaseHeld', { topic: '/reclaim/hold' });
    await expect(p.call('publish', { topic: '/reclaim/hold', text: big('after') })).resolves.toMatchObject({ seq: expect.any(String) });
  });
});
