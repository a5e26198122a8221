// SPDX-License-Identifier: Apache-2.0
// The README's C examples are the very files the guest tests build and run
// (libagnocast/examples), and each is at most 40 lines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe("the README's C examples", () => {
  for (const name of ['publisher.c', 'subscriber.c']) {
    it(`libagnocast/examples/${name} is printed whole in the README, in at most 40 lines`, () => {
      const file = readFileSync(join(root, 'libagnocast/examples', name), 'utf8');
      expect(readme).toContain('```c\n' + file + '```');
      expect(file.trimEnd().split('\n').length).toBeLessThanOrEqual(40);
    });
  }
});
