// SPDX-License-Identifier: Apache-2.0
/**
 * Keyed shared regions (ctx_shmnew / ctx_shmget / ctx_shmrm): memory in the
 * creator's pool, writable by the creator, read-only by key for everyone
 * else, live (a write is seen at once: it is the same memory).
 *
 * A region is the single entry of the transient-local, depth-1 topic
 * "/_agnocast/region/<key>": the module keeps it while the creator's
 * publisher lives and counts who holds it. Every side, the creator too,
 * reaches the bytes through a held message, so remove() and close() detach
 * every view exactly when the memory stops being theirs.
 */
import { AgnocastError } from './errors.js';
import type { Message } from './message.js';
import { INTERNAL_PREFIX } from './options.js';
import type { Publisher } from './publisher.js';
import type { Subscription } from './subscription.js';

export const REGION_PREFIX = `${INTERNAL_PREFIX}region/`;

export class RegionExistsError extends AgnocastError {
  constructor(key: string) {
    super('AGNOCAST_REGION_EXISTS', `a shared region "${key}" exists already: open it with openRegion(), ` +
      'or remove it first');
  }
}

export class RegionNotFoundError extends AgnocastError {
  constructor(key: string) {
    super('AGNOCAST_REGION_NOT_FOUND', `no shared region "${key}" in this IPC namespace: ` +
      'createRegion() it first (see: npx agnocast topic list)');
  }
}

export class SharedRegion implements Disposable {
  readonly key: string;
  /** True for the creator (the bytes are writable), false for readers. */
  readonly owner: boolean;
  readonly address: bigint;
  readonly byteLength: number;
  #message: Message;
  #subscription: Subscription;
  #publisher: Publisher | undefined;

  /** @internal Use node.createRegion() or node.openRegion(). */
  constructor(key: string, message: Message, subscription: Subscription, publisher?: Publisher) {
    this.key = key;
    this.owner = publisher !== undefined;
    this.#message = message;
    this.#subscription = subscription;
    this.#publisher = publisher;
    this.address = message.address;
    this.byteLength = message.length;
  }

  /**
   * The region's bytes, without a copy: writable for the creator, read-only
   * by contract for readers (their mapping is read-only: a write kills the
   * process). Detached once the region is closed or removed.
   */
  get bytes(): Uint8Array {
    return this.#message.data;
  }

  /** Reader: stop using the region. Creator: same as remove(). */
  close(): void {
    if (this.#publisher) {
      this.remove();
      return;
    }
    this.#message.release();
    this.#subscription.close();
  }

  /**
   * Creator only: the key is free again at once; readers that have the
   * region open keep reading it until they close it, then the memory goes
   * back to the creator's pool.
   */
  remove(): void {
    if (!this.#publisher) {
      throw new AgnocastError('AGNOCAST_PERMISSION_DENIED',
        `only the creator removes shared region "${this.key}"; a reader calls close()`);
    }
    this.#message.release();
    this.#subscription.close();
    this.#publisher.close();
    this.#publisher = undefined;
  }

  [Symbol.dispose](): void {
    if (!this.#message.released) this.close();
  }
}
