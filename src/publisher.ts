// SPDX-License-Identifier: Apache-2.0
/** Publishers and their loans of pool memory. */
import { ClosedError, DetachedError, InvalidArgumentError, translate } from './errors.js';
import type { NativeBinding } from './native.js';
import type { QoS } from './options.js';

/**
 * Writable pool memory, on loan from a publisher until it is published or
 * disposed. Garbage-collected loans go back to the pool too.
 */
export class Loan implements Disposable {
  /** The loaned bytes, writable in place. */
  readonly bytes: Uint8Array;
  /** Where they are; a subscriber reads at the very same address. */
  readonly address: bigint;
  /** @internal How the publisher finds its live loans without keeping them alive. */
  readonly ref: WeakRef<Loan>;
  #publisher: Publisher;
  #buffer: ArrayBuffer | undefined;

  /** @internal */
  constructor(publisher: Publisher, buffer: ArrayBuffer, address: bigint) {
    this.#publisher = publisher;
    this.#buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.address = address;
    this.ref = new WeakRef(this);
  }

  /** @internal */
  belongsTo(publisher: Publisher): boolean {
    return this.#publisher === publisher && this.#buffer !== undefined;
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

  /** Returns the memory to the pool if it was not published. */
  [Symbol.dispose](): void {
    const buffer = this.#buffer;
    if (!buffer) return;
    this.#buffer = undefined;
    this.#publisher.returnLoan(this, buffer);
  }

  /** @internal Publishes through `send`; the loan stays usable if it throws. */
  hand(send: (buffer: ArrayBuffer) => bigint): bigint {
    const buffer = this.#buffer;
    if (!buffer) throw new DetachedError('this loan was already published or disposed: loan again');
    const seq = send(buffer);
    this.#buffer = undefined;
    return seq;
  }
}

/** The node's side of a publisher. */
export interface PublisherHost {
  readonly native: NativeBinding;
  forget(publisher: Publisher): void;
}

export class Publisher implements Disposable {
  readonly topic: string;
  readonly qos: Required<QoS>;
  readonly id: number;
  #host: PublisherHost;
  /**
   * Unpublished loans, held weakly: a dropped loan is garbage-collected and
   * its memory goes back to the pool (the addon's finalizer), and close()
   * disposes of the rest.
   */
  #loans = new Set<WeakRef<Loan>>();
  #forget = new FinalizationRegistry<WeakRef<Loan>>((ref) => this.#loans.delete(ref));
  #closed = false;

  /** @internal Use node.publisher(). */
  constructor(host: PublisherHost, topic: string, qos: Required<QoS>) {
    this.#host = host;
    this.topic = topic;
    this.qos = qos;
    try {
      // The C library tells the processes subscribed to the topic.
      this.id = host.native.addPublisher(topic, qos.depth, qos.transientLocal).id;
    } catch (e) {
      throw translate(e, `creating a publisher on ${topic}`);
    }
  }

  /** Writable pool memory of exactly `byteLength` bytes. */
  loan(byteLength: number): Loan {
    this.#check();
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
      throw new InvalidArgumentError(`loan size must be a whole number of bytes, not ${byteLength}`);
    }
    let buffer: ArrayBuffer;
    try {
      buffer = this.#host.native.loan(byteLength);
    } catch (e) {
      // Subscribers may have released blocks since the last publish.
      if ((e as { code?: string }).code !== 'ENOMEM' || this.#host.native.reclaim() === 0) {
        throw translate(e, `loaning ${byteLength} bytes on ${this.topic}`);
      }
      try {
        buffer = this.#host.native.loan(byteLength);
      } catch (again) {
        throw translate(again, `loaning ${byteLength} bytes on ${this.topic}`);
      }
    }
    const loan = new Loan(this, buffer, this.#host.native.addressOf(buffer));
    this.#loans.add(loan.ref);
    this.#forget.register(loan, loan.ref, loan.ref);
    return loan;
  }

  /**
   * Publishes a loan without copying it, or, for bytes that are not in the
   * pool yet, copies them once into a fresh loan and publishes that.
   * Returns the message's sequence number.
   */
  publish(data: Loan | ArrayBufferView, length?: number): bigint {
    this.#check();
    if (!(data instanceof Loan)) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const loan = this.loan(bytes.byteLength);
      loan.bytes.set(bytes);
      return this.publish(loan);
    }
    if (!data.belongsTo(this)) {
      throw new InvalidArgumentError('this loan belongs to another publisher, or was already published');
    }
    const n = length ?? data.byteLength;
    if (!Number.isSafeInteger(n) || n < 0 || n > data.byteLength) {
      throw new InvalidArgumentError(`publish length ${n} is outside the loan's ${data.byteLength} bytes`);
    }
    let seq: bigint;
    try {
      seq = data.hand((buffer) => this.#host.native.publish(this.id, buffer, n));
    } catch (e) {
      throw translate(e, `publishing on ${this.topic}`);
    }
    this.#untrack(data);
    return seq;
  }

  /** Subscriptions on the topic right now, in every process. */
  get subscriberCount(): number {
    this.#check();
    return this.#host.native.topicInfo(this.topic)?.subscribers.length ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Unpublished loans go back to the pool; published messages stay readable. */
  close(): void {
    if (this.#closed) return;
    for (const ref of this.#loans) ref.deref()?.[Symbol.dispose]();
    this.#closed = true;
    this.#host.forget(this);
    try {
      this.#host.native.removePublisher(this.id);
    } catch (e) {
      throw translate(e, `closing the publisher on ${this.topic}`);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal */
  returnLoan(loan: Loan, buffer: ArrayBuffer): void {
    this.#untrack(loan);
    this.#host.native.free(buffer);
  }

  #untrack(loan: Loan): void {
    this.#loans.delete(loan.ref);
    this.#forget.unregister(loan.ref);
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(`the publisher on ${this.topic}`);
  }
}
