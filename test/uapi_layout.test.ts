// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const uapi = join(root, 'kmod/uapi');

function compile(compiler: string, args: string[], source: string): string {
  const out = join(mkdtempSync(join(tmpdir(), 'agnocast-uapi-')), 'a.out');
  try {
    execFileSync(compiler, [...args, '-I', uapi, '-o', out, source], { stdio: 'pipe' });
    return '';
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}

describe('the uapi header, the one contract between kernel, C and addon', () => {
  it('has no implicit padding and the pinned struct sizes and offsets', () => {
    const err = compile('gcc', ['-std=c11', '-Wall', '-Wextra', '-Wpadded', '-Werror'],
      join(root, 'test/uapi/layout.c'));
    expect(err).toBe('');
  });

  it('compiles as C++ for the addon, warning-free', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agnocast-uapi-'));
    const src = join(dir, 'x.cc');
    writeFileSync(src, '#include "agnocast.h"\nint main() { return sizeof(agnocast_entry) == 40 ? 0 : 1; }\n');
    expect(compile('g++', ['-std=c++17', '-Wall', '-Wextra', '-Wpadded', '-Werror'], src)).toBe('');
  });

  it('catches implicit padding (the check itself can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agnocast-uapi-'));
    const src = join(dir, 'bad.c');
    writeFileSync(src, '#include "agnocast.h"\nstruct bad { __u32 a; __u64 b; };\nint main(void) { struct bad x = {0}; return (int)x.a; }\n');
    expect(compile('gcc', ['-std=c11', '-Wpadded', '-Werror'], src)).toMatch(/padding/);
  });

  it('places pools above 0x40000000000, clear of V8\'s random hints (below 64 TiB) and of PIE executables (85 TiB), in whole 100 kB units and 2 MiB slots', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agnocast-uapi-'));
    const src = join(dir, 'c.c');
    writeFileSync(src, [
      '#include "agnocast.h"',
      '_Static_assert(AGNOCAST_POOL_BASE > 0x40000000000ULL, "above the mission\'s floor");',
      '_Static_assert(AGNOCAST_POOL_BASE >= 0x400000000000ULL, "above V8\'s 46-bit placement hints");',
      '_Static_assert(AGNOCAST_POOL_LIMIT <= 0x555555554000ULL, "below ELF_ET_DYN_BASE, where PIE executables load");',
      '_Static_assert(AGNOCAST_POOL_UNIT == 102400, "unit");',
      '_Static_assert(AGNOCAST_POOL_UNIT % 4096 == 0, "unit is whole pages");',
      '_Static_assert(AGNOCAST_POOL_BASE % AGNOCAST_POOL_ALIGN == 0, "aligned base");',
      '_Static_assert(AGNOCAST_POOL_LIMIT <= 0x800000000000ULL, "inside user space");',
      'int main(void) { return 0; }', ''].join('\n'));
    expect(compile('gcc', ['-std=c11', '-Werror'], src)).toBe('');
  });
});
