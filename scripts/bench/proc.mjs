// SPDX-License-Identifier: Apache-2.0
// The bench's child processes, CPU times and statistics: one way for every
// row (bench.mjs, fanout.mjs, sustained.mjs, nats.mjs).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Starts `cmd args` (stdout read here, stderr passed through). Resolves,
 * once the process printed the line "ready" (with ready: false, at once),
 * to { child, exited, lines, last }: exited resolves to its exit code (or
 * the signal that ended it) once its stdout is read to the end; lines()
 * are the lines it printed after "ready" (each also given to onLine as it
 * comes), last() the last of them. Rejects if it exits before "ready".
 */
export function start(cmd, args, { ready = true, onLine = null, env = process.env } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  const rl = createInterface({ input: child.stdout });
  const code = new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? sig)));
  const read = new Promise((resolve) => rl.on('close', resolve));
  const exited = Promise.all([code, read]).then(([c]) => c);
  const out = [];
  const handle = { child, exited, lines: () => out, last: () => out[out.length - 1] ?? '' };
  let isReady = !ready;
  return new Promise((resolve, reject) => {
    rl.on('line', (line) => {
      if (!isReady && line === 'ready') { isReady = true; resolve(handle); return; }
      out.push(line);
      onLine?.(line);
    });
    if (isReady) resolve(handle);
    else void exited.then((c) => { if (!isReady) reject(new Error(`${cmd} ${args.join(' ')} exited ${c} before it was ready`)); });
  });
}

/** Runs `cmd args` to its end; resolves to the lines it printed, rejects unless it exits 0. */
export async function run(cmd, args, env = process.env) {
  const p = await start(cmd, args, { ready: false, env });
  const c = await p.exited;
  if (c !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${c}`);
  return p.lines();
}

/** This process's CPU time in ns: all its threads, and its main thread alone. */
export function cpuNs() {
  const u = process.cpuUsage();
  const main = Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  return { all: (u.user + u.system) * 1e3, main };
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The p-th percentile of an ascending array (the nearest rank); NaN when empty. */
export function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** { p50_us, p99_us } of latencies in ns. */
export function p50p99Us(lat) {
  const s = [...lat].sort((a, b) => a - b);
  return { p50_us: pct(s, 50) / 1e3, p99_us: pct(s, 99) / 1e3 };
}
