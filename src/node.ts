// SPDX-License-Identifier: Apache-2.0
/**
 * The process-level handle: joins once, owns the pool mappings and the
 * discovery queue, creates publishers and subscriptions.
 *
 * Discovery follows the mission's design: a new publisher posts to the
 * POSIX message queue "/new_publisher@<pid>" of every process that has a
 * subscription on its topic, and that process maps the publisher's pool at
 * once. A pool is also mapped on the first message from a process whose
 * announcement was lost (a full queue), so either side may start first.
 */
import { ClosedError, translate } from './errors.js';
import { type NativeBinding, type NativePoolInfo, native as loadNative } from './native.js';
import { checkQoS, checkTopic, parseSize, type QoS, type Size } from './options.js';
import { Publisher } from './publisher.js';
import { REGION_PREFIX, RegionExistsError, RegionNotFoundError, SharedRegion } from './region.js';
import { type MessageCallback, Subscription } from './subscription.js';

export interface JoinOptions {
  /**
   * Initial pool size (rounded up to 100 kB). Default: the environment's
   * AGNOCAST_MEMPOOL_SIZE (as the heaphook reads it), else 64M.
   */
  poolSize?: Size;
  /** How far the pool may grow. Default 16 × poolSize, at least 1G. */
  poolMax?: Size;
}

export interface PoolInfo {
  /** The pool's base address (a pointer valid in every process). */
  address: bigint;
  size: number;
  max: number;
  /** True when the LD_PRELOAD heaphook owns the pool (shared allocator). */
  heaphook: boolean;
}

/**
 * Another process's pool mapped here, until that process has exited and no
 * message over it is held any more (then nothing can touch it: views are
 * detached on release).
 */
interface MappedPool {
  info: NativePoolInfo;
  /** Readable once the process exited; -1 once seen (or it was gone). */
  pidfd: number;
  /** Messages over this pool handed out and not released. */
  holds: number;
  exited: boolean;
}

const QUEUE_MESSAGES = 10;	/* fs.mqueue.msg_max is 10 by default */
const QUEUE_MESSAGE_SIZE = 512;

export class AgnocastNode implements Disposable {
  readonly pid: number;
  readonly pool: PoolInfo;
  /** @internal */
  readonly native: NativeBinding;
  #publishers = new Set<Publisher>();
  #subscriptions = new Set<Subscription>();
  #mapped = new Map<number, MappedPool>();
  #queueName: string;
  #queueFd = -1;
  #queueWatch = -1;
  #closed = false;

  /** @internal Use join(). */
  constructor(binding: NativeBinding, options: JoinOptions) {
    this.native = binding;
    const fromEnv = options.poolSize === undefined && process.env.AGNOCAST_MEMPOOL_SIZE;
    const size = fromEnv ? parseSize(fromEnv, 'AGNOCAST_MEMPOOL_SIZE') : parseSize(options.poolSize ?? '64M', 'poolSize');
    const max = parseSize(options.poolMax ?? Math.max(size * 16, 2 ** 30), 'poolMax');
    try {
      const info = binding.join(size, Math.max(max, size));
      this.pid = info.pid;
      this.pool = { address: info.addr, size: info.size, max: info.max, heaphook: info.heaphook };
    } catch (e) {
      throw translate(e, 'joining agnocast');
    }
    this.#queueName = `/new_publisher@${this.pid}`;
  }

  /** A publisher on `topic`. */
  publisher(topic: string, qos?: QoS): Publisher {
    this.#check();
    const p = new Publisher(this, checkTopic(topic), checkQoS(qos));
    this.#publishers.add(p);
    return p;
  }

  /**
   * A subscription on `topic`. With a callback, every message is handed to
   * it and released when it returns (or its promise settles) unless it
   * calls message.retain(); without one, iterate it with `for await`.
   */
  subscribe(topic: string, qos?: QoS, onMessage?: MessageCallback): Subscription;
  subscribe(topic: string, onMessage: MessageCallback): Subscription;
  subscribe(topic: string, a?: QoS | MessageCallback, b?: MessageCallback): Subscription {
    this.#check();
    const [qos, cb] = typeof a === 'function' ? [undefined, a] : [a, b];
    this.#openQueue();
    const s = new Subscription(this, checkTopic(topic), checkQoS(qos), cb);
    this.#subscriptions.add(s);
    return s;
  }

  /**
   * A shared region of `byteLength` bytes under `key`, in this process's
   * pool, writable here and readable by key everywhere (openRegion).
   * RegionExistsError if the key is taken.
   */
  createRegion(key: string, byteLength: number): SharedRegion {
    const topic = checkTopic(REGION_PREFIX + key);
    if ((this.native.topicInfo(topic)?.publishers.length ?? 0) > 0) throw new RegionExistsError(key);
    const pub = this.publisher(topic, { depth: 1, transientLocal: true });
    // Two creators racing: the older publisher keeps the key.
    const first = Math.min(...(this.native.topicInfo(topic)?.publishers.map((p) => p.id) ?? [pub.id]));
    if (first !== pub.id) {
      pub.close();
      throw new RegionExistsError(key);
    }
    const loan = pub.loan(byteLength);
    loan.bytes.fill(0);
    loan.publish();
    return this.#holdRegion(key, topic, pub);
  }

  /** The shared region under `key`, read-only. RegionNotFoundError if none. */
  openRegion(key: string): SharedRegion {
    const topic = checkTopic(REGION_PREFIX + key);
    if ((this.native.topicInfo(topic)?.publishers.length ?? 0) === 0) throw new RegionNotFoundError(key);
    return this.#holdRegion(key, topic);
  }

  #holdRegion(key: string, topic: string, pub?: Publisher): SharedRegion {
    const sub = this.subscribe(topic, { depth: 1, transientLocal: true }).unref();
    const message = sub.take();
    if (!message) {
      sub.close();
      pub?.close();
      throw new RegionNotFoundError(key);
    }
    return new SharedRegion(key, message.retain(), sub, pub);
  }

  /** Topics in this IPC namespace. */
  topics(): string[] {
    return this.native.listTopics();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes every publisher and subscription and unmaps other processes'
   * pools. The process stays joined (its pool lives until it exits).
   */
  close(): void {
    if (this.#closed) return;
    for (const s of this.#subscriptions) s.close();
    for (const p of this.#publishers) p.close();
    this.#closed = true;
    if (this.#queueFd >= 0) {
      this.native.unwatch(this.#queueWatch);
      this.native.closeFd(this.#queueFd);
      this.native.mqUnlink(this.#queueName);
      this.#queueFd = -1;
      process.off('exit', this.#unlinkQueue);
    }
    for (const pid of [...this.#mapped.keys()]) this.#unmap(pid);
    if (current === this) current = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * @internal Tell subscribed processes about a new publisher. A notice is a
   * hint (a subscriber maps the pool on the first message anyway), so a
   * queue that is full, gone or not ours to write is skipped.
   */
  announce(topic: string, subscriberPids: number[]): void {
    const message = Buffer.from(JSON.stringify({ pid: this.pid, topic }));
    for (const pid of subscriberPids) {
      if (pid === this.pid) continue;
      try {
        this.native.mqSend(`/new_publisher@${pid}`, message);
      } catch {
        // EACCES, EMSGSIZE, ...: that process finds our pool by our first message.
      }
    }
  }

  /**
   * Processes whose pools are mapped here right now. A pool is unmapped once
   * its process has exited and no message over it is held.
   */
  mappedPools(): number[] {
    for (const [pid, pool] of this.#mapped) {
      if (pool.pidfd >= 0 && this.native.pidfdExited(pool.pidfd)) this.#exited(pid);
    }
    return [...this.#mapped.keys()];
  }

  /** @internal Map the pool of `pid` (listed or announced) unless it is gone. */
  mapPool(pid: number, known?: NativePoolInfo): void {
    const pool = this.#mapped.get(pid) ?? this.#map(pid, known);
    if (pool) this.#settle(pid, pool);
  }

  /** @internal A message over the pool of `pid` is handed out: map it, keep it. */
  hold(pid: number): void {
    const pool = this.#mapped.get(pid) ?? this.#map(pid);
    if (pool) pool.holds++;
  }

  /** @internal That message was released. */
  unhold(pid: number): void {
    const pool = this.#mapped.get(pid);
    if (!pool) return;
    pool.holds--;
    this.#settle(pid, pool);
  }

  /** Maps the pool (never our own) and watches its process; undefined for ours. */
  #map(pid: number, known?: NativePoolInfo): MappedPool | undefined {
    if (pid === this.pid) return undefined;
    let info: NativePoolInfo;
    try {
      info = this.native.mapPool(pid);
    } catch (e) {
      throw translate(e, `mapping the pool of process ${pid}${known ? '' : ' (announced)'}`);
    }
    const pool: MappedPool = { info, pidfd: -1, holds: 0, exited: false };
    this.#mapped.set(pid, pool);
    try {
      pool.pidfd = this.native.pidfdOpen(pid);
    } catch {
      return pool;	// no pidfd (EMFILE, ...): mapped until close()
    }
    if (pool.pidfd < 0) pool.exited = true;	// gone already
    else this.native.watch(pool.pidfd, () => this.#exited(pid), false);
    return pool;
  }

  /** The process behind a mapped pool has exited. */
  #exited(pid: number): void {
    const pool = this.#mapped.get(pid);
    if (!pool || pool.exited) return;
    pool.exited = true;
    this.native.closeFd(pool.pidfd);	// readable for ever now
    pool.pidfd = -1;
    this.#settle(pid, pool);
  }

  /** Unmaps once the process has exited and nothing over its pool is held. */
  #settle(pid: number, pool: MappedPool): void {
    if (pool.exited && pool.holds === 0) this.#unmap(pid);
  }

  #unmap(pid: number): void {
    const pool = this.#mapped.get(pid);
    if (!pool) return;
    this.#mapped.delete(pid);
    if (pool.pidfd >= 0) this.native.closeFd(pool.pidfd);
    this.native.unmapPool(pid, pool.info.addr, pool.info.max);
  }

  /** @internal */
  forget(endpoint: Publisher | Subscription): void {
    if (endpoint instanceof Publisher) this.#publishers.delete(endpoint);
    else this.#subscriptions.delete(endpoint);
  }

  #openQueue(): void {
    if (this.#queueFd >= 0) return;
    try {
      this.#queueFd = this.native.mqCreate(this.#queueName, QUEUE_MESSAGES, QUEUE_MESSAGE_SIZE);
    } catch (e) {
      throw translate(e, `creating the discovery queue ${this.#queueName}`);
    }
    this.#queueWatch = this.native.watch(this.#queueFd, () => this.#onAnnouncements(), false);
    process.on('exit', this.#unlinkQueue);
  }

  /** A process that exits without close() still removes its queue. */
  #unlinkQueue = (): void => {
    try {
      this.native.mqUnlink(this.#queueName);
    } catch {
      // Gone already.
    }
  };

  #onAnnouncements(): void {
    for (const raw of this.native.mqReceiveAll(this.#queueFd)) {
      let pid: unknown;
      try {
        ({ pid } = JSON.parse(Buffer.from(raw).toString('utf8')) as { pid: unknown });
      } catch {
        continue;	// not ours: ignore
      }
      if (typeof pid !== 'number' || !Number.isInteger(pid)) continue;
      try {
        this.mapPool(pid);
      } catch {
        // Gone already, or mapped on its first message instead.
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('this agnocast node');
  }
}

let current: AgnocastNode | undefined;

/**
 * Joins agnocast (once per process: later calls return the same node until
 * it is closed). Throws ModuleNotLoadedError when agnocast.ko is not loaded.
 */
export function join(options: JoinOptions = {}): AgnocastNode {
  if (current && !current.closed) return current;
  let binding: NativeBinding;
  try {
    binding = loadNative();
  } catch (e) {
    throw translate(e, 'loading the agnocast addon (run `npm run build:native`)');
  }
  current = new AgnocastNode(binding, options);
  return current;
}
