// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { schema } from '../src/schema.js';

const Cloud = schema('Cloud', {
  flags: 'u8',
  stamp: 'u64',
  frame: 'u32',
  origin: ['f32', 3],
  id: 'i16',
  points: { array: 'f32' },
});

const Label = schema('Label', { kind: 'u16', text: 'string' });

describe('typed message layouts', () => {
  it('places fields at C offsets with natural alignment', () => {
    expect(Cloud.offsets).toEqual({ flags: 0, stamp: 8, frame: 16, origin: 20, id: 32, points_len: 36, points: 40 });
    expect(Cloud.fixedSize).toBe(40);
    expect(Cloud.alignment).toBe(8);
    expect(Cloud.byteLength(6)).toBe(40 + 24);
  });

  it('reads and writes in place, without copying', () => {
    const bytes = new Uint8Array(Cloud.byteLength(6));
    const c = Cloud.init(bytes, 6);
    c.stamp = 123456789012345678n;
    c.frame = 7;
    c.origin[1] = 2.5;
    c.points.set([1, 2, 3, 4, 5, 6]);
    const again = Cloud.view(bytes);
    expect(again.stamp).toBe(123456789012345678n);
    expect(again.origin[1]).toBe(2.5);
    expect(Array.from(again.points)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(again.points.buffer).toBe(bytes.buffer);
  });

  it('stores a trailing string with its byte length', () => {
    const bytes = new Uint8Array(Label.byteLength(64));
    const l = Label.init(bytes);
    l.text = 'héllo';
    expect(Label.view(bytes).text).toBe('héllo');
    expect(new DataView(bytes.buffer).getUint32(Label.offsets.text_len!, true)).toBe(6);
  });

  it('refuses what cannot be laid out or does not fit', () => {
    expect(() => schema('Bad', { tail: { array: 'u8' }, after: 'u8' })).toThrow(/only the last field/);
    expect(() => schema('bad name', { a: 'u8' })).toThrow(InvalidArgumentError);
    expect(() => schema('Clash', { points_len: 'u16', points: { array: 'u8' } })).toThrow(/taken by a generated member/);
    expect(() => schema('Pad', { _pad0: 'u8', x: 'u32' })).toThrow(/taken by a generated member/);
    expect(() => Cloud.view(new Uint8Array(8))).toThrow(/at least 40 bytes/);
    expect(() => Label.init(new Uint8Array(Label.byteLength(4))).text = 'too long for four').toThrow(/do not fit/);
  });

  it('emits a C header with the same layout, which a C program shares with TypeScript', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agnocast-schema-'));
    writeFileSync(join(dir, 'cloud.h'), Cloud.cHeader());
    writeFileSync(join(dir, 'main.c'), `
      #include <stdio.h>
      #include <stdlib.h>
      #include "cloud.h"
      int main(void) {
        struct Cloud *c = calloc(1, sizeof(*c) + 3 * sizeof(float));
        c->flags = 5; c->stamp = 0x1122334455667788ULL; c->frame = 42;
        c->origin[0] = 1.5f; c->origin[2] = -3.0f; c->id = -7;
        c->points_len = 3; c->points[0] = 10; c->points[1] = 20; c->points[2] = 30;
        fwrite(c, 1, sizeof(*c) + 3 * sizeof(float), stdout);
        return 0;
      }`);
    // The header's static asserts fail the build if C disagrees with TypeScript.
    execFileSync('gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', join(dir, 'main'), join(dir, 'main.c')]);
    const bytes = new Uint8Array(execFileSync(join(dir, 'main')));
    const c = Cloud.view(bytes);
    expect([c.flags, c.stamp, c.frame, c.origin[0], c.origin[2], c.id]).toEqual([5, 0x1122334455667788n, 42, 1.5, -3, -7]);
    expect(Array.from(c.points)).toEqual([10, 20, 30]);
  });
});
