// SPDX-License-Identifier: Apache-2.0
// One message from one process to another through the loaded module, as
// whoever runs it (test/install/in-guest.sh runs it as a member of the
// device's group after `module install`): the parent subscribes in a child
// process, publishes "hello" from a pool loan once the child is ready, and
// prints "ok TEXT at ADDRESS" when the child got that text at the address
// it was written (no copy); exits non-zero otherwise.
//   node test/install/pubsub.mjs PACKAGE_DIR
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { join as pathJoin } from 'node:path';

const [pkg, role] = process.argv.slice(2);
const { join } = await import(pathToFileURL(pathJoin(pkg, 'dist/index.js')).href);
const topic = '/install/hello';
const node = join({ poolSize: '16M' });

if (role === 'sub') {
  const sub = node.subscribe(topic, { depth: 4 });
  console.log('ready');
  for await (const msg of sub) {
    console.log(`got ${new TextDecoder().decode(msg.data)} at 0x${msg.address.toString(16)}`);
    break;
  }
  node.close();
} else {
  const child = spawn(process.execPath, [process.argv[1], pkg, 'sub'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => { console.error('no message within 60 s'); process.exit(1); }, 60_000);
  const pub = node.publisher(topic, { depth: 4 });
  let sent = '';
  for await (const line of lines) {
    if (line === 'ready') {
      const text = new TextEncoder().encode('hello');
      const loan = pub.loan(text.length);
      loan.bytes.set(text);
      sent = `got hello at 0x${loan.address.toString(16)}`;
      loan.publish();
    } else {
      clearTimeout(timer);
      console.log(line === sent ? `ok ${line.slice(4)}` : `expected "${sent}", the subscriber printed "${line}"`);
      node.close();
      process.exit(line === sent ? 0 : 1);
    }
  }
  console.error('the subscriber ended without a message');
  process.exit(1);
}
