// SPDX-License-Identifier: Apache-2.0
/**
 * The peers across a topic from one endpoint (a publisher's subscribers, a
 * subscription's publishers), counted the one way both endpoints do it.
 */
import type { EventEmitter } from 'node:events';
import { ClosedError } from './errors.js';
import { waitFor, type WaitOptions } from './wait.js';

/** What a PeerCount needs of its endpoint. */
export interface PeerEndpoint {
  closed(): boolean;
  /** Re-arm the endpoint's watch for what is wanted now. */
  arm(): void;
  /** Read the count from the module now (calls update()). */
  read(): void;
}

/**
 * The number of peers last read from the module, the endpoint's
 * 'matched' / 'unmatched' events ({ [key]: count }) when it changes, and
 * the waits for at least n of them.
 */
export class PeerCount<K extends string> {
  #count: number;
  readonly #waiters = new Set<() => void>();
  readonly #emitter: EventEmitter;
  readonly #key: K;
  readonly #topic: string;
  /** What the endpoint is, for errors: "the publisher on /topic". */
  readonly #what: string;
  readonly #endpoint: PeerEndpoint;

  /** emitter: the endpoint's events; what: "the publisher on /topic", for errors. */
  constructor(emitter: EventEmitter, key: K, topic: string, what: string, endpoint: PeerEndpoint) {
    this.#emitter = emitter;
    this.#key = key;
    this.#topic = topic;
    this.#what = what;
    this.#endpoint = endpoint;
    this.#count = 0;
  }

  /** The count when the endpoint was made: no event. */
  init(now: number): void {
    this.#count = now;
  }

  get count(): number {
    return this.#count;
  }

  /** Someone waits: the endpoint's watch must see peers come and go, and keep the loop alive. */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  /** A count read from the module: the event if it changed, then the waits. */
  update(now: number): void {
    const before = this.#count;
    this.#count = now;
    if (now > before) this.#emitter.emit('matched', { [this.#key]: now } as Record<K, number>);
    else if (now < before) this.#emitter.emit('unmatched', { [this.#key]: now } as Record<K, number>);
    this.wake();
  }

  /** Let every wait look again (the endpoint closed: they reject). */
  wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves with the count once it is at least n; see WaitOptions. */
  wait(n: number, options: WaitOptions): Promise<number> {
    const endpoint = this.#endpoint;
    const noun = this.#key.replace(/s$/, '');
    return waitFor(`waiting for ${n} ${noun}(s) on ${this.#topic}`, options, (done, fail) => {
      const check = () => {
        if (endpoint.closed()) fail(new ClosedError(this.#what));
        else if (this.#count >= n) done(this.#count);
      };
      this.#waiters.add(check);
      endpoint.arm();
      endpoint.read();
      check();
      return () => {
        this.#waiters.delete(check);
        if (!endpoint.closed()) endpoint.arm();
      };
    });
  }
}
