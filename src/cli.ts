#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * agnocast status | doctor | topic list | topic info <topic> | topic echo <topic> | topic hz <topic>
 *
 * status, list and info read the module's status file and need no joining;
 * echo and hz subscribe.
 */
import { parseArgs } from 'node:util';
import { BRIDGE_USAGE, runBridge } from './bridge/cli.js';
import { exitCode, formatChecks, runChecks } from './doctor.js';
import { AgnocastError } from './errors.js';
import {
  defaultInstallOptions, formatModuleStatus, install, moduleStatus, uninstall,
} from './module-install.js';
import { join } from './node.js';
import { formatStatus, formatTopic, formatTopics, readStatus } from './status.js';

const USAGE = `usage: agnocast <command>

  status                 processes, pools, topics and counts
  doctor                 check this machine can run agnocast, and say how to fix what is not right
  module install         (root) build agnocast.ko for this kernel (DKMS when present), give
                         /dev/agnocast to the group agnocast, load it  [--no-dkms] [--group G] [--mode 0666]
  module uninstall       (root) undo all of module install
  module status          what of it is in place
  topic list             topics in this IPC namespace
  topic info <topic>     publishers, subscribers and live entries of a topic
  topic echo <topic>     print messages as they arrive  [--count N] [--bytes N]
  topic hz <topic>       message rate, every second      [--window N]
  bridge --server nats://HOST:PORT [--export TOPIC…] [--import TOPIC…] [--config FILE]
                         agnocast topics over NATS, to and from other machines (README, "Two machines")
`;

function hexdump(data: Uint8Array, max: number): string {
  const shown = Array.from(data.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return data.length > max ? `${shown} …` : shown;
}

async function echo(topic: string, count: number, bytes: number): Promise<void> {
  const node = join({ poolSize: '1M' });
  const sub = node.subscribe(topic, { depth: 100 });
  process.once('SIGINT', () => sub.close());
  console.error(`listening on ${topic} (Ctrl-C to stop)`);
  let n = 0;
  for await (const msg of sub) {
    const age = Number(process.hrtime.bigint() - msg.timestampNs) / 1e3;
    console.log(`seq ${msg.seq}  pid ${msg.publisherPid}  ${msg.length} bytes  at 0x${msg.address.toString(16)}` +
      `  ${age.toFixed(0)} µs old\n  ${hexdump(msg.data, bytes)}`);
    if (++n === count) break;
  }
  node.close();
}

async function hz(topic: string, window: number): Promise<void> {
  const node = join({ poolSize: '1M' });
  const stamps: bigint[] = [];
  const sub = node.subscribe(topic, { depth: 100 }, (msg) => {
    stamps.push(msg.timestampNs);
    if (stamps.length > window) stamps.shift();
  });
  const timer = setInterval(() => {
    if (stamps.length < 2) {
      console.log('no new messages');
      return;
    }
    const gaps = stamps.slice(1).map((t, i) => Number(t - (stamps[i] as bigint)) / 1e9);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
    console.log(`average rate: ${(1 / mean).toFixed(3)} Hz\n  min: ${Math.min(...gaps).toFixed(6)}s ` +
      `max: ${Math.max(...gaps).toFixed(6)}s std dev: ${sd.toFixed(6)}s window: ${gaps.length + 1}`);
  }, 1000);
  process.once('SIGINT', () => {
    clearInterval(timer);
    sub.close();
    node.close();
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'bridge') {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(BRIDGE_USAGE);
      return 0;
    }
    return runBridge(argv.slice(1));
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      count: { type: 'string' },
      bytes: { type: 'string', default: '16' },
      window: { type: 'string', default: '100' },
      'no-dkms': { type: 'boolean' },
      group: { type: 'string' },
      mode: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, sub, topic] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE);
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
    else {
      process.stderr.write(USAGE);
      return 2;
    }
    return 0;
  }
  if (cmd === 'status') {
    console.log(formatStatus(readStatus()));
    return 0;
  }
  if (cmd === 'topic' && sub === 'list') {
    console.log(formatTopics(readStatus()));
    return 0;
  }
  if (cmd === 'topic' && sub && topic) {
    if (sub === 'info') {
      const t = readStatus().topics.find((x) => x.name === topic);
      if (!t) {
        console.error(`agnocast: no topic ${topic} in this IPC namespace (see: agnocast topic list)`);
        return 1;
      }
      console.log(formatTopic(t));
      return 0;
    }
    if (sub === 'echo') {
      await echo(topic, Number(values.count ?? 0), Number(values.bytes));
      return 0;
    }
    if (sub === 'hz') {
      await hz(topic, Number(values.window));
      return 0;
    }
  }
  process.stderr.write(USAGE);
  return 2;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  console.error(e instanceof AgnocastError ? `agnocast: ${e.message}` : e);
  process.exitCode = 1;
});
