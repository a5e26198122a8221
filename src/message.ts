// SPDX-License-Identifier: Apache-2.0
/** A received message: a read-only view over the publisher's pool. */
import { DetachedError } from './errors.js';
import type { NativeEntry } from './native.js';

/** What a subscription needs from its messages' owner. */
export interface MessageOwner {
  /** The payload's ArrayBuffer (made on the first read of `data`). Throws AgnocastErrors. */
  viewOf(message: Message): ArrayBuffer;
  /** Gives the message back; `view` (when one was made) is detached at once. */
  releaseMessage(message: Message, view: ArrayBuffer | undefined): void;
}

export class Message implements Disposable {
  /** Sequence number on the topic (from 1, increasing). */
  readonly seq: bigint;
  /** The publishing process. */
  readonly publisherPid: number;
  readonly publisherId: number;
  /** CLOCK_MONOTONIC at publish, in nanoseconds (compare with process.hrtime.bigint()). */
  readonly timestampNs: bigint;
  /** Where the bytes are: the same address the publisher wrote to. */
  readonly address: bigint;
  readonly length: number;
  #view: ArrayBuffer | undefined;
  #data: Uint8Array | undefined;
  #owner: MessageOwner;
  #released = false;
  #retained = false;

  /** @internal */
  constructor(owner: MessageOwner, entry: NativeEntry) {
    this.#owner = owner;
    this.seq = entry.seq;
    this.publisherPid = entry.pid;
    this.publisherId = entry.publisherId;
    this.timestampNs = entry.timestampNs;
    this.address = entry.addr;
    this.length = entry.len;
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
      this.#view = this.#owner.viewOf(this);
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
    this.#owner.releaseMessage(this, this.#view);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal Releases unless the user retained it. */
  settle(): void {
    if (!this.#retained) this.release();
  }
}
