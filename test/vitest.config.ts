// SPDX-License-Identifier: Apache-2.0
// Host unit tests: everything that needs no kernel module.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/*.test.ts'],
  },
});
