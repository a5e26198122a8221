// SPDX-License-Identifier: Apache-2.0
// The addon's own smoke test (native/test-smoke.mjs): every binding call,
// in one process and across two, with and without the heaphook.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const smoke = new URL('../../native/test-smoke.mjs', import.meta.url).pathname;
const heaphook = new URL('../../build/heaphook/libagnocast_heaphook.so', import.meta.url).pathname;

/** Runs the smoke test; a failure shows what it printed. */
function smokeTest(env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync('node', ['--expose-gc', smoke], { env, encoding: 'utf8' });
  expect(r.status, `test-smoke.mjs exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`).toBe(0);
}

describe('the native addon', () => {
  it('passes its smoke test on its own pool', () => {
    smokeTest();
  });

  it('passes its smoke test on the heaphook pool', () => {
    smokeTest({ ...process.env, LD_PRELOAD: heaphook, AGNOCAST_MEMPOOL_SIZE: '64M' });
  });
});
