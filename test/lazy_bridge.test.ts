// SPDX-License-Identifier: Apache-2.0
// `import 'agnocast'` does not load the NATS client; the bridge loads it on
// its first use. Checked on the built package (dist/, as users import it):
// Node's module debug log names every CommonJS file it loads, and the NATS
// client is CommonJS.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = join(new URL('..', import.meta.url).pathname, 'dist');

/** Runs an ES module script in dist/; what it printed and the modules it loaded. */
function run(script: string): { out: string; log: string } {
  if (!existsSync(join(dist, 'index.js'))) throw new Error(`${dist}/index.js is missing: run npm run build first`);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dist, env: { ...process.env, NODE_DEBUG: 'module' }, encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return { out: r.stdout, log: r.stderr };
}

describe('the NATS client loads with the bridge only', () => {
  it("import 'agnocast' loads no @nats-io module, and exports bridge() and the bridge's errors", () => {
    const { out, log } = run(
      "const m = await import('./index.js');" +
      'console.log(typeof m.bridge, typeof m.BridgeConfigError, m.topicToSubject("agnocast", "/a/b"));',
    );
    expect(out.trim()).toBe('function function agnocast.t.a.b');
    expect(log).not.toMatch(/@nats-io/);
  });

  it('loading the bridge loads the NATS client (the check above can see it)', () => {
    const { log } = run("await import('./bridge/bridge.js');");
    expect(log).toMatch(/@nats-io[/\\]transport-node/);
  });
});
