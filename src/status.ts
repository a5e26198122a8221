// SPDX-License-Identifier: Apache-2.0
/**
 * The module's status file, /proc/driver/agnocast (format documented in
 * kmod/uapi/agnocast.h): parsed into objects, and rendered as tables.
 */
import { readFileSync } from 'node:fs';
import { ModuleNotLoadedError } from './errors.js';

export const STATUS_PATH = '/proc/driver/agnocast';

type Fields = Record<string, string>;

export interface StatusProcess {
  pid: number; uid: number; addr: bigint; size: number; max: number; state: 'live' | 'exited';
  attached: boolean; publishers: number; subscribers: number; mappers: number; reclaimable: number;
}
export interface StatusEndpoint { id: number; pid: number; depth: number; transientLocal: boolean }
export interface StatusPublisher extends StatusEndpoint { retained: number }
export interface StatusSubscriber extends StatusEndpoint { held: number; pending: boolean }
export interface StatusEntry {
  seq: bigint; publisher: number; pid: number; addr: bigint; len: number; refs: number; retained: boolean;
}
export interface StatusTopic {
  name: string; lastSeq: bigint;
  /** Entries alive on the topic; `entries` lists the oldest of them (the module prints a bounded number). */
  nrEntries: number;
  publishers: StatusPublisher[]; subscribers: StatusSubscriber[]; entries: StatusEntry[];
}
export interface Status {
  version: string; abi: number;
  totals: { processes: number; topics: number; publishers: number; subscribers: number; entries: number; mappings: number };
  processes: StatusProcess[];
  topics: StatusTopic[];
}

/** "k1 v1 k2 v2 …" after the record's first word(s). */
function pairs(words: string[]): Fields {
  const f: Fields = {};
  for (let i = 0; i + 1 < words.length; i += 2) f[words[i] as string] = words[i + 1] as string;
  return f;
}

function num(f: Fields, k: string): number {
  const v = f[k];
  if (v === undefined) throw new Error(`status file: field "${k}" missing`);
  return Number(v);
}

function big(f: Fields, k: string): bigint {
  const v = f[k];
  if (v === undefined) throw new Error(`status file: field "${k}" missing`);
  return BigInt(v);
}

export function parseStatus(text: string): Status {
  const status: Status = {
    version: '', abi: 0,
    totals: { processes: 0, topics: 0, publishers: 0, subscribers: 0, entries: 0, mappings: 0 },
    processes: [], topics: [],
  };
  let topic: StatusTopic | undefined;
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const kind = words[0];
    if (!kind) continue;
    if (kind === 'agnocast') {
      status.version = words[1] ?? '';
      status.abi = Number(words[3]);
    } else if (kind === 'totals') {
      const f = pairs(words.slice(1));
      status.totals = {
        processes: num(f, 'processes'), topics: num(f, 'topics'), publishers: num(f, 'publishers'),
        subscribers: num(f, 'subscribers'), entries: num(f, 'entries'), mappings: num(f, 'mappings'),
      };
    } else if (kind === 'process') {
      const f = pairs(words.slice(1));
      status.processes.push({
        pid: num(f, 'pid'), uid: num(f, 'uid'), addr: big(f, 'addr'), size: num(f, 'size'), max: num(f, 'max'),
        state: f.state === 'exited' ? 'exited' : 'live', attached: f.attached === '1',
        publishers: num(f, 'publishers'), subscribers: num(f, 'subscribers'),
        mappers: num(f, 'mappers'), reclaimable: num(f, 'reclaimable'),
      });
    } else if (kind === 'topic') {
      const f = pairs(words.slice(2));
      topic = {
        name: words[1] ?? '', lastSeq: big(f, 'last-seq'), nrEntries: num(f, 'entries'),
        publishers: [], subscribers: [], entries: [],
      };
      status.topics.push(topic);
    } else if (topic && (kind === 'publisher' || kind === 'subscriber')) {
      const f = pairs(words.slice(1));
      const ep = { id: num(f, 'id'), pid: num(f, 'pid'), depth: num(f, 'depth'), transientLocal: f['transient-local'] === '1' };
      if (kind === 'publisher') topic.publishers.push({ ...ep, retained: num(f, 'retained') });
      else topic.subscribers.push({ ...ep, held: num(f, 'held'), pending: f.pending === '1' });
    } else if (topic && kind === 'entry') {
      const f = pairs(words.slice(1));
      topic.entries.push({
        seq: big(f, 'seq'), publisher: num(f, 'publisher'), pid: num(f, 'pid'), addr: big(f, 'addr'),
        len: num(f, 'len'), refs: num(f, 'refs'), retained: f.retained === '1',
      });
    }
  }
  return status;
}

/** Reads and parses the status file; ModuleNotLoadedError when it is absent. */
export function readStatus(path = STATUS_PATH): Status {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ModuleNotLoadedError();
    throw e;
  }
  return parseStatus(text);
}

/** A plain-text table: header, rule, rows; numbers right-aligned. */
export function table(header: string[], rows: (string | number | bigint)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => cells.length > 0 && cells.every((r) => /^-?[\d.]+$|^0x/.test(r[i] ?? '')));
  const fmt = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
    .join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(fmt)].join('\n');
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

export function formatStatus(s: Status): string {
  const t = s.totals;
  const out = [
    `agnocast ${s.version} (abi ${s.abi}): ${t.processes} processes, ${t.topics} topics, ` +
    `${t.publishers} publishers, ${t.subscribers} subscribers, ${t.entries} entries, ${t.mappings} pool mappings`,
    '',
    table(['PID', 'POOL', 'SIZE', 'MAX', 'UID', 'STATE', 'PUBS', 'SUBS', 'MAPPED BY', 'RECLAIMABLE'],
      s.processes.map((p) => [p.pid, hex(p.addr), bytes(p.size), bytes(p.max), p.uid,
        p.attached ? p.state : `${p.state} (no pool)`, p.publishers, p.subscribers, p.mappers, p.reclaimable])),
    '',
    formatTopics(s),
  ];
  return out.join('\n');
}

export function formatTopics(s: Status): string {
  return table(['TOPIC', 'PUBLISHERS', 'SUBSCRIBERS', 'ENTRIES', 'LAST SEQ'],
    s.topics.map((t) => [t.name, t.publishers.length, t.subscribers.length, t.nrEntries, t.lastSeq]));
}

export function formatTopic(t: StatusTopic): string {
  const qos = (e: StatusEndpoint) => `depth ${e.depth}${e.transientLocal ? ', transient local' : ''}`;
  return [
    `${t.name}: last seq ${t.lastSeq}, ${t.nrEntries} entries alive` +
      (t.nrEntries > t.entries.length ? ` (the oldest ${t.entries.length} listed)` : ''),
    '',
    table(['PUBLISHER', 'PID', 'QOS', 'RETAINED'], t.publishers.map((p) => [p.id, p.pid, qos(p), p.retained])),
    '',
    table(['SUBSCRIBER', 'PID', 'QOS', 'HELD', 'PENDING'],
      t.subscribers.map((x) => [x.id, x.pid, qos(x), x.held, x.pending ? 'yes' : 'no'])),
    '',
    table(['SEQ', 'PUBLISHER', 'PID', 'ADDRESS', 'LENGTH', 'REFS', 'RETAINED'],
      t.entries.map((e) => [e.seq, e.publisher, e.pid, hex(e.addr), e.len, e.refs, e.retained ? 'yes' : 'no'])),
  ].join('\n');
}
