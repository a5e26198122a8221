// SPDX-License-Identifier: Apache-2.0
// A node workload for the heaphook guest suite, run under the hook.
// Builds big object graphs, strings and Buffers, round-trips them through
// JSON, zlib and crypto, checks every result, then tells the driver
// "ready ..." on fd 3 (the control socket) with the Buffers still alive and
// waits for "exit". Any mismatch throws: non-zero exit status.
'use strict';
const fs = require('node:fs');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const assert = require('node:assert/strict');

const CTL = 3;
const MIB = 1 << 20;
const NBUF = Number(process.argv[2] || 48);

function mix(i) {
  // 32-bit integer hash, reproducible
  let x = (i ^ 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

// 1. An object graph and its JSON round trip.
const items = [];
for (let i = 0; i < 100000; i++) {
  items.push({ id: i, name: `item-${i}-${'x'.repeat(i % 40)}`, tags: [i % 7, i % 11, mix(i)],
    nested: { even: i % 2 === 0, h: mix(i).toString(16) } });
}
const json = JSON.stringify(items);
const back = JSON.parse(json);
assert.equal(back.length, items.length);
for (let i = 0; i < back.length; i += 997) assert.deepEqual(back[i], items[i]);
assert.equal(JSON.stringify(back), json);

// 2. Strings: concatenation, split/join, a Map of strings.
let s = '';
for (let i = 0; i < 20000; i++) s += mix(i).toString(36) + ',';
const parts = s.split(',');
assert.equal(parts.length, 20001);
assert.equal(parts.join(','), s);
const m = new Map();
for (let i = 0; i < 50000; i++) m.set('k' + i, 'v' + mix(i));
for (let i = 0; i < 50000; i += 101) assert.equal(m.get('k' + i), 'v' + mix(i));

// 3. Buffers (node allocates their memory with malloc/calloc): NBUF MiB
// that stay alive, each with its own pattern.
const bufs = [];
for (let b = 0; b < NBUF; b++) {
  const buf = Buffer.alloc(MIB);
  for (let o = 0; o < MIB; o += 4) buf.writeUInt32LE(mix(b * MIB + o), o);
  bufs.push(buf);
}
function checkBufs() {
  for (let b = 0; b < NBUF; b++) {
    const buf = bufs[b];
    for (let o = 0; o < MIB; o += 4096) assert.equal(buf.readUInt32LE(o), mix(b * MIB + o));
  }
}
checkBufs();

// 4. zlib and crypto (C/C++ code under node: its own mallocs).
const z = zlib.deflateSync(Buffer.from(json));
assert.equal(zlib.inflateSync(z).toString(), json);
const whole = crypto.createHash('sha256').update(bufs[0]).digest('hex');
const h = crypto.createHash('sha256');
for (let o = 0; o < MIB; o += 65536) h.update(bufs[0].subarray(o, o + 65536));
assert.equal(h.digest('hex'), whole);
const copy = Buffer.concat(bufs.slice(0, 4));
assert.equal(copy.length, 4 * MIB);
assert.equal(Buffer.compare(copy.subarray(MIB, 2 * MIB), bufs[1]), 0);

fs.writeSync(CTL, `ready buffers ${NBUF} json ${json.length} items ${back.length}`);
const msg = Buffer.alloc(64);
const n = fs.readSync(CTL, msg, 0, 64, null);
assert.equal(msg.toString('latin1', 0, n), 'exit');
checkBufs();
