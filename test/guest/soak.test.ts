// SPDX-License-Identifier: Apache-2.0
// The soak (issue 9): 1 publisher and 4 subscriber processes (slow async
// callback, iterator, polling, reliable), messages of 64 B to 1 MiB, for
// AGNOCAST_SOAK_SECONDS (default 120); the iterator subscriber and the
// publisher are SIGKILLed and restarted midway. Each process prints its
// heap (after a full collection) and RSS after 2 000 messages (warm-up),
// every 100 000 messages (AGNOCAST_SOAK_EVERY) and when it finishes. Fails
// on: heap growth above 8 MiB or RSS growth above 96 MiB between a
// process's first and last sample (its whole run after warm-up; a
// SIGKILLed process has no last sample), any uncaught exception or
// error event, a reliable subscriber that lost anything, a subscriber that
// holds anything after close, and anything left in the module,
// /dev/shm or /dev/mqueue at the end.
import { type ChildProcess, fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { totals, ZERO } from './actors.js';

const script = new URL('./soak.mjs', import.meta.url).pathname;
const seconds = Number(process.env.AGNOCAST_SOAK_SECONDS ?? 120);
const HEAP_BOUND = 8 * 1024 * 1024;
const RSS_BOUND = 96 * 1024 * 1024;

interface Sample { role: string; count: number; heap: number; rss: number }
interface Proc { role: string; child: ChildProcess; final: Promise<Record<string, unknown>>; exit: Promise<number | string> }

const samples = new Map<number, Sample[]>();
/** Every process started, so that a failing run leaves none behind for the next tests. */
const started: Proc[] = [];

async function start(role: string): Promise<Proc> {
  const child = fork(script, [role, '/soak'], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let final!: (v: Record<string, unknown>) => void;
  const finalP = new Promise<Record<string, unknown>>((r) => { final = r; });
  const exit = new Promise<number | string>((r) => child.on('exit', (code, sig) => r(code ?? sig ?? -1)));
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; memory?: Sample; final?: Record<string, unknown> }) => {
      if (m.ready) resolve();
      if (m.memory) {
        const list = samples.get(child.pid as number) ?? [];
        list.push(m.memory);
        samples.set(child.pid as number, list);
        console.log(`soak ${m.memory.role} ${child.pid}: ${m.memory.count} messages, heap ${(m.memory.heap / 2 ** 20).toFixed(1)} MiB, rss ${(m.memory.rss / 2 ** 20).toFixed(1)} MiB`);
      }
      if (m.final) final(m.final);
    });
    child.once('exit', (code) => reject(new Error(`soak ${role} exited before it was ready (${code})`)));
  });
  const proc = { role, child, final: finalP, exit };
  started.push(proc);
  return proc;
}

afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exit;
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it(`soak: 1 publisher, 4 subscribers, ${seconds} s, kills and restarts`, async () => {
  const subs = await Promise.all(['callback', 'iterator', 'polling', 'reliable'].map(start));
  let pub = await start('pub');
  await sleep((seconds * 1000) / 3);
  // Kill and restart the iterator subscriber, then the publisher.
  const victim = subs[1] as Proc;
  victim.child.kill('SIGKILL');
  expect(await victim.exit).toBe('SIGKILL');
  subs[1] = await start('iterator');
  await sleep((seconds * 1000) / 6);
  pub.child.kill('SIGKILL');
  expect(await pub.exit).toBe('SIGKILL');
  pub = await start('pub');
  await sleep((seconds * 1000) / 2);
  pub.child.send({ stop: true });
  const pubFinal = await pub.final;
  console.log('soak publisher:', JSON.stringify(pubFinal));
  for (const s of subs) s.child.send({ finish: true, lastSeq: pubFinal.lastSeq });
  const finals = await Promise.all(subs.map((s) => s.final));
  const exits = await Promise.all(subs.map((s) => s.exit));
  // The publisher stays until then: its last messages are there only while it is.
  pub.child.send({ exit: true });
  expect(await pub.exit).toBe(0);
  console.log('soak subscribers:', JSON.stringify(finals));
  expect(exits).toEqual([0, 0, 0, 0]);
  for (const f of finals) {
    expect(f.errors).toBe(0);
    expect(f.heldAfterClose).toBe(0);
    expect(f.lastSeq).toBe(pubFinal.lastSeq);
    expect(f.count).toBe(f.received);
  }
  const reliable = finals.find((f) => f.role === 'reliable') as Record<string, number>;
  expect(reliable.dropped).toBe(0);
  // Those there from the start saw or counted every message, through the
  // publisher's restart: received + dropped = published (the topic's seqs
  // run on across publishers; the iterator restarted, so it has less).
  for (const f of finals.filter((x) => x.role !== 'iterator')) {
    expect((f.received as number) + (f.dropped as number)).toBe(Number(pubFinal.lastSeq));
  }
  // Memory: per process, first sample to last.
  for (const [pid, list] of samples) {
    if (list.length < 2) continue;
    const first = list[0] as Sample;
    const last = list[list.length - 1] as Sample;
    console.log(`soak ${first.role} ${pid}: heap ${first.heap} -> ${last.heap}, rss ${first.rss} -> ${last.rss} over ${last.count - first.count} messages`);
    expect(last.heap - first.heap).toBeLessThan(HEAP_BOUND);
    expect(last.rss - first.rss).toBeLessThan(RSS_BOUND);
  }
  expect(totals()).toEqual(ZERO);
  expect(readdirSync('/dev/shm').filter((n) => n.startsWith('agnocast@'))).toEqual([]);
  expect(readdirSync('/dev/mqueue').filter((n) => n.startsWith('new_publisher@'))).toEqual([]);
}, (seconds + 300) * 1000);
