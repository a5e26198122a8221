// SPDX-License-Identifier: Apache-2.0
/**
 * agnocast: zero-copy publish/subscribe between processes.
 *
 *   import { join } from 'agnocast';
 *   const node = join();
 *   const pub = node.publisher('/camera', { depth: 4 });
 *   const loan = pub.loan(frameBytes);   // pool memory, writable
 *   fill(loan.bytes);
 *   loan.publish();                      // no copy
 *
 *   for await (const msg of node.subscribe('/camera')) use(msg.data);
 */
export { join, AgnocastNode, type JoinOptions, type PoolInfo } from './node.js';
export { Publisher, Loan, type PublishAsyncOptions, type MatchEvent } from './publisher.js';
export {
  Subscription, type MessageCallback, type IterateOptions, type ReceiveOptions, type SubscriptionStats,
  type SubscriptionOptions, type PublishersEvent,
} from './subscription.js';
export { type WaitOptions } from './wait.js';
export { Message } from './message.js';
export { type QoS, type Size } from './options.js';
export {
  AgnocastError, ModuleNotLoadedError, PermissionDeniedError, PoolExhaustedError,
  InvalidArgumentError, ClosedError, DetachedError, LimitError, AddonError, InvalidStateError,
  WouldBlockError, TimeoutError, AbortedError, type AgnocastErrorCode,
} from './errors.js';
export { schema, type Schema, type Fields, type Field, type Scalar, type View } from './schema.js';
export { SharedRegion, RegionExistsError, RegionNotFoundError } from './region.js';
// The bridge's NATS client loads on the first bridge() call (bridge/load.ts).
export { bridge } from './bridge/load.js';
export type {
  Bridge, BridgeEvents, BridgeOptions, BridgeTopic, NatsOptions, BridgeEvent, BridgeStats, DropReason,
} from './bridge/index.js';
export { BridgeConfigError, BridgeConnectError } from './bridge/errors.js';
export { topicToSubject, subjectToTopic } from './bridge/subject.js';
