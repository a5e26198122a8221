// SPDX-License-Identifier: Apache-2.0
/**
 * bridge(node, options): agnocast topics over NATS (README, "Two machines").
 *
 * One NATS connection per bridge (noEcho: the server never hands us back
 * what we published), reconnecting for ever. Exported topics are sent
 * while some bridge wants them (exporter.ts), imported topics are asked
 * for while a local subscriber exists (importer.ts); subjects in
 * subject.ts, the chunk format in wire.ts, the interest protocol in
 * control.ts, the only use of the agnocast library in local.ts.
 *
 * No loops, three ways: noEcho; an importer drops messages whose origin is
 * itself; an exporter never sends what a bridge published locally (the
 * process mark of local.ts), so a message that came from NATS never goes
 * back.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import {
  connect, credsAuthenticator, nuid, type Msg, type NatsConnection, type NodeConnectionOptions,
} from '@nats-io/transport-node';
import type { AgnocastNode } from '../node.js';
import type { BridgeContext } from './context.js';
import { type Control, decodeControl, encodeControl } from './control.js';
import { BridgeConfigError, BridgeConnectError } from './errors.js';
import { type BridgeEvent, type BridgeStats, type DropReason, emptyStats } from './events.js';
import { Exporter } from './exporter.js';
import { Importer } from './importer.js';
import { type LocalSide, NodeLocalSide } from './local.js';
import { type BridgeOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { controlSubject } from './subject.js';

/** Room left in a NATS message for our headers. */
const HEADER_ROOM = 1024;

export interface BridgeEvents {
  event: [BridgeEvent];
}

export class Bridge extends EventEmitter<BridgeEvents> {
  /** This run's id: the Agnocast-Origin of what it exports. */
  readonly id: string;
  readonly options: ResolvedOptions;
  #nc: NatsConnection;
  #local: LocalSide;
  #ctx: BridgeContext;
  #exporters = new Map<string, Exporter>();
  #importers: Importer[] = [];
  #timer: NodeJS.Timeout;
  #closed = false;
  #connected = true;
  #stats = emptyStats();

  /** @internal Use bridge(). */
  constructor(nc: NatsConnection, local: LocalSide, options: ResolvedOptions, id: string) {
    super();
    this.id = id;
    this.options = options;
    this.#nc = nc;
    this.#local = local;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.#ctx = {
      id, nc, local, opts: options, stats: this.#stats, reassembling: 0,
      get connected() {
        return self.#connected && !nc.isClosed();
      },
      get chunkSize() {
        return Math.max(1, Math.min(options.chunkSize, (nc.info?.max_payload ?? options.chunkSize) - HEADER_ROOM));
      },
      emit: (e) => this.emit('event', e),
      drop: (topic, subject, reason, detail) => this.#drop(topic, subject, reason, detail),
    };
    for (const spec of options.exports) this.#exporters.set(spec.topic, new Exporter(this.#ctx, spec));
    const control = (kind: Control['kind']) => nc.subscribe(controlSubject(options.prefix, kind), {
      callback: (err, msg) => {
        if (!err) this.#onControl(kind, msg);
      },
    });
    if (this.#exporters.size) {
      control('want');
      control('unwant');
    }
    if (options.imports.length) control('query');
    // A lease lapses only on time this process was listening: after a
    // stall (a late tick: the event loop was busy, e.g. copying a large
    // message) the leases are extended by the stall, and the check waits
    // for the I/O already pending (setImmediate runs after the poll phase),
    // so that refreshes that arrived meanwhile are read first.
    const period = Math.max(1, Math.floor(options.leaseMs / 3));
    let last = Date.now();
    this.#timer = setInterval(() => {
      const now = Date.now();
      const stalled = Math.max(0, now - last - period);
      last = now;
      setImmediate(() => {
        for (const e of this.#exporters.values()) e.expire(Date.now(), stalled > period / 2 ? stalled : 0);
      });
    }, period);
    this.#timer.unref();
    void this.#watchStatus();
    queueMicrotask(() => {
      this.emit('event', { type: 'connected', server: nc.getServer(), maxPayload: nc.info?.max_payload ?? 0, chunkSize: this.#ctx.chunkSize });
      for (const spec of options.imports) this.#importers.push(new Importer(this.#ctx, spec));
      this.#query();
    });
  }

  /** Counters since the start (a copy). */
  get stats(): BridgeStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  get connected(): boolean {
    return this.#ctx.connected;
  }

  /** Topics exported right now (some bridge wants them), and imported right now (local subscribers). */
  get active(): { exporting: string[]; importing: string[] } {
    return {
      exporting: [...this.#exporters.values()].filter((e) => e.active).map((e) => e.spec.topic),
      importing: this.#importers.filter((i) => i.active).map((i) => i.spec.topic),
    };
  }

  /** Stops bridging: unwants, closes the local endpoints, drains the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const i of this.#importers) i.close();
    for (const e of this.#exporters.values()) e.close();
    try {
      if (!this.#nc.isClosed()) await this.#nc.flush();
    } catch {
      // Disconnected: nothing to flush.
    }
    await this.#nc.close();
    // After the exporters' deferred releases (they close their subscriptions).
    await new Promise((r) => setImmediate(r));
    this.#local.close();
  }

  #query(): void {
    if (this.#exporters.size && this.#ctx.connected) {
      this.#nc.publish(controlSubject(this.options.prefix, 'query'), encodeControl({ kind: 'query', bridge: this.id }));
    }
  }

  #drop(topic: string | null, subject: string, reason: DropReason, detail: string): void {
    this.#stats.dropped[reason]++;
    this.emit('event', { type: 'drop', topic, subject, reason, detail });
  }

  #onControl(kind: Control['kind'], msg: Msg): void {
    const c = decodeControl(kind, msg.data);
    if (typeof c === 'string') {
      this.#drop(null, msg.subject, 'control', c);
      return;
    }
    if (c.bridge === this.id) return;
    if (c.kind === 'query') {
      for (const i of this.#importers) i.announce();
      return;
    }
    const e = this.#exporters.get(c.topic);
    if (!e) return;	// someone else's export
    if (c.kind === 'want') e.want(c.bridge, c.history);
    else e.unwant(c.bridge);
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') {
        this.#connected = false;
        this.emit('event', { type: 'disconnected', server: s.server });
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        this.#stats.reconnects++;
        for (const e of this.#exporters.values()) e.reconnected();
        this.emit('event', { type: 'reconnected', server: s.server });
        this.#query();
        for (const i of this.#importers) i.announce();
      }
    }
  }
}

/** Connects to NATS and starts bridging. BridgeConnectError if no server answers. */
export async function bridge(node: AgnocastNode, options: BridgeOptions): Promise<Bridge> {
  return bridgeOver((opts) => new NodeLocalSide(node, opts.pollMs), options);
}

/** @internal bridge() over any LocalSide (the host tests use an in-memory one). */
export async function bridgeOver(makeLocal: (opts: ResolvedOptions) => LocalSide, options: BridgeOptions): Promise<Bridge> {
  const opts = resolveOptions(options);
  const { credsFile, ...nats } = opts.nats;
  const co: NodeConnectionOptions = {
    ...nats,
    servers: opts.servers,
    name: opts.name,
    noEcho: true,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: nats.reconnectTimeWait ?? 250,
  };
  if (credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(credsFile);
    } catch (e) {
      throw new BridgeConfigError(`cannot read the NATS credentials file ${credsFile}: ${(e as Error).message}`);
    }
    co.authenticator = credsAuthenticator(creds);
  }
  let nc: NatsConnection;
  try {
    nc = await connect(co);
  } catch (e) {
    throw new BridgeConnectError(`cannot connect to NATS at ${opts.servers.join(', ')}: ${(e as Error).message}; ` +
      'is a nats-server running there (apt-get install nats-server), and are the credentials and TLS options right?', e);
  }
  return new Bridge(nc, makeLocal(opts), opts, nuid.next());
}


