// SPDX-License-Identifier: Apache-2.0
/** `agnocast bridge … --json` processes driven by their event lines. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const cli = new URL('../../dist/cli.js', import.meta.url).pathname;

export type Event = { type: string; [k: string]: unknown };

export interface BridgeProcess {
  pid: number;
  /** Every event so far, in order. */
  events: Event[];
  /** The first event from index `since` on that matches. */
  waitFor(match: (e: Event) => boolean, since?: number): Promise<Event>;
  /** Counters now (SIGUSR2). */
  stats(): Promise<Event>;
  /** SIGTERM: closes cleanly, resolves with the final counters. */
  stop(): Promise<Event>;
  kill(): Promise<void>;
}

export async function startBridge(launcher: string[], args: string[]): Promise<BridgeProcess> {
  const [cmd, ...pre] = [...launcher, process.execPath, cli, 'bridge', '--json', ...args];
  const child: ChildProcess = spawn(cmd as string, pre, { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: Event[] = [];
  const waiters = new Set<{ match: (e: Event) => boolean; since: number; resolve: (e: Event) => void }>();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let e: Event;
    try {
      e = JSON.parse(line) as Event;
    } catch {
      return;
    }
    events.push(e);
    for (const w of [...waiters]) {
      if (events.length - 1 >= w.since && w.match(e)) {
        waiters.delete(w);
        w.resolve(e);
      }
    }
  });
  const waitFor = (match: (e: Event) => boolean, since = 0) => {
    const found = events.slice(since).find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Event>((resolve, reject) => {
      waiters.add({ match, since, resolve });
      void exited.then(() => reject(new Error(`bridge ${child.pid} exited while a test waited on it`)));
    });
  };
  await Promise.race([waitFor((e) => e.type === 'started'), exited.then(() => {
    throw new Error(`agnocast bridge ${args.join(' ')} exited before it started`);
  })]);
  const stats = () => {
    const p = waitFor((e) => e.type === 'stats', events.length);
    child.kill('SIGUSR2');
    return p;
  };
  return {
    pid: child.pid as number,
    events,
    waitFor,
    stats,
    stop: async () => {
      const p = waitFor((e) => e.type === 'stats', events.length);
      child.kill('SIGTERM');
      const s = await p;
      await exited;
      return s;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
