// SPDX-License-Identifier: Apache-2.0
// The bench's NATS rows (scripts/bench/bench.mjs), over one nats-server
// (Debian's, /usr/sbin/nats-server or $NATS_SERVER) started for the run
// with its default max_payload (1 MiB):
//
//   nats    plain NATS client to client: two processes, each with its own
//           connection; a message larger than a NATS message goes as
//           chunks of CHUNK bytes on bench.plain.data.<size>, the receiver
//           copies them into one buffer (as an application would), then
//           acks on bench.plain.ack.
//   bridge  agnocast -> NATS -> agnocast: a TypeScript publisher and its
//           `agnocast bridge` in this IPC namespace, a TypeScript
//           subscriber and its bridge in another one (unshare --ipc: the
//           bench runs as root in the guest), the acks back the same way.
//           Each bridge chunks at the same CHUNK bytes.
//
// Both are lock-step like every row: latency is one-way (receiver's clock
// when the whole message is readable - the sender's stamp in the message),
// rate is round trips per second, each crossing NATS twice.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { start } from './proc.mjs';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
/** What the bridge sends per NATS message with the server's default max_payload (1 MiB less 1 KiB for headers). */
export const CHUNK = 1024 * 1024 - 1024;
export const BR_DATA = '/agnocast_bench/br_data';
export const BR_ACK = '/agnocast_bench/br_ack';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A nats-server on loopback; resolves once it accepts clients. */
export async function startNatsServer() {
  if (!fs.existsSync(NATS_SERVER)) {
    throw new Error(`${NATS_SERVER} not found: install Debian's nats-server (bash scripts/setup.sh, or apt-get install nats-server)`);
  }
  const port = await freePort();
  const proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((r) => proc.once('exit', r));
  await new Promise((resolve, reject) => {
    const log = [];
    proc.once('exit', (code) => reject(new Error(`nats-server exited (${code}):\n${log.join('\n')}`)));
    createInterface({ input: proc.stderr }).on('line', (line) => {
      log.push(line);
      if (/Server is ready/.test(line)) resolve();
    });
  });
  return { url: `nats://127.0.0.1:${port}`, stop: async () => { proc.kill('SIGTERM'); await exited; } };
}

/** A holder of a new IPC namespace; `launcher` runs a command in it. */
async function ipcNamespace() {
  if (process.getuid?.() !== 0) throw new Error('the bridged row needs root (it simulates the second machine with unshare --ipc)');
  const holder = spawn('unshare', ['--ipc', '--', 'sh', '-c', 'echo ready && exec sleep infinity'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => holder.once('exit', r));
  await new Promise((resolve, reject) => {
    createInterface({ input: holder.stdout }).once('line', resolve);
    holder.once('exit', (code) => reject(new Error(`unshare --ipc exited (${code})`)));
  });
  return { launcher: ['nsenter', `--ipc=/proc/${holder.pid}/ns/ipc`, '--'], close: async () => { holder.kill('SIGKILL'); await exited; } };
}

/** `agnocast bridge --json …`, its events, and a wait for one. */
function startBridge(root, launcher, args) {
  const [cmd, ...pre] = [...launcher, process.execPath, path.join(root, 'dist/cli.js'), 'bridge', '--json', ...args];
  const child = spawn(cmd, pre, { stdio: ['ignore', 'pipe', 'inherit'] });
  const events = [];
  const waiters = new Set();
  const exited = new Promise((r) => child.once('exit', r));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    events.push(e);
    for (const w of [...waiters]) if (w.match(e)) { waiters.delete(w); w.resolve(e); }
  });
  const waitFor = (match) => {
    const found = events.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      waiters.add({ match, resolve });
      void exited.then((code) => reject(new Error(`agnocast bridge ${args.join(' ')} exited (${code})`)));
    });
  };
  return { waitFor, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

/** Receiver of the plain row: reassembles, acks (seq, latency ns). */
export async function roleNatsSub(url, latencyOf) {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: url, name: 'bench-plain-sub' });
  let buf = null;
  let at = 0;
  nc.subscribe('bench.plain.data.*', { callback: (err, m) => {
    if (err) return;
    if (at === 0) buf = Buffer.allocUnsafe(Number(m.subject.slice(m.subject.lastIndexOf('.') + 1)));
    buf.set(m.data, at);
    at += m.data.length;
    if (at < buf.length) return;
    at = 0;
    const [seq, lat] = latencyOf(buf);
    const ack = Buffer.allocUnsafe(16);
    ack.writeBigUInt64LE(seq, 0);
    ack.writeBigUInt64LE(BigInt(lat), 8);
    nc.publish('bench.plain.ack', ack);
  } });
  await nc.flush();
  process.once('SIGTERM', () => void nc.close().then(() => process.exit(0)));
  process.stdout.write('ready\n');
}

/** Sender of the plain row, in the driver's process. */
export async function benchNats({ self, sizes, lockstep, filled, stamp, ackBox }) {
  const server = await startNatsServer();
  const { connect } = await import('@nats-io/transport-node');
  const sub = await start(process.execPath, [self, '--role', 'nats-sub', server.url]);
  const nc = await connect({ servers: server.url, name: 'bench-plain-pub' });
  const box = ackBox();
  nc.subscribe('bench.plain.ack', { callback: (err, m) => {
    if (err) return;
    const dv = new DataView(m.data.buffer, m.data.byteOffset, 16);
    box.put(dv.getBigUint64(0, true), Number(dv.getBigUint64(8, true)));
  } });
  await nc.flush();
  try {
    return await lockstep(sizes, filled, (u8, seq) => {
      stamp(u8, seq);
      const subject = `bench.plain.data.${u8.length}`;
      for (let off = 0; off < u8.length; off += CHUNK) nc.publish(subject, u8.subarray(off, Math.min(u8.length, off + CHUNK)));
      return box.wait(seq);
    });
  } finally {
    await nc.close();
    sub.child.kill('SIGTERM');
    await sub.exited;
    await server.stop();
  }
}

/**
 * The bridged row: publisher (roleAgnPub on BR_DATA / BR_ACK, told to go
 * once both bridges carry both topics) here, subscriber in another IPC
 * namespace.
 */
export async function benchBridge({ root, self, spec }) {
  const server = await startNatsServer();
  const ns = await ipcNamespace();
  // Leases longer than the default 3 s: under QEMU's TCG a bridge copying
  // 64 MiB can be busy long enough for a lease to lapse, and a lock-step
  // run waits for ever on a message sent while its export had stopped.
  const config = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agnocast-bench-')), 'bridge.json');
  fs.writeFileSync(config, JSON.stringify({ leaseMs: 20000 }));
  const here = startBridge(root, [], ['--server', server.url, '--name', 'bench-bridge-a', '--config', config,
    '--export', BR_DATA, '--import', BR_ACK]);
  const there = startBridge(root, ns.launcher, ['--server', server.url, '--name', 'bench-bridge-b', '--config', config,
    '--pool-size', '128M', '--import', BR_DATA, '--export', BR_ACK]);
  let sub;
  let pub;
  try {
    const say = (what) => process.stderr.write(`[${what}] `);
    await Promise.all([here.waitFor((e) => e.type === 'started'), there.waitFor((e) => e.type === 'started')]);
    say('bridges up');
    sub = await start(ns.launcher[0], [...ns.launcher.slice(1), process.execPath, self, '--role', 'agn-sub', BR_DATA, BR_ACK]);
    await here.waitFor((e) => e.type === 'export-start' && e.topic === BR_DATA);
    say('data exported');
    let out = '';
    pub = spawn(process.execPath, [self, '--role', 'agn-pub', spec, BR_DATA, BR_ACK, 'go'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const done = new Promise((resolve, reject) => pub.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bridged publisher exited ${code}`)))));
    const lines = createInterface({ input: pub.stdout });
    const subscribed = new Promise((resolve) => lines.on('line', (l) => {
      if (l === 'subscribed') resolve();
      else out = l;
    }));
    await subscribed;
    await there.waitFor((e) => e.type === 'export-start' && e.topic === BR_ACK);
    say('acks exported');
    pub.stdin.end('go\n');
    await done;
    return JSON.parse(out);
  } finally {
    pub?.kill('SIGKILL');
    sub?.child.kill('SIGTERM');
    await sub?.exited;
    await here.stop();
    await there.stop();
    await ns.close();
    await server.stop();
    fs.rmSync(path.dirname(config), { recursive: true, force: true });
  }
}
