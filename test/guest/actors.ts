// SPDX-License-Identifier: Apache-2.0
/** Spawning and driving actor processes (actor.mjs) from a test. */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';

const script = new URL('./actor.mjs', import.meta.url).pathname;

export interface Actor {
  pid: number;
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  /** Resolves with the exit code or signal when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * A new actor process. `launcher` runs it through another program first
 * (e.g. nsenter into an IPC namespace: test/guest/namespaces.ts).
 */
export async function spawnActor(env: Record<string, string> = {}, launcher: string[] = []): Promise<Actor> {
  const via = launcher.length ? { execPath: launcher[0] as string, execArgv: [...launcher.slice(1), process.execPath, ...process.execArgv] } : {};
  const child: ChildProcess = fork(script, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...via });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      for (const p of pending.values()) p.reject(new Error(`actor ${child.pid} exited (${code ?? signal})`));
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`actor exited before it was ready (${code})`)));
  });
  child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: { name: string; code: string; message: string } }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(Object.assign(new Error(m.error?.message), m.error));
  });
  return {
    pid: child.pid as number,
    call: <T>(cmd: string, args?: Record<string, unknown>) => new Promise<T>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error(`actor ${child.pid} exited (${child.exitCode ?? child.signalCode})`));
        return;
      }
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, args });
    }),
    exited,
    kill: (signal = 'SIGKILL') => child.kill(signal),
  };
}

/**
 * Registers an afterEach that ends every actor the test made and checks the
 * module is back to empty; returns the factory for joined actors.
 */
export function useActors(afterEach: (fn: () => Promise<void>) => void,
  expectZero: (t: Record<string, number>) => void) {
  const actors: Actor[] = [];
  afterEach(async () => {
    for (const a of actors.splice(0)) {
      await a.call('exit').catch(() => undefined);
      await a.exited;
    }
    expectZero(totals());
  });
  /** A new actor process; joined unless `join` is false (pool options otherwise). */
  return async (join: false | { poolSize?: string; poolMax?: string } = {}): Promise<Actor> => {
    const a = await spawnActor();
    actors.push(a);
    if (join) await a.call('join', join);
    return a;
  };
}

/** The module's totals line, after pending cleanup (reading the file waits for it). */
export function totals(): Record<string, number> {
  const line = readFileSync('/proc/driver/agnocast', 'utf8').split('\n').find((l) => l.startsWith('totals ')) ?? '';
  const w = line.split(/\s+/).slice(1);
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < w.length; i += 2) out[w[i] as string] = Number(w[i + 1]);
  return out;
}

export const ZERO = { processes: 0, topics: 0, publishers: 0, subscribers: 0, entries: 0, mappings: 0 };
