// SPDX-License-Identifier: Apache-2.0
/**
 * An in-memory stand-in for one host's agnocast (one IPC namespace), for
 * the bridge's host tests: the bridge's LocalSide over it, and publish /
 * subscribe for the test itself. Released messages are detached like the
 * library's (their buffer is transferred away), so a bridge that gave a
 * message back too early sends empty bytes and the test sees it.
 */
import type { LocalLoan, LocalMessage, LocalPublisher, LocalSide, LocalSubscription, Watch } from '../../src/bridge/local.js';

interface Sub {
  pid: number;
  depth: number;
  onMessage: (m: LocalMessage) => void;
}

interface Topic {
  subs: Set<Sub>;
  seq: bigint;
  /** Retained by transient-local publishers (the newest `keep`). */
  history: { bytes: Uint8Array; seq: bigint; pid: number }[];
  keep: number;
  watchers: Set<() => void>;
}

export class FakeMessage implements LocalMessage {
  readonly seq: bigint;
  readonly publisherPid: number;
  #buffer: ArrayBuffer;
  #retained = false;
  #released = false;
  #host: FakeHost;
  constructor(host: FakeHost, bytes: Uint8Array, seq: bigint, pid: number) {
    this.#host = host;
    this.#buffer = new Uint8Array(bytes).buffer;
    this.seq = seq;
    this.publisherPid = pid;
    host.live++;
  }

  get data(): Uint8Array {
    return new Uint8Array(this.#buffer);
  }

  retain(): this {
    this.#retained = true;
    return this;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#host.live--;
    structuredClone(this.#buffer, { transfer: [this.#buffer] });	// detaches every view
  }

  settle(): void {
    if (!this.#retained) this.release();
  }
}

export class FakeHost {
  topics = new Map<string, Topic>();
  bridges = new Set<number>();
  /** Messages handed out and not released. */
  live = 0;

  topic(name: string): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = { subs: new Set(), seq: 0n, history: [], keep: 0, watchers: new Set() };
      this.topics.set(name, t);
    }
    return t;
  }

  publish(topic: string, pid: number, bytes: Uint8Array, keep = 0): bigint {
    const t = this.topic(topic);
    const seq = ++t.seq;
    if (keep > 0) {
      t.keep = keep;
      t.history.push({ bytes: new Uint8Array(bytes), seq, pid });
      while (t.history.length > keep) t.history.shift();
    }
    for (const s of [...t.subs]) {
      const m = new FakeMessage(this, bytes, seq, pid);
      s.onMessage(m);
      m.settle();
    }
    return seq;
  }

  subscribe(topic: string, pid: number, onMessage: (m: LocalMessage) => void,
    qos: { depth: number; transientLocal: boolean } = { depth: 10, transientLocal: false }): LocalSubscription {
    const t = this.topic(topic);
    const s: Sub = { pid, depth: qos.depth, onMessage };
    t.subs.add(s);
    if (qos.transientLocal) {
      const old = t.history.slice(-qos.depth);
      queueMicrotask(() => {
        for (const h of old) {
          const m = new FakeMessage(this, h.bytes, h.seq, h.pid);
          onMessage(m);
          m.settle();
        }
      });
    }
    for (const w of t.watchers) w();
    return {
      close: () => {
        if (!t.subs.delete(s)) return;
        for (const w of t.watchers) w();
      },
    };
  }

  side(pid: number): LocalSide {
    this.bridges.add(pid);
    return new FakeSide(this, pid);
  }
}

class FakeSide implements LocalSide {
  readonly pid: number;
  #host: FakeHost;
  constructor(host: FakeHost, pid: number) {
    this.#host = host;
    this.pid = pid;
  }

  subscribe(topic: string, qos: { depth: number; transientLocal: boolean }, onMessage: (m: LocalMessage) => void): LocalSubscription {
    return this.#host.subscribe(topic, this.pid, onMessage, qos);
  }

  publisher(topic: string, qos: { depth: number; transientLocal: boolean }): LocalPublisher {
    const host = this.#host;
    const pid = this.pid;
    return {
      loan(n: number): LocalLoan {
        const bytes = new Uint8Array(n);
        return {
          bytes,
          publish: () => void host.publish(topic, pid, bytes, qos.transientLocal ? qos.depth : 0),
          discard: () => undefined,
        };
      },
      close: () => undefined,
    };
  }

  watchSubscribers(topic: string, onChange: (count: number) => void): Watch {
    const t = this.#host.topic(topic);
    let last = -1;
    const check = () => {
      const n = [...t.subs].filter((s) => s.pid !== this.pid).length;
      if (n !== last) {
        last = n;
        onChange(n);
      }
    };
    t.watchers.add(check);
    queueMicrotask(check);
    return { close: () => t.watchers.delete(check) };
  }

  isBridge(pid: number): boolean {
    return this.#host.bridges.has(pid);
  }

  close(): void {
    this.#host.bridges.delete(this.pid);
  }
}
