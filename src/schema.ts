// SPDX-License-Identifier: Apache-2.0
/**
 * Typed messages: a fixed layout described once, read and written in place
 * through zero-copy accessors in TypeScript, and emitted as a C header with
 * the same layout, so a C and a TypeScript process can share a topic.
 *
 *   const Cloud = schema('Cloud', {
 *     stamp: 'u64', frame: 'u32', origin: ['f32', 3],
 *     points: { array: 'f32' },          // one trailing variable-length field
 *   });
 *   const loan = pub.loan(Cloud.byteLength(3 * n));
 *   const c = Cloud.init(loan.bytes, 3 * n);   // sets points_len
 *   c.stamp = 1n; c.origin[0] = 1.5; c.points.set(xyz);
 *
 * Layout follows the C rules on x86-64/aarch64 Linux: every field at a
 * multiple of its alignment, the struct's alignment the largest field's;
 * a variable-length field becomes a uint32_t <name>_len count (elements,
 * or bytes for a string) and a C flexible array member at the end.
 */
import { InvalidArgumentError } from './errors.js';

const SCALARS = {
  u8: { size: 1, c: 'uint8_t', array: Uint8Array },
  i8: { size: 1, c: 'int8_t', array: Int8Array },
  u16: { size: 2, c: 'uint16_t', array: Uint16Array },
  i16: { size: 2, c: 'int16_t', array: Int16Array },
  u32: { size: 4, c: 'uint32_t', array: Uint32Array },
  i32: { size: 4, c: 'int32_t', array: Int32Array },
  f32: { size: 4, c: 'float', array: Float32Array },
  f64: { size: 8, c: 'double', array: Float64Array },
  u64: { size: 8, c: 'uint64_t', array: BigUint64Array },
  i64: { size: 8, c: 'int64_t', array: BigInt64Array },
} as const;

export type Scalar = keyof typeof SCALARS;
type BigScalar = 'u64' | 'i64';
type ArrayOf<S extends Scalar> = InstanceType<(typeof SCALARS)[S]['array']>;

/** A field: a scalar, a fixed array [scalar, n], or (last) a variable one. */
export type Field = Scalar | readonly [Scalar, number] | { array: Scalar } | 'string';
export type Fields = Record<string, Field>;

/** The accessor object a schema gives over a buffer. */
export type View<F extends Fields> = {
  -readonly [K in keyof F]: F[K] extends BigScalar ? bigint
    : F[K] extends Scalar ? number
    : F[K] extends readonly [infer S extends Scalar, number] ? ArrayOf<S>
    : F[K] extends { array: infer S extends Scalar } ? ArrayOf<S>
    : F[K] extends 'string' ? string
    : never;
};

interface Placed {
  name: string;
  scalar: Scalar;
  offset: number;
  /** Fixed element count (1 for a plain scalar); 0 for the trailing field. */
  count: number;
  kind: 'scalar' | 'fixed' | 'variable' | 'string';
}

export interface Schema<F extends Fields> {
  readonly name: string;
  /** Bytes of the fixed part (C sizeof, before the flexible array). */
  readonly fixedSize: number;
  readonly alignment: number;
  /** Offsets of every field, the implicit <name>_len included. */
  readonly offsets: Readonly<Record<string, number>>;
  /** Bytes a message with `trailing` elements (or string bytes) needs. */
  byteLength(trailing?: number): number;
  /** Accessors over `bytes` (a loan's or a message's); no copy. */
  view(bytes: Uint8Array): View<F>;
  /** Writes the trailing count into `bytes` and returns the accessors. */
  init(bytes: Uint8Array, trailing?: number): View<F>;
  /** The same layout as a C header. */
  cHeader(): string;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function schema<F extends Fields>(name: string, fields: F): Schema<F> {
  if (!IDENT.test(name)) throw new InvalidArgumentError(`schema name "${name}" is not a C identifier`);
  const placed: Placed[] = [];
  let offset = 0;
  let maxAlign = 1;
  let trailing: Placed | undefined;
  const entries = Object.entries(fields);
  entries.forEach(([field, spec], i) => {
    if (!IDENT.test(field)) throw new InvalidArgumentError(`field "${field}" is not a C identifier`);
    // The generated header adds _padN members and <tail>_len: no field may take those names.
    if (/^_pad\d+$/.test(field) || entries.some(([other, o]) => field === `${other}_len` &&
        (o === 'string' || (typeof o === 'object' && !Array.isArray(o))))) {
      throw new InvalidArgumentError(`${name}.${field}: the name is taken by a generated member: rename the field`);
    }
    const variable = spec === 'string' || (typeof spec === 'object' && !Array.isArray(spec));
    if (variable && i !== entries.length - 1) {
      throw new InvalidArgumentError(`${name}.${field}: only the last field may be variable-length`);
    }
    const scalar: Scalar = spec === 'string' ? 'u8'
      : typeof spec === 'string' ? spec
      : Array.isArray(spec) ? (spec as readonly [Scalar, number])[0]
      : (spec as { array: Scalar }).array;
    if (!(scalar in SCALARS)) throw new InvalidArgumentError(`${name}.${field}: unknown type ${String(scalar)}`);
    const size = SCALARS[scalar].size;
    maxAlign = Math.max(maxAlign, size);
    if (variable) {
      // The count first, then the flexible array member.
      offset = align(offset, 4);
      placed.push({ name: `${field}_len`, scalar: 'u32', offset, count: 1, kind: 'scalar' });
      offset += 4;
      maxAlign = Math.max(maxAlign, 4);
      trailing = { name: field, scalar, offset: align(offset, size), count: 0, kind: spec === 'string' ? 'string' : 'variable' };
      return;
    }
    const count = Array.isArray(spec) ? (spec as readonly [Scalar, number])[1] : 1;
    if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError(`${name}.${field}: array length must be ≥ 1`);
    offset = align(offset, size);
    placed.push({ name: field, scalar, offset, count, kind: Array.isArray(spec) ? 'fixed' : 'scalar' });
    offset += size * count;
  });
  if (trailing) {
    trailing.offset = align(offset, SCALARS[trailing.scalar].size);
    offset = trailing.offset;
  }
  const fixedSize = align(offset, maxAlign);
  const tailElem = trailing ? SCALARS[trailing.scalar].size : 0;
  const offsets: Record<string, number> = {};
  for (const p of placed) offsets[p.name] = p.offset;
  if (trailing) offsets[trailing.name] = trailing.offset;
  const lenField = trailing ? placed.find((p) => p.name === `${trailing?.name}_len`) : undefined;

  const byteLength = (n = 0) => {
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name}: trailing length must be ≥ 0`);
    if (n > 0 && !trailing) throw new InvalidArgumentError(`${name} has no variable-length field`);
    return Math.max(fixedSize, (trailing?.offset ?? 0) + n * tailElem);
  };

  const view = (bytes: Uint8Array): View<F> => {
    if (bytes.byteLength < fixedSize) {
      throw new InvalidArgumentError(`${name} needs at least ${fixedSize} bytes, the buffer has ${bytes.byteLength}`);
    }
    if (bytes.byteOffset % maxAlign !== 0) {
      throw new InvalidArgumentError(`${name} must start at a multiple of ${maxAlign} bytes into its buffer`);
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const obj = {} as Record<string, unknown>;
    for (const p of placed) {
      const at = p.offset;
      if (p.kind === 'fixed') {
        const Arr = SCALARS[p.scalar].array;
        const arr = new Arr(bytes.buffer as ArrayBuffer, bytes.byteOffset + at, p.count);
        Object.defineProperty(obj, p.name, { get: () => arr, enumerable: true });
        continue;
      }
      const [get, set] = accessors(dv, p.scalar, at);
      Object.defineProperty(obj, p.name, { get, set, enumerable: true });
    }
    if (trailing && lenField) {
      const t = trailing;
      const count = () => dv.getUint32(lenField.offset, true);
      const check = (n: number) => {
        if (t.offset + n * tailElem > bytes.byteLength) {
          throw new InvalidArgumentError(`${name}.${t.name}: ${n} elements do not fit in ${bytes.byteLength} bytes`);
        }
      };
      if (t.kind === 'string') {
        Object.defineProperty(obj, t.name, {
          enumerable: true,
          get: () => {
            check(count());
            return Buffer.from(bytes.buffer, bytes.byteOffset + t.offset, count()).toString('utf8');
          },
          set: (s: string) => {
            const n = Buffer.byteLength(s);
            check(n);
            Buffer.from(bytes.buffer, bytes.byteOffset + t.offset, n).write(s, 'utf8');
            dv.setUint32(lenField.offset, n, true);
          },
        });
      } else {
        const Arr = SCALARS[t.scalar].array;
        Object.defineProperty(obj, t.name, {
          enumerable: true,
          get: () => {
            check(count());
            return new Arr(bytes.buffer as ArrayBuffer, bytes.byteOffset + t.offset, count());
          },
        });
      }
    }
    return obj as View<F>;
  };

  return {
    name,
    fixedSize,
    alignment: maxAlign,
    offsets,
    byteLength,
    view,
    init(bytes, n = 0) {
      if (bytes.byteLength < byteLength(n)) {
        throw new InvalidArgumentError(`${name} with ${n} trailing elements needs ${byteLength(n)} bytes`);
      }
      if (lenField) new DataView(bytes.buffer, bytes.byteOffset).setUint32(lenField.offset, n, true);
      return view(bytes);
    },
    cHeader() {
      const guard = `AGNOCAST_SCHEMA_${name.toUpperCase()}_H`;
      const lines = [`/* Generated by agnocast schema(): the layout of ${name}. Do not edit. */`,
        `#ifndef ${guard}`, `#define ${guard}`, '', '#include <stddef.h>', '#include <stdint.h>', '',
        `struct ${name} {`];
      let at = 0;
      let pad = 0;
      const padTo = (target: number) => {
        if (target > at) lines.push(`\tuint8_t _pad${pad++}[${target - at}];`);
        at = target;
      };
      for (const p of placed) {
        padTo(p.offset);
        const c = SCALARS[p.scalar].c;
        lines.push(p.kind === 'fixed' ? `\t${c} ${p.name}[${p.count}];` : `\t${c} ${p.name};`);
        at = p.offset + SCALARS[p.scalar].size * p.count;
      }
      if (trailing) {
        padTo(trailing.offset);
        lines.push(`\t${SCALARS[trailing.scalar].c} ${trailing.name}[];${trailing.kind === 'string' ? ' /* UTF-8, not NUL-terminated */' : ''}`);
      } else padTo(fixedSize);
      lines.push('};', '');
      lines.push(`_Static_assert(sizeof(struct ${name}) == ${fixedSize}, "${name}: size");`);
      for (const [f, o] of Object.entries(offsets)) {
        lines.push(`_Static_assert(offsetof(struct ${name}, ${f}) == ${o}, "${name}.${f}");`);
      }
      lines.push('', `#endif /* ${guard} */`, '');
      return lines.join('\n');
    },
  };
}

function accessors(dv: DataView, s: Scalar, at: number): [() => number | bigint, (v: never) => void] {
  switch (s) {
    case 'u8': return [() => dv.getUint8(at), (v: number) => dv.setUint8(at, v)] as never;
    case 'i8': return [() => dv.getInt8(at), (v: number) => dv.setInt8(at, v)] as never;
    case 'u16': return [() => dv.getUint16(at, true), (v: number) => dv.setUint16(at, v, true)] as never;
    case 'i16': return [() => dv.getInt16(at, true), (v: number) => dv.setInt16(at, v, true)] as never;
    case 'u32': return [() => dv.getUint32(at, true), (v: number) => dv.setUint32(at, v, true)] as never;
    case 'i32': return [() => dv.getInt32(at, true), (v: number) => dv.setInt32(at, v, true)] as never;
    case 'f32': return [() => dv.getFloat32(at, true), (v: number) => dv.setFloat32(at, v, true)] as never;
    case 'f64': return [() => dv.getFloat64(at, true), (v: number) => dv.setFloat64(at, v, true)] as never;
    case 'u64': return [() => dv.getBigUint64(at, true), (v: bigint) => dv.setBigUint64(at, v, true)] as never;
    case 'i64': return [() => dv.getBigInt64(at, true), (v: bigint) => dv.setBigInt64(at, v, true)] as never;
  }
}
