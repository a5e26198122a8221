// SPDX-License-Identifier: Apache-2.0
// The addon's own smoke test (native/test-smoke.mjs): every binding call,
// in one process and across two, with and without the heaphook.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const smoke = new URL('../../native/test-smoke.mjs', import.meta.url).pathname;
const heaphook = new URL('../../build/heaphook/libagnocast_heaphook.so', import.meta.url).pathname;

describe('the native addon', () => {
  it('passes its smoke test on its own pool', () => {
    expect(() => execFileSync('node', ['--expose-gc', smoke], { stdio: 'pipe' })).not.toThrow();
  });

  it('passes its smoke test on the heaphook pool', () => {
    expect(() => execFileSync('node', ['--expose-gc', smoke], {
      stdio: 'pipe', env: { ...process.env, LD_PRELOAD: heaphook, AGNOCAST_MEMPOOL_SIZE: '64M' },
    })).not.toThrow();
  });
});
