// SPDX-License-Identifier: Apache-2.0
/**
 * One exported topic: subscribed locally only while some bridge elsewhere
 * wants it (a live lease), each message sent on the topic's subject in
 * chunks (wire.ts).
 *
 * Copies: none of ours. The NATS client is handed subarrays of the
 * received message's view (the publisher's pool, read-only here); it
 * copies them once into its write buffer (its DataBuffer packs the frame)
 * before the socket write. The message is held until that copy is made:
 * the client packs synchronously once 32 KiB are pending, or in the
 * microtask it queued when its buffer was empty, which runs before the
 * microtask that releases ours. While the connection is down nothing is
 * handed to the client (it would keep the views until it reconnects):
 * such messages are counted as not sent, and their numbers are holes the
 * importers report as lost.
 *
 * Transient-local topics: the local subscription is transient-local (the
 * publishers' retained history arrives first) and the last `depth`
 * messages stay held (zero-copy) for late importers, who ask with a want
 * carrying an inbox; they get that history on the inbox, then a closing
 * "end" message.
 */
import type { BridgeContext } from './context.js';
import type { LocalMessage, LocalSubscription } from './local.js';
import type { ResolvedTopic } from './options.js';
import { chunkCount, chunkHeaders, historyEndHeaders } from './wire.js';

interface Kept {
  message: LocalMessage;
  seq: number;
}

export class Exporter {
  readonly spec: ResolvedTopic;
  #ctx: BridgeContext;
  /** Importing bridge id -> when its lease lapses (ms, Date.now()). */
  #leases = new Map<string, number>();
  /** Bridges heard from since the last (re)connect. */
  #confirmed = new Set<string>();
  #sub: LocalSubscription | undefined;
  #seq = 0;
  #history: Kept[] = [];

  constructor(ctx: BridgeContext, spec: ResolvedTopic) {
    this.#ctx = ctx;
    this.spec = spec;
  }

  get active(): boolean {
    return this.#sub !== undefined;
  }

  get importers(): number {
    return this.#leases.size;
  }

  want(bridge: string, history: string | undefined): void {
    const fresh = !this.#confirmed.has(bridge);
    this.#leases.set(bridge, Date.now() + this.#ctx.opts.leaseMs);
    this.#confirmed.add(bridge);
    if (!this.#sub) this.#start();
    if (fresh) this.#ctx.emit({ type: 'interest', topic: this.spec.topic, bridge, importers: this.#leases.size });
    if (history !== undefined) {
      // After the transient-local history of a new subscription was delivered (a microtask).
      setImmediate(() => this.#sendHistory(history));
    }
  }

  unwant(bridge: string): void {
    this.#leases.delete(bridge);
    this.#confirmed.delete(bridge);
    if (this.#leases.size === 0) this.#stop('no interest');
  }

  /**
   * Drops lapsed leases (not while disconnected: see control.ts); `stalled`
   * ms during which this process could not read refreshes are added to
   * every lease first.
   */
  expire(now: number, stalled = 0): void {
    if (!this.#ctx.connected) return;
    if (stalled > 0) for (const [bridge, until] of this.#leases) this.#leases.set(bridge, until + stalled);
    for (const [bridge, until] of this.#leases) {
      if (until <= now) {
        this.#leases.delete(bridge);
        this.#confirmed.delete(bridge);
      }
    }
    if (this.#leases.size === 0) this.#stop('no interest');
  }

  /** Back on NATS: leases get a full period again, and must be confirmed. */
  reconnected(): void {
    const until = Date.now() + this.#ctx.opts.leaseMs;
    for (const bridge of this.#leases.keys()) this.#leases.set(bridge, until);
    this.#confirmed.clear();
  }

  close(): void {
    this.#stop('closing');
  }

  #start(): void {
    const { topic, depth, transientLocal, subject } = this.spec;
    this.#sub = this.#ctx.local.subscribe(topic, { depth, transientLocal }, (m) => this.#onMessage(m));
    this.#ctx.emit({ type: 'export-start', topic, subject });
  }

  #stop(reason: 'no interest' | 'closing'): void {
    if (!this.#sub) return;
    const sub = this.#sub;
    this.#sub = undefined;
    const kept = this.#history.splice(0);
    // Released after the client packed what it was handed (see top); the
    // event says the local subscription is gone, so it comes after.
    queueMicrotask(() => {
      for (const k of kept) k.message.release();
      sub.close();
      this.#ctx.emit({ type: 'export-stop', topic: this.spec.topic, reason });
    });
  }

  #onMessage(m: LocalMessage): void {
    const ctx = this.#ctx;
    if (ctx.local.isBridge(m.publisherPid)) {
      ctx.stats.skippedBridged++;
      return;
    }
    const seq = ++this.#seq;
    m.retain();
    if (this.spec.transientLocal) {
      this.#history.push({ message: m, seq });
      if (this.#history.length > this.spec.depth) {
        const old = this.#history.shift() as Kept;
        queueMicrotask(() => old.message.release());
      }
    }
    if (ctx.connected) {
      this.#send(this.spec.subject, m, seq, false);
      ctx.stats.exported++;
      ctx.stats.exportedBytes += m.data.length;
    } else {
      ctx.stats.notSent++;
      ctx.emit({ type: 'not-sent', topic: this.spec.topic, seq });
    }
    if (!this.spec.transientLocal) queueMicrotask(() => m.release());
  }

  #send(subject: string, m: LocalMessage, seq: number, history: boolean): void {
    const data = m.data;
    const size = data.length;
    const chunkSize = this.#ctx.chunkSize;
    const count = chunkCount(size, chunkSize);
    for (let index = 0; index < count; index++) {
      const headers = chunkHeaders({
        origin: this.#ctx.id, seq, srcPid: m.publisherPid, srcSeq: m.seq, size, index, count, chunkSize, history,
      });
      this.#ctx.nc.publish(subject, data.subarray(index * chunkSize, Math.min(size, (index + 1) * chunkSize)), { headers });
    }
  }

  #sendHistory(inbox: string): void {
    if (!this.#ctx.connected) return;
    const kept = this.#history.slice();
    for (const k of kept) this.#send(inbox, k.message, k.seq, true);
    this.#ctx.nc.publish(inbox, new Uint8Array(0), { headers: historyEndHeaders(this.#ctx.id, kept.length) });
  }
}
