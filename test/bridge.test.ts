// SPDX-License-Identifier: Apache-2.0
// The bridge against real nats-server processes (two, clustered on
// loopback), with an in-memory agnocast on each side (test/bridge/
// fake_local.ts): chunking, loops, on-demand export, gaps, malformed input,
// history. test/guest/bridge.test.ts does it again with the real module.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bridge, bridgeOver } from '../src/bridge/bridge.js';
import type { BridgeEvent } from '../src/bridge/events.js';
import type { BridgeOptions } from '../src/bridge/options.js';
import type { LocalMessage } from '../src/bridge/local.js';
import { FakeHost } from './bridge/fake_local.js';
import { messagesIn, NATS_SERVER, type NatsServer, startCluster } from './bridge/nats.js';


interface Got {
  data: Buffer;
  pid: number;
}

/** A test subscriber on a fake host: what it got, and a wait for the n-th. */
function collector(host: FakeHost, topic: string, pid: number, transientLocal = false) {
  const got: Got[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sub = host.subscribe(topic, pid, (m: LocalMessage) => {
    got.push({ data: Buffer.from(m.data), pid: m.publisherPid });
    for (const w of waiters.filter((x) => got.length >= x.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  }, { depth: 10, transientLocal });
  return {
    got,
    sub,
    until: (n: number) => (got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  };
}

function nextEvent(b: Bridge, match: (e: BridgeEvent) => boolean): Promise<BridgeEvent> {
  return new Promise((resolve) => {
    const on = (e: BridgeEvent) => {
      if (!match(e)) return;
      b.off('event', on);
      resolve(e);
    };
    b.on('event', on);
  });
}

describe('bridge over NATS (in-memory agnocast, real nats-server)', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let sa: NatsServer;
  let sb: NatsServer;
  const hostA = new FakeHost();
  const hostB = new FakeHost();
  let a: Bridge;
  let b: Bridge;
  let raw: NatsConnection;

  const common: Partial<BridgeOptions> = { leaseMs: 600, historyTimeoutMs: 3000 };

  beforeAll(async () => {
    if (!existsSync(NATS_SERVER)) {
      throw new Error(`${NATS_SERVER} is missing: the bridge tests start Debian's nats-server (bash scripts/setup.sh installs it)`);
    }
    cluster = await startCluster(2);
    [sa, sb] = cluster.servers as [NatsServer, NatsServer];
    a = await bridgeOver(() => hostA.side(1001), {
      ...common, servers: sa.url, name: 'bridge-a',
      export: ['/t', '/od', { topic: '/tl', depth: 3, transientLocal: true }], import: ['/t'],
    });
    b = await bridgeOver(() => hostB.side(2001), {
      ...common, servers: sb.url, name: 'bridge-b', maxMessageSize: '8M',
      export: ['/t'], import: ['/t', '/od', { topic: '/tl', depth: 3, transientLocal: true }],
    });
    raw = await connect({ servers: sb.url });
  }, 30_000);

  afterAll(async () => {
    await raw?.close();
    await a?.close();
    await b?.close();
    await cluster?.close();
  });

  it('carries messages of 64 B to 5 MiB (chunks of < 1 MiB) byte for byte, in order, without echo', async () => {
    const started = nextEvent(a, (e) => e.type === 'export-start' && e.topic === '/t');
    const remote = collector(hostB, '/t', 2);
    const local = collector(hostA, '/t', 1);
    await started;
    const sizes = [64, 1000, 1024 * 1024 - 1, 1024 * 1024 + 1, 5 * 1024 * 1024 + 3];
    const sent: Buffer[] = [];
    for (const [i, size] of sizes.entries()) {
      const bytes = randomBytes(size);
      sent.push(bytes);
      hostA.publish('/t', 1, bytes);
      await remote.until(i + 1);
    }
    expect(remote.got.map((g) => g.data.equals(sent[remote.got.indexOf(g)] as Buffer))).toEqual(sizes.map(() => true));
    expect(new Set(remote.got.map((g) => g.pid))).toEqual(new Set([2001]));
    // A's own subscriber saw only the local publisher: nothing came back.
    expect(local.got.map((g) => g.pid)).toEqual(sizes.map(() => 1));
    expect(b.stats.exported).toBe(0);
    expect(b.stats.imported).toBe(sizes.length);
    expect(a.stats.dropped.echo + b.stats.dropped.echo).toBe(0);
    expect(hostA.live + hostB.live).toBe(0);	// every message handed to a bridge was released
    remote.sub.close();
    local.sub.close();
  }, 60_000);

  it('drops malformed and oversized messages on its subjects, counted, and goes on', async () => {
    const wanted = nextEvent(a, (e) => e.type === 'interest' && e.topic === '/t');
    const remote = collector(hostB, '/t', 3);
    await wanted;
    const drops: BridgeEvent[] = [];
    const onDrop = (e: BridgeEvent) => e.type === 'drop' && drops.push(e);
    b.on('event', onDrop);
    const controlDropped = nextEvent(a, (e) => e.type === 'drop' && e.reason === 'control');
    const h = (fields: Record<string, string>) => {
      const x = headers();
      for (const [k, v] of Object.entries(fields)) x.set(k, v);
      return x;
    };
    const ok = { 'Agnocast-Origin': 'Z9', 'Agnocast-Seq': '1', 'Agnocast-Src': '7:1', 'Agnocast-Size': '4', 'Agnocast-Chunk': '0 1 4' };
    raw.publish('agnocast.t.t', 'no headers');
    raw.publish('agnocast.t.t', 'abcd', { headers: h({ ...ok, 'Agnocast-Chunk': '0 2 4' }) });	// 2 chunks cannot hold 4 bytes of 4
    raw.publish('agnocast.t.t', 'abc', { headers: h(ok) });	// 3 bytes, not 4
    raw.publish('agnocast.t.t', 'abcd', { headers: h({ ...ok, 'Agnocast-Seq': 'x' }) });
    raw.publish('agnocast.t.t', 'abcd', { headers: h({ ...ok, 'Agnocast-Src': '-1:1' }) });
    raw.publish('agnocast.t.t', new Uint8Array(16), { headers: h({ ...ok, 'Agnocast-Seq': '2', 'Agnocast-Size': String(2 ** 40), 'Agnocast-Chunk': `0 ${2 ** 40 / 16} 16` }) });
    raw.publish('agnocast.t.t', new Uint8Array(16), { headers: h({ ...ok, 'Agnocast-Seq': '2', 'Agnocast-Size': String(2 ** 40), 'Agnocast-Chunk': `1 ${2 ** 40 / 16} 16` }) });
    raw.publish('agnocast.c.want', '{"v":1,"bridge":"not valid!","topic":"/t"}');
    raw.publish('agnocast.t.t', 'good', { headers: h({ ...ok, 'Agnocast-Seq': '3', 'Agnocast-Src': '7:3' }) });
    await remote.until(1);
    expect(remote.got.map((g) => g.data.toString())).toEqual(['good']);
    expect(drops.map((d) => d.type === 'drop' && d.reason))
      .toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'malformed', 'too-large', 'control']);
    expect(b.stats.dropped).toMatchObject({ malformed: 5, 'too-large': 1 });
    await controlDropped;
    expect(a.stats.dropped.control).toBe(1);	// both export /t: both read wants
    expect(b.stats.dropped.control).toBe(1);
    // The hole from 2 (refused) to 3 is no loss: message 2 was seen and refused.
    expect(b.stats.lost).toBe(0);
    b.off('event', onDrop);
    remote.sub.close();
  }, 30_000);

  it('exports only while another bridge imports: no NATS traffic without remote interest', async () => {
    const before = await messagesIn(sa, 'bridge-a');
    for (let i = 0; i < 5; i++) hostA.publish('/od', 1, Buffer.from(`unwanted ${i}`));
    await raw.flush();
    expect(await messagesIn(sa, 'bridge-a')).toBe(before);
    expect(a.active.exporting).not.toContain('/od');

    const started = nextEvent(a, (e) => e.type === 'export-start' && e.topic === '/od');
    const remote = collector(hostB, '/od', 4);
    await started;
    for (let i = 0; i < 3; i++) {
      hostA.publish('/od', 1, Buffer.from(`wanted ${i}`));
      await remote.until(i + 1);
    }
    expect(remote.got.map((g) => g.data.toString())).toEqual(['wanted 0', 'wanted 1', 'wanted 2']);
    expect(await messagesIn(sa, 'bridge-a')).toBeGreaterThan(before + 2);

    const stopped = nextEvent(a, (e) => e.type === 'export-stop' && e.topic === '/od');
    remote.sub.close();
    await stopped;
    const after = await messagesIn(sa, 'bridge-a');
    for (let i = 0; i < 5; i++) hostA.publish('/od', 1, Buffer.from(`unwanted again ${i}`));
    await raw.flush();
    expect(await messagesIn(sa, 'bridge-a')).toBe(after);
  }, 30_000);

  it('gives a late transient-local subscriber the retained history, in order, then live messages', async () => {
    for (let i = 1; i <= 5; i++) hostA.publish('/tl', 1, Buffer.from(`m${i}`), 3);
    const history = nextEvent(b, (e) => e.type === 'history' && e.topic === '/tl');
    const remote = collector(hostB, '/tl', 5, true);
    expect(await history).toMatchObject({ messages: 3 });
    await remote.until(3);
    hostA.publish('/tl', 1, Buffer.from('m6'), 3);
    await remote.until(4);
    expect(remote.got.map((g) => g.data.toString())).toEqual(['m3', 'm4', 'm5', 'm6']);
    remote.sub.close();
  }, 30_000);

  it('survives a restart of its NATS server and reports the messages lost meanwhile', async () => {
    const wanted = nextEvent(a, (e) => e.type === 'interest' && e.topic === '/t');
    const remote = collector(hostB, '/t', 6);
    await wanted;
    hostA.publish('/t', 1, Buffer.from('before'));
    await remote.until(1);
    const down = nextEvent(a, (e) => e.type === 'disconnected');
    await sa.stop();
    await down;
    for (let i = 0; i < 3; i++) hostA.publish('/t', 1, Buffer.from(`while down ${i}`));
    expect(a.stats.notSent).toBe(3);
    const back = nextEvent(a, (e) => e.type === 'reconnected');
    const rewanted = back.then(() => nextEvent(a, (e) => e.type === 'interest' && e.topic === '/t'));
    await sa.start();
    await rewanted;
    const gap = nextEvent(b, (e) => e.type === 'gap');
    hostA.publish('/t', 1, Buffer.from('after'));
    await remote.until(2);
    expect(await gap).toMatchObject({ topic: '/t', lost: 3 });
    expect(remote.got.map((g) => g.data.toString())).toEqual(['before', 'after']);
    expect(b.stats.lost).toBe(3);
    remote.sub.close();
  }, 60_000);
});
