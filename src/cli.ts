#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * agnocast status | doctor | module … | topic list | topic info|echo|hz|delay|bw <topic> |
 * topic pub <topic> <text> | --version
 *
 * status, list and info read the module's status file and need no joining;
 * echo, hz, delay and bw subscribe; pub publishes. Bad usage exits 2.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { exitCode, formatChecks, runChecks } from './doctor.js';
import { AgnocastError } from './errors.js';
import {
  defaultInstallOptions, formatModuleStatus, install, moduleStatus, uninstall,
} from './module-install.js';
import { join } from './node.js';
import { INTERNAL_PREFIX } from './options.js';
import { formatStatus, formatTopic, formatTopics, readStatus } from './status.js';

const USAGE = `usage: agnocast <command>

  status                 processes, pools, topics and counts
  doctor                 check this machine can run agnocast, and say how to fix what is not right
  module install         (root) build agnocast.ko for this kernel (DKMS when present), give
                         /dev/agnocast to the group agnocast, load it  [--no-dkms] [--group G] [--mode 0666]
  module uninstall       (root) undo all of module install
  module status          what of it is in place
  topic list             topic names in this IPC namespace, one a line
                         [-v, --verbose: with their counts] [--json] [--all: with the library's own /_agnocast/ topics]
  topic info <topic>     publishers, subscribers and live entries of a topic
  topic echo <topic>     print messages as they arrive, transient-local history first
                         [--count N] [--once] [--bytes N] [--json]
                         [--schema MODULE#EXPORT: decode each message with that schema()]
  topic hz <topic>       message rate over the last --window N messages, every second;
                         messages older than --age S seconds (default 10) age out  [--json]
  topic delay <topic>    publish-to-receive latency, every second  [--json]
  topic bw <topic>       bytes per second over the last --age S seconds (default 1), every second  [--json]
  topic pub <topic> <text>  publish <text> (UTF-8) --rate HZ times a second (default 1)
                         [--count N] [--once] [--depth N] [--transient-local]
  bridge --server nats://HOST:PORT [--export TOPIC…] [--import TOPIC…] [--config FILE]
                         agnocast topics over NATS, to and from other machines (README, "Two machines")
  --version              the library's version
Options apply to the commands above; a bad option exits with status 2.
`;

function hexdump(data: Uint8Array, max: number): string {
  const shown = Array.from(data.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return data.length > max ? `${shown} …` : shown;
}

/** Bad usage: the usage on stderr, exit status 2. */
class UsageError extends Error {}

function count(v: string | undefined, what: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${what} must be a number >= 0, not "${v}"`);
  return n;
}

/** Ends on SIGINT or SIGTERM: resolves once, after `stop` ran. */
function untilSignal(stop: () => void): Promise<void> {
  return new Promise((resolve) => {
    const end = () => {
      process.off('SIGINT', end);
      process.off('SIGTERM', end);
      stop();
      resolve();
    };
    process.once('SIGINT', end);
    process.once('SIGTERM', end);
  });
}

/** What --schema names: an object with view(bytes) (a schema() of this library). */
interface Decoder { view(bytes: Uint8Array): Record<string, unknown> }

/**
 * --schema MODULE[#NAME.PATH]: a JavaScript module (path from the current
 * directory, or a package) and the export holding the schema, dotted into
 * objects (`typed.mjs#kinds.note.schema`); default: the default export.
 */
async function loadSchema(spec: string): Promise<Decoder> {
  const hash = spec.lastIndexOf('#');
  const file = hash >= 0 ? spec.slice(0, hash) : spec;
  const path = hash >= 0 ? spec.slice(hash + 1).split('.') : ['default'];
  const url = file.startsWith('.') || file.startsWith('/') ? pathToFileURL(resolve(file)).href : file;
  let v: unknown;
  try {
    v = await import(url);
  } catch (e) {
    throw new UsageError(`--schema: cannot import ${file}: ${(e as Error).message}`);
  }
  for (const k of path) v = (v as Record<string, unknown> | undefined)?.[k];
  if (typeof (v as Decoder | undefined)?.view !== 'function') {
    throw new UsageError(`--schema: ${spec} is not a schema (an object made by schema(), with view())`);
  }
  return v as Decoder;
}

/** A decoded message as JSON-friendly values (bigints as strings, typed arrays as arrays). */
function plainFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    out[k] = typeof v === 'bigint' ? String(v)
      : ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? String(x) : x))
        : v;
  }
  return out;
}

async function echo(topic: string, max: number, bytes: number, json: boolean, decoder?: Decoder): Promise<void> {
  const node = join({ poolSize: '1M' });
  // Transient-local: the history that transient-local publishers kept comes first.
  const sub = node.subscribe(topic, { depth: 100, transientLocal: true });
  const ac = new AbortController();
  const stopped = untilSignal(() => ac.abort());
  console.error(`listening on ${topic} (Ctrl-C to stop)`);
  let n = 0;
  for await (const msg of sub.messages({ signal: ac.signal })) {
    const age = Number(process.hrtime.bigint() - msg.timestampNs) / 1e3;
    let fields: Record<string, unknown> | string | undefined;
    if (decoder) {
      try {
        fields = plainFields(decoder.view(msg.data));
      } catch (e) {
        fields = `cannot decode: ${(e as Error).message}`;
      }
    }
    if (json) {
      console.log(JSON.stringify({ seq: String(msg.seq), pid: msg.publisherPid, length: msg.length,
        address: `0x${msg.address.toString(16)}`, ageUs: Math.round(age),
        data: Buffer.from(msg.data.subarray(0, bytes)).toString('hex'), ...(fields !== undefined ? { fields } : {}) }));
    } else {
      console.log(`seq ${msg.seq}  pid ${msg.publisherPid}  ${msg.length} bytes  at 0x${msg.address.toString(16)}` +
        `  ${age.toFixed(0)} µs old\n  ${fields !== undefined ? JSON.stringify(fields) : hexdump(msg.data, bytes)}`);
    }
    if (++n === max) break;
  }
  void stopped;
  node.close();
}

interface Sample { at: bigint; stamp: bigint; bytes: number }

/**
 * hz, delay and bw: a callback subscription keeps samples (receive time,
 * publish time, size); every second `report` prints what the samples say,
 * after dropping those older than `ageNs` or beyond `window`.
 */
async function monitor(topic: string, window: number, ageNs: bigint,
  report: (samples: Sample[], now: bigint) => string | object | null, json: boolean): Promise<void> {
  const node = join({ poolSize: '1M' });
  const samples: Sample[] = [];
  const sub = node.subscribe(topic, { depth: 100 }, (msg) => {
    samples.push({ at: process.hrtime.bigint(), stamp: msg.timestampNs, bytes: msg.length });
    if (samples.length > window) samples.shift();
  });
  sub.on('error', (e: Error) => console.error(`agnocast: ${e.message}`));
  const timer = setInterval(() => {
    const now = process.hrtime.bigint();
    while (samples.length && now - (samples[0] as Sample).at > ageNs) samples.shift();
    const r = report(samples, now);
    if (r === null) console.log(json ? JSON.stringify({ messages: 0 }) : 'no new messages');
    else console.log(json ? JSON.stringify(r) : r);
  }, 1000);
  await untilSignal(() => clearInterval(timer));
  node.close();
}

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, g) => a + (g - mean) ** 2, 0) / xs.length);
  return { mean, min: Math.min(...xs), max: Math.max(...xs), sd };
};

function hzReport(json: boolean) {
  return (samples: Sample[]) => {
    if (samples.length < 2) return null;
    const gaps = samples.slice(1).map((s, i) => Number(s.stamp - (samples[i] as Sample).stamp) / 1e9);
    const g = stats(gaps);
    if (json) return { rateHz: 1 / g.mean, min: g.min, max: g.max, stdDev: g.sd, window: samples.length };
    return `average rate: ${(1 / g.mean).toFixed(3)} Hz\n  min: ${g.min.toFixed(6)}s ` +
      `max: ${g.max.toFixed(6)}s std dev: ${g.sd.toFixed(6)}s window: ${samples.length}`;
  };
}

function delayReport(json: boolean) {
  return (samples: Sample[]) => {
    if (samples.length === 0) return null;
    const d = stats(samples.map((s) => Number(s.at - s.stamp) / 1e9));
    if (json) return { delay: d.mean, min: d.min, max: d.max, stdDev: d.sd, window: samples.length };
    return `average delay: ${(d.mean * 1e6).toFixed(1)} µs\n  min: ${(d.min * 1e6).toFixed(1)} µs ` +
      `max: ${(d.max * 1e6).toFixed(1)} µs std dev: ${(d.sd * 1e6).toFixed(1)} µs window: ${samples.length}`;
  };
}

function bwReport(json: boolean, seconds: number) {
  return (samples: Sample[]) => {
    if (samples.length === 0) return null;
    const total = samples.reduce((a, s) => a + s.bytes, 0);
    const sizes = samples.map((s) => s.bytes);
    if (json) {
      return { bytesPerSecond: total / seconds, bytes: total, messages: samples.length, seconds,
        min: Math.min(...sizes), max: Math.max(...sizes) };
    }
    return `${(total / seconds / 1024).toFixed(2)} KiB/s from ${samples.length} messages in ${seconds} s\n  message size mean: ` +
      `${(total / samples.length).toFixed(0)} B min: ${Math.min(...sizes)} B max: ${Math.max(...sizes)} B`;
  };
}

async function pub(topic: string, text: string, rate: number, max: number, depth: number,
  transientLocal: boolean): Promise<void> {
  const node = join({ poolSize: '1M' });
  const p = node.publisher(topic, { depth, transientLocal });
  const bytes = Buffer.from(text);
  let n = 0;
  const once = () => {
    const seq = p.publish(bytes);
    console.log(`publishing #${++n} (seq ${seq}) on ${topic}: ${text}`);
  };
  once();
  if (n !== max) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const stop = untilSignal(() => {
        clearInterval(timer);
        resolve();
      });
      void stop;
      timer = setInterval(() => {
        once();
        if (n === max) {
          clearInterval(timer);
          resolve();
        }
      }, rate > 0 ? 1000 / rate : 1000);
    });
  }
  node.close();
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'bridge') {
    // Loaded here only: the other commands never load the NATS client.
    const { BRIDGE_USAGE, runBridge } = await import('./bridge/cli.js');
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(BRIDGE_USAGE);
      return 0;
    }
    return runBridge(argv.slice(1));
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        count: { type: 'string' },
        schema: { type: 'string' },
        once: { type: 'boolean' },
        bytes: { type: 'string', default: '16' },
        window: { type: 'string', default: '100' },
        age: { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        names: { type: 'boolean' },
        all: { type: 'boolean' },
        rate: { type: 'string', default: '1' },
        depth: { type: 'string', default: '10' },
        'transient-local': { type: 'boolean' },
        'no-dkms': { type: 'boolean' },
        group: { type: 'string' },
        mode: { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const [cmd, sub, topic] = positionals;
  if (values.version) {
    console.log(version());
    return 0;
  }
  if (values.help || !cmd) {
    (values.help ? process.stdout : process.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  if (cmd === 'doctor') {
    const checks = runChecks();
    console.log(formatChecks(checks));
    return exitCode(checks);
  }
  if (cmd === 'module' && sub) {
    const o = defaultInstallOptions();
    if (values['no-dkms']) o.dkms = false;
    if (values.group) o.group = values.group;
    if (values.mode) o.mode = Number.parseInt(values.mode, 8);
    if (process.env.AGNOCAST_INSTALL_ROOT) o.root = process.env.AGNOCAST_INSTALL_ROOT;
    if (sub === 'install') install(o);
    else if (sub === 'uninstall') uninstall(o);
    else if (sub === 'status') console.log(formatModuleStatus(moduleStatus(o)));
    else throw new UsageError(`unknown command: module ${sub}`);
    return 0;
  }
  if (cmd === 'status') {
    console.log(formatStatus(readStatus()));
    return 0;
  }
  if (cmd === 'topic' && sub === 'list') {
    const s = readStatus();
    if (!values.all) s.topics = s.topics.filter((t) => !t.name.startsWith(INTERNAL_PREFIX));
    // Names only, one a line, by default (like `ros2 topic list`); --names
    // says so explicitly and wins over --verbose.
    if (values.json) {
      console.log(JSON.stringify(s.topics.map((t) => ({ name: t.name, publishers: t.publishers.length,
        subscribers: t.subscribers.length, entries: t.nrEntries, lastSeq: String(t.lastSeq) }))));
    } else if (values.verbose && !values.names) {
      console.log(formatTopics(s));
    } else {
      for (const t of s.topics) console.log(t.name);
    }
    return 0;
  }
  if (cmd === 'topic' && sub && topic) {
    const json = values.json ?? false;
    const window = count(values.window, '--window', 100);
    const age = BigInt(Math.round(count(values.age, '--age', 10) * 1e9));
    switch (sub) {
      case 'info': {
        const t = readStatus().topics.find((x) => x.name === topic);
        if (!t) {
          console.error(`agnocast: no topic ${topic} in this IPC namespace (see: agnocast topic list)`);
          return 1;
        }
        console.log(formatTopic(t));
        return 0;
      }
      case 'echo':
        await echo(topic, values.once ? 1 : count(values.count, '--count', 0), count(values.bytes, '--bytes', 16), json,
          values.schema ? await loadSchema(values.schema) : undefined);
        return 0;
      case 'hz':
        await monitor(topic, Math.max(2, window), age, hzReport(json), json);
        return 0;
      case 'delay':
        await monitor(topic, Math.max(1, window), age, delayReport(json), json);
        return 0;
      case 'bw': {
        const seconds = count(values.age, '--age', 1);
        await monitor(topic, Number.MAX_SAFE_INTEGER, BigInt(Math.round(seconds * 1e9)), bwReport(json, seconds), json);
        return 0;
      }
      case 'pub': {
        const text = positionals[3];
        if (text === undefined) throw new UsageError('topic pub needs the text to publish');
        await pub(topic, text, count(values.rate, '--rate', 1), values.once ? 1 : count(values.count, '--count', 0),
          count(values.depth, '--depth', 10), values['transient-local'] ?? false);
        return 0;
      }
      default:
        throw new UsageError(`unknown command: topic ${sub}`);
    }
  }
  throw new UsageError(`unknown command: ${positionals.join(' ')}`);
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`agnocast: ${e.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  console.error(e instanceof AgnocastError ? `agnocast: ${e.message}` : e);
  process.exitCode = 1;
});
