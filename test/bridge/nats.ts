// SPDX-License-Identifier: Apache-2.0
/**
 * Real nats-server processes for the bridge tests (Debian's nats-server,
 * installed by scripts/setup.sh), clustered with routes on loopback, each
 * with its monitoring endpoint. Readiness is read from the server's log
 * ("Server is ready", "Route connection created"), never waited for by time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

export interface ServerOptions {
  maxPayload?: number;
  maxPending?: number;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly monitor: number;
  /** Resolves once a route to another server is up (only in a cluster). */
  routed(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports; resolves when it accepts clients. */
  start(): Promise<void>;
  /** GET of a monitoring endpoint (varz, connz?subs=1, subsz, routez). */
  monitoring<T = Record<string, unknown>>(path: string): Promise<T>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

class Server implements NatsServer {
  readonly url: string;
  readonly port: number;
  readonly monitor: number;
  #conf: string;
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #routeWaiters: (() => void)[] = [];
  #routes = 0;
  #log: string[] = [];

  constructor(conf: string, port: number, monitor: number) {
    this.#conf = conf;
    this.port = port;
    this.monitor = monitor;
    this.url = `nats://127.0.0.1:${port}`;
  }

  start(): Promise<void> {
    this.#routes = 0;
    const proc = spawn(NATS_SERVER, ['-c', this.#conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    this.#exited = new Promise((r) => proc.once('exit', () => r()));
    return new Promise((resolve, reject) => {
      let ready = false;
      proc.once('exit', (code) => {
        if (!ready) reject(new Error(`nats-server -c ${this.#conf} exited (${code}):\n${this.#log.join('\n')}`));
      });
      createInterface({ input: proc.stderr! }).on('line', (line) => {
        this.#log.push(line);
        if (this.#log.length > 50) this.#log.shift();
        if (/Server is ready/.test(line)) {
          ready = true;
          resolve();
        }
        if (/Route connection created/.test(line)) {
          this.#routes++;
          for (const w of this.#routeWaiters.splice(0)) w();
        }
      });
    });
  }

  routed(): Promise<void> {
    return this.#routes > 0 ? Promise.resolve() : new Promise((r) => this.#routeWaiters.push(r));
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.#proc?.kill(signal);
    await this.#exited;
    this.#proc = undefined;
  }

  async monitoring<T>(path: string): Promise<T> {
    const r = await fetch(`http://127.0.0.1:${this.monitor}/${path}`);
    return await r.json() as T;
  }
}

/**
 * Starts `n` servers, each routed to all the others, and waits until each
 * accepts clients and (n > 1) has a route. stop() all of them at the end.
 */
export async function startCluster(n: number, o: ServerOptions = {}): Promise<{ servers: NatsServer[]; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'agnocast-nats-'));
  const ports: { client: number; monitor: number; cluster: number }[] = [];
  for (let i = 0; i < n; i++) ports.push({ client: await freePort(), monitor: await freePort(), cluster: await freePort() });
  const servers = ports.map((p, i) => {
    const routes = ports.filter((_, j) => j !== i).map((q) => `nats-route://127.0.0.1:${q.cluster}`);
    const conf = join(dir, `server${i}.conf`);
    writeFileSync(conf, [
      `server_name: agnocast-test-${i}`,
      `listen: 127.0.0.1:${p.client}`,
      `http: 127.0.0.1:${p.monitor}`,
      `max_payload: ${o.maxPayload ?? 1024 * 1024}`,
      `max_pending: ${o.maxPending ?? 256 * 1024 * 1024}`,
      // no_advertise: a client knows only its own server (one per "host"), so
      // stopping that server cuts the client off until it is back.
      ...(n > 1 ? [`cluster { name: agnocast, listen: 127.0.0.1:${p.cluster}, no_advertise: true, routes: [${routes.join(', ')}] }`] : []),
      '',
    ].join('\n'));
    return new Server(conf, p.client, p.monitor);
  });
  await Promise.all(servers.map((s) => s.start()));
  if (n > 1) await Promise.all(servers.map((s) => s.routed()));
  return {
    servers,
    close: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Connz {
  connections: { cid: number; name?: string; in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number; subscriptions_list?: string[] }[];
}

/** in_msgs of the connection named `name` on this server (0 if none). */
export async function messagesIn(server: NatsServer, name: string): Promise<number> {
  const c = await server.monitoring<Connz>('connz?subs=1');
  return c.connections.filter((x) => x.name === name).reduce((a, x) => a + x.in_msgs, 0);
}
