// SPDX-License-Identifier: Apache-2.0
// The README's C publisher and subscriber (libagnocast/examples, built by
// `make -C libagnocast`), each against a TypeScript peer on the same topic.
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';
import { usePrograms } from './programs.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));
const run = usePrograms(afterEach);
const example = (name: string) => new URL(`../../build/libagnocast/examples/${name}`, import.meta.url).pathname;
const texts = [1, 2, 3, 4, 5].map((i) => `hello ${i}`);

describe("the README's C examples", () => {
  it('the C publisher, to a TypeScript subscriber', async () => {
    const ts = await actor();
    await ts.call('subscribe', { topic: '/example/hello', depth: 10 });
    const c = run(example('publisher'), [], ['published']);
    const published: string[][] = [];
    for (const _ of texts) published.push((await c.next()).split(' '));
    const got = await ts.call<{ text: string; address: string; seq: string; pid: number }[]>('messages',
      { topic: '/example/hello', count: 5 });
    expect(got.map((m) => m.text)).toEqual(texts);
    expect(got.map((m) => [m.seq, m.address])).toEqual(published.map((w) => [w[1], w[2]]));
    expect(got.every((m) => m.pid === c.child.pid)).toBe(true);
    c.child.stdin?.end();
    expect(await c.exited).toBe(0);
  });

  it('a TypeScript publisher, to the C subscriber', async () => {
    const c = run(example('subscriber'), [], ['ready', 'hello']);
    expect(await c.next()).toBe('ready');
    const ts = await actor();
    await ts.call('publisher', { topic: '/example/hello' });
    const sent: { address: string }[] = [];
    for (const text of texts) sent.push(await ts.call<{ address: string }>('publish', { topic: '/example/hello', text }));
    const lines: string[] = [];
    for (const _ of texts) lines.push(await c.next());
    expect(lines).toEqual(sent.map((s, i) => `${texts[i]} from ${ts.pid} at ${s.address}`));
    expect(await c.exited).toBe(0);
  });
});
