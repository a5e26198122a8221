// SPDX-License-Identifier: Apache-2.0
/**
 * Verifiable message content for the bridge tests (test/guest/bridge_sub.c
 * reads the same layout in C). Little-endian:
 *
 *   0   u32 magic 0x424e4741 ("AGNB")
 *   4   u32 index (which message of the run)
 *   8   u32 size (the whole message)
 *   12  u32 h1    hash of bytes [24, size)
 *   16  u32 h2
 *   20  u32 zero
 *   24  payload: a random 64 KiB block repeated, each 4 KiB stamped with
 *       its offset (so that no two chunks of a message are alike)
 *
 * Hash: over the payload as 32-bit little-endian words (a short tail is
 * zero-padded), h1 = (h1 ^ w) * 0x01000193, h2 = ((h2 ^ w) * 0x5bd1e995)
 * then h2 ^= h2 >>> 15, all modulo 2^32, from 0x811c9dc5 and 0x9747b28c.
 */
import { randomFillSync } from 'node:crypto';

export const MAGIC = 0x424e4741;
export const HEADER = 24;
const BLOCK = 64 * 1024;

export function hash(bytes, from, to) {
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x9747b28c | 0;
  const words = (to - from) >>> 2;
  const aligned = (bytes.byteOffset + from) % 4 === 0;
  const u32 = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset + from, words) : null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < words; i++) {
    const w = u32 ? u32[i] : dv.getUint32(from + 4 * i, true);
    h1 = Math.imul(h1 ^ w, 0x01000193);
    h2 = Math.imul(h2 ^ w, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  const rest = (to - from) & 3;
  if (rest) {
    let w = 0;
    for (let k = 0; k < rest; k++) w |= bytes[from + 4 * words + k] << (8 * k);
    h1 = Math.imul(h1 ^ w, 0x01000193);
    h2 = Math.imul(h2 ^ w, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return `${(h1 >>> 0).toString(16).padStart(8, '0')}${(h2 >>> 0).toString(16).padStart(8, '0')}`;
}

/** Fills bytes (a loan) with message `index`; returns its hash. */
export function fill(bytes, index) {
  const size = bytes.byteLength;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, size);
  const first = Math.min(size, HEADER + BLOCK);
  randomFillSync(bytes, HEADER, first - HEADER);
  for (let at = first; at < size; at += BLOCK) bytes.copyWithin(at, HEADER, HEADER + Math.min(BLOCK, size - at));
  for (let at = 4096; at + 4 <= size; at += 4096) dv.setUint32(at, at, true);
  const h = hash(bytes, HEADER, size);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, index, true);
  dv.setUint32(8, size, true);
  dv.setUint32(12, Number.parseInt(h.slice(0, 8), 16), true);
  dv.setUint32(16, Number.parseInt(h.slice(8), 16), true);
  dv.setUint32(20, 0, true);
  return h;
}

/** Reads a received message: { index, size, hash, ok } (ok: header and hash agree with the bytes). */
export function check(bytes) {
  if (bytes.byteLength < HEADER) return { index: -1, size: bytes.byteLength, hash: '', ok: false };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = hash(bytes, HEADER, bytes.byteLength);
  const said = `${dv.getUint32(12, true).toString(16).padStart(8, '0')}${dv.getUint32(16, true).toString(16).padStart(8, '0')}`;
  const ok = dv.getUint32(0, true) === MAGIC && dv.getUint32(8, true) === bytes.byteLength && h === said;
  return { index: dv.getUint32(4, true), size: bytes.byteLength, hash: h, ok };
}
