// SPDX-License-Identifier: Apache-2.0
/**
 * Subscriptions deliver in one of three ways, and the module's entries are
 * received only by the way in use, when it asks for them:
 *   - callback: `node.subscribe(topic, qos, onMessage)`; the subscription
 *     watches its descriptor and calls onMessage for each message; an async
 *     callback runs one at a time (qos.maxInFlight for more), and while the
 *     limit is reached nothing is received: the module keeps the newest
 *     `depth` (keep-last, losses counted in stats.dropped) or, reliable,
 *     holds the publishers back;
 *   - iterator: `for await (const m of sub)`; the loop receives one message
 *     each time it asks for the next one;
 *   - polling: `sub.take()` (newest, skipping older) and
 *     `await sub.receive()` (next in order), called when you want.
 * A subscription without a callback may switch between iterating and
 * polling, one at a time; nothing is received in between.
 * Readiness comes from the module's pollable fd, watched by libuv only
 * while a callback or a waiting loop wants it: no thread, no polling loop.
 */
import { EventEmitter } from 'node:events';
import { ClosedError, InvalidArgumentError, InvalidStateError, reportAsync, translate } from './errors.js';
import { Message, type MessageOwner } from './message.js';
import { EntryBuffer, type NativeBinding, POLL_IN, POLL_PRI } from './native.js';
import type { QoS, ResolvedQoS } from './options.js';
import { PeerCount } from './peers.js';
import { keepInPlace } from './untransferable.js';
import { waitFor, type WaitOptions } from './wait.js';

export type MessageCallback = (message: Message) => void | Promise<void>;

/** Options of node.subscribe(): QoS, and for callbacks how many may run at once. */
export interface SubscriptionOptions extends QoS {
  /**
   * Callback subscriptions: how many async callbacks may be pending at
   * once (1–4096). Default 1: the next message is handed over once the
   * previous callback's promise settled. Synchronous callbacks are not
   * limited.
   */
  maxInFlight?: number;
  /**
   * Callback subscriptions: busy-poll for this many microseconds (0–100000,
   * default 0) after each delivery before going back to sleep on the
   * descriptor. The event loop goes on meanwhile: each turn of the loop
   * (which then does not block) receives again and again for up to 50 µs
   * until a message comes, so other events wait at most that long. The next
   * message is found without a wake-up, at the price of a busy CPU. For
   * latency-critical subscribers on a machine with a core to spare.
   */
  spin?: number;
}

/** The node's side of a subscription. */
export interface SubscriptionHost {
  readonly native: NativeBinding;
  forget(subscription: Subscription): void;
}

export interface IterateOptions {
  /** Ends the iteration (without closing the subscription) when aborted. */
  signal?: AbortSignal;
}

/** receive(): `timeoutMs` resolves null; `signal` rejects with AbortedError. */
export type ReceiveOptions = WaitOptions;

/** What a subscription received and lost so far. */
export interface SubscriptionStats {
  /** Messages handed to the callback, the loop or take()/receive(). */
  received: number;
  /**
   * Messages published on the topic since the subscription began (for a
   * transient-local one: since its first message) that it will never see
   * (gaps in the sequence numbers: keep-last overwrote them while it fell
   * behind, or take() skipped them). So received + dropped = published.
   */
  dropped: number;
  /** Messages handed out and not released yet (retained ones included). */
  held: number;
}

export interface PublishersEvent {
  /** Publishers on the topic now. */
  publishers: number;
}

export const MAX_IN_FLIGHT = 4096;
export const MAX_SPIN_US = 100_000;
/**
 * How long one turn of the event loop busy-polls (spin), in ms: several
 * receives a turn, while other events on the loop wait at most this long.
 */
const SPIN_SLICE_MS = 0.05;
/** AGNOCAST_RELEASE_MAX: the seqs one RECEIVE releases first. */
const RELEASE_MAX = 32;

export class Subscription extends EventEmitter implements AsyncIterable<Message>, Disposable {
  readonly topic: string;
  readonly qos: ResolvedQoS;
  readonly id: number;
  #host: SubscriptionHost;
  #fd: number;
  #watch: number;
  #events = 0;
  #watchRef = false;
  #callback: MessageCallback | undefined;
  #maxInFlight: number;
  /** spin, in ms (performance.now()), and until when the current spin lasts. */
  #spinMs: number;
  #spinUntil = 0;
  #spinning: NodeJS.Immediate | undefined;
  #inFlight = 0;
  /** A receive refused (ENOBUFS): wait for a release before receiving again. */
  #stalled = false;
  /** 'iterator' or 'receive' while one consumes; nothing else may then. */
  #consumer: 'iterator' | 'receive' | undefined;
  /** The waiting consumer's wake-up, called once when the fd is readable or on close/abort. */
  #wake: (() => void) | undefined;
  /** Every message handed out and not released, retained ones included. */
  #live = new Set<Message>();
  #entries: EntryBuffer;
  /** Callback mode: entries [#next, #count) of #entries are received and not handed over yet. */
  #next = 0;
  #count = 0;
  /**
   * Whether the last callback answered synchronously: the next receive
   * takes a batch. Not before the first one has answered.
   */
  #sync = false;
  #one = new EntryBuffer(1);
  /**
   * Releases waiting for the next RECEIVE (the module's release list): while
   * #batching (the callbacks of one receive, a loop moving on), a released
   * message's view is detached at once and its entry goes here; the receive
   * that follows gives them back in the same call.
   */
  #rel = new EntryBuffer(RELEASE_MAX);
  #nrel = 0;
  #batching = false;
  #closed = false;
  #ref = true;
  #received = 0;
  #dropped = 0;
  #lastSeq: number | undefined;
  /** The topic's publishers, in every process. */
  readonly #publishers: PeerCount<'publishers'>;

  /** @internal Use node.subscribe(). */
  constructor(host: SubscriptionHost, topic: string, qos: ResolvedQoS, callback?: MessageCallback,
    maxInFlight?: number, spin?: number) {
    super();
    this.#host = host;
    this.topic = topic;
    this.qos = qos;
    this.#callback = callback;
    this.#publishers = new PeerCount(this, 'publishers', topic, `the subscription on ${topic}`, {
      closed: () => this.#closed, arm: () => this.#arm(), read: () => this.#readPublishers(),
    });
    const limit = maxInFlight ?? 1;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_IN_FLIGHT) {
      throw new InvalidArgumentError(`maxInFlight must be an integer from 1 to ${MAX_IN_FLIGHT}, not ${limit}`);
    }
    this.#maxInFlight = limit;
    const spinUs = spin ?? 0;
    if (typeof spinUs !== 'number' || !Number.isFinite(spinUs) || spinUs < 0 || spinUs > MAX_SPIN_US) {
      throw new InvalidArgumentError(`spin must be a number of microseconds from 0 to ${MAX_SPIN_US}, not ${spin}`);
    }
    if (spinUs > 0 && !callback) {
      throw new InvalidArgumentError('spin is for callback subscriptions: pass a callback to subscribe()');
    }
    this.#spinMs = spinUs / 1000;
    this.#entries = new EntryBuffer(qos.depth);
    let r: ReturnType<NativeBinding['addSubscriber']>;
    try {
      r = host.native.addSubscriber(topic, qos.depth, qos.transientLocal, qos.reliable ?? false);
      this.id = r.id;
      this.#fd = r.fd;
      this.#publishers.init(host.native.subscriberState(r.id).publishers);
      // Volatile: what is published from now on is this subscription's to
      // see, so losses count from here. Transient-local: from the first
      // message (the history is what the publishers kept).
      if (!qos.transientLocal) this.#lastSeq = Number(host.native.topicInfo(topic)?.lastSeq ?? 0n);
      this.#watch = host.native.watch(this.#fd, (events) => this.#onPoll(events), false, 0);
    } catch (e) {
      throw translate(e, `subscribing to ${topic}`);
    }
    const rearm = () => process.nextTick(() => this.#arm());
    this.on('newListener', rearm);
    this.on('removeListener', rearm);
    this.#arm();
  }

  /** Publishers on the topic right now, in every process. */
  get publisherCount(): number {
    this.#check();
    try {
      return this.#host.native.topicInfo(this.topic)?.publishers.length ?? 0;
    } catch (e) {
      throw translate(e, `reading the publishers of ${this.topic}`);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** received, dropped (sequence gaps) and held, counted since the subscription began. */
  get stats(): SubscriptionStats {
    return { received: this.#received, dropped: this.#dropped, held: this.#live.size };
  }

  /**
   * Polling: the newest message not seen yet, skipping (and counting as
   * dropped) older ones, or null. Not on a callback subscription, nor while
   * a loop or receive() consumes this one.
   */
  take(): Message | null {
    this.#checkPolling('take()');
    let n: number;
    try {
      n = this.#host.native.take(this.id, this.#one.buffer);
    } catch (e) {
      throw translate(e, `taking from ${this.topic}`);
    }
    return n ? this.#wrap(this.#one, 0) : null;
  }

  /**
   * Polling: the next message in order (the oldest not seen yet), waiting
   * for one if none is there; null once `timeoutMs` passed. Rejects with
   * AbortedError when `signal` aborts, ClosedError when the subscription
   * closes meanwhile.
   */
  async receive(options: ReceiveOptions = {}): Promise<Message | null> {
    this.#checkPolling('receive()');
    const now = this.#receiveOne();
    if (now) return now;
    this.#consumer = 'receive';
    try {
      return await waitFor<Message | null>(`receiving on ${this.topic}`, options, (done, fail) => {
        const attempt = () => {
          try {
            const m = this.#receiveOne();
            if (m) done(m);
            else this.#await(attempt);
          } catch (e) {
            fail(e);
          }
        };
        this.#await(attempt);
        return () => {
          if (this.#wake === attempt) this.#wake = undefined;
          this.#arm();
        };
      }, () => null);
    } finally {
      this.#consumer = undefined;
    }
  }

  /**
   * Messages as they come, oldest first; each is released when the loop
   * moves on unless it was retained. Breaking out (or the signal) ends the
   * iteration, not the subscription; what arrives afterwards waits in the
   * module for the next consumer. A failure to receive rejects the loop.
   */
  async *messages(options: IterateOptions = {}): AsyncGenerator<Message, void, undefined> {
    this.#checkPolling('iteration');
    const { signal } = options;
    this.#consumer = 'iterator';
    let current: Message | undefined;
    const onAbort = () => this.#wakeUp();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (this.#closed || signal?.aborted) return;
        const m = this.#receiveOne();
        if (!m) {
          // One promise per wait, settled exactly once: nothing accumulates.
          await new Promise<void>((resolve) => this.#await(resolve));
          continue;
        }
        current = m;
        yield m;
        current = undefined;
        // Released by the next receive, in the same call.
        this.#batching = true;
        this.#settle(m);
        this.#batching = false;
      }
    } finally {
      this.#batching = false;
      if (current) this.#settle(current);
      this.#flushReleases();
      signal?.removeEventListener('abort', onAbort);
      this.#consumer = undefined;
      this.#wake = undefined;
      if (!this.#closed) this.#arm();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return this.messages();
  }

  /**
   * Resolves with the number of publishers once at least `n` are on the
   * topic (in any process). `timeoutMs`: rejects with TimeoutError.
   */
  waitForPublishers(n = 1, options: WaitOptions = {}): Promise<number> {
    this.#check();
    return this.#publishers.wait(n, options);
  }

  /** Let the process exit even while this subscription waits (like socket.unref()). */
  unref(): this {
    this.#ref = false;
    this.#arm();
    return this;
  }

  ref(): this {
    this.#ref = true;
    this.#arm();
    return this;
  }

  get hasRef(): boolean {
    return this.#ref;
  }

  /**
   * Stops delivery, ends iterations and releases every message of this
   * subscription, retained ones included: their data views are detached,
   * since the memory is the publisher's again. Always finishes; throws the
   * first failure (an AgnocastError) afterwards, if there was one.
   */
  close(): void {
    if (this.#closed) return;
    const failures: unknown[] = [];
    for (const m of this.#live) {
      try {
        m.release();
      } catch (e) {
        failures.push(e);
      }
    }
    this.#closed = true;
    this.#live.clear();
    this.#next = this.#count = 0;	// removing the subscriber gives them back
    if (this.#spinning) clearImmediate(this.#spinning);
    this.#spinning = undefined;
    try {
      this.#host.native.unwatch(this.#watch);
    } catch (e) {
      failures.push(e);
    }
    this.#host.forget(this);
    try {
      this.#host.native.removeSubscriber(this.id);
    } catch (e) {
      failures.push(e);
    }
    this.#wakeUp();
    this.#publishers.wake();
    if (failures.length) throw translate(failures[0], `closing the subscription on ${this.topic}`);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(`the subscription on ${this.topic}`);
  }

  #checkPolling(what: string): void {
    this.#check();
    if (this.#callback) {
      throw new InvalidStateError(`${what} on ${this.topic}: this subscription delivers to its callback; ` +
        'subscribe without a callback to iterate or poll');
    }
    if (this.#consumer) {
      throw new InvalidStateError(`${what} on ${this.topic}: ${this.#consumer === 'iterator' ? 'a loop iterates' : 'a receive() waits on'} ` +
        'this subscription already; one consumer at a time (end it, or make a second subscription)');
    }
  }

  /** Wait for readability: `wake` is called once (readable, close or abort). */
  #await(wake: () => void): void {
    this.#wake = wake;
    this.#arm();
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** Watch exactly what someone wants now. */
  #arm(): void {
    if (this.#closed) return;
    let events = 0;
    const wantsData = this.#wake !== undefined ||
      (this.#callback !== undefined && this.#inFlight < this.#maxInFlight && !this.#stalled);
    if (wantsData) events |= POLL_IN;
    if (this.#publishers.waiting || this.listenerCount('matched') || this.listenerCount('unmatched')) {
      events |= POLL_PRI;
    }
    const ref = (wantsData && this.#ref) || this.#publishers.waiting;
    try {
      if (events !== this.#events) this.#host.native.pollEvents(this.#watch, events);
      if (ref !== this.#watchRef) this.#host.native.refWatch(this.#watch, ref);
    } catch (e) {
      this.#fail(translate(e, `watching the subscription on ${this.topic}`));
      return;
    }
    this.#events = events;
    this.#watchRef = ref;
  }

  /** The fd's events, on the event loop. Never throws. */
  #onPoll(events: number): void {
    if (this.#closed) return;
    if (events & POLL_PRI) this.#readPublishers();
    if (!(events & POLL_IN) || this.#closed) return;
    if (this.#callback) {
      if (this.#pump() && this.#spinMs > 0) this.#spin();
    } else if (this.#wake) {
      // The woken consumer receives next and, finding nothing, waits again:
      // the watch stays as it is meanwhile (no addon call per message). It
      // is stopped here, on the next readiness, if nobody waits by then.
      this.#wakeUp();
      return;
    }
    this.#arm();
  }

  #readPublishers(): void {
    if (this.#closed) return;
    let now: number;
    try {
      now = this.#host.native.subscriberState(this.id).publishers;
    } catch (e) {
      this.#fail(translate(e, `reading the publishers of ${this.topic}`));
      return;
    }
    this.#publishers.update(now);
  }

  /** One message in order, or null when none is new. Throws AgnocastErrors. */
  #receiveOne(): Message | null {
    this.#check();
    const n = this.#receive(1, this.#one);
    return n ? this.#wrap(this.#one, 0) : null;
  }

  /** RECEIVE of up to max entries into `into`, with the pending releases. Throws AgnocastErrors. */
  #receive(max: number, into: EntryBuffer): number {
    const nrel = this.#nrel;
    this.#nrel = 0;	/* they stand whatever the receive returns */
    try {
      return nrel ? this.#host.native.receive(this.id, max, into.buffer, this.#rel.buffer, nrel)
        : this.#host.native.receive(this.id, max, into.buffer);
    } catch (e) {
      throw translate(e, `receiving from ${this.topic}`);
    }
  }

  /** Gives back the pending releases (a RECEIVE that only releases). A failure goes to 'error'. */
  #flushReleases(): void {
    if (!this.#nrel || this.#closed) {
      this.#nrel = 0;
      return;
    }
    try {
      this.#receive(0, this.#one);
    } catch (e) {
      this.#fail(e);
    }
    this.#unstall();
  }

  #unstall(): void {
    if (this.#stalled) {
      this.#stalled = false;
      this.#arm();
    }
  }

  /**
   * Callback mode: receive what the callbacks may take now and hand it
   * over; the messages that synchronous callbacks released go back with
   * the next receive (one more, which also finds what came meanwhile). At
   * most two receives a readiness: a flood does not starve the event loop.
   * How many one receive takes: while the callback answers synchronously,
   * a batch (up to the depth and RELEASE_MAX, the releases the next
   * receive carries back); else the in-flight room, so that a slow
   * asynchronous callback leaves the rest in the module (keep-last keeps
   * the newest there). When a callback turns asynchronous in the middle
   * of a batch, the rest of the batch waits here (#next < #count) and goes
   * first once there is room again.
   */
  #pump(): number {
    let delivered = 0;
    for (let round = 0; round < 2; round++) {
      if (this.#stalled || this.#closed) break;
      if (this.#next === this.#count) {
        const room = this.#maxInFlight - this.#inFlight;
        if (room <= 0) break;
        let n: number;
        try {
          n = this.#receive(Math.min(this.qos.depth, this.#sync ? RELEASE_MAX : room), this.#entries);
        } catch (e) {
          // Holding too many: wait for a release (#unstall re-arms).
          if ((e as { errnoCode?: string }).errnoCode === 'ENOBUFS') this.#stalled = true;
          this.#fail(e);
          break;
        }
        if (!n) return delivered;
        this.#next = 0;
        this.#count = n;
      }
      delivered += this.#handOver();
      if (this.#next < this.#count || !this.#nrel) break;
    }
    this.#flushReleases();
    return delivered;
  }

  /**
   * Hands the received entries over while callbacks may run; returns how
   * many. They stay in #entries meanwhile: nothing else receives into it
   * (a callback subscription cannot be iterated or polled).
   */
  #handOver(): number {
    let handed = 0;
    this.#batching = true;
    try {
      while (this.#next < this.#count && this.#inFlight < this.#maxInFlight && !this.#closed) {
        this.#deliver(this.#wrap(this.#entries, this.#next++));
        handed++;
      }
    } finally {
      this.#batching = false;
    }
    return handed;
  }

  /**
   * Busy-polls for spin µs after a delivery, the time renewed by every
   * message found. Each turn of the event loop (a pending immediate keeps
   * it from blocking) receives again and again for up to SPIN_SLICE_MS
   * until something is delivered: a message that comes between two
   * receives waits for one receive, not for a turn of the loop, and other
   * events on the loop wait at most a slice.
   */
  #spin(): void {
    this.#spinUntil = performance.now() + this.#spinMs;
    if (this.#spinning) return;
    const next = () => {
      this.#spinning = setImmediate(step);
      if (!this.#ref) this.#spinning.unref();
    };
    const step = () => {
      this.#spinning = undefined;
      let now = performance.now();
      const sliceEnd = Math.min(now + SPIN_SLICE_MS, this.#spinUntil);
      do {
        if (this.#closed) return;
        if (this.#pump()) {
          this.#spinUntil = performance.now() + this.#spinMs;
          break;
        }
        // No room (in flight, stalled): nothing to receive this turn.
        if (this.#inFlight >= this.#maxInFlight || this.#stalled) break;
        now = performance.now();
      } while (now < sliceEnd);
      // now is at most a slice old; after a delivery #spinUntil is ahead of it.
      if (this.#closed || now >= this.#spinUntil) return;
      next();
    };
    next();
  }

  #deliver(message: Message): void {
    let result: unknown;
    this.#sync = true;
    try {
      result = (this.#callback as MessageCallback)(message);
    } catch (e) {
      this.#settle(message);
      this.#fail(e);
      return;
    }
    const then = (result as PromiseLike<void> | undefined)?.then;
    if (typeof then !== 'function') {
      this.#settle(message);
      return;
    }
    this.#sync = false;
    this.#inFlight++;
    const done = () => {
      this.#inFlight--;
      this.#settle(message);
      // The rest of a batch goes first, now that there is room (unless a
      // thenable called back synchronously: the batch is being handed over).
      if (this.#next < this.#count && !this.#batching && !this.#closed) this.#pump();
      this.#arm();
    };
    try {
      then.call(result, done, (e: unknown) => {
        this.#fail(e);
        done();
      });
    } catch (e) {
      this.#fail(e);
      done();
    }
  }

  /** Releases unless retained; a failure goes to 'error'. */
  #settle(message: Message): void {
    try {
      message.settle();
    } catch (e) {
      this.#fail(e);
    }
  }

  /**
   * An asynchronous failure (the callback threw or rejected, a receive
   * failed): the 'error' event if anyone listens, else a process warning.
   * Never an uncaught exception, and the subscription goes on.
   */
  #fail(error: unknown): void {
    reportAsync(this, error, `subscription on ${this.topic}`);
  }

  /** Entry i of `entries` as a Message. The C library mapped its pool when it received it; the view is made on demand. */
  #wrap(entries: EntryBuffer, i: number): Message {
    this.#received++;
    const seq = entries.seq(i);
    const message = new Message(this.#owner, entries, i, seq);
    const last = this.#lastSeq;
    if (last !== undefined && seq > last + 1) this.#dropped += seq - last - 1;
    if (last === undefined || seq > last) this.#lastSeq = seq;
    this.#live.add(message);
    return message;
  }

  #owner: MessageOwner = {
    viewOf: (m, address, length) => {
      try {
        const view = this.#host.native.view(address, length);
        keepInPlace(view);
        return view;
      } catch (e) {
        throw translate(e, `reading message ${m.seq} on ${this.topic}`);
      }
    },
    releaseMessage: (m, seq, address, view) => {
      this.#live.delete(m);
      if (this.#closed) return;
      try {
        if (this.#batching && this.#nrel < RELEASE_MAX) {
          if (view) this.#host.native.detach(view);
          this.#rel.setRelease(this.#nrel++, seq, address);
          return;
        }
        this.#host.native.release(this.id, seq, address, view);
      } catch (e) {
        throw translate(e, `releasing message ${m.seq} on ${this.topic}`);
      }
      this.#unstall();
    },
  };
}
