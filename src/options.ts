// SPDX-License-Identifier: Apache-2.0
/** Validation of user options, shared by every entry point. */
import { InvalidArgumentError } from './errors.js';

/** Bytes, or a string with a K, M, G or T suffix (powers of 1024). */
export type Size = number | `${number}` | `${number}${'K' | 'M' | 'G' | 'T' | 'k' | 'm' | 'g' | 't'}`;

const UNITS: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

export function parseSize(value: Size | string, what: string): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else {
    const m = /^\s*(\d+)\s*([kmgt])?(?:i?b)?\s*$/i.exec(value);
    if (!m) throw new InvalidArgumentError(`${what} "${value}" is not a size: use bytes or a K, M, G or T suffix`);
    n = Number(m[1]) * (m[2] ? UNITS[m[2].toLowerCase()] ?? 1 : 1);
  }
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`${what} must be a positive whole number of bytes, not ${String(value)}`);
  }
  return n;
}

/** The library's own topics (regions, bridge marks, …) start with this. */
export const INTERNAL_PREFIX = '/_agnocast/';
export const TOPIC_NAME_MAX = 255;
export const DEPTH_MAX = 1024;

export function checkTopic(topic: string): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new InvalidArgumentError('a topic name must be a non-empty string');
  }
  if (Buffer.byteLength(topic) > TOPIC_NAME_MAX) {
    throw new InvalidArgumentError(`topic "${topic.slice(0, 32)}…" is longer than ${TOPIC_NAME_MAX} bytes`);
  }
  if (/[\x00-\x20\x7f]/.test(topic)) {
    throw new InvalidArgumentError(`topic "${topic}" contains a space or control character`);
  }
  return topic;
}

/** Quality of service of a publisher or subscription. */
export interface QoS {
  /** History kept (publisher) or messages per wake-up (subscription): 1–1024. Default 10. */
  depth?: number;
  /** Late joiners get the retained history. Default false. */
  transientLocal?: boolean;
  /**
   * Subscriptions only: nothing published while this subscription is there
   * is dropped for it; up to `depth` messages wait in its queue and, while
   * it is full, publish() throws WouldBlockError and publishAsync() waits.
   * Default false (keep-last: a subscriber that falls behind loses the
   * oldest, counted in sub.stats.dropped).
   */
  reliable?: boolean;
}

/** QoS with its defaults filled in (`reliable` is there only when true). */
export type ResolvedQoS = Required<Pick<QoS, 'depth' | 'transientLocal'>> & Pick<QoS, 'reliable'>;

export function checkQoS(qos: QoS | undefined, forPublisher = false): ResolvedQoS {
  const depth = qos?.depth ?? 10;
  if (!Number.isInteger(depth) || depth < 1 || depth > DEPTH_MAX) {
    throw new InvalidArgumentError(`depth must be an integer from 1 to ${DEPTH_MAX}, not ${depth}`);
  }
  const reliable = qos?.reliable ?? false;
  if (forPublisher && reliable) {
    throw new InvalidArgumentError('reliable is a subscription option: a publisher is held back by ' +
      'its reliable subscribers (use publishAsync() to wait for them)');
  }
  const resolved: ResolvedQoS = { depth, transientLocal: qos?.transientLocal ?? false };
  if (reliable) resolved.reliable = true;
  return resolved;
}
