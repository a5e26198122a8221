// SPDX-License-Identifier: Apache-2.0
// Typed messages between C and TypeScript on one topic, both ways. The
// schemas are scripts/demo/typed.mjs's: TypeScript reads and writes them
// through schema() accessors (in actor.mjs), C (build/demo/typed_peer)
// through the header the Makefile generated from them.
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';
import { usePrograms } from './programs.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));

const program = new URL('../../build/demo/typed_peer', import.meta.url).pathname;

type Kind = 'sample' | 'note';
/** What this test uses of typed.mjs (JavaScript over the built library). */
interface Typed {
  /** Bytes message i takes: the schema's byteLength for its trailing length. */
  byteLength(kind: Kind, i: number): number;
  /** Every field of message i, the count included; bigints as decimal strings. */
  expected(kind: Kind, i: number): Record<string, unknown>;
}
const typed = await import(new URL('../../scripts/demo/typed.mjs', import.meta.url).href) as Typed;

/** A line of typed_peer: "WORD SEQ 0xADDR LEN NAME=VALUE ...". */
interface Line {
  word: string;
  seq: string;
  address: string;
  length: number;
  fields: Record<string, string>;
}

const run = usePrograms(afterEach);

/** Runs typed_peer, resolving its protocol lines (ready, published, sample, note) in order. */
function runTypedPeer(args: string[]) {
  const p = run(program, args, ['ready', 'published', 'sample', 'note']);
  return { ...p, nextParsed: async (): Promise<Line> => parse(await p.next()) };
}

/** Splits a line; a word without "=" continues the previous value (a string's spaces). */
function parse(line: string): Line {
  const [word = '', seq = '', address = '', length = '', ...rest] = line.split(' ');
  const fields: Record<string, string> = {};
  let last = '';
  for (const w of rest) {
    const eq = w.indexOf('=');
    if (eq < 0) fields[last] += ` ${w}`;
    else fields[(last = w.slice(0, eq))] = w.slice(eq + 1);
  }
  return { word, seq, address, length: Number(length), fields };
}

/** C's printed values in the shape of `like` (numbers, strings, comma-separated arrays). */
function shape(like: Record<string, unknown>, fields: Record<string, string>): Record<string, unknown> {
  const one = (l: unknown, s: string): unknown => (typeof l === 'number' ? Number(s) : s);
  return Object.fromEntries(Object.entries(fields).map(([name, s]) => {
    const l = like[name];
    return [name, Array.isArray(l) ? (s === '' ? [] : s.split(',').map((x, k) => one(l[k], x))) : one(l, s)];
  }));
}

const COUNT = 3;
const indexes = Array.from({ length: COUNT }, (_, i) => i);

describe.each(['sample', 'note'] as const)('%s messages (schema) between C and TypeScript', (kind) => {
  it('C publishes; TypeScript reads every field in place through the schema', async () => {
    const topic = `/typed/c2ts/${kind}`;
    const ts = await actor();
    await ts.call('subscribeTyped', { topic, kind });
    const c = runTypedPeer(['pub', kind, topic, String(COUNT)]);
    const published: Line[] = [];
    while (published.length < COUNT) published.push(await c.nextParsed());
    expect(published.map((p) => [p.word, p.length])).toEqual(indexes.map((i) => ['published', typed.byteLength(kind, i)]));
    const got = await ts.call('messages', { topic, count: COUNT });
    // Same message, same address; every field as C wrote it; each array a
    // view of the publisher's memory at the address C gave for that field.
    expect(got).toEqual(published.map((p, i) => ({
      seq: p.seq,
      address: p.address,
      length: p.length,
      fields: typed.expected(kind, i),
      arrays: Object.fromEntries(Object.entries(p.fields).map(([name, at]) => [name, { address: at, inPlace: true }])),
    })));
    c.child.stdin?.end();
    expect(await c.exited).toBe(0);
  });

  it('TypeScript publishes through the schema; C reads every field', async () => {
    const topic = `/typed/ts2c/${kind}`;
    const c = runTypedPeer(['sub', kind, topic, String(COUNT)]);
    expect(await c.next()).toBe('ready');
    const ts = await actor();
    await ts.call('publisher', { topic, depth: COUNT });
    const sent: { seq: string; address: string; length: number }[] = [];
    for (const i of indexes) sent.push(await ts.call('publishTyped', { topic, kind, i }));
    expect(sent.map((s) => s.length)).toEqual(indexes.map((i) => typed.byteLength(kind, i)));
    const read: Line[] = [];
    while (read.length < COUNT) read.push(await c.nextParsed());
    expect(read.map((r, i) => ({ ...r, fields: shape(typed.expected(kind, i), r.fields) })))
      .toEqual(sent.map((s, i) => ({ word: kind, ...s, fields: typed.expected(kind, i) })));
    expect(await c.exited).toBe(0);
  });
});
