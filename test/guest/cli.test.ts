// SPDX-License-Identifier: Apache-2.0
// npx agnocast status | topic list | topic info | topic echo, against live processes.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
    expect(run('topic', 'list')).toBe('/cli/info\n');
    expect(run('topic', 'list', '--verbose')).toMatch(/^\/cli\/info\s+1\s+1\s+1\s+1$/m);
    expect(run('topic', 'list', '-v')).toMatch(/^TOPIC\s+PUBLISHERS\s+SUBSCRIBERS/);
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

/** Spawns the CLI; lines() iterates its stdout lines. */
function spawnCli(...args: string[]) {
  const child = spawn('node', [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const err = createInterface({ input: child.stderr! })[Symbol.asyncIterator]();
  return { child, lines, err };
}

async function lineMatching(lines: AsyncIterator<string>, re: RegExp): Promise<string> {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error(`output ended before a line matching ${re}`);
    if (re.test(value)) return value;
  }
}

describe('the CLI like ros2 topic', () => {
  it('--version prints the version; a bad flag prints the usage and exits 2', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(run('--version').trim()).toBe(pkg.version);
    let failure: { status?: number; stderr?: string } = {};
    try {
      execFileSync('node', [cli, 'topic', 'list', '--bogus'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      failure = e as typeof failure;
    }
    expect(failure.status).toBe(2);
    expect(failure.stderr).toMatch(/--bogus[\s\S]*usage: agnocast/);
  });

  it('topic list prints names, one a line, without the library\'s own /_agnocast/ topics unless --all', async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/cli/listed' });
    await p.call('createRegion', { key: 'cli-hidden', size: 16 });
    expect(run('topic', 'list')).toBe('/cli/listed\n');
    expect(run('topic', 'list', '--names')).toBe('/cli/listed\n');
    expect(run('topic', 'list', '-v')).not.toMatch(/_agnocast/);
    expect(run('topic', 'list', '--all', '--names')).toMatch(/^\/_agnocast\/region\/cli-hidden$/m);
    await p.call('removeRegion', { key: 'cli-hidden' });
  });

  it('topic echo --json sees the transient-local history; --once stops after one', async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/cli/hist', depth: 3, transientLocal: true });
    await p.call('publish', { topic: '/cli/hist', text: 'h1' });
    await p.call('publish', { topic: '/cli/hist', text: 'h2' });
    const two = execFileSync('node', [cli, 'topic', 'echo', '/cli/hist', '--count', '2', '--json'], { encoding: 'utf8' });
    expect(two.trim().split('\n').map((l) => (JSON.parse(l) as { data: string }).data))
      .toEqual([Buffer.from('h1').toString('hex'), Buffer.from('h2').toString('hex')]);
    const one = execFileSync('node', [cli, 'topic', 'echo', '/cli/hist', '--once', '--json'], { encoding: 'utf8' });
    expect(one.trim().split('\n')).toHaveLength(1);
  });

  it('topic echo --schema decodes each message with the schema it names', async () => {
    const typedPath = new URL('../../scripts/demo/typed.mjs', import.meta.url).pathname;
    const typed = await import(typedPath) as { expected(kind: string, i: number): Record<string, unknown> };
    const p = await actor();
    await p.call('publisher', { topic: '/cli/schema', depth: 3, transientLocal: true });
    await p.call('publishTyped', { topic: '/cli/schema', kind: 'note', i: 1 });
    const out = execFileSync('node', [cli, 'topic', 'echo', '/cli/schema', '--once', '--json',
      '--schema', `${typedPath}#kinds.note.schema`], { encoding: 'utf8' });
    expect((JSON.parse(out.trim()) as { fields: unknown }).fields).toEqual(typed.expected('note', 1));
    let failure: { status?: number; stderr?: string } = {};
    try {
      execFileSync('node', [cli, 'topic', 'echo', '/cli/schema', '--schema', `${typedPath}#kinds`], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      failure = e as typeof failure;
    }
    expect(failure.status).toBe(2);
    expect(failure.stderr).toMatch(/is not a schema/);
  });

  it('topic hz reports a rate, then ages out to "no new messages"; SIGINT ends it with 0', async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/cli/hz' });
    const hz = spawnCli('topic', 'hz', '/cli/hz', '--age', '2');
    expect(await lineMatching(hz.lines, /no new messages/)).toBeTruthy();
    await p.call('publishAll', { topic: '/cli/hz', texts: ['1', '2', '3', '4'] });
    expect(await lineMatching(hz.lines, /average rate: [\d.]+ Hz/)).toBeTruthy();
    expect(await lineMatching(hz.lines, /no new messages/)).toBeTruthy();
    hz.child.kill('SIGINT');
    const [code] = await once(hz.child, 'exit');
    expect(code).toBe(0);
  });

  it('topic delay and topic bw report in JSON', async () => {
    const p = await actor();
    await p.call('publisher', { topic: '/cli/mon' });
    for (const [cmd, key, sizeRe] of [['delay', 'delay', /"window":2/], ['bw', 'bytesPerSecond', /"messages":2/]] as const) {
      const m = spawnCli('topic', cmd, '/cli/mon', '--json', '--age', '30');
      await lineMatching(m.lines, /"messages":0/);
      await p.call('publishAll', { topic: '/cli/mon', texts: ['abcd', 'efgh'] });
      const line = JSON.parse(await lineMatching(m.lines, sizeRe)) as Record<string, number>;
      expect(line[key]).toBeGreaterThan(0);
      if (cmd === 'bw') expect(line).toMatchObject({ bytes: 8, seconds: 30 });
      m.child.kill('SIGINT');
      expect((await once(m.child, 'exit'))[0]).toBe(0);
    }
  });

  it('topic pub --count publishes that many messages and exits 0', async () => {
    const s = await actor();
    await s.call('subscribe', { topic: '/cli/pub' });
    const out = execFileSync('node', [cli, 'topic', 'pub', '/cli/pub', 'hello', '--count', '2', '--rate', '20'], { encoding: 'utf8' });
    expect(out).toMatch(/publishing #2/);
    expect((await s.call<{ text: string }[]>('messages', { topic: '/cli/pub', count: 2 })).map((m) => m.text))
      .toEqual(['hello', 'hello']);
  });
});
