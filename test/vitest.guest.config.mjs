// SPDX-License-Identifier: Apache-2.0
// The library's tests that need agnocast.ko: run inside the QEMU guests by
// test/run-in-guest.sh (several processes per test; TCG is slow).
import { defineConfig } from 'vitest/config';

// A hang guard only: test/run-in-guest.sh raises it on the debug guest,
// whose KASAN/lockdep kernel runs several times slower than the others.
const timeout = Number(process.env.AGNOCAST_TEST_TIMEOUT_MS) || 120_000;

export default defineConfig({
  test: {
    include: ['test/guest/*.test.ts'],
    testTimeout: timeout,
    hookTimeout: timeout,
    fileParallelism: false,
  },
  // The guest sees the repository read-only.
  cacheDir: '/tmp/agnocast-vitest',
});
