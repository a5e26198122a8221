// SPDX-License-Identifier: Apache-2.0
// The bridge with the real module and real nats-servers: two "hosts", each
// an IPC namespace (agnocast's topics are per IPC namespace) with its own
// `agnocast bridge` process and its own nats-server, the two servers
// clustered with routes on loopback. TypeScript publishers on one side,
// TypeScript and C (libagnocast) subscribers on the other, both ways,
// 64 B to 64 MiB, every message checked against its content hash
// (content.mjs), lock-step so that nothing may be lost; no echo; on-demand
// export measured on the servers; a server restart (the gap is reported);
// bridges killed with SIGKILL and started again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Connz, type NatsServer, startCluster } from '../bridge/nats.js';
import { type Actor, spawnActor, totals, ZERO } from './actors.js';
import { type BridgeProcess, type Event, startBridge } from './bridges.js';
import { type Host, ipcNamespace } from './namespaces.js';
import { usePrograms } from './programs.js';

const cSub = new URL('../../build/demo/bridge_sub', import.meta.url).pathname;
const run = usePrograms(afterEach);

const KiB = 1024;
const MiB = 1024 * KiB;
/** Every size class: one chunk, exactly one full chunk (1 MiB - 1 KiB, see max_payload), several, 64 MiB. */
const SIZES = [64, 4 * KiB + 1, 64 * KiB + 3, MiB - KiB, MiB, 5 * MiB + 7, 64 * MiB];

interface Content { index: number; size: number; hash: string; ok: boolean; pid: number }

const AB = '/br/ab';
const BA = '/br/ba';
const OD = '/br/od';
const RESTART = '/br/restart';
const KILL = '/br/kill';

describe('bridge: two IPC namespaces over two clustered nats-servers', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let sa: NatsServer;
  let sb: NatsServer;
  let hostA: Host;
  let hostB: Host;
  let a: BridgeProcess;
  let b: BridgeProcess;
  let dir: string;
  const actors: Actor[] = [];

  const argsA = () => ['--server', sa.url, '--name', 'bridge-a', '--config', join(dir, 'bridge.json'),
    '--export', AB, BA, OD, RESTART, KILL, '--import', AB, BA];
  const argsB = () => ['--server', sb.url, '--name', 'bridge-b', '--config', join(dir, 'bridge.json'),
    '--export', AB, BA, '--import', AB, BA, OD, RESTART, KILL];
  const startA = async () => (a = await startBridge(hostA.launcher, argsA()));
  const startB = async () => (b = await startBridge(hostB.launcher, argsB()));

  /** A joined actor process in `host`'s namespace. */
  const actorIn = async (host: Host): Promise<Actor> => {
    const x = await spawnActor({}, host.launcher);
    actors.push(x);
    await x.call('join', { poolSize: '8M', poolMax: '512M' });
    return x;
  };

  /** The C subscriber in `host`'s namespace, subscribed ("ready") for `count` messages. */
  const cSubscriber = async (host: Host, topic: string, count: number) => {
    const p = run(host.launcher[0] as string, [...host.launcher.slice(1), cSub, topic, String(count)], ['ready', 'msg']);
    expect(await p.next()).toBe('ready');
    return p;
  };

  // A failed test shows what the bridges said.
  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [name, x] of [['A', a], ['B', b]] as const) {
      console.log(`bridge ${name} (pid ${x?.pid}) events:\n${x?.events.filter((e) => e.type !== 'stats').slice(-40).map((e) => JSON.stringify(e)).join('\n')}`);
    }
  });

  const is = (type: string, topic?: string) => (e: Event) => e.type === type && (topic === undefined || e.topic === topic);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agnocast-bridge-'));
    // Leases longer than the default: under TCG a bridge copying 64 MiB can be busy for seconds.
    writeFileSync(join(dir, 'bridge.json'), JSON.stringify({ leaseMs: 15_000 }));
    cluster = await startCluster(2);
    [sa, sb] = cluster.servers as [NatsServer, NatsServer];
    hostA = await ipcNamespace();
    hostB = await ipcNamespace();
    await startA();
    await startB();
  });

  afterAll(async () => {
    for (const x of actors.splice(0)) {
      x.kill('SIGKILL');
      await x.exited;
    }
    await a?.kill();
    await b?.kill();
    await hostA?.close();
    await hostB?.close();
    await cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Publisher in `from`, a TypeScript and a C subscriber in `to` and a local
   * listener next to the publisher (which makes the other bridge export the
   * topic too: an echo would reach it). Lock-step through SIZES.
   */
  async function oneWay(from: Host, to: Host, fromBridge: () => BridgeProcess, toBridge: () => BridgeProcess, topic: string) {
    const pub = await actorIn(from);
    await pub.call('publisher', { topic, depth: 2 });
    const listener = await actorIn(from);
    await listener.call('subscribeContent', { topic, depth: 4 });
    const ts = await actorIn(to);
    await ts.call('subscribeContent', { topic, depth: 4 });
    const c = await cSubscriber(to, topic, SIZES.length);
    // Both bridges see the interest of the other side's subscribers (polled locally, then a want).
    await toBridge().waitFor(is('import-start', topic));
    await fromBridge().waitFor(is('export-start', topic));
    await fromBridge().waitFor(is('import-start', topic));
    await toBridge().waitFor(is('export-start', topic));

    const sent: { hash: string }[] = [];
    for (const [index, size] of SIZES.entries()) {
      sent.push(await pub.call<{ hash: string }>('publishContent', { topic, size, index }));
      const got = await ts.call<Content[]>('messages', { topic, count: index + 1 });
      expect(got[index]).toEqual({ index, size, hash: sent[index]?.hash, ok: true, pid: toBridge().pid });
      const line = (await c.next()).split(' ');
      expect(line).toEqual(['msg', String(index), String(size), sent[index]?.hash, 'ok', String(toBridge().pid)]);
    }
    expect(await c.exited).toBe(0);
    // The listener next to the publisher got each message once, from the publisher itself.
    const local = await listener.call<Content[]>('messages', { topic, count: SIZES.length });
    expect(local.map((m) => [m.index, m.ok, m.pid])).toEqual(SIZES.map((_, i) => [i, true, pub.pid]));
    return { pub, listener, ts };
  }

  it('carries 64 B to 64 MiB from A to B, verified in TypeScript and in C, nothing lost, no echo', async () => {
    await oneWay(hostA, hostB, () => a, () => b, AB);
  }, 600_000);

  it('and from B to A', async () => {
    const { listener } = await oneWay(hostB, hostA, () => b, () => a, BA);
    // The lock-step run of B -> A came after A -> B: any echo of either would be there by now.
    expect(await listener.call<Content[]>('received', { topic: BA })).toHaveLength(SIZES.length);
    // Each bridge exported exactly its own publisher's messages: what it
    // imported (on topics it also exports) was seen and not sent back.
    const [sa1, sb1] = [await a.stats(), await b.stats()];
    expect(sa1).toMatchObject({ exported: SIZES.length, imported: SIZES.length, lost: 0 });
    expect(sb1).toMatchObject({ exported: SIZES.length, imported: SIZES.length, lost: 0 });
    console.log(`after both ways: A exported ${sa1.exported}, imported ${sa1.imported}, skipped ${sa1.skippedBridged} of its own imports; ` +
      `B exported ${sb1.exported}, imported ${sb1.imported}, skipped ${sb1.skippedBridged}; A's events on ${BA}: ` +
      JSON.stringify(a.events.filter((e) => e.topic === BA).map((e) => e.type)));
    expect(sa1.skippedBridged).toBeGreaterThan(0);
    expect(sb1.skippedBridged).toBeGreaterThan(0);
    expect([sa1.dropped, sb1.dropped].map((d) => Object.values(d as Record<string, number>).reduce((x, y) => x + y)))
      .toEqual([0, 0]);
  }, 600_000);

  it('exports on demand: nothing on NATS while no bridge imports the topic, not even a local subscription', async () => {
    const connz = async () => (await sa.monitoring<Connz>('connz')).connections.find((x) => x.name === 'bridge-a');
    const seen: number[] = [];
    const raw: NatsConnection = await connect({ servers: sb.url });
    raw.subscribe('agnocast.t.br.od', { callback: (err, m) => {
      if (!err) seen.push(new DataView(m.data.buffer, m.data.byteOffset).getUint32(4, true));
    } });
    await raw.flush();
    const pub = await actorIn(hostA);
    await pub.call('publisher', { topic: OD, depth: 1 });
    const n = 20;
    const size = 64 * KiB;

    const before = await connz();
    for (let i = 0; i < n; i++) await pub.call('publishContent', { topic: OD, size, index: i });
    // Not exported: bridge A does not even subscribe to the topic.
    expect(await pub.call('counts', { topic: OD })).toEqual({ subscribers: 0, publishers: 1 });
    const idle = await connz();

    const ts = await actorIn(hostB);
    await ts.call('subscribeContent', { topic: OD, depth: 4 });
    const mark = a.events.length;
    await a.waitFor(is('export-start', OD), mark);
    expect(await pub.call('counts', { topic: OD })).toEqual({ subscribers: 1, publishers: 1 });
    const wanted = await connz();
    for (let i = n; i < 2 * n; i++) {
      await pub.call('publishContent', { topic: OD, size, index: i });
      await ts.call('messages', { topic: OD, count: i - n + 1 });
    }
    const busy = await connz();
    await raw.flush();
    // NATS keeps a connection's order: anything sent while unwanted would have come first.
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => n + i));

    const stopMark = a.events.length;
    await ts.call('closeSubscription', { topic: OD });
    await a.waitFor(is('export-stop', OD), stopMark);
    expect(await pub.call('counts', { topic: OD })).toEqual({ subscribers: 0, publishers: 1 });
    await raw.close();

    const idleBytes = (idle?.in_bytes ?? 0) - (before?.in_bytes ?? 0);
    const busyBytes = (busy?.in_bytes ?? 0) - (wanted?.in_bytes ?? 0);
    console.log(`on-demand export, ${n} x 64 KiB each way: no remote interest: bridge A sent ` +
      `${(idle?.in_msgs ?? 0) - (before?.in_msgs ?? 0)} NATS messages, ${idleBytes} bytes (control only); ` +
      `with interest: ${(busy?.in_msgs ?? 0) - (wanted?.in_msgs ?? 0)} messages, ${busyBytes} bytes`);
    expect(idleBytes).toBeLessThan(size);
    expect(busyBytes).toBeGreaterThanOrEqual(n * size);
  }, 300_000);

  it('carries on after its NATS server restarts, and reports the messages lost meanwhile', async () => {
    const pub = await actorIn(hostA);
    await pub.call('publisher', { topic: RESTART, depth: 2 });
    const ts = await actorIn(hostB);
    await ts.call('subscribeContent', { topic: RESTART, depth: 4 });
    await a.waitFor(is('export-start', RESTART));
    const size = 256 * KiB;
    let index = 0;
    const step = async (expected: number) => {
      await pub.call('publishContent', { topic: RESTART, size, index: index++ });
      return ts.call<Content[]>('messages', { topic: RESTART, count: expected });
    };
    for (let i = 1; i <= 3; i++) await step(i);

    const mark = a.events.length;
    await sa.stop();
    await a.waitFor(is('disconnected'), mark);
    for (let i = 0; i < 2; i++) {
      await pub.call('publishContent', { topic: RESTART, size, index: index++ });
      await a.waitFor((e) => e.type === 'not-sent' && e.topic === RESTART && e.seq === 4 + i, mark);
    }
    await sa.start();
    const back = a.events.indexOf(await a.waitFor(is('reconnected'), mark));
    // B's want reaching A proves the route is up again and B's interest known to A's server.
    await a.waitFor(is('interest', RESTART), back);
    const gapMark = b.events.length;
    let got: Content[] = [];
    for (let i = 4; i <= 6; i++) got = await step(i);
    expect(got.map((m) => [m.index, m.ok, m.pid])).toEqual([0, 1, 2, 5, 6, 7].map((i) => [i, true, b.pid]));
    expect(await b.waitFor(is('gap', RESTART), gapMark)).toMatchObject({ lost: 2 });
    expect((await a.stats()).notSent).toBe(2);
    await ts.call('closeSubscription', { topic: RESTART });
  }, 300_000);

  it('a bridge killed with SIGKILL: local publishers and subscribers carry on, the module cleans up, a new bridge resumes', async () => {
    const pub = await actorIn(hostA);
    await pub.call('publisher', { topic: KILL, depth: 2 });
    const ts = await actorIn(hostB);
    await ts.call('subscribeContent', { topic: KILL, depth: 4 });
    await a.waitFor(is('export-start', KILL));
    const size = 128 * KiB;
    let index = 0;
    const step = async (expected: number) => {
      await pub.call('publishContent', { topic: KILL, size, index: index++ });
      return ts.call<Content[]>('messages', { topic: KILL, count: expected });
    };
    await step(1);

    // The importing side's bridge dies.
    const oldB = b;
    await oldB.kill();
    expect(await ts.call('counts', { topic: KILL })).toEqual({ subscribers: 1, publishers: 0 });
    expect(await ts.call('counts', { topic: `/_agnocast/bridge/${oldB.pid}` })).toEqual({ subscribers: 0, publishers: 0 });
    await pub.call('publishContent', { topic: KILL, size, index: index++ });	// goes nowhere, harms nothing
    const mark = a.events.length;
    await startB();
    const bId = (b.events.find(is('started')) as Event).id;
    await a.waitFor((e) => e.type === 'interest' && e.topic === KILL && e.bridge === bId, mark);
    let got = await step(2);
    expect(got.map((m) => [m.index, m.ok, m.pid])).toEqual([[0, true, oldB.pid], [2, true, b.pid]]);

    // The exporting side's bridge dies.
    const oldA = a;
    await oldA.kill();
    expect(await pub.call('counts', { topic: KILL })).toEqual({ subscribers: 0, publishers: 1 });
    await pub.call('publishContent', { topic: KILL, size, index: index++ });	// no bridge: nobody reads it
    await startA();
    await a.waitFor(is('export-start', KILL));
    got = await step(3);
    expect(got.map((m) => [m.index, m.ok])).toEqual([[0, true], [2, true], [4, true]]);
    await ts.call('closeSubscription', { topic: KILL });
  }, 300_000);

  it('stopped, the bridges leave nothing behind in the module', async () => {
    for (const x of actors.splice(0)) {
      await x.call('exit').catch(() => undefined);
      await x.exited;
    }
    const [fa, fb] = [await a.stop(), await b.stop()];
    console.log(`bridge A final counters: ${JSON.stringify(fa)}\nbridge B final counters: ${JSON.stringify(fb)}`);
    expect(totals()).toEqual(ZERO);
  }, 120_000);
});
