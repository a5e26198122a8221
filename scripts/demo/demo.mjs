// SPDX-License-Identifier: Apache-2.0
// The demo's protocol (demo.h) for the TypeScript side, publisher.mjs and
// subscriber.mjs, and the few helpers they share (as util.c has for C):
// sizes, "[name]: " lines, /proc/self/pagemap, the command line.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';

export const DEMO_TOPIC = '/agnocast_demo/data';
export const DEMO_ACK_TOPIC = '/agnocast_demo/ack';
export const DEMO_SUB_DEPTH = 64;
export const DEMO_WINDOW_MAX = DEMO_SUB_DEPTH;
export const DEMO_MSG_MAGIC = 0x61676e6f;	// "agno"
export const DEMO_ACK_MAGIC = 0x61636b21;	// "ack!"
export const DEMO_END = 1 << 0;
export const DEMO_PROOF = 1 << 1;
export const DEMO_DONE_SIGNAL = 'SIGUSR2';
/** AGNOCAST_TOPIC_SUBS_MAX */
export const SUBS_MAX = 64;

/** Byte offsets of struct demo_msg (little-endian, as on x86-64). */
export const MSG = { magic: 0, flags: 4, index: 8, len: 16, tPubNs: 24, loanAddr: 32, pfnFirst: 40, pfnLast: 48, size: 56 };
/** Byte offsets of struct demo_ack. */
export const ACK = { magic: 0, pid: 4, index: 8, size: 16 };

export const demoFill = (/** @type {number} */ index) => (index * 37 + 11) & 0xff;
export const demoFillLast = (/** @type {number} */ index) => demoFill(index) ^ 0xff;

/** CLOCK_MONOTONIC in nanoseconds, as the C side's clock_gettime. */
export const nowNs = () => process.hrtime.bigint();
export const hex = (/** @type {number | bigint} */ n) => `0x${n.toString(16)}`;
export const view = (/** @type {Uint8Array} */ bytes) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

let prefix = 'demo';
let cleanup = () => {};
let listening = false;

/**
 * Sets the name every line starts with, and what to undo before any exit
 * (closing the node unlinks its /new_publisher@<pid>: the module does not
 * clean queues up), including on SIGTERM/SIGINT/SIGHUP, as util.c does.
 * @param {string} name
 * @param {() => void} [onExit]
 */
export function setup(name, onExit = () => {}) {
  prefix = name;
  cleanup = onExit;
  if (listening) return;
  listening = true;
  for (const sig of /** @type {const} */ (['SIGTERM', 'SIGINT', 'SIGHUP'])) {
    process.on(sig, () => {
      cleanup();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

/** @param {string} text */
export function say(text) {
  process.stdout.write(`${prefix}: ${text}\n`);
}

/**
 * Ends the process with a message, as demo_die does.
 * @param {string} text
 * @returns {never}
 */
export function die(text) {
  process.stderr.write(`${prefix}: error: ${text}\n`);
  try {
    cleanup();
  } finally {
    process.exit(1);
  }
}

/**
 * Runs the clean-up (closes the node), then exits with `code`.
 * @param {number} code
 * @returns {never}
 */
export function exit(code) {
  cleanup();
  process.exit(code);
}

/**
 * The command line: --NAME VALUE for each of `names`; usage and exit 2 on
 * anything else.
 * @param {string} usage
 * @param {string[]} names
 * @returns {Record<string, string | undefined>}
 */
export function args(usage, names) {
  const options = Object.fromEntries(names.map((n) => [n, { type: /** @type {const} */ ('string') }]));
  try {
    return /** @type {Record<string, string | undefined>} */ (parseArgs({ options, strict: true }).values);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : e}\nusage: ${usage}\n`);
    process.exit(2);
  }
}

/**
 * A whole number of seconds > 0 (--timeout).
 * @param {string} text
 * @param {string} what
 */
export function seconds(text, what) {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) die(`${what} ${text}: a whole number of seconds, at least 1`);
  return n;
}

const UNITS = new Map([['', 1], ['K', 2 ** 10], ['M', 2 ** 20], ['G', 2 ** 30]]);

/**
 * "64", "4K", "16M", "1G" (powers of 1024) -> bytes; 0 if malformed (demo_parse_size).
 * @param {string | undefined} s
 */
export function parseSize(s) {
  const m = /^(\d+)([KMG]?)$/.exec(s ?? '');
  return m ? Number(m[1]) * (UNITS.get(m[2] ?? '') ?? 0) : 0;
}

/**
 * 64 B, 4 KiB, 16 MiB ..., one decimal if not a round number (demo_fmt_size).
 * @param {number} bytes
 */
export function fmtSize(bytes) {
  const unit = ['B', 'KiB', 'MiB', 'GiB'];
  let b = bytes;
  let u = 0;
  while (u < 3 && b >= 1024 && b % 1024 === 0) {
    b /= 1024;
    u++;
  }
  if (u === 3 || b < 1024) return `${b} ${unit[u]}`;
  let v = bytes;
  for (u = 0; u < 3 && v >= 1024; u++) v /= 1024;
  return `${v.toFixed(1)} ${unit[u]}`;
}

/**
 * Physical frame of the page at `address` in this process, from
 * /proc/self/pagemap: bit 63 present, bits 0-54 the frame (zero unless
 * CAP_SYS_ADMIN). 0n if unknown (demo_pfn). Pages are 4 KiB on x86-64.
 * @param {bigint} address
 */
export function pfn(address) {
  let fd;
  try {
    fd = fs.openSync('/proc/self/pagemap', 'r');
    const entry = Buffer.alloc(8);
    if (fs.readSync(fd, entry, 0, 8, Number(address / 4096n) * 8) !== 8) return 0n;
    const v = entry.readBigUInt64LE(0);
    return v >> 63n ? v & ((1n << 55n) - 1n) : 0n;
  } catch {
    return 0n;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Calls `onExpiry` after `secs` seconds without kick(): the "no progress"
 * deadline of the C programs' poll() timeouts.
 * @param {number} secs
 * @param {() => void} onExpiry
 */
export function watchdog(secs, onExpiry) {
  const timer = setTimeout(onExpiry, secs * 1000);
  return { kick: () => timer.refresh(), stop: () => clearTimeout(timer) };
}

/**
 * Writes "ready" to the file demo.sh waits on, if any.
 * @param {string | undefined} file
 */
export function ready(file) {
  if (!file) return;
  try {
    fs.writeFileSync(file, 'ready\n');
  } catch (e) {
    die(`cannot write ${file}: ${e instanceof Error ? e.message : e}`);
  }
}
