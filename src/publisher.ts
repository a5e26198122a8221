// SPDX-License-Identifier: Apache-2.0
/** Publishers and their loans of pool memory. */
import { keepInPlace } from './untransferable.js';
import { EventEmitter } from 'node:events';
import {
  AgnocastError, ClosedError, DetachedError, InvalidArgumentError, reportAsync, translate, WouldBlockError,
} from './errors.js';
import { type NativeBinding, POLL_OUT, POLL_PRI } from './native.js';
import type { ResolvedQoS } from './options.js';
import { PeerCount } from './peers.js';
import { waitFor, type WaitOptions } from './wait.js';

/** publishAsync(): how long to wait for room in reliable subscribers' queues. */
export interface PublishAsyncOptions extends WaitOptions {
  /** Bytes of the loan to publish (default: all). */
  length?: number;
}

/** The 'matched' / 'unmatched' events of a publisher. */
export interface MatchEvent {
  /** Subscriptions on the topic now, in every process. */
  subscribers: number;
}

/**
 * Writable pool memory, on loan from a publisher until it is published or
 * disposed. Garbage-collected loans go back to the pool too.
 */
export class Loan implements Disposable {
  /** The loaned bytes, writable in place. */
  readonly bytes: Uint8Array;
  /**
   * @internal How the publisher finds this loan without keeping it alive,
   * once it outlived the job that made it (Publisher.#young).
   */
  ref: WeakRef<Loan> | undefined;
  #publisher: Publisher;
  #buffer: ArrayBuffer | undefined;
  /** The address as the addon gave it (exact: below 2^53); the bigint on first read. */
  #address: number;
  #addressBig: bigint | undefined;

  /** @internal */
  constructor(publisher: Publisher, buffer: ArrayBuffer, address: number) {
    this.#publisher = publisher;
    this.#buffer = buffer;
    // Transferring it to a worker would keep nothing from revoking it.
    keepInPlace(buffer);
    this.bytes = new Uint8Array(buffer);
    this.#address = address;
  }

  /** Where the bytes are; a subscriber reads at the very same address. */
  get address(): bigint {
    return (this.#addressBig ??= BigInt(this.#address));
  }

  /** @internal The buffer, if this is an unpublished loan of `publisher`. */
  bufferFor(publisher: Publisher): ArrayBuffer | undefined {
    return this.#publisher === publisher ? this.#buffer : undefined;
  }

  /** The underlying buffer (for typed views); throws once published or disposed. */
  get buffer(): ArrayBuffer {
    if (!this.#buffer) throw new DetachedError('this loan was published or disposed: loan again');
    return this.#buffer;
  }

  get byteLength(): number {
    return this.#buffer?.byteLength ?? 0;
  }

  /** Publishes the first `length` bytes (default: all). */
  publish(length?: number): bigint {
    return this.#publisher.publish(this, length);
  }

  /** publish(), waiting for room while a reliable subscriber's queue is full (Publisher.publishAsync). */
  publishAsync(options: PublishAsyncOptions = {}): Promise<bigint> {
    return this.#publisher.publishAsync(this, options);
  }

  /** Returns the memory to the pool if it was not published. */
  [Symbol.dispose](): void {
    const buffer = this.#buffer;
    if (!buffer) return;
    this.#buffer = undefined;
    this.#publisher.returnLoan(this, buffer);
  }

  /** @internal The publisher published the buffer (the addon detached it). */
  published(): void {
    this.#buffer = undefined;
  }
}

/** Where native.loan() writes the new block's address (one addon call per loan). */
const loanAddress = new Float64Array(1);

/** The node's side of a publisher. */
export interface PublisherHost {
  readonly native: NativeBinding;
  forget(publisher: Publisher): void;
}

export class Publisher extends EventEmitter implements Disposable {
  readonly topic: string;
  readonly qos: ResolvedQoS;
  readonly id: number;
  #host: PublisherHost;
  /** The publisher's fd watch, made when first needed; what it waits for now. */
  #watch: number | undefined;
  #events = 0;
  #watchRef = false;
  /** The topic's subscriptions, in every process. */
  readonly #subscribers: PeerCount<'subscribers'>;
  /** publishAsync()s waiting for room (POLLOUT). */
  #writers = new Set<() => void>();
  /**
   * Unpublished loans, so that close() disposes of them, without keeping
   * a dropped one from being garbage-collected (its memory then goes back
   * to the pool: the addon sweeps the blocks of collected loans). A loan
   * is held strongly in #young until the job that made it ends (a WeakRef
   * would keep it alive as long anyway); most are published or disposed
   * by then and never need more. One microtask per job moves the others
   * into #loans, by a WeakRef. Publishing or disposing of a loan there
   * deletes its ref; the refs of dropped loans are swept out once the set
   * has doubled since the last sweep (a FinalizationRegistry would cost a
   * register and an unregister on every loan).
   */
  #young: Loan[] = [];
  #aging = false;
  #loans = new Set<WeakRef<Loan>>();
  #sweepAt = 64;
  #closed = false;

  /** @internal Use node.publisher(). */
  constructor(host: PublisherHost, topic: string, qos: ResolvedQoS) {
    super();
    this.#host = host;
    this.topic = topic;
    this.qos = qos;
    this.#subscribers = new PeerCount(this, 'subscribers', topic, `the publisher on ${topic}`, {
      closed: () => this.#closed, arm: () => this.#arm(), read: () => this.#readSubscribers(),
    });
    try {
      // The C library tells the processes subscribed to the topic.
      this.id = host.native.addPublisher(topic, qos.depth, qos.transientLocal).id;
    } catch (e) {
      throw translate(e, `creating a publisher on ${topic}`);
    }
    try {
      this.#subscribers.init(host.native.publisherState(this.id).subscribers);
    } catch {
      // 0 until read again, by the first wait or 'matched' listener.
    }
    const rearm = () => process.nextTick(() => this.#arm());
    this.on('newListener', rearm);
    this.on('removeListener', rearm);
  }

  /** Writable pool memory of exactly `byteLength` bytes. */
  loan(byteLength: number): Loan {
    this.#check();
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
      throw new InvalidArgumentError(`loan size must be a whole number of bytes, not ${byteLength}`);
    }
    const native = this.#host.native;
    let buffer: ArrayBuffer;
    try {
      buffer = native.loan(byteLength, loanAddress);
    } catch (e) {
      buffer = this.#afterReclaim(e, () => native.loan(byteLength, loanAddress),
        () => `loaning ${byteLength} bytes on ${this.topic}`);
    }
    const loan = new Loan(this, buffer, loanAddress[0]!);
    this.#young.push(loan);
    if (!this.#aging) {
      this.#aging = true;
      queueMicrotask(this.#age);
    }
    return loan;
  }

  /**
   * Publishes a loan without copying it, or, for bytes that are not in the
   * pool yet, copies them once into a fresh block and publishes that (one
   * addon call: no loan object).
   * Returns the message's sequence number.
   */
  publish(data: Loan | ArrayBufferView, length?: number): bigint {
    this.#check();
    if (!(data instanceof Loan)) return this.#publishCopy(data);
    const buffer = data.bufferFor(this);
    if (!buffer) {
      throw new InvalidArgumentError('this loan belongs to another publisher, or was already published or disposed');
    }
    const n = length ?? buffer.byteLength;
    if (!Number.isSafeInteger(n) || n < 0 || n > buffer.byteLength) {
      throw new InvalidArgumentError(`publish length ${n} is outside the loan's ${buffer.byteLength} bytes`);
    }
    let seq: bigint;
    try {
      // A refused publish leaves the loan usable.
      seq = this.#host.native.publish(this.id, buffer, n);
    } catch (e) {
      throw translate(e, `publishing on ${this.topic}`);
    }
    data.published();
    this.#untrack(data);
    return seq;
  }

  /**
   * publish(), but while a reliable subscriber's queue is full it waits
   * (for the publisher's descriptor to say there is room) instead of
   * throwing WouldBlockError. Rejects with TimeoutError after `timeoutMs`,
   * AbortedError when `signal` aborts, ClosedError if the publisher closes
   * meanwhile; a loan is then still yours (bytes copied for you are given
   * back to the pool).
   */
  async publishAsync(data: Loan | ArrayBufferView, options: PublishAsyncOptions = {}): Promise<bigint> {
    this.#check();
    const loan = data instanceof Loan ? data : this.#copy(data);
    try {
      for (;;) {
        try {
          return this.publish(loan, options.length);
        } catch (e) {
          if (!(e instanceof WouldBlockError)) throw e;
        }
        await waitFor<void>(`publishing on ${this.topic}`, options, (done, fail) => {
          const wake = () => (this.#closed ? fail(new ClosedError(`the publisher on ${this.topic}`)) : done());
          this.#writers.add(wake);
          this.#arm();
          return () => {
            this.#writers.delete(wake);
            this.#arm();
          };
        });
      }
    } catch (e) {
      if (loan !== data) loan[Symbol.dispose]();
      throw e;
    }
  }

  /** Subscriptions on the topic right now, in every process. */
  get subscriberCount(): number {
    this.#check();
    try {
      return this.#host.native.topicInfo(this.topic)?.subscribers.length ?? 0;
    } catch (e) {
      throw translate(e, `reading the subscribers of ${this.topic}`);
    }
  }

  /**
   * Resolves with the number of subscriptions on the topic once there are
   * at least `n` (in any process). `timeoutMs`: rejects with TimeoutError.
   */
  waitForSubscribers(n = 1, options: WaitOptions = {}): Promise<number> {
    this.#check();
    return this.#subscribers.wait(n, options);
  }

  /** publish(bytes): one addon call that copies into a fresh block and publishes it. */
  #publishCopy(data: ArrayBufferView): bigint {
    const bytes = this.#bytesOf(data);
    const native = this.#host.native;
    try {
      return native.publishCopy(this.id, bytes);
    } catch (e) {
      return this.#afterReclaim(e, () => native.publishCopy(this.id, bytes),
        () => `publishing ${bytes.byteLength} bytes on ${this.topic}`);
    }
  }

  /**
   * An allocation failed with `e`: if the pool was full but subscribers
   * have released blocks since the last publish (reclaim() gives them
   * back), `again()` once more; else, or if that fails too, the error
   * translated with `doing()`. Only the failure path builds these closures.
   */
  #afterReclaim<T>(e: unknown, again: () => T, doing: () => string): T {
    if ((e as { code?: string }).code !== 'ENOMEM' || this.#host.native.reclaim() === 0) {
      throw translate(e, doing());
    }
    try {
      return again();
    } catch (e2) {
      throw translate(e2, doing());
    }
  }

  /** The bytes of a view, as a Uint8Array (itself if it is one). */
  #bytesOf(data: ArrayBufferView): Uint8Array {
    if (!ArrayBuffer.isView(data)) {
      throw new InvalidArgumentError('publish() takes a Loan or an ArrayBufferView (Uint8Array, Buffer, …)');
    }
    return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  #copy(data: ArrayBufferView): Loan {
    const bytes = this.#bytesOf(data);
    const loan = this.loan(bytes.byteLength);
    loan.bytes.set(bytes);
    return loan;
  }

  /** Watch exactly what someone wants now: room (POLLOUT), subscriber changes (POLLPRI). */
  #arm(): void {
    if (this.#closed) return;
    let events = 0;
    if (this.#writers.size) events |= POLL_OUT;
    if (this.#subscribers.waiting || this.listenerCount('matched') || this.listenerCount('unmatched')) {
      events |= POLL_PRI;
    }
    const ref = this.#writers.size > 0 || this.#subscribers.waiting;
    const native = this.#host.native;
    try {
      if (this.#watch === undefined) {
        if (!events) return;
        this.#watch = native.watch(native.publisherFd(this.id), (ev) => this.#onPoll(ev), false, 0);
      }
      if (events !== this.#events) native.pollEvents(this.#watch, events);
      if (ref !== this.#watchRef) native.refWatch(this.#watch, ref);
    } catch (e) {
      this.#fail(translate(e, `watching the publisher on ${this.topic}`));
      return;
    }
    this.#events = events;
    this.#watchRef = ref;
  }

  /** Never throws: the library's own watcher. */
  #onPoll(events: number): void {
    if (this.#closed) return;
    if (events & POLL_PRI) this.#readSubscribers();
    if (events & POLL_OUT) for (const w of [...this.#writers]) w();
  }

  #readSubscribers(): void {
    if (this.#closed) return;
    let now: number;
    try {
      now = this.#host.native.publisherState(this.id).subscribers;
    } catch (e) {
      this.#fail(translate(e, `reading the subscribers of ${this.topic}`));
      return;
    }
    this.#subscribers.update(now);
  }

  /** 'error' if anyone listens, else a process warning; never uncaught. */
  #fail(error: AgnocastError): void {
    reportAsync(this, error, `publisher on ${this.topic}`);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Unpublished loans go back to the pool; published messages stay
   * readable; waits end with ClosedError. Always finishes; throws the first
   * failure (an AgnocastError) afterwards, if there was one.
   */
  close(): void {
    if (this.#closed) return;
    const failures: unknown[] = [];
    const open = [...this.#young, ...[...this.#loans].map((ref) => ref.deref())];
    this.#young.length = 0;
    for (const loan of open) {
      try {
        loan?.[Symbol.dispose]();
      } catch (e) {
        failures.push(e);
      }
    }
    this.#closed = true;
    if (this.#watch !== undefined) {
      try {
        this.#host.native.unwatch(this.#watch);
      } catch (e) {
        failures.push(e);
      }
    }
    this.#host.forget(this);
    try {
      this.#host.native.removePublisher(this.id);
    } catch (e) {
      failures.push(e);
    }
    for (const w of [...this.#writers]) w();
    this.#subscribers.wake();
    if (failures.length) throw translate(failures[0], `closing the publisher on ${this.topic}`);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal */
  returnLoan(loan: Loan, buffer: ArrayBuffer): void {
    this.#untrack(loan);
    try {
      this.#host.native.free(buffer);
    } catch (e) {
      throw translate(e, `returning a loan on ${this.topic}`);
    }
  }

  #untrack(loan: Loan): void {
    if (loan.ref) this.#loans.delete(loan.ref);
  }

  /** The loans of the job that just ended that are still open: into #loans, weakly. */
  #age = (): void => {
    this.#aging = false;
    for (const loan of this.#young) {
      if (loan.ref || !loan.bufferFor(this)) continue;
      if (this.#loans.size >= this.#sweepAt) this.#sweep();
      loan.ref = new WeakRef(loan);
      this.#loans.add(loan.ref);
    }
    this.#young.length = 0;
  };

  /** Forgets the refs of garbage-collected loans. */
  #sweep(): void {
    for (const ref of this.#loans) if (ref.deref() === undefined) this.#loans.delete(ref);
    this.#sweepAt = Math.max(64, 2 * this.#loans.size);
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(`the publisher on ${this.topic}`);
  }
}
