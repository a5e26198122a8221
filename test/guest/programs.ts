// SPDX-License-Identifier: Apache-2.0
/** C programs a guest test drives by their output lines (build/demo/peer, typed_peer). */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Program {
  child: ChildProcess;
  /** The next line whose first word is one the test waits for ('' at end of output). */
  next(): Promise<string>;
  exited: Promise<number | null>;
}

/**
 * Registers an afterEach that kills what a failed test left running (so the
 * next test's zero-totals check is not about this one); returns the runner.
 * Register it after useActors: after-hooks run last-registered first
 * (vitest's default sequence.hooks, 'stack'), so programs end before the
 * totals are checked.
 */
export function usePrograms(afterEach: (fn: () => Promise<void>) => void) {
  const running = new Set<Program>();
  afterEach(async () => {
    for (const p of running) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  });
  return (path: string, args: string[], words: string[]): Program => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const wanted = new RegExp(`^(${words.join('|')})( |$)`);
    const program: Program = {
      child,
      exited,
      next: async () => {
        for (;;) {
          const line = (await lines.next()).value as string | undefined;
          if (line === undefined || wanted.test(line)) return line ?? '';
        }
      },
    };
    running.add(program);
    void exited.then(() => running.delete(program));
    return program;
  };
}
