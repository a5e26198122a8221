// SPDX-License-Identifier: Apache-2.0
// The library's tests that need agnocast.ko: run inside the QEMU guests by
// test/run-in-guest.sh (several processes per test; TCG is slow).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/guest/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
  // The guest sees the repository read-only.
  cacheDir: '/tmp/agnocast-vitest',
});
