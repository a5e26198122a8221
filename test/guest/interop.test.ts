// SPDX-License-Identifier: Apache-2.0
// A C program and the TypeScript library on one topic, both ways.
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';
import { usePrograms } from './programs.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));

const peer = new URL('../../build/demo/peer', import.meta.url).pathname;

const run = usePrograms(afterEach);

/** Runs `peer`, resolving its protocol lines (ready, published, msg) in order. */
const runPeer = (args: string[]) => run(peer, args, ['ready', 'published', 'msg']);

describe('C and TypeScript on one topic', () => {
  it('C publishes, TypeScript reads at the same addresses', async () => {
    const ts = await actor();
    await ts.call('subscribe', { topic: '/interop/c2ts', depth: 10 });
    const c = runPeer(['pub', '/interop/c2ts', '3', 'from-c']);
    const published = [await c.next(), await c.next(), await c.next()].map((l) => l.split(' '));
    const got = await ts.call<{ text: string; address: string; seq: string }[]>('messages', { topic: '/interop/c2ts', count: 3 });
    expect(got.map((m) => m.text)).toEqual(['from-c 1', 'from-c 2', 'from-c 3']);
    expect(got.map((m) => [m.seq, m.address])).toEqual(published.map((w) => [w[1], w[2]]));
    c.child.stdin?.end();
    expect(await c.exited).toBe(0);
  });

  it('TypeScript publishes, C reads at the same addresses', async () => {
    const c = runPeer(['sub', '/interop/ts2c', '2']);
    expect(await c.next()).toBe('ready');
    const ts = await actor();
    await ts.call('publisher', { topic: '/interop/ts2c' });
    const sent = [
      await ts.call<{ seq: string; address: string }>('publish', { topic: '/interop/ts2c', text: 'from-ts 1' }),
      await ts.call<{ seq: string; address: string }>('publish', { topic: '/interop/ts2c', text: 'from-ts 2' }),
    ];
    const lines = [await c.next(), await c.next()];
    expect(lines).toEqual(sent.map((s, i) => `msg ${s.seq} ${s.address} from-ts ${i + 1}`));
    expect(await c.exited).toBe(0);
  });
});
