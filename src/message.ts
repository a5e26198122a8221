// SPDX-License-Identifier: Apache-2.0
/** A received message: a read-only view over the publisher's pool. */
import { DetachedError } from './errors.js';
import type { EntryBuffer } from './native.js';

/** What a subscription needs from its messages' owner. */
export interface MessageOwner {
  /** The payload's ArrayBuffer (made on the first read of `data`). Throws AgnocastErrors. */
  viewOf(message: Message, address: number, length: number): ArrayBuffer;
  /** Gives the message back; `view` (when one was made) is detached at once. */
  releaseMessage(message: Message, seq: number, address: number, view: ArrayBuffer | undefined): void;
}

/**
 * The entry's fields are kept as numbers (seq and address are below 2^53,
 * see EntryBuffer; the timestamp as its two 32-bit halves): seq, address
 * and timestampNs become bigints only when read.
 */
export class Message implements Disposable {
  /** The publishing process. */
  readonly publisherPid: number;
  readonly publisherId: number;
  readonly length: number;
  #seq: number;
  #address: number;
  #stampHi: number;
  #stampLo: number;
  #view: ArrayBuffer | undefined;
  #data: Uint8Array | undefined;
  #owner: MessageOwner;
  #released = false;
  #retained = false;

  /** @internal Entry i of `entries`, whose seq the caller read already. */
  constructor(owner: MessageOwner, entries: EntryBuffer, i: number, seq: number) {
    this.#owner = owner;
    this.#seq = seq;
    this.#address = entries.addr(i);
    this.length = entries.len(i);
    this.#stampHi = entries.timestampHi(i);
    this.#stampLo = entries.timestampLo(i);
    this.publisherPid = entries.pid(i);
    this.publisherId = entries.publisherId(i);
  }

  /** Sequence number on the topic (from 1, increasing). */
  get seq(): bigint {
    return BigInt(this.#seq);
  }

  /** Where the bytes are: the same address the publisher wrote to. */
  get address(): bigint {
    return BigInt(this.#address);
  }

  /** CLOCK_MONOTONIC at publish, in nanoseconds (compare with process.hrtime.bigint()). */
  get timestampNs(): bigint {
    // Not as one number: CLOCK_MONOTONIC passes 2^53 ns after 104 days up.
    return (BigInt(this.#stampHi) << 32n) | BigInt(this.#stampLo);
  }

  /**
   * The payload, without a copy. Read-only by contract: the publisher's pool
   * is mapped read-only here, so a write kills this process. Empty (length
   * 0, detached) once the message is released. The view is made on the
   * first read: a message whose bytes are never read costs no ArrayBuffer.
   */
  get data(): Uint8Array {
    if (this.#released) {
      throw new DetachedError(`message ${this.seq} was released: its memory belongs to the publisher again; ` +
        'call retain() inside the callback or loop body to keep it');
    }
    if (this.#data === undefined) {
      this.#view = this.#owner.viewOf(this, this.#address, this.length);
      this.#data = new Uint8Array(this.#view);
    }
    return this.#data;
  }

  get released(): boolean {
    return this.#released;
  }

  get retained(): boolean {
    return this.#retained;
  }

  /** Keep the message past its callback or loop iteration; release() it later. */
  retain(): this {
    if (this.#released) throw new DetachedError(`message ${this.seq} was already released`);
    this.#retained = true;
    return this;
  }

  /** Give the memory back to the publisher. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#owner.releaseMessage(this, this.#seq, this.#address, this.#view);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal Releases unless the user retained it. */
  settle(): void {
    if (!this.#retained) this.release();
  }
}
