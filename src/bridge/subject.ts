// SPDX-License-Identifier: Apache-2.0
/**
 * Topic name <-> NATS subject, reversible.
 *
 *   data subject of a topic:  <prefix>.t.<segment tokens>
 *   control subjects:         <prefix>.c.want | .unwant | .query
 *
 * A topic must start with '/'; each '/'-separated segment becomes one NATS
 * token. Bytes of a segment (UTF-8) in [A-Za-z0-9_-] stay as they are,
 * every other byte is written `~XX` (two upper-case hex digits), so '.',
 * '*', '>' and '~' never reach NATS unescaped; an empty segment (from "//"
 * or a trailing '/') is the token `~`.
 *
 *   /camera/front          agnocast.t.camera.front
 *   /lidar/points.raw      agnocast.t.lidar.points~2Eraw
 *   /a//b/                 agnocast.t.a.~.b.~
 *
 * The prefix is one or more NATS tokens of [A-Za-z0-9_-] (default
 * "agnocast"); bridges only talk to bridges with the same prefix.
 */
import { BridgeConfigError } from './errors.js';

const SAFE = /^[A-Za-z0-9_-]$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;
const HEX = '0123456789ABCDEF';

export const DEFAULT_PREFIX = 'agnocast';

export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || prefix.length === 0 || !prefix.split('.').every((t) => TOKEN.test(t))) {
    throw new BridgeConfigError(`NATS subject prefix "${String(prefix)}" must be one or more dot-separated ` +
      'tokens of letters, digits, "_" and "-" (for example "agnocast" or "site1.robot2")');
  }
  return prefix;
}

function encodeSegment(segment: string): string {
  if (segment.length === 0) return '~';
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(c) ? c : `~${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

function decodeToken(token: string): string | null {
  if (token === '~') return '';
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const c = token[i] as string;
    if (c === '~') {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return null;
      const byte = Number.parseInt(hex, 16);
      if (byte < 0x80 && SAFE.test(String.fromCharCode(byte))) return null;	// not canonical
      bytes.push(byte);
      i += 2;
    } else if (SAFE.test(c)) bytes.push(c.charCodeAt(0));
    else return null;
  }
  const text = Buffer.from(bytes).toString('utf8');
  return Buffer.from(text, 'utf8').equals(Buffer.from(bytes)) ? text : null;
}

/** The data subject of `topic` (which must start with '/'). */
export function topicToSubject(prefix: string, topic: string): string {
  if (!topic.startsWith('/')) {
    throw new BridgeConfigError(`topic "${topic}" cannot be bridged: bridged topics start with "/"`);
  }
  return `${prefix}.t.${topic.slice(1).split('/').map(encodeSegment).join('.')}`;
}

/** The topic of a data subject, or null when the subject is not one of ours. */
export function subjectToTopic(prefix: string, subject: string): string | null {
  const head = `${prefix}.t.`;
  if (!subject.startsWith(head)) return null;
  const segments: string[] = [];
  for (const token of subject.slice(head.length).split('.')) {
    const s = decodeToken(token);
    if (s === null) return null;
    segments.push(s);
  }
  return `/${segments.join('/')}`;
}

/** Control subjects (want, unwant, query). */
export function controlSubject(prefix: string, kind: 'want' | 'unwant' | 'query'): string {
  return `${prefix}.c.${kind}`;
}
