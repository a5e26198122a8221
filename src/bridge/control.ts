// SPDX-License-Identifier: Apache-2.0
/**
 * Interest between bridges, over NATS (on <prefix>.c.*), so that a topic
 * is exported only while some bridge imports it:
 *
 *   want    {"v":1,"bridge":ID,"topic":T[,"history":INBOX]}
 *           an importer with local subscribers on T, every leaseMs/3 and
 *           at once after a query; "history" asks for the retained history
 *           of a transient-local topic, sent to INBOX
 *   unwant  {"v":1,"bridge":ID,"topic":T}  the importer stopped
 *   query   {"v":1,"bridge":ID}            an exporter (re)connected: importers answer with want
 *
 * An exporter keeps a lease per importing bridge; a lease lapses leaseMs
 * after its last want. Leases do not lapse while the exporter itself is
 * cut off from NATS, nor during a stall of its own event loop (it could
 * not hear the refreshes): see bridge.ts.
 */
const ID = /^[A-Za-z0-9]{1,64}$/;

export type Control =
  | { kind: 'want'; bridge: string; topic: string; history?: string }
  | { kind: 'unwant'; bridge: string; topic: string }
  | { kind: 'query'; bridge: string };

export function encodeControl(c: Control): Uint8Array {
  const { kind: _kind, ...body } = c;
  return Buffer.from(JSON.stringify({ v: 1, ...body }));
}

/** The control message, or why it is malformed. */
export function decodeControl(kind: Control['kind'], data: Uint8Array): Control | string {
  if (data.length > 4096) return `a ${kind} message of ${data.length} bytes`;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
  } catch {
    return `a ${kind} message that is not JSON`;
  }
  if (typeof o !== 'object' || o === null || o.v !== 1) return `a ${kind} message of an unknown version`;
  if (typeof o.bridge !== 'string' || !ID.test(o.bridge)) return `a ${kind} message without a bridge id`;
  if (kind === 'query') return { kind, bridge: o.bridge };
  if (typeof o.topic !== 'string' || !o.topic.startsWith('/')) return `a ${kind} message without a topic`;
  if (kind === 'unwant') return { kind, bridge: o.bridge, topic: o.topic };
  if (o.history !== undefined && (typeof o.history !== 'string' || !/^[A-Za-z0-9_.-]{1,256}$/.test(o.history))) {
    return 'a want message with a malformed history inbox';
  }
  return o.history === undefined ? { kind, bridge: o.bridge, topic: o.topic }
    : { kind, bridge: o.bridge, topic: o.topic, history: o.history };
}
