// SPDX-License-Identifier: Apache-2.0
/**
 * A pool is mapped at its owner's address in every process that reads it,
 * so its range must be free in all of them, Node processes included. V8
 * places heap and code pages at random addresses it hints to mmap; none of
 * them may land in the module's pool window, or a subscriber could not map
 * a publisher's pool whose range it happens to cover (EEXIST).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const header = readFileSync(join(root, 'kmod/uapi/agnocast.h'), 'utf8');

function constant(name: string): bigint {
  const m = header.match(new RegExp(`#define\\s+${name}\\s+(0x[0-9a-fA-F]+)ULL`));
  if (!m?.[1]) throw new Error(`${name} not found in kmod/uapi/agnocast.h`);
  return BigInt(m[1]);
}

/** A Node process that grows a heap of many pages, then lists its mappings. */
const child = `
const keep = [];
for (let i = 0; i < 150000; i++) keep.push({ i, s: 'x'.repeat(i % 200) });
for (let i = 0; i < 64; i++) keep.push(new ArrayBuffer(1 << 20));
new Function('return 1')();
process.stdout.write(require('node:fs').readFileSync('/proc/self/maps', 'utf8'));
`;

describe('the pool window', () => {
  it("holds none of a Node process's own mappings, however many pages V8 places", () => {
    const base = constant('AGNOCAST_POOL_BASE');
    const limit = constant('AGNOCAST_POOL_LIMIT');
    const inside: string[] = [];
    let total = 0;
    for (let run = 0; run < 2; run++) {
      const maps = execFileSync(process.execPath, ['-e', child], { encoding: 'utf8', maxBuffer: 1 << 24 });
      for (const line of maps.split('\n').filter(Boolean)) {
        total++;
        const [range = ''] = line.split(' ');
        const [start, end] = range.split('-').map((x) => BigInt(`0x${x}`));
        if (start !== undefined && end !== undefined && start < limit && end > base) inside.push(line);
      }
    }
    expect(total).toBeGreaterThan(400);
    expect(inside).toEqual([]);
  }, 60_000);
});
