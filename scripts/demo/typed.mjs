// SPDX-License-Identifier: Apache-2.0
/**
 * Typed messages shared by C and TypeScript: two schemas, and the values of
 * message i of each, which typed_peer.c computes the same way.
 *
 *   node scripts/demo/typed.mjs > typed.h   the schemas as a C header
 *                                           (the Makefile does this)
 *
 * "sample" has a field of every scalar type, two fixed arrays and a
 * trailing variable-length array; "note" ends with a string. The guest test
 * test/guest/schema_interop.test.ts and its actors (test/guest/actor.mjs)
 * use this module; it needs the built library (npm run build).
 */
import { fileURLToPath } from 'node:url';
import { schema } from '../../dist/schema.js';

const Sample = schema('Sample', {
  flags: 'u8',
  level: 'i8',
  port: 'u16',
  delta: 'i16',
  frame: 'u32',
  offset: 'i32',
  gain: 'f32',
  scale: 'f64',
  stamp: 'u64',
  tick: 'i64',
  origin: ['f32', 3],
  tag: ['u8', 5],
  samples: { array: 'i32' },
});

const Note = schema('Note', { stamp: 'u64', code: 'u16', text: 'string' });

/** Message i of each kind: every field but the count, which the tail implies. */
const VALUES = {
  sample: (i) => ({
    flags: 200 + i,
    level: -100 - i,
    port: 60000 + i,
    delta: -30000 - i,
    frame: 4_000_000_000 + i,
    offset: -2_000_000_000 - i,
    gain: i + 0.25,
    scale: (i + 1) / 3,
    stamp: 0xf000_0000_0000_0000n + BigInt(i),
    tick: -(1n << 62n) - BigInt(i),
    origin: [i + 0.5, -i - 0.75, 1e6 * (i + 1)],
    tag: [i, i + 1, i + 2, 254, 255],
    samples: Array.from({ length: 2 * i }, (_, k) => (k % 2 ? -1 : 1) * (k + 1) * 100_000_000 + i),
  }),
  note: (i) => ({
    stamp: 0x8000_0000_0000_0000n + BigInt(i) * 1_000_000_007n,
    code: 0xffff - i,
    text: i ? `héllo ✓ ${i}` : '',
  }),
};

/** Per kind: its schema and its trailing field. */
export const kinds = {
  sample: { schema: Sample, tail: 'samples' },
  note: { schema: Note, tail: 'text' },
};

/** The trailing length of message i as its schema counts it (elements, or UTF-8 bytes). */
export function tailLength(kind, i) {
  const t = VALUES[kind](i)[kinds[kind].tail];
  return typeof t === 'string' ? Buffer.byteLength(t) : t.length;
}

/** Bytes message i of kind takes. */
export function byteLength(kind, i) {
  return kinds[kind].schema.byteLength(tailLength(kind, i));
}

/** Writes message i of kind into bytes (a loan's) through the schema's accessors. */
export function write(kind, i, bytes) {
  const view = kinds[kind].schema.init(bytes, tailLength(kind, i));
  for (const [field, value] of Object.entries(VALUES[kind](i))) {
    if (ArrayBuffer.isView(view[field])) view[field].set(value);
    else view[field] = value;
  }
}

/** An object's fields as JSON can carry them: bigints as decimal strings, arrays as arrays. */
export function plain(fields) {
  const out = {};
  for (const [field, v] of Object.entries(fields)) {
    out[field] = typeof v === 'bigint' ? String(v)
      : ArrayBuffer.isView(v) || Array.isArray(v) ? Array.from(v, (x) => (typeof x === 'bigint' ? String(x) : x))
      : v;
  }
  return out;
}

/** Message i of kind as a reader sees every field, the count included (plain). */
export function expected(kind, i) {
  return plain({ ...VALUES[kind](i), [`${kinds[kind].tail}_len`]: tailLength(kind, i) });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${Sample.cHeader()}\n${Note.cHeader()}`);
}
