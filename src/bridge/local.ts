// SPDX-License-Identifier: Apache-2.0
/**
 * Everything the bridge needs from the agnocast library, in one place, so
 * that the library's delivery API can change under it (issue 9: delivery
 * modes, publisher matched/unmatched events, libagnocast) by changing this
 * file only:
 *
 *   - subscribe to a topic with a callback that may keep a message past
 *     the callback (retain, release later);
 *   - loan pool memory on a topic's publisher, write into it, publish;
 *   - know how many local subscribers a topic has, other than ours, and be
 *     told when that changes;
 *   - tell messages published by a bridge (ours or another's on this host)
 *     from the others.
 *
 * Subscriber counts are POLLED here (every `pollMs`, one TOPIC_INFO ioctl
 * per watched topic). A publisher's `matched` / `unmatched` events would
 * need the importer's publisher to exist before any local subscriber does,
 * which local subscribers would see: the importer creates it only then.
 *
 * A bridge marks its process with a publisher on /_agnocast/bridge/<pid>
 * (no message): any exporter on this host then knows that messages from
 * that pid came from NATS and must not go back (no loops).
 */
import type { AgnocastNode } from '../node.js';
import { INTERNAL_PREFIX } from '../options.js';
import type { Loan, Publisher } from '../publisher.js';

/** A received message: a read-only view over the publisher's pool. */
export interface LocalMessage {
  readonly data: Uint8Array;
  readonly seq: bigint;
  readonly publisherPid: number;
  /** Keep it past the callback; release() it later. */
  retain(): unknown;
  release(): void;
}

export interface LocalSubscription {
  close(): void;
}

/** Pool memory on loan, published without a copy. */
export interface LocalLoan {
  readonly bytes: Uint8Array;
  publish(): void;
  /** Gives the memory back unpublished. */
  discard(): void;
}

export interface LocalPublisher {
  /** Throws PoolExhaustedError when the pool has no room. */
  loan(byteLength: number): LocalLoan;
  close(): void;
}

export interface Watch {
  close(): void;
}

export interface LocalSide {
  readonly pid: number;
  subscribe(topic: string, qos: { depth: number; transientLocal: boolean },
    onMessage: (message: LocalMessage) => void): LocalSubscription;
  publisher(topic: string, qos: { depth: number; transientLocal: boolean }): LocalPublisher;
  /** Calls onChange(count) now and whenever the number of other processes' subscriptions on topic changes. */
  watchSubscribers(topic: string, onChange: (count: number) => void): Watch;
  /** Whether messages from this publisher process come from a bridge. */
  isBridge(pid: number): boolean;
  close(): void;
}

export const BRIDGE_MARK_PREFIX = `${INTERNAL_PREFIX}bridge/`;
const PID_CACHE_MAX = 4096;

class NodeLoan implements LocalLoan {
  #loan: Loan;
  constructor(loan: Loan) {
    this.#loan = loan;
  }

  get bytes(): Uint8Array {
    return this.#loan.bytes;
  }

  publish(): void {
    this.#loan.publish();
  }

  discard(): void {
    this.#loan[Symbol.dispose]();
  }
}

/** The LocalSide over a joined node (today's library API). */
export class NodeLocalSide implements LocalSide {
  readonly pid: number;
  #node: AgnocastNode;
  #mark: Publisher;
  #bridgePids = new Map<number, boolean>();
  #watches = new Set<{ topic: string; count: number; onChange: (count: number) => void }>();
  #timer: NodeJS.Timeout | undefined;
  #pollMs: number;

  constructor(node: AgnocastNode, pollMs: number) {
    this.#node = node;
    this.pid = node.pid;
    this.#pollMs = pollMs;
    this.#mark = node.publisher(`${BRIDGE_MARK_PREFIX}${node.pid}`, { depth: 1 });
  }

  subscribe(topic: string, qos: { depth: number; transientLocal: boolean },
    onMessage: (message: LocalMessage) => void): LocalSubscription {
    return this.#node.subscribe(topic, qos, onMessage);
  }

  publisher(topic: string, qos: { depth: number; transientLocal: boolean }): LocalPublisher {
    const pub = this.#node.publisher(topic, qos);
    return {
      loan: (n: number) => new NodeLoan(pub.loan(n)),
      close: () => pub.close(),
    };
  }

  #count(topic: string): number {
    const info = this.#node.native.topicInfo(topic);
    return info ? info.subscribers.filter((s) => s.pid !== this.pid).length : 0;
  }

  watchSubscribers(topic: string, onChange: (count: number) => void): Watch {
    const w = { topic, count: this.#count(topic), onChange };
    this.#watches.add(w);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#poll(), this.#pollMs);
      this.#timer.unref();
    }
    queueMicrotask(() => {
      if (this.#watches.has(w)) onChange(w.count);
    });
    return {
      close: () => {
        this.#watches.delete(w);
        if (this.#watches.size === 0 && this.#timer) {
          clearInterval(this.#timer);
          this.#timer = undefined;
        }
      },
    };
  }

  #poll(): void {
    for (const w of [...this.#watches]) {
      const n = this.#count(w.topic);
      if (n === w.count) continue;
      w.count = n;
      w.onChange(n);
    }
  }

  isBridge(pid: number): boolean {
    if (pid === this.pid) return true;
    let known = this.#bridgePids.get(pid);
    if (known === undefined) {
      const info = this.#node.native.topicInfo(`${BRIDGE_MARK_PREFIX}${pid}`);
      known = info?.publishers.some((p) => p.pid === pid) ?? false;
      if (this.#bridgePids.size >= PID_CACHE_MAX) this.#bridgePids.clear();
      this.#bridgePids.set(pid, known);
    }
    return known;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watches.clear();
    this.#mark.close();
  }
}
