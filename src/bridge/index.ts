// SPDX-License-Identifier: Apache-2.0
/** The NATS bridge: agnocast topics on other machines (README, "Two machines"). */
export { bridge, Bridge, type BridgeEvents } from './bridge.js';
export type { BridgeOptions, BridgeTopic, NatsOptions } from './options.js';
export type { BridgeEvent, BridgeStats, DropReason } from './events.js';
export { BridgeConfigError, BridgeConnectError } from './errors.js';
export { topicToSubject, subjectToTopic, DEFAULT_PREFIX } from './subject.js';
