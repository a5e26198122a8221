// SPDX-License-Identifier: Apache-2.0
// Long-running service behaviour (issue 9), in separate processes and
// across event-loop turns (every actor call is a round trip over IPC):
// delivery modes that do not steal from each other, backpressure and
// counted loss, reliable publishing, matched events, leftovers after
// SIGKILL.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { totals, useActors, ZERO } from './actors.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));
const texts = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('delivery modes', () => {
  it('polling: take() and receive() find what was published across turns; nothing is queued behind them', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/poll' });
    await b.call('subscribePlain', { topic: '/svc/poll', depth: 10 });
    await a.call('publishAll', { topic: '/svc/poll', texts: texts(1, 3) });
    // Several event-loop turns in b since: take() still finds the newest.
    expect(await b.call('take', { topic: '/svc/poll' })).toBe('3');
    expect(await b.call('take', { topic: '/svc/poll' })).toBeNull();
    await a.call('publishAll', { topic: '/svc/poll', texts: texts(4, 6) });
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await b.call('receive', { topic: '/svc/poll' }));
    expect(got).toEqual(['4', '5', '6']);
    expect(await b.call('receive', { topic: '/svc/poll', timeoutMs: 50 })).toBeNull();
    // take() skipped 1 and 2: counted, so received + dropped = published.
    expect(await b.call('stats', { topic: '/svc/poll' })).toEqual({ received: 4, dropped: 2, held: 0 });
  });

  it('iteration: a loop that breaks leaves what follows in the module for the next consumer', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/iter' });
    await b.call('subscribePlain', { topic: '/svc/iter', depth: 10 });
    const loop = b.call<string[]>('iterate', { topic: '/svc/iter', count: 2 });
    await a.call('publishAll', { topic: '/svc/iter', texts: texts(1, 5) });
    expect(await loop).toEqual(['1', '2']);
    // 3..5 arrived while the loop ran or after it ended: receive() gets them in order.
    const rest = [];
    for (let i = 0; i < 3; i++) rest.push(await b.call('receive', { topic: '/svc/iter' }));
    expect(rest).toEqual(['3', '4', '5']);
    expect(await b.call('stats', { topic: '/svc/iter' })).toEqual({ received: 5, dropped: 0, held: 0 });
    // A second loop starts where the first stopped.
    const again = b.call<string[]>('iterate', { topic: '/svc/iter', count: 1 });
    await a.call('publishAll', { topic: '/svc/iter', texts: ['6'] });
    expect(await again).toEqual(['6']);
  });

  it('spin: a busy-polling callback subscription gets every message in order, found by the spin or the descriptor, and holds none', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/spin' });
    await b.call('subscribe', { topic: '/svc/spin', depth: 16, spin: 5000 });
    // One at a time (each call a round trip): some land while b spins, the first after it slept.
    for (const t of texts(1, 6)) await a.call('publishAll', { topic: '/svc/spin', texts: [t] });
    const got = await b.call<{ text: string }[]>('messages', { topic: '/svc/spin', count: 6 });
    expect(got.map((m) => m.text)).toEqual(texts(1, 6));
    expect(await b.call('stats', { topic: '/svc/spin' })).toEqual({ received: 6, dropped: 0, held: 0 });
    await expect(b.call('subscribePlain', { topic: '/svc/spin2', spin: 100 })).rejects.toMatchObject({ code: 'AGNOCAST_INVALID_ARGUMENT' });
    await expect(b.call('subscribe', { topic: '/svc/spin3', spin: -1 })).rejects.toMatchObject({ code: 'AGNOCAST_INVALID_ARGUMENT' });
  });

  it('a callback subscription refuses take(), receive() and iteration with InvalidStateError', async () => {
    const b = await actor();
    await b.call('subscribe', { topic: '/svc/cb' });
    await expect(b.call('take', { topic: '/svc/cb' })).rejects.toMatchObject({ code: 'AGNOCAST_INVALID_STATE' });
    await expect(b.call('receive', { topic: '/svc/cb' })).rejects.toMatchObject({ code: 'AGNOCAST_INVALID_STATE' });
    await expect(b.call('iterate', { topic: '/svc/cb', count: 1 })).rejects.toMatchObject({ code: 'AGNOCAST_INVALID_STATE' });
  });
});

describe('backpressure and visible loss', () => {
  it('async callbacks run one at a time; the module keeps the newest; received + dropped = published', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/slow' });
    await b.call('subscribeSlow', { topic: '/svc/slow', depth: 4, delayMs: 20 });
    // The first message sets where the count starts.
    await a.call('publishAll', { topic: '/svc/slow', texts: ['1'] });
    await b.call('untilText', { topic: '/svc/slow', text: '1' });
    await a.call('publishAll', { topic: '/svc/slow', texts: texts(2, 60) });
    await b.call('untilText', { topic: '/svc/slow', text: '60' });
    const stats = await b.call<{ received: number; dropped: number; held: number }>('stats', { topic: '/svc/slow' });
    expect(stats.received + stats.dropped).toBe(60);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.held).toBe(0);
    expect(await b.call('slowInfo', { topic: '/svc/slow' })).toEqual({ maxInFlight: 1, errors: [] });
  });

  it('maxInFlight lets N callbacks run at once, never more', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/n' });
    await b.call('subscribeSlow', { topic: '/svc/n', depth: 16, delayMs: 50, maxInFlight: 3 });
    await a.call('publishAll', { topic: '/svc/n', texts: texts(1, 12) });
    await b.call('untilText', { topic: '/svc/n', text: '12' });
    const info = await b.call<{ maxInFlight: number }>('slowInfo', { topic: '/svc/n' });
    expect(info.maxInFlight).toBeGreaterThan(1);
    expect(info.maxInFlight).toBeLessThanOrEqual(3);
    const stats = await b.call<{ received: number; dropped: number; held: number }>('stats', { topic: '/svc/n' });
    expect(stats.received + stats.dropped).toBe(12);
  });

  it('a callback that turns asynchronous mid-batch: the rest of the batch waits for it, then goes first, in order, none lost', async () => {
    const a = await actor();
    const b = a;
    await a.call('publisher', { topic: '/svc/mixed', depth: 16 });	// retains all 12
    await b.call('subscribeMixed', { topic: '/svc/mixed', depth: 16, asyncOn: '3', delayMs: 50 });
    // Synchronous callbacks take the waiting messages in batches. The
    // process publishes 1..12 in one go before its loop looks at the
    // descriptor: one receive takes all 12, and the callback of 3 turns
    // asynchronous.
    await a.call('publishAll', { topic: '/svc/mixed', texts: texts(1, 12) });
    const got = await b.call<{ text: string }[]>('messages', { topic: '/svc/mixed', count: 12 });
    expect(got.map((m) => m.text)).toEqual(texts(1, 12));
    expect(await b.call('mixedInfo', { topic: '/svc/mixed' })).toEqual({ overlaps: 0, errors: [] });
    await a.call('publishAll', { topic: '/svc/mixed', texts: texts(13, 14) });
    expect((await b.call<{ text: string }[]>('messages', { topic: '/svc/mixed', count: 14 })).map((m) => m.text))
      .toEqual(texts(1, 14));
    expect(await b.call('stats', { topic: '/svc/mixed' })).toEqual({ received: 14, dropped: 0, held: 0 });
  });

  it('a throwing callback reaches the error event; the rest of its batch is delivered and nothing stays held', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/throw' });
    await b.call('subscribeThrowing', { topic: '/svc/throw', depth: 8, throwOn: '2' });
    await a.call('publishAll', { topic: '/svc/throw', texts: texts(1, 5) });
    await b.call('untilText', { topic: '/svc/throw', text: '5' });
    expect(await b.call('errors', { topic: '/svc/throw' })).toEqual(['thrown on 2']);
    expect(await b.call('stats', { topic: '/svc/throw' })).toEqual({ received: 5, dropped: 0, held: 0 });
  });

  it('a rejecting async callback reaches the error event, not an uncaught exception', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/reject' });
    await b.call('subscribeSlow', { topic: '/svc/reject', depth: 8, delayMs: 1, throwOn: '1' });
    await a.call('publishAll', { topic: '/svc/reject', texts: texts(1, 2) });
    await b.call('untilText', { topic: '/svc/reject', text: '2' });
    expect((await b.call<{ errors: string[] }>('slowInfo', { topic: '/svc/reject' })).errors).toEqual(['rejected 1']);
  });
});

describe('reliable', () => {
  it('publish() refuses with WouldBlockError while the queue is full; publishAsync() waits; nothing is lost', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/rel' });
    await b.call('subscribePlain', { topic: '/svc/rel', depth: 4, reliable: true });
    expect(await a.call('publishAll', { topic: '/svc/rel', texts: texts(1, 6) }))
      .toEqual({ published: 4, code: 'AGNOCAST_WOULD_BLOCK' });
    await a.call('publishAllAsync', { topic: '/svc/rel', texts: texts(5, 12) });
    const got = [];
    for (let i = 0; i < 12; i++) got.push(await b.call('receive', { topic: '/svc/rel' }));
    expect(got).toEqual(texts(1, 12));
    expect(await a.call('publishedAsync', { topic: '/svc/rel' })).toBe(8);
    expect(await b.call('stats', { topic: '/svc/rel' })).toEqual({ received: 12, dropped: 0, held: 0 });
  });
});

describe('events', () => {
  it('a publisher sees subscribers come and go, SIGKILL included; waitForSubscribers resolves', async () => {
    const [a, b] = [await actor(), await actor()];
    await a.call('publisher', { topic: '/svc/match' });
    await a.call('watchMatches', { topic: '/svc/match', side: 'publisher' });
    const waiting = a.call('waitForSubscribers', { topic: '/svc/match', n: 1, timeoutMs: 60_000 });
    await b.call('subscribePlain', { topic: '/svc/match' });
    expect(await waiting).toBe(1);
    await a.call('untilEvent', { topic: '/svc/match', kind: 'matched', count: 1 });
    b.kill('SIGKILL');
    await b.exited;
    expect(await a.call('untilEvent', { topic: '/svc/match', kind: 'unmatched', count: 0 }))
      .toEqual([['matched', 1], ['unmatched', 0]]);
    await expect(a.call('waitForSubscribers', { topic: '/svc/match', n: 1, timeoutMs: 50 }))
      .rejects.toMatchObject({ code: 'AGNOCAST_TIMEOUT' });
  });

  it('a subscription learns that its publisher is gone', async () => {
    const [a, b] = [await actor(), await actor()];
    await b.call('subscribePlain', { topic: '/svc/gone' });
    await b.call('watchMatches', { topic: '/svc/gone', side: 'subscription' });
    await a.call('publisher', { topic: '/svc/gone' });
    expect(await b.call('waitForPublishers', { topic: '/svc/gone', n: 1, timeoutMs: 60_000 })).toBe(1);
    a.kill('SIGKILL');
    await a.exited;
    expect(await b.call('untilEvent', { topic: '/svc/gone', kind: 'unmatched', count: 0 }))
      .toEqual([['matched', 1], ['unmatched', 0]]);
  });
});

describe('nothing left after SIGKILL', () => {
  it('the pool name goes with the process; its discovery queue is swept by the next process that subscribes', async () => {
    const [a, b] = [await actor(), await actor()];
    await b.call('subscribePlain', { topic: '/svc/left' });
    expect(existsSync(`/dev/mqueue/new_publisher@${b.pid}`)).toBe(true);
    expect(existsSync(`/dev/shm/agnocast@${b.pid}`)).toBe(true);
    b.kill('SIGKILL');
    await b.exited;
    totals(); // reading the status file waits for the module's cleanup
    expect(existsSync(`/dev/shm/agnocast@${b.pid}`)).toBe(false);
    await a.call('subscribePlain', { topic: '/svc/left' });
    expect(existsSync(`/dev/mqueue/new_publisher@${b.pid}`)).toBe(false);
    expect(existsSync(`/dev/mqueue/new_publisher@${a.pid}`)).toBe(true);
  });
});
