// SPDX-License-Identifier: Apache-2.0
/** What a bridge reports: events as they happen, and running counters. */

/** Why an incoming NATS message (or a local one) was not passed on. */
export type DropReason =
  | 'malformed'	/* headers missing, inconsistent, or a chunk out of order */
  | 'too-large'	/* announced size above maxMessageSize */
  | 'reassembly-memory'	/* incomplete messages would hold more than reassemblyMemory */
  | 'pool-exhausted'	/* no room in our pool for the message */
  | 'incomplete'	/* a message whose chunks stopped coming (a new one began) */
  | 'echo'	/* sent by this very bridge */
  | 'duplicate'	/* already published here (history and live overlap) */
  | 'control';	/* a malformed control message */

export type BridgeEvent =
  | { type: 'connected'; server: string; maxPayload: number; chunkSize: number }
  | { type: 'disconnected'; server: string }
  | { type: 'reconnected'; server: string }
  | { type: 'interest'; topic: string; bridge: string; importers: number }
  | { type: 'export-start'; topic: string; subject: string }
  | { type: 'export-stop'; topic: string; reason: 'no interest' | 'closing' }
  | { type: 'import-start'; topic: string; subject: string; localSubscribers: number }
  | { type: 'import-stop'; topic: string; reason: 'no local subscriber' | 'closing' }
  | { type: 'history'; topic: string; origin: string; messages: number }
  | { type: 'gap'; topic: string; origin: string; lost: number }
  | { type: 'not-sent'; topic: string; seq: number }
  | { type: 'drop'; topic: string | null; subject: string; reason: DropReason; detail: string }
  | { type: 'error'; message: string };

export interface BridgeStats {
  /** Local messages sent on NATS, and their bytes. */
  exported: number;
  exportedBytes: number;
  /** Messages a local subscriber delivered while NATS was unreachable (not sent; importers count them in `lost`). */
  notSent: number;
  /** Local messages not exported because a bridge published them (they came from NATS). */
  skippedBridged: number;
  /** NATS messages published here, and their bytes. */
  imported: number;
  importedBytes: number;
  /** Messages an exporter numbered that never arrived here (holes in Agnocast-Seq). */
  lost: number;
  /** Dropped incoming messages, by reason. */
  dropped: Record<DropReason, number>;
  /** History messages received for transient-local topics. */
  historyReceived: number;
  reconnects: number;
}

export function emptyStats(): BridgeStats {
  return {
    exported: 0, exportedBytes: 0, notSent: 0, skippedBridged: 0, imported: 0, importedBytes: 0, lost: 0,
    dropped: {
      malformed: 0, 'too-large': 0, 'reassembly-memory': 0, 'pool-exhausted': 0, incomplete: 0, echo: 0,
      duplicate: 0, control: 0,
    },
    historyReceived: 0, reconnects: 0,
  };
}
