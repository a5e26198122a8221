// SPDX-License-Identifier: Apache-2.0
/**
 * What a bridge puts on a data subject: each agnocast message as one or
 * more NATS messages ("chunks") of at most `chunkSize` payload bytes, each
 * with NATS headers
 *
 *   Agnocast-Origin   id of the exporting bridge (new every run)
 *   Agnocast-Seq      that bridge's count of messages on this topic (1, 2, …):
 *                     a hole is a lost message
 *   Agnocast-Src      <publisher pid>:<seq on the topic> at the origin
 *   Agnocast-Size     the whole message's length
 *   Agnocast-Chunk    <index> <count> <chunkSize>
 *   Agnocast-History  "1" on retained history sent to one importer's inbox
 *
 * and, closing a history reply, a message without payload carrying only
 * Agnocast-Origin and `Agnocast-History: end <count>`.
 *
 * parseChunk() checks every field and their consistency (count =
 * ceil(size / chunkSize), this chunk's length is what its index implies),
 * so a reassembled message is exactly the bytes that were sent, in order.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';

export const H_ORIGIN = 'Agnocast-Origin';
export const H_SEQ = 'Agnocast-Seq';
export const H_SRC = 'Agnocast-Src';
export const H_SIZE = 'Agnocast-Size';
export const H_CHUNK = 'Agnocast-Chunk';
export const H_HISTORY = 'Agnocast-History';

/** One chunk as it is sent and received. */
export interface Chunk {
  origin: string;
  seq: number;
  srcPid: number;
  srcSeq: bigint;
  size: number;
  index: number;
  count: number;
  chunkSize: number;
  history: boolean;
}

/** The end of a history reply: `count` messages were sent. */
export interface HistoryEnd {
  origin: string;
  end: number;
}

const ORIGIN = /^[A-Za-z0-9]{1,64}$/;
const UINT = /^(0|[1-9][0-9]{0,15})$/;

export function chunkCount(size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize));
}

export function chunkHeaders(c: Chunk): MsgHdrs {
  const h = natsHeaders();
  h.set(H_ORIGIN, c.origin);
  h.set(H_SEQ, String(c.seq));
  h.set(H_SRC, `${c.srcPid}:${c.srcSeq}`);
  h.set(H_SIZE, String(c.size));
  h.set(H_CHUNK, `${c.index} ${c.count} ${c.chunkSize}`);
  if (c.history) h.set(H_HISTORY, '1');
  return h;
}

export function historyEndHeaders(origin: string, count: number): MsgHdrs {
  const h = natsHeaders();
  h.set(H_ORIGIN, origin);
  h.set(H_HISTORY, `end ${count}`);
  return h;
}

function uint(value: string, what: string): number | string {
  if (!UINT.test(value)) return `${what} "${value.slice(0, 32)}" is not a whole number`;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : `${what} ${value} is too large`;
}

/**
 * Reads and checks a received message's headers against its payload length.
 * Returns the chunk, the end of a history reply, or why it is malformed.
 */
export function parseChunk(h: MsgHdrs | undefined, length: number): Chunk | HistoryEnd | string {
  if (!h) return 'no NATS headers (not sent by an agnocast bridge)';
  const origin = h.get(H_ORIGIN);
  if (!ORIGIN.test(origin)) return `missing or malformed ${H_ORIGIN}`;
  const history = h.get(H_HISTORY);
  if (history.startsWith('end ')) {
    const end = uint(history.slice(4), `${H_HISTORY} end`);
    if (typeof end === 'string') return end;
    if (length !== 0) return `a ${H_HISTORY} end message carries ${length} payload bytes`;
    return { origin, end };
  }
  if (history !== '' && history !== '1') return `malformed ${H_HISTORY} "${history.slice(0, 32)}"`;
  const seq = uint(h.get(H_SEQ), H_SEQ);
  if (typeof seq === 'string') return seq;
  if (seq < 1) return `${H_SEQ} must start at 1`;
  const src = /^([1-9][0-9]{0,9}):([1-9][0-9]{0,19})$/.exec(h.get(H_SRC));
  if (!src) return `missing or malformed ${H_SRC}`;
  const size = uint(h.get(H_SIZE), H_SIZE);
  if (typeof size === 'string') return size;
  const parts = h.get(H_CHUNK).split(' ');
  if (parts.length !== 3) return `missing or malformed ${H_CHUNK}`;
  const [index, count, chunkSize] = parts.map((p, i) => uint(p, `${H_CHUNK} field ${i + 1}`));
  for (const v of [index, count, chunkSize]) if (typeof v === 'string') return v;
  const c: Chunk = {
    origin, seq, srcPid: Number(src[1]), srcSeq: BigInt(src[2] as string), size,
    index: index as number, count: count as number, chunkSize: chunkSize as number, history: history === '1',
  };
  if (c.chunkSize < 1) return `${H_CHUNK}: chunk size 0`;
  if (c.count !== chunkCount(c.size, c.chunkSize)) {
    return `${H_CHUNK}: ${c.count} chunks cannot hold ${c.size} bytes in chunks of ${c.chunkSize}`;
  }
  if (c.index >= c.count) return `${H_CHUNK}: chunk ${c.index} of ${c.count}`;
  const expected = c.index < c.count - 1 ? c.chunkSize : c.size - c.chunkSize * (c.count - 1);
  if (length !== expected) return `chunk ${c.index} of ${c.count} carries ${length} bytes, not ${expected}`;
  return c;
}
