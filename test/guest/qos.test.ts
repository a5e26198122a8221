// SPDX-License-Identifier: Apache-2.0
// History depth and transient local across processes.
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));

describe('depth and transient local', () => {
  it('a late transient-local subscriber gets the retained history, a volatile one does not', async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/qos/tl', depth: 3, transientLocal: true });
    for (let i = 1; i <= 5; i++) await p.call('publish', { topic: '/qos/tl', text: `m${i}` });

    const late = await actor();
    await late.call('subscribe', { topic: '/qos/tl', depth: 10, transientLocal: true });
    expect((await late.call<{ text: string }[]>('messages', { topic: '/qos/tl', count: 3 })).map((m) => m.text))
      .toEqual(['m3', 'm4', 'm5']);

    const volatile = await actor();
    await volatile.call('subscribe', { topic: '/qos/tl', depth: 10 });
    await p.call('publish', { topic: '/qos/tl', text: 'm6' });
    expect((await volatile.call<{ text: string }[]>('messages', { topic: '/qos/tl', count: 1 })).map((m) => m.text))
      .toEqual(['m6']);
    expect((await late.call<{ text: string }[]>('messages', { topic: '/qos/tl', count: 4 })).map((m) => m.text))
      .toEqual(['m3', 'm4', 'm5', 'm6']);
  });

  it('a transient-local subscriber gets nothing old from a volatile publisher', async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/qos/vol', depth: 5 });
    await p.call('publish', { topic: '/qos/vol', text: 'old' });
    const s = await actor();
    await s.call('subscribe', { topic: '/qos/vol', depth: 5, transientLocal: true });
    await p.call('publish', { topic: '/qos/vol', text: 'new' });
    expect((await s.call<{ text: string }[]>('messages', { topic: '/qos/vol', count: 1 })).map((m) => m.text))
      .toEqual(['new']);
    expect(await s.call('received', { topic: '/qos/vol' })).toHaveLength(1);
  });
});
