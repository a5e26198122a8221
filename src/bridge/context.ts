// SPDX-License-Identifier: Apache-2.0
/** What exporters and importers share with their bridge. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { BridgeEvent, BridgeStats, DropReason } from './events.js';
import type { LocalSide } from './local.js';
import type { ResolvedOptions } from './options.js';

export interface BridgeContext {
  /** This bridge run's id (Agnocast-Origin). */
  readonly id: string;
  readonly nc: NatsConnection;
  readonly local: LocalSide;
  readonly opts: ResolvedOptions;
  readonly stats: BridgeStats;
  /** Whether the NATS connection is up right now. */
  readonly connected: boolean;
  /** Payload bytes per NATS message: the option, within the server's max_payload. */
  readonly chunkSize: number;
  /** Bytes held by incomplete incoming messages, all importers together. */
  reassembling: number;
  emit(event: BridgeEvent): void;
  drop(topic: string | null, subject: string, reason: DropReason, detail: string): void;
}
