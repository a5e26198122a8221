// SPDX-License-Identifier: Apache-2.0
// kill -9 of a publisher mid-stream and of a subscriber holding messages;
// a subscriber's write into a message kills only itself.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));

describe('processes dying', () => {
  it('a publisher killed mid-stream: subscribers keep what they hold and go on with another publisher', async () => {
    const s = await actor();
    await s.call('subscribe', { topic: '/crash/pub', depth: 10, hold: true });
    const p = await actor();
    await p.call('publisher', { topic: '/crash/pub' });
    await p.call('publish', { topic: '/crash/pub', text: 'before' });
    await s.call('messages', { topic: '/crash/pub', count: 1 });
    p.kill('SIGKILL');
    expect((await p.exited).signal).toBe('SIGKILL');

    const p2 = await actor();
    await p2.call('publisher', { topic: '/crash/pub' });
    await p2.call('publish', { topic: '/crash/pub', text: 'after' });
    const got = await s.call<{ text: string; pid: number }[]>('messages', { topic: '/crash/pub', count: 2 });
    expect(got.map((m) => [m.text, m.pid])).toEqual([['before', p.pid], ['after', p2.pid]]);
    await s.call('releaseHeld', { topic: '/crash/pub' });
  });

  it('the pool of a publisher that exited stays mapped while its messages are held, then is unmapped', async () => {
    const s = await actor();
    await s.call('subscribe', { topic: '/crash/unmap', depth: 10, hold: true });
    const p = await actor();
    await p.call('publisher', { topic: '/crash/unmap' });
    await p.call('publish', { topic: '/crash/unmap', text: 'kept' });
    await s.call('messages', { topic: '/crash/unmap', count: 1 });
    p.kill('SIGKILL');
    await p.exited;
    expect(await s.call('mappedPools')).toEqual([p.pid]);
    expect(await s.call('heldText', { topic: '/crash/unmap' })).toEqual(['kept']);
    await s.call('releaseHeld', { topic: '/crash/unmap' });
    expect(await s.call('mappedPools')).toEqual([]);
    expect(readFileSync(`/proc/${s.pid}/maps`, 'utf8')).not.toContain(`agnocast@${p.pid}`);
  });

  it('a subscriber killed while holding messages: the publisher gets its memory back', async () => {
    const p = await actor({ poolSize: '1M', poolMax: '1M' });
    await p.call('publisher', { topic: '/crash/sub', depth: 1 });
    const s = await actor();
    await s.call('subscribe', { topic: '/crash/sub', depth: 10, hold: true });
    const big = (i: number) => `${i}`.padEnd(300 * 1024, '.');
    for (let i = 1; i <= 3; i++) {
      await p.call('publish', { topic: '/crash/sub', text: big(i) });
      await s.call('messages', { topic: '/crash/sub', count: i });
    }
    s.kill('SIGKILL');
    await s.exited;
    // Without the dead subscriber's references the pool has room again.
    for (let i = 4; i <= 8; i++) await p.call('publish', { topic: '/crash/sub', text: big(i) });
    expect(await p.call('counts', { topic: '/crash/sub' })).toMatchObject({ subscribers: 0, publishers: 1 });
  });

  it("a subscriber writing into a message dies alone; the publisher's data is intact", async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/crash/write', depth: 5 });
    const vandal = await actor();
    await vandal.call('subscribe', { topic: '/crash/write', depth: 5, hold: true });
    const reader = await actor();
    await reader.call('subscribe', { topic: '/crash/write', depth: 5, hold: true });
    await p.call('publish', { topic: '/crash/write', text: 'precious' });
    await vandal.call('messages', { topic: '/crash/write', count: 1 });
    await reader.call('messages', { topic: '/crash/write', count: 1 });

    await expect(vandal.call('writeHeld', { topic: '/crash/write' })).rejects.toThrow(/exited/);
    expect((await vandal.exited).signal).toBe('SIGSEGV');
    // The reader still sees the original bytes (re-read through a fresh subscriber too).
    const late = await actor();
    await late.call('subscribe', { topic: '/crash/write', depth: 5 });
    await p.call('publish', { topic: '/crash/write', text: 'still fine' });
    expect((await late.call<{ text: string }[]>('messages', { topic: '/crash/write', count: 1 }))[0]?.text).toBe('still fine');
    expect((await reader.call<{ text: string }[]>('received', { topic: '/crash/write' }))[0]?.text).toBe('precious');
    await reader.call('releaseHeld', { topic: '/crash/write' });
  });
});
