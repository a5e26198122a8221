// SPDX-License-Identifier: Apache-2.0
// A user's first publisher, in the scratch project of test/install/pack.sh
// (`import ... from 'agnocast'`, the installed tarball): publishes COUNT
// messages "hello I" on /pack/hello from pool loans, prints
// "sent hello I at ADDRESS" for each, then stays (its pool holds what it
// published) until its stdin closes.
//   node dist/publisher.js [COUNT]
import { join } from 'agnocast';

const count = Number(process.argv[2] ?? 5);
const node = join({ poolSize: '16M' });
const pub = node.publisher('/pack/hello', { depth: 10 });
for (let i = 1; i <= count; i++) {
  const text = new TextEncoder().encode(`hello ${i}`);
  const loan = pub.loan(text.length);
  loan.bytes.set(text);
  const address = loan.address;
  loan.publish();
  console.log(`sent hello ${i} at 0x${address.toString(16)}`);
}
process.stdin.on('end', () => node.close()).resume();
