// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = new URL('../scripts/kernel-trouble.sh', import.meta.url).pathname;

/** Runs the guest lane's log scanner on `text`; returns its exit code and output. */
function scan(text: string): { status: number; out: string } {
  const file = join(mkdtempSync(join(tmpdir(), 'agnocast-log-')), 'dmesg.txt');
  writeFileSync(file, text);
  try {
    return { status: 0, out: execFileSync('bash', [script, file], { encoding: 'utf8' }) };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { status: err.status, out: err.stdout };
  }
}

const cleanBoot = [
  '[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)',
  '[    2.935154] agnocast: loading out-of-tree module taints kernel.',
  '[    2.940452] agnocast 0.1.0 loaded (abi 1)',
  '[    3.212440] ACPI: PM: Preparing to enter system sleep state S5',
].join('\n');

describe('the guest kernel log scanner', () => {
  it('passes a clean boot with the module loaded', () => {
    expect(scan(cleanBoot).status).toBe(0);
  });

  it.each([
    ['a WARN_ON', '[ 5.1] WARNING: CPU: 1 PID: 123 at kmod/topic.c:200 agnocast_publish+0x1f/0x90 [agnocast]'],
    ['a KASAN report', '[ 5.1] BUG: KASAN: slab-use-after-free in agnocast_sub_remove+0x44/0x120'],
    ['a lockdep cycle', '[ 5.1] WARNING: possible circular locking dependency detected'],
    ['an oops', '[ 5.1] Oops: 0000 [#1] PREEMPT SMP NOPTI'],
    ['a kmemleak report', 'unreferenced object 0xffff888003e5b800 (size 128):'],
    ['a sleep in atomic context', '[ 5.1] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580'],
    ['a refcount underflow', '[ 5.1] refcount_t: underflow; use-after-free.'],
    ['a hung task', '[ 5.1] INFO: task agnocast-ktest:123 blocked for more than 120 seconds.'],
  ])('fails the run on %s and prints the line', (_what, line) => {
    const r = scan(`${cleanBoot}\n${line}\n`);
    expect(r.status).toBe(1);
    expect(r.out).toContain(line);
  });
});
