// SPDX-License-Identifier: Apache-2.0
// Loading the native addon (src/native.ts): an addon that is missing or does
// not load gives an AddonError naming the command that builds it, for where
// the package is. The addon refusing another Node's ABI is
// test/install/node-abi.sh (it needs an addon built for each Node).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkAddon, defaultEnv } from '../src/doctor.js';
import { AddonError } from '../src/errors.js';
import { loadAddon, rebuildCommand } from '../src/native.js';

const dir = mkdtempSync(join(tmpdir(), 'agnocast-addon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the rebuild command, for where the package is', () => {
  it('installed by npm (or another manager that lays out node_modules/agnocast)', () => {
    expect(rebuildCommand('/srv/app/node_modules/agnocast/')).toBe('npm rebuild agnocast');
  });
  it('installed by pnpm', () => {
    expect(rebuildCommand('/srv/app/node_modules/.pnpm/agnocast@0.1.0/node_modules/agnocast/'))
      .toBe('pnpm approve-builds (select agnocast: pnpm then runs its install script); once approved, pnpm rebuild agnocast');
  });
  it('a checkout of agnocast', () => {
    expect(rebuildCommand('/home/me/agnocast/')).toBe('npm run build (in /home/me/agnocast)');
  });
});

describe('loadAddon', () => {
  it('a missing addon: AddonError, says why it may be missing and the command', () => {
    const path = join(dir, 'missing.node');
    let err: unknown;
    try {
      loadAddon(path, 'npm rebuild agnocast');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AddonError);
    const e = err as AddonError;
    expect(e.code).toBe('AGNOCAST_ADDON');
    expect(e.problem).toBe(`the agnocast addon is not built (${path} does not exist): the package's install ` +
      'script did not run (installed with --ignore-scripts, or by a package manager that skips install scripts) or failed');
    expect(e.fix).toBe(`build it for this Node.js (${process.version}): npm rebuild agnocast`);
    expect(e.message).toBe(`${e.problem}; ${e.fix}`);
  });

  it('under Bun: AddonError that says to run it with node, not a rebuild that cannot help', () => {
    Object.defineProperty(process.versions, 'bun', { value: '1.4.5', configurable: true });
    try {
      expect(() => loadAddon(join(dir, 'missing.node'), 'npm rebuild agnocast'))
        .toThrow(/^agnocast runs on Node\.js, not on Bun \(1\.4\.5\): .*; run the program with node .*: npm rebuild agnocast$/);
    } finally {
      delete (process.versions as Record<string, string | undefined>)['bun'];
    }
  });

  it('a file that is no addon: AddonError with the loader\'s reason and the command', () => {
    const path = join(dir, 'garbage.node');
    writeFileSync(path, 'not an ELF file, and long enough for the loader to read its header'.repeat(4));
    expect(() => loadAddon(path, 'npm rebuild agnocast'))
      .toThrow(/^the agnocast addon \(.*garbage\.node\) does not load: .*invalid ELF header.*; rebuild it for this Node\.js \(v[0-9.]+\): npm rebuild agnocast$/s);
  });
});

describe('doctor', () => {
  it('fails the addon check of a package whose addon is not built, with the command as the fix', () => {
    const c = checkAddon({ ...defaultEnv(), packageRoot: dir });
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/^the agnocast addon is not built \(.*native\/build\/Release\/agnocast\.node does not exist\)/);
    expect(c.fix).toBe(`build it for this Node.js (${process.version}): npm run build (in ${dir})`);
  });
});
