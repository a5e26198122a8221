// SPDX-License-Identifier: Apache-2.0
/**
 * Subscriptions: callback style, async iteration, or take() for polling.
 * Readiness comes from the module's pollable fd, watched by libuv: no thread
 * and no polling loop.
 */
import { ClosedError, translate } from './errors.js';
import { Message, type MessageOwner } from './message.js';
import { EntryBuffer, type NativeBinding, type NativeEntry } from './native.js';
import type { QoS } from './options.js';

export type MessageCallback = (message: Message) => void | Promise<void>;

/** The node's side of a subscription. */
export interface SubscriptionHost {
  readonly native: NativeBinding;
  forget(subscription: Subscription): void;
}

export interface IterateOptions {
  /** Ends the iteration (without closing the subscription) when aborted. */
  signal?: AbortSignal;
}

type Waiter = (result: IteratorResult<Message>) => void;

export class Subscription implements AsyncIterable<Message>, Disposable {
  readonly topic: string;
  readonly qos: Required<QoS>;
  readonly id: number;
  #host: SubscriptionHost;
  #fd: number;
  #watch: number;
  #callback: MessageCallback | undefined;
  /** Received, not yet delivered to an iterator (at most qos.depth). */
  #queue: Message[] = [];
  /** Every message handed out and not released, retained ones included. */
  #live = new Set<Message>();
  #waiters = new Set<Waiter>();
  /** Where the module writes received entries (qos.depth of them), and take()'s. */
  #entries: EntryBuffer;
  #taken = new EntryBuffer(1);
  #closed = false;
  #ref = true;

  /** @internal Use node.subscribe(). */
  constructor(host: SubscriptionHost, topic: string, qos: Required<QoS>, callback?: MessageCallback) {
    this.#host = host;
    this.topic = topic;
    this.qos = qos;
    this.#callback = callback;
    this.#entries = new EntryBuffer(qos.depth);
    let r: ReturnType<NativeBinding['addSubscriber']>;
    try {
      r = host.native.addSubscriber(topic, qos.depth, qos.transientLocal);
    } catch (e) {
      throw translate(e, `subscribing to ${topic}`);
    }
    this.id = r.id;
    this.#fd = r.fd;
    this.#watch = host.native.watch(this.#fd, () => this.#drain(), true);
    // Transient-local history may be waiting already.
    queueMicrotask(() => this.#drain());
  }

  /** Publishers on the topic right now, in every process. */
  get publisherCount(): number {
    this.#check();
    return this.#host.native.topicInfo(this.topic)?.publishers.length ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The newest message not seen yet (skipping older ones), or null. */
  take(): Message | null {
    this.#check();
    let n: number;
    try {
      n = this.#host.native.take(this.id, this.#taken.buffer);
    } catch (e) {
      throw translate(e, `taking from ${this.topic}`);
    }
    return n ? this.#wrap(this.#taken.entry(0)) : null;
  }

  /**
   * Messages as they come; each is released when the loop moves on unless it
   * was retained. Breaking out ends the iteration, not the subscription.
   */
  async *messages(options: IterateOptions = {}): AsyncGenerator<Message, void, undefined> {
    this.#check();
    if (this.#callback) {
      throw new ClosedError(`the subscription on ${this.topic} delivers to a callback; it`);
    }
    const { signal } = options;
    let current: Message | undefined;
    let abort: (() => void) | undefined;
    const aborted = new Promise<IteratorResult<Message>>((resolve) => {
      abort = () => resolve({ value: undefined, done: true });
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
    });
    try {
      for (;;) {
        const queued = this.#queue.shift();
        let result: IteratorResult<Message>;
        if (queued) result = { value: queued, done: false };
        else if (this.#closed || signal?.aborted) return;
        else {
          let waiter!: Waiter;
          const next = new Promise<IteratorResult<Message>>((resolve) => {
            waiter = resolve;
            this.#waiters.add(resolve);
          });
          result = await Promise.race([next, aborted]);
          this.#waiters.delete(waiter);
        }
        if (result.done) return;
        current = result.value;
        yield current;
        current.settle();
        current = undefined;
      }
    } finally {
      current?.settle();
      if (abort) signal?.removeEventListener('abort', abort);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return this.messages();
  }

  /** Let the process exit even while this subscription waits (like socket.unref()). */
  unref(): this {
    this.#ref = false;
    if (!this.#closed) this.#host.native.refWatch(this.#watch, false);
    return this;
  }

  ref(): this {
    this.#ref = true;
    if (!this.#closed) this.#host.native.refWatch(this.#watch, true);
    return this;
  }

  get hasRef(): boolean {
    return this.#ref;
  }

  /**
   * Stops delivery, ends iterations and releases every message of this
   * subscription, retained ones included: their data views are detached,
   * since the memory is the publisher's again.
   */
  close(): void {
    if (this.#closed) return;
    this.#queue.length = 0;
    for (const m of this.#live) m.release();
    this.#closed = true;
    for (const w of this.#waiters) w({ value: undefined, done: true });
    this.#waiters.clear();
    this.#host.forget(this);
    try {
      this.#host.native.removeSubscriber(this.id);
    } catch (e) {
      throw translate(e, `closing the subscription on ${this.topic}`);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(`the subscription on ${this.topic}`);
  }

  /** The C library mapped the entry's pool when it received it. */
  #wrap(entry: NativeEntry): Message {
    let view: ArrayBuffer;
    try {
      view = this.#host.native.view(entry.addr, entry.len);
    } catch (e) {
      this.#host.native.release(this.id, entry.seq, entry.addr);
      throw e;
    }
    const message = new Message(this.#owner, entry, view);
    this.#live.add(message);
    return message;
  }

  #owner: MessageOwner = {
    releaseMessage: (m, view) => {
      this.#live.delete(m);
      this.#host.native.release(this.id, m.seq, m.address, view);
    },
  };

  /**
   * The fd is readable: receive everything new and deliver it. A batch
   * short of qos.depth means nothing else was pending; anything published
   * since makes the fd readable again.
   */
  #drain(): void {
    const max = this.qos.depth;
    let n = max;
    while (n === max && !this.#closed) {
      try {
        n = this.#host.native.receive(this.id, max, this.#entries.buffer);
      } catch (e) {
        if (this.#closed) return;
        throw translate(e, `receiving from ${this.topic}`);
      }
      // Closing mid-batch drops the rest: the module released them with
      // the subscriber.
      for (let i = 0; i < n && !this.#closed; i++) this.#deliver(this.#wrap(this.#entries.entry(i)));
    }
  }

  #deliver(message: Message): void {
    if (this.#callback) {
      let result: void | Promise<void>;
      try {
        result = this.#callback(message);
      } catch (e) {
        message.settle();
        throw e;
      }
      // A rejection stays unhandled on purpose: the user's error surfaces.
      if (result instanceof Promise) void result.finally(() => message.settle());
      else message.settle();
      return;
    }
    const [waiter] = this.#waiters;
    if (waiter) {
      this.#waiters.delete(waiter);
      waiter({ value: message, done: false });
      return;
    }
    this.#queue.push(message);
    // Keep-last: a slow reader sees the newest `depth` messages.
    while (this.#queue.length > this.qos.depth) this.#queue.shift()?.release();
  }
}
