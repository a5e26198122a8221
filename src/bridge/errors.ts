// SPDX-License-Identifier: Apache-2.0
/** Errors of the NATS bridge: AgnocastError subclasses with stable codes. */
import { AgnocastError } from '../errors.js';

/** A bridge option, a config file or a topic/subject name is not usable. */
export class BridgeConfigError extends AgnocastError {
  constructor(message: string) {
    super('AGNOCAST_BRIDGE_CONFIG', message);
  }
}

/** The NATS server could not be reached, or refused us. */
export class BridgeConnectError extends AgnocastError {
  constructor(message: string, cause?: unknown) {
    super('AGNOCAST_BRIDGE_CONNECT', message);
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause });
  }
}
