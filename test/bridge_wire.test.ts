// SPDX-License-Identifier: Apache-2.0
// Topic <-> subject mapping, chunk headers and control messages: what is
// accepted, what is refused and why.
import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { decodeControl, encodeControl } from '../src/bridge/control.js';
import { resolveOptions } from '../src/bridge/options.js';
import { checkPrefix, subjectToTopic, topicToSubject } from '../src/bridge/subject.js';
import { chunkHeaders, parseChunk } from '../src/bridge/wire.js';

describe('topic <-> subject', () => {
  it.each([
    ['/camera/front', 'agnocast.t.camera.front'],
    ['/lidar/points.raw', 'agnocast.t.lidar.points~2Eraw'],
    ['/a//b/', 'agnocast.t.a.~.b.~'],
    ['/wild/*/>', 'agnocast.t.wild.~2A.~3E'],
    ['/tilde~x', 'agnocast.t.tilde~7Ex'],
    ['/ünï', 'agnocast.t.~C3~BCn~C3~AF'],
    ['/_agnocast/region/k', 'agnocast.t._agnocast.region.k'],
  ])('%s <-> %s', (topic, subject) => {
    expect(topicToSubject('agnocast', topic)).toBe(subject);
    expect(subjectToTopic('agnocast', subject)).toBe(topic);
  });

  it('refuses what it cannot map back', () => {
    expect(() => topicToSubject('agnocast', 'relative')).toThrow(/start with "\/"/);
    expect(subjectToTopic('agnocast', 'other.t.x')).toBeNull();
    expect(subjectToTopic('agnocast', 'agnocast.t.a~2')).toBeNull();
    expect(subjectToTopic('agnocast', 'agnocast.t.~41')).toBeNull();	// 'A' escaped: not canonical
    expect(subjectToTopic('agnocast', 'agnocast.t.a*')).toBeNull();
    expect(() => checkPrefix('a.*')).toThrow(/tokens/);
    expect(checkPrefix('site1.robot-2')).toBe('site1.robot-2');
  });
});

describe('chunk headers', () => {
  const c = { origin: 'abc', seq: 5, srcPid: 42, srcSeq: 77n, size: 10, index: 1, count: 3, chunkSize: 4, history: false };
  it('round-trip, and the last chunk is the remainder', () => {
    expect(parseChunk(chunkHeaders(c), 4)).toEqual(c);
    expect(parseChunk(chunkHeaders({ ...c, index: 2 }), 2)).toEqual({ ...c, index: 2 });
    expect(parseChunk(chunkHeaders({ ...c, size: 0, count: 1, index: 0 }), 0)).toMatchObject({ size: 0 });
  });
  it('refuses inconsistent ones with a reason', () => {
    expect(parseChunk(undefined, 1)).toMatch(/no NATS headers/);
    expect(parseChunk(chunkHeaders(c), 3)).toMatch(/carries 3 bytes, not 4/);
    expect(parseChunk(chunkHeaders({ ...c, count: 4 }), 4)).toMatch(/cannot hold/);
    expect(parseChunk(chunkHeaders({ ...c, index: 3 }), 4)).toMatch(/chunk 3 of 3/);
    expect(parseChunk(chunkHeaders({ ...c, seq: 0 }), 4)).toMatch(/start at 1/);
    const h = chunkHeaders(c);
    h.set('Agnocast-Size', '99999999999999999999');
    expect(parseChunk(h, 4)).toMatch(/Agnocast-Size/);
    const e = headers();
    e.set('Agnocast-Origin', 'abc');
    e.set('Agnocast-History', 'end 3');
    expect(parseChunk(e, 0)).toEqual({ origin: 'abc', end: 3 });
    expect(parseChunk(e, 1)).toMatch(/end message carries/);
  });
});

describe('control messages', () => {
  it('round-trip and refuse junk', () => {
    const want = { kind: 'want' as const, bridge: 'B1', topic: '/t', history: '_INBOX.x.y' };
    expect(decodeControl('want', encodeControl(want))).toEqual(want);
    expect(decodeControl('query', encodeControl({ kind: 'query', bridge: 'B1' }))).toEqual({ kind: 'query', bridge: 'B1' });
    expect(decodeControl('want', Buffer.from('{'))).toMatch(/not JSON/);
    expect(decodeControl('want', Buffer.from('{"v":2,"bridge":"B","topic":"/t"}'))).toMatch(/version/);
    expect(decodeControl('unwant', Buffer.from('{"v":1,"bridge":"B"}'))).toMatch(/topic/);
    expect(decodeControl('want', new Uint8Array(5000))).toMatch(/5000 bytes/);
  });
});

describe('options', () => {
  it('resolves defaults and refuses what cannot work, saying what to do', () => {
    const o = resolveOptions({ servers: 'nats://h:4222', export: ['/a', { topic: '/b', depth: 2, transientLocal: true }] });
    expect(o.exports.map((t) => [t.topic, t.subject, t.depth, t.transientLocal]))
      .toEqual([['/a', 'agnocast.t.a', 10, false], ['/b', 'agnocast.t.b', 2, true]]);
    expect(o.chunkSize).toBe(1024 * 1024);
    expect(() => resolveOptions({ servers: [], export: ['/a'] })).toThrow(/no NATS server/);
    expect(() => resolveOptions({ servers: 'nats://h', export: [] })).toThrow(/nothing to bridge/);
    expect(() => resolveOptions({ servers: 'nats://h', export: ['/_agnocast/region/x'] })).toThrow(/internal: true/);
    expect(resolveOptions({ servers: 'nats://h', export: ['/_agnocast/region/x'], internal: true }).exports).toHaveLength(1);
    expect(() => resolveOptions({ servers: 'nats://h', import: ['/a', '/a'] })).toThrow(/twice/);
    expect(() => resolveOptions({ servers: 'nats://h', import: [{ topic: '/a', depth: 0 }] })).toThrow(/depth/);
    try {
      resolveOptions({ servers: 'nats://h', export: ['x'] });
    } catch (e) {
      expect((e as { code: string }).code).toBe('AGNOCAST_BRIDGE_CONFIG');
    }
  });
});
