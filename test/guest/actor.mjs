// SPDX-License-Identifier: Apache-2.0
/**
 * A child process driven by a test over its IPC channel: it joins, creates
 * publishers and subscriptions, publishes and collects what it receives,
 * answering each command with { id, ok, value } or { id, ok: false, error }.
 */
import { join } from '../../dist/index.js';
import { byteLength, kinds, plain, write } from '../../scripts/demo/typed.mjs';
import { check, fill } from './content.mjs';

let node;
const publishers = new Map();
const subscriptions = new Map();
/** topic -> { messages: [{seq, text, pid, address}], held: Message[], waiters } */
const inbox = new Map();

function box(topic) {
  if (!inbox.has(topic)) inbox.set(topic, { messages: [], held: [], waiters: [], errors: [], events: [] });
  return inbox.get(topic);
}

function record(topic, msg, hold) {
  const b = box(topic);
  b.messages.push({
    seq: String(msg.seq),
    text: Buffer.from(msg.data).toString('utf8'),
    pid: msg.publisherPid,
    address: `0x${msg.address.toString(16)}`,
  });
  if (hold) b.held.push(msg.retain());
  for (const w of b.waiters.splice(0)) w();
}

/**
 * Reads a message through the schema of `kind` (scripts/demo/typed.mjs):
 * every field, and where each array accessor points (address, and whether
 * it is a view of the message's own memory rather than a copy).
 */
function recordTyped(topic, kind, msg) {
  const b = box(topic);
  const m = { seq: String(msg.seq), address: `0x${msg.address.toString(16)}`, length: msg.length };
  try {
    const view = kinds[kind].schema.view(msg.data);
    m.fields = plain(view);
    m.arrays = {};
    for (const [field, v] of Object.entries(view)) {
      if (!ArrayBuffer.isView(v)) continue;
      const at = msg.address + BigInt(v.byteOffset - msg.data.byteOffset);
      m.arrays[field] = { address: `0x${at.toString(16)}`, inPlace: v.buffer === msg.data.buffer };
    }
  } catch (e) {
    m.error = e.message; // the test shows it
  }
  b.messages.push(m);
  for (const w of b.waiters.splice(0)) w();
}

async function until(topic, count) {
  const b = box(topic);
  while (b.messages.length < count) await new Promise((r) => b.waiters.push(r));
  return b.messages.slice(0, count);
}

const regions = new Map();

const commands = {
  createRegion: ({ key, size }) => {
    const r = node.createRegion(key, size);
    regions.set(key, r);
    return `0x${r.address.toString(16)}`;
  },
  openRegion: ({ key }) => {
    const r = node.openRegion(key);
    regions.set(key, r);
    return { address: `0x${r.address.toString(16)}`, byteLength: r.byteLength };
  },
  writeRegion: ({ key, text }) => {
    regions.get(key).bytes.set(Buffer.from(text));
    return true;
  },
  readRegion: ({ key, length }) => Buffer.from(regions.get(key).bytes.subarray(0, length)).toString('utf8'),
  removeRegion: ({ key }) => {
    regions.get(key).remove();
    return true;
  },
  closeRegion: ({ key }) => {
    const r = regions.get(key);
    const view = r.bytes;
    r.close();
    return view.byteLength;
  },
  join: ({ poolSize, poolMax }) => {
    node = join({ poolSize: poolSize ?? '8M', poolMax });
    return { pid: node.pid, address: `0x${node.pool.address.toString(16)}` };
  },
  publisher: ({ topic, depth, transientLocal }) => {
    publishers.set(topic, node.publisher(topic, { depth, transientLocal }));
    return publishers.get(topic).id;
  },
  publish: ({ topic, text }) => {
    const loan = publishers.get(topic).loan(Buffer.byteLength(text));
    loan.bytes.set(Buffer.from(text));
    const address = `0x${loan.address.toString(16)}`;
    return { seq: String(loan.publish()), address };
  },
  /** Publishes message i of `kind` (typed.mjs): a loan of the schema's size, filled through its accessors. */
  publishTyped: ({ topic, kind, i }) => {
    const loan = publishers.get(topic).loan(byteLength(kind, i));
    write(kind, i, loan.bytes);
    const sent = { address: `0x${loan.address.toString(16)}`, length: loan.bytes.byteLength };
    return { seq: String(loan.publish()), ...sent };
  },
  /** Subscribes reading each message through the schema of `kind`; messages() returns what recordTyped saw. */
  subscribeTyped: ({ topic, kind }) => {
    box(topic);
    const s = node.subscribe(topic, { depth: 16 }, (msg) => recordTyped(topic, kind, msg));
    subscriptions.set(topic, s);
    return s.id;
  },
  subscribe: ({ topic, depth, transientLocal, hold, spin }) => {
    box(topic);
    const s = node.subscribe(topic, { depth, transientLocal, spin }, (msg) => record(topic, msg, hold));
    subscriptions.set(topic, s);
    return s.id;
  },
  /** Publishes message `index` of `size` bytes in verifiable content (content.mjs), filled in the loan. */
  publishContent: ({ topic, size, index }) => {
    const loan = publishers.get(topic).loan(size);
    const hash = fill(loan.bytes, index);
    return { seq: String(loan.publish()), hash };
  },
  /** Subscribes checking every message's content; messages() returns { index, size, hash, ok, pid }. */
  subscribeContent: ({ topic, depth, transientLocal }) => {
    box(topic);
    const s = node.subscribe(topic, { depth: depth ?? 4, transientLocal }, (msg) => {
      const b = box(topic);
      b.messages.push({ ...check(msg.data), pid: msg.publisherPid });
      for (const w of b.waiters.splice(0)) w();
    });
    subscriptions.set(topic, s);
    return s.id;
  },
  messages: ({ topic, count }) => until(topic, count),
  received: ({ topic }) => box(topic).messages,
  /** The held messages' text, read again now. */
  heldText: ({ topic }) => box(topic).held.map((m) => Buffer.from(m.data).toString()),
  mappedPools: () => node.mappedPools(),
  releaseHeld: ({ topic }) => {
    for (const m of box(topic).held.splice(0)) m.release();
    return true;
  },
  closeSubscription: ({ topic }) => {
    subscriptions.get(topic).close();
    return true;
  },
  closePublisher: ({ topic }) => {
    publishers.get(topic).close();
    return true;
  },
  counts: ({ topic }) => ({
    subscribers: (publishers.get(topic) ?? subscriptions.get(topic)) ? node.native.topicInfo(topic)?.subscribers.length ?? 0 : 0,
    publishers: node.native.topicInfo(topic)?.publishers.length ?? 0,
  }),
  /** Writes into the held message's bytes: must kill this process (read-only mapping). */
  writeHeld: ({ topic }) => {
    const m = box(topic).held[0];
    m.data[0] = 1;
    return 'wrote';
  },
  // ---- issue 9: polling, iteration, backpressure, reliable, events -------
  /** A subscription without a callback (iterate or poll it). */
  subscribePlain: ({ topic, depth, transientLocal, reliable, spin }) => {
    const s = node.subscribe(topic, { depth, transientLocal, reliable, spin });
    s.on('error', (e) => box(topic).errors.push(e.message));
    subscriptions.set(topic, s);
    return s.id;
  },
  /** take(): the newest message's text, released, or null. */
  take: ({ topic }) => {
    const m = subscriptions.get(topic).take();
    if (!m) return null;
    const text = Buffer.from(m.data).toString();
    m.release();
    return text;
  },
  /** receive(): the next message's text, released, or null at the timeout. */
  receive: async ({ topic, timeoutMs }) => {
    const m = await subscriptions.get(topic).receive({ timeoutMs });
    if (!m) return null;
    const text = Buffer.from(m.data).toString();
    m.release();
    return text;
  },
  /** Iterates until `count` messages came, then breaks; resolves with their texts. */
  iterate: async ({ topic, count }) => {
    const texts = [];
    for await (const m of subscriptions.get(topic)) {
      texts.push(Buffer.from(m.data).toString());
      if (texts.length === count) break;
    }
    return texts;
  },
  /** An async callback of delayMs per message; records texts and the most ever in flight. */
  subscribeSlow: ({ topic, depth, delayMs, maxInFlight, throwOn }) => {
    const b = box(topic);
    b.inFlight = 0;
    b.maxInFlight = 0;
    const s = node.subscribe(topic, { depth, maxInFlight }, async (msg) => {
      const text = Buffer.from(msg.data).toString();
      b.inFlight++;
      b.maxInFlight = Math.max(b.maxInFlight, b.inFlight);
      await new Promise((r) => setTimeout(r, delayMs));
      b.inFlight--;
      b.messages.push({ seq: String(msg.seq), text });
      for (const w of b.waiters.splice(0)) w();
      if (text === throwOn) throw new Error(`rejected ${text}`);
    });
    s.on('error', (e) => b.errors.push(e.message));
    subscriptions.set(topic, s);
    return s.id;
  },
  /**
   * Synchronous callbacks, except on the message whose text is asyncOn:
   * that one returns a promise settled delayMs later. Records whether a
   * callback ran while it was pending (maxInFlight 1 forbids it).
   */
  subscribeMixed: ({ topic, depth, asyncOn, delayMs }) => {
    const b = box(topic);
    b.overlaps = 0;
    let pending = false;
    const s = node.subscribe(topic, { depth }, (msg) => {
      const text = Buffer.from(msg.data).toString();
      if (pending) b.overlaps++;
      b.messages.push({ seq: String(msg.seq), text });
      for (const w of b.waiters.splice(0)) w();
      if (text !== asyncOn) return undefined;
      pending = true;
      return new Promise((r) => setTimeout(r, delayMs)).then(() => { pending = false; });
    });
    s.on('error', (e) => b.errors.push(e.message));
    subscriptions.set(topic, s);
    return s.id;
  },
  mixedInfo: ({ topic }) => ({ overlaps: box(topic).overlaps, errors: box(topic).errors }),
  /** A synchronous callback that throws on the message whose text is throwOn. */
  subscribeThrowing: ({ topic, depth, throwOn }) => {
    const b = box(topic);
    const s = node.subscribe(topic, { depth }, (msg) => {
      const text = Buffer.from(msg.data).toString();
      b.messages.push({ seq: String(msg.seq), text });
      for (const w of b.waiters.splice(0)) w();
      if (text === throwOn) throw new Error(`thrown on ${text}`);
    });
    s.on('error', (e) => b.errors.push(e.message));
    subscriptions.set(topic, s);
    return s.id;
  },
  /** Waits until a message with this text arrived (callback subscriptions). */
  untilText: async ({ topic, text }) => {
    const b = box(topic);
    while (!b.messages.some((m) => m.text === text)) await new Promise((r) => b.waiters.push(r));
    return b.messages.length;
  },
  slowInfo: ({ topic }) => ({ maxInFlight: box(topic).maxInFlight, errors: box(topic).errors }),
  stats: ({ topic }) => subscriptions.get(topic).stats,
  errors: ({ topic }) => box(topic).errors,
  /** Publishes texts[i] in order, synchronously; returns the error code of the first refusal, if any. */
  publishAll: ({ topic, texts }) => {
    for (const [i, text] of texts.entries()) {
      try {
        publishers.get(topic).publish(Buffer.from(text));
      } catch (e) {
        return { published: i, code: e.code };
      }
    }
    return { published: texts.length };
  },
  /** Starts publishAsync() of each text in order (background); publishedAsync() tells. */
  publishAllAsync: ({ topic, texts }) => {
    const b = box(topic);
    b.asyncDone = (async () => {
      for (const text of texts) await publishers.get(topic).publishAsync(Buffer.from(text));
      return texts.length;
    })();
    b.asyncDone.catch(() => undefined);
    return true;
  },
  publishedAsync: ({ topic }) => box(topic).asyncDone,
  /** Records the endpoint's matched / unmatched events. */
  watchMatches: ({ topic, side }) => {
    const b = box(topic);
    b.events = [];
    const e = side === 'publisher' ? publishers.get(topic) : subscriptions.get(topic);
    e.on('matched', (ev) => b.events.push(['matched', ev.subscribers ?? ev.publishers]));
    e.on('unmatched', (ev) => b.events.push(['unmatched', ev.subscribers ?? ev.publishers]));
    return true;
  },
  matchEvents: ({ topic }) => box(topic).events,
  /** Waits for the next matched/unmatched event of that kind (recorded by watchMatches). */
  untilEvent: async ({ topic, kind, count }) => {
    const b = box(topic);
    const e = publishers.get(topic) ?? subscriptions.get(topic);
    for (;;) {
      const hit = b.events.find((ev) => ev[0] === kind && ev[1] === count);
      if (hit) return b.events;
      await new Promise((r) => e.once(kind, () => setImmediate(r)));
    }
  },
  waitForSubscribers: ({ topic, n, timeoutMs }) => publishers.get(topic).waitForSubscribers(n, { timeoutMs }),
  waitForPublishers: ({ topic, n, timeoutMs }) => subscriptions.get(topic).waitForPublishers(n, { timeoutMs }),
  exit: () => {
    setImmediate(() => process.exit(0));
    node?.close();
    return true;
  },
};

// Anything uncaught is a failure the test must see: report it, then exit 70.
process.on('uncaughtException', (e) => {
  console.error(`actor ${process.pid}: uncaught ${e?.stack ?? e}`);
  process.exit(70);
});

process.on('message', async ({ id, cmd, args }) => {
  try {
    const value = await commands[cmd](args ?? {});
    process.send({ id, ok: true, value });
  } catch (e) {
    process.send({ id, ok: false, error: { name: e?.name, code: e?.code, message: e?.message } });
  }
});
process.send({ ready: true });
