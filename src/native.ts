// SPDX-License-Identifier: Apache-2.0
/**
 * The native addon's interface (native/, node-addon-api): a thin layer over
 * libagnocast, the C library that implements the protocol (joining, pool
 * memory, mapping other processes' pools, discovery). Every failing call
 * throws an Error whose message is the C library's (what happened and what
 * to do), `code` the errno name (`'ENOENT'`, `'EPERM'`, …), `errno` the
 * positive number and `syscall` the operation (`'AGNOCAST_PUBLISH_CMD'`,
 * `'open /dev/agnocast'`, `'mmap'`, …); `src/errors.ts` turns those into the
 * library's error classes.
 *
 * Addresses are bigints (pools live at 64 TiB and above). Lengths are numbers
 * (messages are below 2^53 bytes).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join as pathJoin, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AddonError } from './errors.js';

/** A process's pool as another process sees it. */
export interface NativePoolInfo {
  pid: number;
  addr: bigint;
  /** Current size of the shared memory file. */
  size: number;
  /** Reserved length: map this much. */
  max: number;
}

/** One entry handed out by RECEIVE or TAKE. */
export interface NativeEntry {
  seq: bigint;
  addr: bigint;
  len: number;
  /** CLOCK_MONOTONIC at publish, nanoseconds. */
  timestampNs: bigint;
  pid: number;
  publisherId: number;
}

export interface NativeJoinInfo {
  pid: number;
  addr: bigint;
  size: number;
  max: number;
  /** True when the pool is the LD_PRELOAD heaphook's (shared allocator). */
  heaphook: boolean;
}

export interface NativeEndpointInfo {
  id: number;
  pid: number;
  depth: number;
  transientLocal: boolean;
  /** Publisher: entries retained; subscriber: entries held. */
  count: number;
}

export interface NativeTopicInfo {
  publishers: NativeEndpointInfo[];
  subscribers: NativeEndpointInfo[];
  entries: number;
  lastSeq: bigint;
}

/** An endpoint's topic now (PUBLISHER_STATE / SUBSCRIBER_STATE). */
export interface NativeEndpointState {
  publishers: number;
  subscribers: number;
  /** Reliable subscribers whose queue is full (publish fails with EAGAIN while not 0). */
  full: number;
  /** Subscriber: entries waiting for it. */
  queued: number;
}

/** watch() events: libuv's UV_READABLE, UV_WRITABLE, UV_PRIORITIZED. */
export const POLL_IN = 1;
export const POLL_OUT = 2;
export const POLL_PRI = 8;

export interface NativeProcessInfo extends NativePoolInfo {
  exited: boolean;
  attached: boolean;
  publishers: number;
  subscribers: number;
  mappers: number;
}

export interface NativeBinding {
  /** Opens /dev/agnocast (once per process) and returns the module's version. */
  version(): { abi: number; major: number; minor: number; patch: number };

  /**
   * Joins the process (agnocast_join: idempotent). With the heaphook
   * preloaded, the C library forwards to the heaphook's copy, which joined
   * before main: its pool and allocator are used.
   */
  join(poolSize: number, poolMax: number): NativeJoinInfo;
  /**
   * Undoes one join(); the last one of the process (every thread's)
   * removes every endpoint, unmaps other pools, unlinks the discovery
   * queue (agnocast_leave).
   */
  leave(): void;
  /** join()s of this process not yet left, every thread's. */
  joins(): number;

  /** A publisher; the processes subscribed to the topic are told (discovery). */
  addPublisher(topic: string, depth: number, transientLocal: boolean): { id: number };
  /**
   * A subscriber and its pollable descriptor; the pools of the publishers
   * already on the topic are mapped.
   */
  addSubscriber(topic: string, depth: number, transientLocal: boolean, reliable?: boolean): { id: number; fd: number };
  removePublisher(id: number): void;
  /**
   * The publisher's descriptor (owned by the library): POLLOUT while no
   * reliable subscriber's queue is full, POLLPRI once the topic's
   * subscribers changed since the last publisherState().
   */
  publisherFd(publisherId: number): number;
  /** PUBLISHER_STATE (clears POLLPRI). */
  publisherState(publisherId: number): NativeEndpointState;
  /** SUBSCRIBER_STATE (clears POLLPRI: the topic's publishers changed). */
  subscriberState(subscriberId: number): NativeEndpointState;
  /** Also stops any watch on the subscriber's fd (the library closes it). */
  removeSubscriber(id: number): void;

  /**
   * A writable ArrayBuffer of exactly `size` bytes over fresh pool memory
   * (external: no copy). If it is garbage-collected before publish() or
   * free(), its memory goes back to the pool (at the next sweep: once the
   * live loans doubled, on reclaim(), or when the pool is full). With `address`, the block's
   * address (below 2^53) also goes into address[0]: no addressOf() call.
   */
  loan(size: number, address?: Float64Array): ArrayBuffer;
  /** Returns an unpublished loan to the pool and detaches the buffer. */
  free(loan: ArrayBuffer): void;
  /**
   * Publishes the first `length` bytes of a loan and detaches the buffer (and
   * so every view of it). Reclaimed blocks go back to the pool. Returns seq.
   */
  publish(publisherId: number, loan: ArrayBuffer, length: number): bigint;
  /**
   * Copies bytes into a fresh block and publishes it, in one call (no loan,
   * no ArrayBuffer); the block goes back to the pool if the publish is
   * refused. Returns seq.
   */
  publishCopy(publisherId: number, bytes: Uint8Array): bigint;
  /** Blocks that subscribers released and those of collected loans, back to the pool; returns how many. */
  reclaim(): number;

  /**
   * Writes up to `max` new entries, oldest first, into `into` (an
   * EntryBuffer's buffer) and returns how many; 0 when nothing is new.
   * Fewer than `max`: nothing else was pending. The pool of every entry is
   * mapped (and held) until its release(). With `release` (an EntryBuffer's
   * buffer, seq and addr set) the first `nrelease` entries are released by
   * the same RECEIVE first (their views detached beforehand: detach()); the
   * releases stand even when the receive throws. max 0: only releases.
   */
  receive(subscriberId: number, max: number, into: ArrayBuffer, release?: ArrayBuffer, nrelease?: number): number;
  /** Writes the newest new entry into `into` and returns 1; 0 when nothing is new. */
  take(subscriberId: number, into: ArrayBuffer): number;
  /**
   * An ArrayBuffer over [addr, addr + len) of a mapped pool (external, no
   * copy; read-only by contract: the mapping is PROT_READ, so a write kills
   * the process, except for the process's own pool).
   */
  view(addr: bigint | number, len: number): ArrayBuffer;
  /** Detaches a view() buffer (length 0 everywhere) without releasing its entry. */
  detach(view: ArrayBuffer): void;
  /**
   * Drops the subscriber's reference on entry seq at addr; detaches `view`
   * (one view() returned) if given. A pool whose owner is gone and of which
   * nothing is held any more is unmapped.
   */
  release(subscriberId: number, seq: bigint | number, addr: bigint | number, view?: ArrayBuffer): void;

  /** Maps the pool of process pid now and keeps it until unmapPool(). */
  mapPool(pid: number): NativePoolInfo;
  /** Unmaps the pool that contains addr (EBUSY while messages over it are held). */
  unmapPool(addr: bigint): void;
  /** The pools of other processes mapped here now. */
  mappedPools(): NativePoolInfo[];
  /**
   * The library's events descriptor: readable when an announcement waits
   * on the discovery queue or a mapped pool's owner has exited; then call
   * handleEvents().
   */
  eventsFd(): number;
  handleEvents(): void;

  /**
   * Calls `onReadable` on the event loop thread whenever `fd` is readable
   * (libuv uv_poll; no thread, no polling loop). Returns a handle for
   * unwatch(). A watch does not keep the event loop alive unless `ref`.
   */
  watch(fd: number, onReadable: (events: number) => void, ref: boolean, events?: number): number;
  unwatch(handle: number): void;
  /** What the watch waits for now (POLL_* bits); 0 stops it (it then keeps no loop alive). */
  pollEvents(handle: number, events: number): void;
  /** Whether the watch keeps the event loop alive. */
  refWatch(handle: number, ref: boolean): void;

  listTopics(): string[];
  topicInfo(topic: string): NativeTopicInfo | null;
  listProcesses(): NativeProcessInfo[];

  /** The address an ArrayBuffer's memory starts at (zero-copy proofs). */
  addressOf(buffer: ArrayBuffer): bigint;
}

/** Where the low and high 32-bit halves of a u64 are, in 4-byte words. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;
const TWO_32 = 2 ** 32;

/**
 * Entries as receive() and take() write them: struct agnocast_entry of the
 * uapi header, 40 bytes each, in the machine's byte order (the addon
 * asserts the layout at compile time). The library reads each field as a
 * number (seq(), addr(), …: no BigInt per message); seq, addresses and
 * lengths stay below 2^53 (seqs count messages of one topic from 1: 2^53
 * is 28 years at 10 million a second), so a number holds them exactly.
 * entry() decodes a whole entry with BigInts, for tools and tests.
 */
export class EntryBuffer {
  static readonly ENTRY_BYTES = 40;
  readonly buffer: ArrayBuffer;
  readonly capacity: number;
  #u32: Uint32Array;
  #i32: Int32Array;
  /** For entry() only. */
  #big: BigUint64Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.buffer = new ArrayBuffer(capacity * EntryBuffer.ENTRY_BYTES);
    this.#u32 = new Uint32Array(this.buffer);
    this.#i32 = new Int32Array(this.buffer);
    this.#big = new BigUint64Array(this.buffer);
  }

  /** The u64 at 8-byte word q of the buffer, as a number. */
  #u64(q: number): number {
    return this.#u32[2 * q + HI]! * TWO_32 + this.#u32[2 * q + LO]!;
  }

  seq(i: number): number {
    return this.#u64(i * 5);
  }

  addr(i: number): number {
    return this.#u64(i * 5 + 1);
  }

  len(i: number): number {
    return this.#u64(i * 5 + 2);
  }

  /** The publish time's high and low 32 bits (ns = hi × 2^32 + lo). */
  timestampHi(i: number): number {
    return this.#u32[i * 10 + 6 + HI]!;
  }

  timestampLo(i: number): number {
    return this.#u32[i * 10 + 6 + LO]!;
  }

  pid(i: number): number {
    return this.#i32[i * 10 + 8]!;
  }

  publisherId(i: number): number {
    return this.#u32[i * 10 + 9]!;
  }

  /** Sets entry i's seq and addr (what a release list needs). */
  setRelease(i: number, seq: number, addr: number): void {
    const d = i * 10;
    this.#u32[d + LO] = seq % TWO_32;
    this.#u32[d + HI] = Math.floor(seq / TWO_32);
    this.#u32[d + 2 + LO] = addr % TWO_32;
    this.#u32[d + 2 + HI] = Math.floor(addr / TWO_32);
  }

  entry(i: number): NativeEntry {
    const q = i * 5;	/* in 8-byte words */
    return {
      seq: this.#big[q]!,
      addr: this.#big[q + 1]!,
      len: this.len(i),
      timestampNs: this.#big[q + 3]!,
      pid: this.pid(i),
      publisherId: this.publisherId(i),
    };
  }
}

/** The package's root: native/ and dist/ are under it. */
const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the addon is built in the package at `root`. */
export function addonPath(root = PACKAGE_ROOT): string {
  return pathJoin(root, 'native', 'build', 'Release', 'agnocast.node');
}

/**
 * The command that builds the addon, for the running Node, in the package
 * at `root`: installed by pnpm (under node_modules/.pnpm), installed by npm
 * or any other manager (bun included: npm rebuild works in the node_modules
 * bun makes), or a checkout of agnocast itself.
 */
export function rebuildCommand(root = PACKAGE_ROOT): string {
  const dirs = root.split(sep);
  // pnpm 10 runs no dependency's install script until it is approved, and
  // until then `pnpm rebuild agnocast` builds nothing; approve-builds runs
  // the script of the packages it approves.
  if (dirs.includes('.pnpm')) {
    return 'pnpm approve-builds (select agnocast: pnpm then runs its install script); once approved, pnpm rebuild agnocast';
  }
  if (dirs.includes('node_modules')) return 'npm rebuild agnocast';
  return `npm run build (in ${root.replace(/\/$/, '')})`;
}

/**
 * Loads the addon at `path`, or throws an AddonError that says what is
 * wrong and how to fix it with the command `rebuild`: the addon was never
 * built (an install that skipped install scripts), it was built for
 * another Node (the addon compares process.versions.modules with the ABI
 * of the headers it was built with as it loads: native/src/addon.cc), or
 * it does not load at all.
 */
export function loadAddon(path = addonPath(), rebuild = rebuildCommand()): NativeBinding {
  // Bun runs Node-API addons but has no V8, whose C++ API the addon calls
  // for pool buffers: it fails to load there (undefined symbol v8::…), and
  // no rebuild helps.
  const bun = process.versions['bun'];
  if (bun !== undefined) {
    throw new AddonError(`agnocast runs on Node.js, not on Bun (${bun}): its addon calls V8's C++ API, which Bun does not have`,
      `run the program with node (Node.js 20, 22 or 24); a project installed with bun works with node once the addon is built: ${rebuild}`);
  }
  const forNode = `for this Node.js (${process.version})`;
  if (!existsSync(path)) {
    throw new AddonError(`the agnocast addon is not built (${path} does not exist): the package's ` +
      'install script did not run (installed with --ignore-scripts, or by a package manager that ' +
      'skips install scripts) or failed', `build it ${forNode}: ${rebuild}`);
  }
  try {
    return createRequire(import.meta.url)(path) as NativeBinding;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_AGNOCAST_NODE_ABI') {
      throw new AddonError(err.message.replace(/: rebuild it with this Node: .*$/, ''), `rebuild it ${forNode}: ${rebuild}`);
    }
    throw new AddonError(`the agnocast addon (${path}) does not load: ${err.message}`, `rebuild it ${forNode}: ${rebuild}`);
  }
}

let binding: NativeBinding | undefined;

/** Loads the addon once (loadAddon()). */
export function native(): NativeBinding {
  binding ??= loadAddon();
  return binding;
}
