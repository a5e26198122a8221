// SPDX-License-Identifier: Apache-2.0
/**
 * One imported topic: while this host has a subscriber on it (other than a
 * bridge), a local publisher, a NATS subscription on the topic's subject
 * and a want refreshed every leaseMs/3 (control.ts).
 *
 * Copies: one. The first chunk of a message announces its size; a loan of
 * that size is taken from our pool at once and every chunk is copied from
 * the client's payload view straight to its offset in the loan; the
 * complete loan is published as it is. Nothing is assembled in between.
 *
 * Integrity: every chunk's headers are checked (wire.ts) and chunks must
 * come in order (one exporter, one subject, one connection: NATS keeps
 * their order); anything else abandons the message and is counted.
 * Memory: a message is refused when it is larger than maxMessageSize, or
 * when the loans of incomplete messages of all topics would exceed
 * reassemblyMemory.
 *
 * Loss: each exporter numbers its messages (Agnocast-Seq); a hole is
 * counted as lost and reported. Duplicates (a message in both the history
 * and the live stream) are recognised by their origin sequence number
 * (Agnocast-Src) and published once.
 *
 * Transient-local topics: the first want carries an inbox; until each
 * exporter's history has ended there (or historyTimeoutMs passed), live
 * messages from that exporter wait, complete, in their loans, so that the
 * local publisher's history stays in order.
 */
import { createInbox, type Msg, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { BridgeContext } from './context.js';
import { controlSubject } from './subject.js';
import { encodeControl } from './control.js';
import type { LocalLoan, LocalPublisher, Watch } from './local.js';
import type { ResolvedTopic } from './options.js';
import { type Chunk, parseChunk } from './wire.js';

interface Partial {
  chunk: Chunk;
  next: number;
  loan: LocalLoan;
}

interface Complete {
  loan: LocalLoan;
  srcSeq: bigint;
  size: number;
}

/** What we know of one exporting bridge, per topic. */
interface Origin {
  lastSeq: number;
  lastSrcSeq: bigint;
  live: Partial | undefined;
  hist: Partial | undefined;
  /** Skip the remaining chunks of a refused message (seq), counted once. */
  skipLive: number;
  skipHist: number;
  historyDone: boolean;
  waiting: Complete[];
}

export class Importer {
  readonly spec: ResolvedTopic;
  #ctx: BridgeContext;
  #watch: Watch;
  #pub: LocalPublisher | undefined;
  #subs: NatsSubscription[] = [];
  #origins = new Map<string, Origin>();
  #refresh: NodeJS.Timeout | undefined;
  #historyTimer: NodeJS.Timeout | undefined;
  #awaitingHistory = false;
  #closed = false;

  constructor(ctx: BridgeContext, spec: ResolvedTopic) {
    this.#ctx = ctx;
    this.spec = spec;
    this.#watch = ctx.local.watchSubscribers(spec.topic, (n) => {
      if (n > 0 && !this.#pub && !this.#closed) this.#start(n);
      else if (n === 0 && this.#pub) this.#stop('no local subscriber');
    });
  }

  get active(): boolean {
    return this.#pub !== undefined;
  }

  /** An exporter asked who wants what, or we are back on NATS. */
  announce(): void {
    if (this.#pub) this.#want(undefined);
  }

  close(): void {
    this.#closed = true;
    this.#watch.close();
    this.#stop('closing');
  }

  #want(history: string | undefined): void {
    if (!this.#ctx.connected) return;
    const want = history === undefined
      ? { kind: 'want' as const, bridge: this.#ctx.id, topic: this.spec.topic }
      : { kind: 'want' as const, bridge: this.#ctx.id, topic: this.spec.topic, history };
    this.#ctx.nc.publish(controlSubject(this.#ctx.opts.prefix, 'want'), encodeControl(want));
  }

  #start(localSubscribers: number): void {
    const { topic, subject, depth, transientLocal } = this.spec;
    const ctx = this.#ctx;
    this.#pub = ctx.local.publisher(topic, { depth, transientLocal });
    this.#subs.push(ctx.nc.subscribe(subject, { callback: (err, msg) => {
      if (!err) this.#onMessage(msg, false);
    } }));
    let history: string | undefined;
    if (transientLocal) {
      history = createInbox(`${ctx.opts.prefix}.h`);
      this.#subs.push(ctx.nc.subscribe(history, { callback: (err, msg) => {
        if (!err) this.#onMessage(msg, true);
      } }));
      this.#awaitingHistory = true;
      this.#historyTimer = setTimeout(() => this.#historyOver(), ctx.opts.historyTimeoutMs);
    }
    // Subscribed first: the server knows our interest before an exporter hears the want.
    this.#want(history);
    this.#refresh = setInterval(() => this.#want(undefined), Math.max(1, Math.floor(ctx.opts.leaseMs / 3)));
    this.#refresh.unref();
    ctx.emit({ type: 'import-start', topic, subject, localSubscribers });
  }

  #stop(reason: 'no local subscriber' | 'closing'): void {
    if (!this.#pub) return;
    clearInterval(this.#refresh);
    clearTimeout(this.#historyTimer);
    this.#awaitingHistory = false;
    for (const s of this.#subs.splice(0)) s.unsubscribe();
    if (this.#ctx.connected && !this.#ctx.nc.isClosed()) {
      this.#ctx.nc.publish(controlSubject(this.#ctx.opts.prefix, 'unwant'),
        encodeControl({ kind: 'unwant', bridge: this.#ctx.id, topic: this.spec.topic }));
    }
    for (const o of this.#origins.values()) {
      this.#abandon(o, false, null);
      this.#abandon(o, true, null);
      for (const c of o.waiting.splice(0)) c.loan.discard();
    }
    this.#origins.clear();
    this.#pub.close();
    this.#pub = undefined;
    this.#ctx.emit({ type: 'import-stop', topic: this.spec.topic, reason });
  }

  #origin(id: string): Origin {
    let o = this.#origins.get(id);
    if (!o) {
      o = { lastSeq: 0, lastSrcSeq: 0n, live: undefined, hist: undefined, skipLive: 0, skipHist: 0, historyDone: !this.#awaitingHistory, waiting: [] };
      this.#origins.set(id, o);
    }
    return o;
  }

  #drop(reason: Parameters<BridgeContext['drop']>[2], subject: string, detail: string): void {
    this.#ctx.drop(this.spec.topic, subject, reason, detail);
  }

  /** Gives back the loan of an incomplete message; counts it unless reason is null. */
  #abandon(o: Origin, hist: boolean, reason: string | null): void {
    const p = hist ? o.hist : o.live;
    if (!p) return;
    if (hist) o.hist = undefined;
    else o.live = undefined;
    this.#ctx.reassembling -= p.chunk.size;
    p.loan.discard();
    if (reason !== null) this.#drop('incomplete', this.spec.subject, `message ${p.chunk.seq} from ${p.chunk.origin}: ${reason}`);
  }

  #onMessage(msg: Msg, hist: boolean): void {
    if (!this.#pub) return;
    try {
      this.#onChunk(msg, hist);
    } catch (e) {
      this.#drop('malformed', msg.subject, `could not be handled: ${(e as Error).message}`);
    }
  }

  #onChunk(msg: Msg, hist: boolean): void {
    const ctx = this.#ctx;
    const parsed = parseChunk(msg.headers, msg.data.length);
    if (typeof parsed === 'string') {
      this.#drop('malformed', msg.subject, parsed);
      return;
    }
    if (parsed.origin === ctx.id) {
      this.#drop('echo', msg.subject, 'a message this bridge exported came back');
      return;
    }
    const o = this.#origin(parsed.origin);
    if ('end' in parsed) {
      if (!hist) {
        this.#drop('malformed', msg.subject, 'a history end outside a history reply');
        return;
      }
      ctx.emit({ type: 'history', topic: this.spec.topic, origin: parsed.origin, messages: parsed.end });
      this.#historyDone(o);
      return;
    }
    if (parsed.history !== hist) {
      this.#drop('malformed', msg.subject, hist ? 'a live message on a history inbox' : 'a history message on a live subject');
      return;
    }
    const c = parsed;
    if (c.index === 0) {
      if (hist ? o.hist : o.live) this.#abandon(o, hist, `chunk 0 of message ${c.seq} came before its end`);
      if (c.size > ctx.opts.maxMessageSize) {
        this.#refuse(o, c, 'too-large', `${c.size} bytes, more than maxMessageSize ${ctx.opts.maxMessageSize}`);
        return;
      }
      if (ctx.reassembling + c.size > ctx.opts.reassemblyMemory) {
        this.#refuse(o, c, 'reassembly-memory', `${c.size} bytes would make incomplete messages hold more ` +
          `than reassemblyMemory ${ctx.opts.reassemblyMemory}`);
        return;
      }
      let loan: LocalLoan;
      try {
        loan = (this.#pub as LocalPublisher).loan(c.size);
      } catch (e) {
        this.#refuse(o, c, 'pool-exhausted', (e as Error).message);
        return;
      }
      ctx.reassembling += c.size;
      const p: Partial = { chunk: c, next: 0, loan };
      if (hist) o.hist = p;
      else o.live = p;
    }
    const p = hist ? o.hist : o.live;
    if (!p) {
      if ((hist ? o.skipHist : o.skipLive) !== c.seq) {
        this.#drop('malformed', msg.subject, `chunk ${c.index} of message ${c.seq} from ${c.origin} without its first chunk`);
      }
      return;
    }
    const f = p.chunk;
    if (c.seq !== f.seq || c.size !== f.size || c.count !== f.count || c.chunkSize !== f.chunkSize || c.index !== p.next) {
      this.#abandon(o, hist, `chunk ${c.index} of message ${c.seq} came instead of chunk ${p.next}`);
      this.#drop('malformed', msg.subject, `chunk ${c.index} of message ${c.seq} from ${c.origin} out of order`);
      return;
    }
    p.loan.bytes.set(msg.data, c.index * c.chunkSize);
    p.next++;
    if (p.next < c.count) return;
    if (hist) o.hist = undefined;
    else o.live = undefined;
    ctx.reassembling -= c.size;
    this.#complete(o, { loan: p.loan, srcSeq: c.srcSeq, size: c.size }, c, hist);
  }

  /** Refuses a message; its other chunks are skipped without counting them again. */
  #refuse(o: Origin, c: Chunk, reason: 'too-large' | 'reassembly-memory' | 'pool-exhausted', detail: string): void {
    if (c.history) o.skipHist = c.seq;
    else {
      o.skipLive = c.seq;
      this.#sequence(o, c);
    }
    this.#drop(reason, this.spec.subject, `message ${c.seq} from ${c.origin}: ${detail}`);
  }

  /** Gap accounting on the live stream. */
  #sequence(o: Origin, c: Chunk): boolean {
    if (o.lastSeq > 0 && c.seq <= o.lastSeq) return false;
    if (o.lastSeq > 0 && c.seq > o.lastSeq + 1) {
      const lost = c.seq - o.lastSeq - 1;
      this.#ctx.stats.lost += lost;
      this.#ctx.emit({ type: 'gap', topic: this.spec.topic, origin: c.origin, lost });
    }
    o.lastSeq = c.seq;
    return true;
  }

  #complete(o: Origin, done: Complete, c: Chunk, hist: boolean): void {
    if (hist) {
      this.#ctx.stats.historyReceived++;
      this.#publish(o, done);
      return;
    }
    if (!this.#sequence(o, c)) {
      done.loan.discard();
      this.#drop('duplicate', this.spec.subject, `message ${c.seq} from ${c.origin} again`);
      return;
    }
    if (!o.historyDone) o.waiting.push(done);
    else this.#publish(o, done);
  }

  #publish(o: Origin, done: Complete): void {
    if (done.srcSeq <= o.lastSrcSeq) {
      done.loan.discard();
      this.#drop('duplicate', this.spec.subject, `origin sequence ${done.srcSeq} was published here already`);
      return;
    }
    o.lastSrcSeq = done.srcSeq;
    done.loan.publish();
    this.#ctx.stats.imported++;
    this.#ctx.stats.importedBytes += done.size;
  }

  #historyDone(o: Origin): void {
    if (o.historyDone) return;
    o.historyDone = true;
    for (const c of o.waiting.splice(0)) this.#publish(o, c);
  }

  #historyOver(): void {
    this.#awaitingHistory = false;
    for (const o of this.#origins.values()) this.#historyDone(o);
  }
}
