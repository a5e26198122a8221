// SPDX-License-Identifier: Apache-2.0
/**
 * bridge() as the package exports it: the bridge and its NATS client are
 * loaded on the first call, so that `import 'agnocast'` in a process that
 * never bridges does not load them.
 */
import type { AgnocastNode } from '../node.js';
import type { Bridge } from './bridge.js';
import type { BridgeOptions } from './options.js';

/** Connects to NATS and starts bridging. BridgeConnectError if no server answers. */
export async function bridge(node: AgnocastNode, options: BridgeOptions): Promise<Bridge> {
  const { bridge: start } = await import('./bridge.js');
  return start(node, options);
}
