// SPDX-License-Identifier: Apache-2.0
// A user's first subscriber, in the scratch project of test/install/pack.sh:
// subscribes to /pack/hello, prints "ready", then "got TEXT at ADDRESS" for
// each of COUNT messages, and exits.
//   node dist/subscriber.js [COUNT]
import { join } from 'agnocast';

const count = Number(process.argv[2] ?? 5);
const node = join({ poolSize: '16M' });
const sub = node.subscribe('/pack/hello', { depth: 10 });
console.log('ready');
let n = 0;
for await (const msg of sub) {
  console.log(`got ${new TextDecoder().decode(msg.data)} at 0x${msg.address.toString(16)}`);
  if (++n === count) break;
}
node.close();
