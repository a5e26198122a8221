// SPDX-License-Identifier: Apache-2.0
/**
 * The process-level handle: joins once, creates publishers and
 * subscriptions, and lets the C library (libagnocast) do what it does by
 * itself: discovery (a new publisher posts to the POSIX message queue
 * "/new_publisher@<pid>" of every process that has a subscription on its
 * topic, which maps the publisher's pool at once), mapping a pool on the
 * first message from a process whose announcement was lost, and unmapping
 * pools whose process has exited once nothing over them is held. Its
 * events descriptor is watched here, on the event loop.
 */
import { AgnocastError, ClosedError, InvalidArgumentError, translate } from './errors.js';
import { type NativeBinding, native as loadNative } from './native.js';
import { checkQoS, checkTopic, parseSize, type QoS, type Size } from './options.js';
import { Publisher } from './publisher.js';
import { REGION_PREFIX, RegionExistsError, RegionNotFoundError, SharedRegion } from './region.js';
import { type MessageCallback, Subscription, type SubscriptionOptions } from './subscription.js';

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

export class AgnocastNode implements Disposable {
  readonly pid: number;
  readonly pool: PoolInfo;
  /** @internal */
  readonly native: NativeBinding;
  #publishers = new Set<Publisher>();
  #subscriptions = new Set<Subscription>();
  #eventsWatch: number;
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
    // Announcements and exited publishers: the library handles both.
    this.#eventsWatch = binding.watch(binding.eventsFd(), () => this.#handleEvents(), false);
  }

  /** A publisher on `topic`. */
  publisher(topic: string, qos?: QoS): Publisher {
    this.#check();
    const p = new Publisher(this, checkTopic(topic), checkQoS(qos, true));
    this.#publishers.add(p);
    return p;
  }

  /**
   * A subscription on `topic`. With a callback, every message is handed to
   * it and released when it returns (or its promise settles) unless it
   * calls message.retain(); async callbacks run one at a time
   * (`maxInFlight` for more). Without one, iterate it with `for await`, or
   * poll it with take() / receive().
   */
  subscribe(topic: string, qos?: SubscriptionOptions, onMessage?: MessageCallback): Subscription;
  subscribe(topic: string, onMessage: MessageCallback): Subscription;
  subscribe(topic: string, a?: SubscriptionOptions | MessageCallback, b?: MessageCallback): Subscription {
    this.#check();
    const [qos, cb] = typeof a === 'function' ? [undefined, a] : [a, b];
    if (cb !== undefined && typeof cb !== 'function') {
      throw new InvalidArgumentError('onMessage must be a function (message) => void | Promise<void>');
    }
    const s = new Subscription(this, checkTopic(topic), checkQoS(qos), cb, qos?.maxInFlight, qos?.spin);
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
    if ((this.#topicInfo(topic)?.publishers.length ?? 0) > 0) throw new RegionExistsError(key);
    const pub = this.publisher(topic, { depth: 1, transientLocal: true });
    // Two creators racing: the older publisher keeps the key.
    const first = Math.min(...(this.#topicInfo(topic)?.publishers.map((p) => p.id) ?? [pub.id]));
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
    if ((this.#topicInfo(topic)?.publishers.length ?? 0) === 0) throw new RegionNotFoundError(key);
    return this.#holdRegion(key, topic);
  }

  #topicInfo(topic: string): ReturnType<NativeBinding['topicInfo']> {
    try {
      return this.native.topicInfo(topic);
    } catch (e) {
      throw translate(e, `reading topic ${topic}`);
    }
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
    try {
      return this.native.listTopics();
    } catch (e) {
      throw translate(e, 'listing topics');
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes every publisher and subscription, unmaps other processes' pools
   * and removes the discovery queue (agnocast_leave). The process stays
   * joined (its pool lives until it exits).
   */
  close(): void {
    if (this.#closed) return;
    const failures: AgnocastError[] = [];
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        failures.push(translate(e, what));
      }
    };
    for (const s of [...this.#subscriptions]) attempt(`closing the subscription on ${s.topic}`, () => s.close());
    for (const p of [...this.#publishers]) attempt(`closing the publisher on ${p.topic}`, () => p.close());
    this.#closed = true;
    attempt('closing this agnocast node', () => this.native.unwatch(this.#eventsWatch));
    // Other threads' nodes keep the process's state until the last one leaves.
    attempt('closing this agnocast node', () => this.native.leave());
    if (current === this) current = undefined;
    if (failures.length) throw failures[0];
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Processes whose pools are mapped here right now. A pool is unmapped once
   * its process has exited and no message over it is held.
   */
  mappedPools(): number[] {
    try {
      return this.native.mappedPools().map((p) => p.pid);
    } catch (e) {
      throw translate(e, 'listing mapped pools');
    }
  }

  /** The events descriptor is readable: announcements, or exited publishers. */
  #handleEvents(): void {
    try {
      this.native.handleEvents();
    } catch {
      // An announcement is a hint: the pool is mapped by its first message anyway.
    }
  }

  /** @internal */
  forget(endpoint: Publisher | Subscription): void {
    if (endpoint instanceof Publisher) this.#publishers.delete(endpoint);
    else this.#subscriptions.delete(endpoint);
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('this agnocast node');
  }
}

let current: AgnocastNode | undefined;

/**
 * Joins agnocast (once per thread: later calls return the same node until
 * it is closed). A worker thread's join() gets its own node over the
 * process's one shared state (same pid, same pool, same mappings); the
 * process leaves only when the last node of every thread is closed, and a
 * worker that ends takes its publishers and subscriptions with it. Throws ModuleNotLoadedError when agnocast.ko is not loaded.
 */
export function join(options: JoinOptions = {}): AgnocastNode {
  if (current && !current.closed) return current;
  // An AddonError names the command that builds the addon.
  current = new AgnocastNode(loadNative(), options);
  return current;
}
