// SPDX-License-Identifier: Apache-2.0
import { markAsUntransferable } from 'node:worker_threads';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/**
 * Keeps a pool ArrayBuffer (a loan, a received view) from being transferred
 * to another thread, where revoking it would not reach it. The addon gives
 * each one a V8 detach key: Node 22 and later then refuse to transfer it
 * (postMessage and structuredClone throw). Node 20 would detach it without
 * the key and abort, so there it is marked untransferable, which makes Node
 * 20 copy it instead. Later Nodes implement that mark with their own detach
 * key, which would replace the addon's: not marked there.
 */
export function keepInPlace(buffer: ArrayBuffer): void {
  if (NODE_MAJOR <= 20) markAsUntransferable(buffer);
}
