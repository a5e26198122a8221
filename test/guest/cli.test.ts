// SPDX-License-Identifier: Apache-2.0
// npx agnocast status | topic list | topic info | topic echo, against live processes.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));
const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
const run = (...args: string[]) => execFileSync('node', [cli, ...args], { encoding: 'utf8' });

describe('the CLI', () => {
  it('status, topic list and topic info show the live processes and endpoints', async () => {
    const p = await actor();
    const s = await actor();
    await p.call('publisher', { topic: '/cli/info', depth: 3 });
    await s.call('subscribe', { topic: '/cli/info', depth: 7, hold: true });
    await p.call('publish', { topic: '/cli/info', text: 'x' });
    await s.call('messages', { topic: '/cli/info', count: 1 });

    const status = run('status');
    expect(status).toMatch(/2 processes, 1 topics, 1 publishers, 1 subscribers/);
    expect(status).toMatch(new RegExp(`^${p.pid}\\s+0x4`, 'm'));
    expect(run('topic', 'list')).toMatch(/\/cli\/info\s+1\s+1\s+1\s+1/);
    const info = run('topic', 'info', '/cli/info');
    expect(info).toMatch(new RegExp(`\\d+\\s+${p.pid}\\s+depth 3\\s+1`));
    expect(info).toMatch(new RegExp(`\\d+\\s+${s.pid}\\s+depth 7\\s+1\\s+no`));
    await s.call('releaseHeld', { topic: '/cli/info' });
  });

  it('topic info on an unknown topic says so and exits 1', () => {
    expect(() => run('topic', 'info', '/cli/none')).toThrow(/no topic \/cli\/none/);
  });

  it('topic echo prints messages as they arrive', async () => {
    const echo = spawn('node', [cli, 'topic', 'echo', '/cli/echo', '--count', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const err = createInterface({ input: echo.stderr! })[Symbol.asyncIterator]();
    expect((await err.next()).value).toMatch(/listening on \/cli\/echo/);
    const p = await actor();
    await p.call('publisher', { topic: '/cli/echo' });
    await p.call('publish', { topic: '/cli/echo', text: 'AB' });
    await p.call('publish', { topic: '/cli/echo', text: 'CD' });
    let out = '';
    echo.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const [code] = await once(echo, 'exit');
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`seq 1\\s+pid ${p.pid}\\s+2 bytes[^\\n]*\\n\\s+41 42`));
    expect(out).toMatch(/seq 2[^\n]*\n\s+43 44/);
  });
});
