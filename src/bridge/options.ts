// SPDX-License-Identifier: Apache-2.0
/**
 * The bridge's options: from the library call, from a JSON config file
 * (`--config FILE`, the same shape), and from the command line.
 */
import { readFileSync } from 'node:fs';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { checkQoS, checkTopic, INTERNAL_PREFIX, parseSize, type Size } from '../options.js';
import { BridgeConfigError } from './errors.js';
import { checkPrefix, DEFAULT_PREFIX, topicToSubject } from './subject.js';

/** A bridged topic and the QoS the bridge uses for it on this side. */
export interface BridgeTopic {
  topic: string;
  /** Exporting: the local subscription's depth and, when transient-local, the history kept for late importers. Importing: the local publisher's depth. Default 10. */
  depth?: number;
  /** Late subscribers on the other side get the retained history. Default false. */
  transientLocal?: boolean;
}

/**
 * Credentials and TLS, handed to the NATS client as they are
 * (`@nats-io/transport-node` ConnectionOptions: user, pass, token,
 * authenticator, tls: { caFile, certFile, keyFile, handshakeFirst }, …).
 * The bridge sets servers, name, noEcho and reconnection itself.
 */
export type NatsOptions = Omit<NodeConnectionOptions, 'servers' | 'noEcho' | 'reconnect' | 'maxReconnectAttempts'> & {
  /** A NATS credentials file (JWT and NKey seed), read at connect. */
  credsFile?: string;
};

export interface BridgeOptions {
  /** nats://HOST:PORT (tls://… for TLS), or several. */
  servers: string | string[];
  /** Local topics to publish on NATS while some bridge elsewhere imports them. */
  export?: (string | BridgeTopic)[];
  /** Topics to take from NATS and publish here while a local subscriber exists. */
  import?: (string | BridgeTopic)[];
  /** First tokens of every subject (default "agnocast"): see subject.ts. */
  prefix?: string;
  /** Allow internal topics (/_agnocast/…) in export and import. Default false. */
  internal?: boolean;
  /** Payload bytes per NATS message; capped by the server's max_payload. Default 1M. */
  chunkSize?: Size;
  /** Larger incoming messages are dropped (counted). Default 256M. */
  maxMessageSize?: Size;
  /** Bytes held by incomplete incoming messages, all topics together; past it new ones are dropped. Default 512M. */
  reassemblyMemory?: Size;
  /** An importer's interest expires this long after its last refresh (it refreshes every third of it). Default 3000. */
  leaseMs?: number;
  /** How often local subscriber counts are read (see local.ts). Default 100. */
  pollMs?: number;
  /** How long an importer waits for the history of a transient-local topic. Default 2000. */
  historyTimeoutMs?: number;
  /** Shown in the NATS server's connection list. */
  name?: string;
  /** Credentials and TLS for the NATS client. */
  nats?: NatsOptions;
}

export interface ResolvedTopic {
  topic: string;
  subject: string;
  depth: number;
  transientLocal: boolean;
}

export interface ResolvedOptions {
  servers: string[];
  exports: ResolvedTopic[];
  imports: ResolvedTopic[];
  prefix: string;
  chunkSize: number;
  maxMessageSize: number;
  reassemblyMemory: number;
  leaseMs: number;
  pollMs: number;
  historyTimeoutMs: number;
  name: string;
  nats: NatsOptions;
}

export { INTERNAL_PREFIX };

function positive(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new BridgeConfigError(`${what} must be a positive whole number, not ${String(value)}`);
  }
  return value;
}

function size(value: Size | undefined, what: string, fallback: number): number {
  try {
    return value === undefined ? fallback : parseSize(value, what);
  } catch (e) {
    throw new BridgeConfigError((e as Error).message);
  }
}

function resolveTopics(list: unknown, what: string, prefix: string, internal: boolean): ResolvedTopic[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new BridgeConfigError(`${what} must be a list of topics`);
  const seen = new Set<string>();
  return list.map((item: unknown) => {
    const spec: BridgeTopic = typeof item === 'string' ? { topic: item } : item as BridgeTopic;
    if (typeof spec !== 'object' || spec === null || typeof spec.topic !== 'string') {
      throw new BridgeConfigError(`${what}: "${JSON.stringify(item)}" is neither a topic nor { topic, depth?, transientLocal? }`);
    }
    let topic: string;
    let qos: { depth: number; transientLocal: boolean };
    try {
      topic = checkTopic(spec.topic);
      const q: { depth?: number; transientLocal?: boolean } = {};
      if (spec.depth !== undefined) q.depth = spec.depth;
      if (spec.transientLocal !== undefined) q.transientLocal = spec.transientLocal;
      qos = checkQoS(q);
    } catch (e) {
      throw new BridgeConfigError(`${what}: ${(e as Error).message}`);
    }
    if (topic.startsWith(INTERNAL_PREFIX) && !internal) {
      throw new BridgeConfigError(`${what}: ${topic} is an internal agnocast topic; bridge it only on purpose, ` +
        'with the option internal: true (--internal)');
    }
    if (seen.has(topic)) throw new BridgeConfigError(`${what}: ${topic} is listed twice`);
    seen.add(topic);
    return { topic, subject: topicToSubject(prefix, topic), ...qos };
  });
}

export function resolveOptions(o: BridgeOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw new BridgeConfigError('bridge options must be an object');
  const servers = typeof o.servers === 'string' ? [o.servers] : o.servers;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new BridgeConfigError('no NATS server: give servers ("nats://HOST:PORT"), or --server on the command line');
  }
  const prefix = checkPrefix(o.prefix ?? DEFAULT_PREFIX);
  const internal = o.internal === true;
  const exports = resolveTopics(o.export, 'export', prefix, internal);
  const imports = resolveTopics(o.import, 'import', prefix, internal);
  if (exports.length + imports.length === 0) {
    throw new BridgeConfigError('nothing to bridge: give at least one topic to export or import');
  }
  const leaseMs = positive(o.leaseMs, 'leaseMs', 3000);
  return {
    servers,
    exports,
    imports,
    prefix,
    chunkSize: size(o.chunkSize, 'chunkSize', 2 ** 20),
    maxMessageSize: size(o.maxMessageSize, 'maxMessageSize', 256 * 2 ** 20),
    reassemblyMemory: size(o.reassemblyMemory, 'reassemblyMemory', 512 * 2 ** 20),
    leaseMs,
    pollMs: positive(o.pollMs, 'pollMs', 100),
    historyTimeoutMs: positive(o.historyTimeoutMs, 'historyTimeoutMs', 2000),
    name: o.name ?? 'agnocast-bridge',
    nats: o.nats ?? {},
  };
}

/** A JSON config file: the BridgeOptions shape ("server" is accepted for one server). */
export function loadConfig(file: string): Partial<BridgeOptions> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BridgeConfigError(`cannot read the bridge config ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BridgeConfigError(`${file} is not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BridgeConfigError(`${file}: the config must be a JSON object (see README, "Two machines")`);
  }
  const { server, ...rest } = json as Partial<BridgeOptions> & { server?: string };
  const known = new Set(['servers', 'export', 'import', 'prefix', 'internal', 'chunkSize', 'maxMessageSize',
    'reassemblyMemory', 'leaseMs', 'pollMs', 'historyTimeoutMs', 'name', 'nats']);
  for (const k of Object.keys(rest)) {
    if (!known.has(k)) throw new BridgeConfigError(`${file}: unknown option "${k}"`);
  }
  return server === undefined ? rest : { ...rest, servers: server };
}
