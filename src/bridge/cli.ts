// SPDX-License-Identifier: Apache-2.0
/**
 * agnocast bridge --server nats://HOST:PORT [--export TOPIC…] [--import TOPIC…] [--config FILE] …
 *
 * Runs a bridge until SIGINT or SIGTERM; prints its events, one a line
 * (JSON with --json), and its counters on SIGUSR2 and at the end.
 */
import { join } from '../node.js';
import { bridge } from './bridge.js';
import { BridgeConfigError } from './errors.js';
import type { BridgeEvent, BridgeStats } from './events.js';
import { type BridgeOptions, type BridgeTopic, loadConfig, type NatsOptions } from './options.js';

export const BRIDGE_USAGE = `usage: agnocast bridge --server nats://HOST:PORT [--export TOPIC…] [--import TOPIC…] [--config FILE]
         [--prefix P] [--internal] [--chunk-size N] [--pool-size N] [--pool-max N] [--json]
         [--creds FILE | --user U --pass P | --token T] [--tls-ca FILE] [--tls-cert FILE] [--tls-key FILE]
  --export TOPIC…   local topics to publish on NATS while another bridge imports them
  --import TOPIC…   topics to take from NATS and publish here while a local subscriber exists
  --config FILE     JSON: the options of bridge(node, options) (per-topic depth and transientLocal)
  --internal        allow /_agnocast/… topics
  --json            events and counters as JSON lines
`;

interface CliOptions {
  options: Partial<BridgeOptions>;
  json: boolean;
  poolSize: string;
  poolMax: string;
}

const VALUED = new Set(['--server', '--config', '--prefix', '--chunk-size', '--pool-size', '--pool-max', '--creds',
  '--user', '--pass', '--token', '--tls-ca', '--tls-cert', '--tls-key', '--name']);

export function parseBridgeArgs(argv: string[]): CliOptions {
  const servers: string[] = [];
  const exports: (string | BridgeTopic)[] = [];
  const imports: (string | BridgeTopic)[] = [];
  const values = new Map<string, string>();
  let json = false;
  let internal = false;
  let list: (string | BridgeTopic)[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--export') list = exports;
    else if (a === '--import') list = imports;
    else if (a === '--json') json = true;
    else if (a === '--internal') internal = true;
    else if (VALUED.has(a)) {
      const v = argv[++i];
      if (v === undefined) throw new BridgeConfigError(`${a} needs a value\n${BRIDGE_USAGE}`);
      if (a === '--server') servers.push(v);
      else values.set(a, v);
      list = undefined;
    } else if (a.startsWith('--')) {
      throw new BridgeConfigError(`unknown option ${a}\n${BRIDGE_USAGE}`);
    } else if (list) list.push(a);
    else throw new BridgeConfigError(`"${a}": a topic must follow --export or --import\n${BRIDGE_USAGE}`);
  }
  const config = values.has('--config') ? loadConfig(values.get('--config') as string) : {};
  const o: Partial<BridgeOptions> = { ...config };
  if (servers.length) o.servers = servers;
  if (exports.length) o.export = [...(config.export ?? []), ...exports];
  if (imports.length) o.import = [...(config.import ?? []), ...imports];
  if (internal) o.internal = true;
  if (values.has('--prefix')) o.prefix = values.get('--prefix') as string;
  if (values.has('--name')) o.name = values.get('--name') as string;
  if (values.has('--chunk-size')) o.chunkSize = values.get('--chunk-size') as BridgeOptions['chunkSize'] & string;
  const nats: NatsOptions = { ...(config.nats ?? {}) };
  if (values.has('--creds')) nats.credsFile = values.get('--creds') as string;
  if (values.has('--user')) nats.user = values.get('--user') as string;
  if (values.has('--pass')) nats.pass = values.get('--pass') as string;
  if (values.has('--token')) nats.token = values.get('--token') as string;
  const tls = { ...(nats.tls ?? {}) };
  if (values.has('--tls-ca')) tls.caFile = values.get('--tls-ca') as string;
  if (values.has('--tls-cert')) tls.certFile = values.get('--tls-cert') as string;
  if (values.has('--tls-key')) tls.keyFile = values.get('--tls-key') as string;
  if (Object.keys(tls).length) nats.tls = tls;
  if (Object.keys(nats).length) o.nats = nats;
  return { options: o, json, poolSize: values.get('--pool-size') ?? '64M', poolMax: values.get('--pool-max') ?? '4G' };
}

function describe(e: BridgeEvent): string {
  switch (e.type) {
    case 'connected': return `connected to ${e.server} (max_payload ${e.maxPayload}, chunks of ${e.chunkSize} bytes)`;
    case 'disconnected': return `disconnected from ${e.server}: reconnecting`;
    case 'reconnected': return `reconnected to ${e.server}`;
    case 'interest': return `${e.topic}: wanted by bridge ${e.bridge} (${e.importers} importing)`;
    case 'export-start': return `${e.topic}: exporting on ${e.subject}`;
    case 'export-stop': return `${e.topic}: export stopped (${e.reason})`;
    case 'import-start': return `${e.topic}: importing from ${e.subject} (${e.localSubscribers} local subscribers)`;
    case 'import-stop': return `${e.topic}: import stopped (${e.reason})`;
    case 'history': return `${e.topic}: ${e.messages} history messages from ${e.origin}`;
    case 'not-sent': return `${e.topic}: message ${e.seq} not sent (NATS unreachable; importers will count it lost)`;
    case 'gap': return `${e.topic}: ${e.lost} messages from ${e.origin} lost`;
    case 'drop': return `dropped a message on ${e.subject}: ${e.reason}: ${e.detail}`;
    case 'error': return `error: ${e.message}`;
  }
}

function formatStats(s: BridgeStats): string {
  const dropped = Object.entries(s.dropped).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  return `exported ${s.exported} (${s.exportedBytes} bytes), not sent ${s.notSent}, imported ${s.imported} ` +
    `(${s.importedBytes} bytes), lost ${s.lost}, history ${s.historyReceived}, reconnects ${s.reconnects}, dropped: ${dropped}`;
}

export async function runBridge(argv: string[]): Promise<number> {
  const cli = parseBridgeArgs(argv);
  const node = join({ poolSize: cli.poolSize as `${number}M`, poolMax: cli.poolMax as `${number}G` });
  const b = await bridge(node, cli.options as BridgeOptions);
  const say = (o: Record<string, unknown>, text: string) => {
    process.stdout.write(cli.json ? `${JSON.stringify(o)}\n` : `bridge: ${text}\n`);
  };
  b.on('event', (e) => say(e, describe(e)));
  say({ type: 'started', id: b.id, pid: node.pid }, `started (id ${b.id}, pid ${node.pid})`);
  const stats = () => say({ type: 'stats', ...b.stats }, formatStats(b.stats));
  process.on('SIGUSR2', stats);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await b.close();
  stats();
  node.close();
  return 0;
}
