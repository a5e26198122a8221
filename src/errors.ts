// SPDX-License-Identifier: Apache-2.0
/**
 * Every error the library throws is an AgnocastError with a stable `code`,
 * and a message that says what happened and what to do about it.
 */
import type { EventEmitter } from 'node:events';

export type AgnocastErrorCode =
  | 'AGNOCAST_MODULE_NOT_LOADED'
  | 'AGNOCAST_PERMISSION_DENIED'
  | 'AGNOCAST_POOL_EXHAUSTED'
  | 'AGNOCAST_INVALID_ARGUMENT'
  | 'AGNOCAST_CLOSED'
  | 'AGNOCAST_DETACHED'
  | 'AGNOCAST_LIMIT'
  | 'AGNOCAST_REGION_EXISTS'
  | 'AGNOCAST_REGION_NOT_FOUND'
  | 'AGNOCAST_INSTALL_FAILED'
  | 'AGNOCAST_ADDON'
  | 'AGNOCAST_BRIDGE_CONFIG'
  | 'AGNOCAST_BRIDGE_CONNECT'
  | 'AGNOCAST_INVALID_STATE'
  | 'AGNOCAST_WOULD_BLOCK'
  | 'AGNOCAST_TIMEOUT'
  | 'AGNOCAST_ABORTED'
  | 'AGNOCAST_SYSTEM';

export class AgnocastError extends Error {
  readonly code: AgnocastErrorCode;
  /** The errno name behind it, when a system call failed (`'EPERM'`, …). */
  readonly errnoCode: string | undefined;
  /** The failing operation (`'AGNOCAST_PUBLISH_CMD'`, `'mmap'`, …). */
  readonly syscall: string | undefined;

  constructor(code: AgnocastErrorCode, message: string, cause?: SystemError) {
    super(message, cause ? { cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.errnoCode = cause?.code;
    this.syscall = cause?.syscall;
  }
}

/** /dev/agnocast is missing: the kernel module is not loaded. */
export class ModuleNotLoadedError extends AgnocastError {
  constructor(cause?: SystemError) {
    super('AGNOCAST_MODULE_NOT_LOADED',
      'agnocast.ko is not loaded (/dev/agnocast does not exist): load it with ' +
      '`sudo npx agnocast module install` (from a checkout: `make -C kmod && sudo insmod ' +
      'kmod/agnocast.ko`); `npx agnocast doctor` checks the rest (see README, "Installing it in a project")', cause);
  }
}

/**
 * The native addon cannot be used: not built, built for another Node, or
 * not loadable. `fix` is the command that builds it for the running Node.
 */
export class AddonError extends AgnocastError {
  readonly problem: string;
  readonly fix: string;

  constructor(problem: string, fix: string) {
    super('AGNOCAST_ADDON', `${problem}; ${fix}`);
    this.problem = problem;
    this.fix = fix;
  }
}

/** The device or an id is not the caller's to use. */
export class PermissionDeniedError extends AgnocastError {
  constructor(message: string, cause?: SystemError) {
    super('AGNOCAST_PERMISSION_DENIED', message, cause);
  }
}

/** The pool cannot give the memory asked for. */
export class PoolExhaustedError extends AgnocastError {
  constructor(message: string, cause?: SystemError) {
    super('AGNOCAST_POOL_EXHAUSTED', message, cause);
  }
}

/** An argument is out of its documented bounds. */
export class InvalidArgumentError extends AgnocastError {
  constructor(message: string, cause?: SystemError) {
    super('AGNOCAST_INVALID_ARGUMENT', message, cause);
  }
}

/** The node, publisher or subscription was closed. */
export class ClosedError extends AgnocastError {
  constructor(what: string) {
    super('AGNOCAST_CLOSED', `${what} is closed: create a new one`);
  }
}

/** A loan or message whose memory is no longer the caller's. */
export class DetachedError extends AgnocastError {
  constructor(message: string) {
    super('AGNOCAST_DETACHED', message);
  }
}

/** A limit of the module (subscribers per topic, held messages, …). */
export class LimitError extends AgnocastError {
  constructor(message: string, cause?: SystemError) {
    super('AGNOCAST_LIMIT', message, cause);
  }
}

/**
 * The call does not fit what the object is doing now: a callback
 * subscription asked for take(), two loops over one subscription, …
 */
export class InvalidStateError extends AgnocastError {
  constructor(message: string) {
    super('AGNOCAST_INVALID_STATE', message);
  }
}

/**
 * A reliable subscriber's queue is full: nothing was published and the
 * loan is still yours. `await pub.publishAsync(...)` waits for room.
 */
export class WouldBlockError extends AgnocastError {
  constructor(message: string, cause?: SystemError) {
    super('AGNOCAST_WOULD_BLOCK', message, cause);
  }
}

/** A wait (publishAsync, waitForSubscribers, …) ran past its timeoutMs. */
export class TimeoutError extends AgnocastError {
  constructor(message: string) {
    super('AGNOCAST_TIMEOUT', message);
  }
}

/** A wait was ended by its AbortSignal; `cause` is the signal's reason. */
export class AbortedError extends AgnocastError {
  constructor(what: string, reason: unknown) {
    super('AGNOCAST_ABORTED', `${what} was aborted by its signal`);
    Object.defineProperty(this, 'cause', { value: reason, enumerable: false });
  }
}

/** What the native addon throws. */
export interface SystemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

function isSystemError(e: unknown): e is SystemError {
  return e instanceof Error && typeof (e as SystemError).code === 'string';
}

/**
 * Turns an addon error into the library's error classes; `doing` says what
 * the caller was trying ("publishing on /camera").
 */
export function translate(e: unknown, doing: string): AgnocastError {
  if (e instanceof AgnocastError) return e;
  if (!isSystemError(e)) {
    return new AgnocastError('AGNOCAST_SYSTEM', `${doing}: ${String(e)}`);
  }
  const where = e.syscall ? ` (${e.syscall})` : '';
  switch (e.code) {
    case 'ENOENT':
      if (e.syscall?.startsWith('open /dev/agnocast')) return new ModuleNotLoadedError(e);
      return new AgnocastError('AGNOCAST_SYSTEM', `${doing}: no such object${where}`, e);
    case 'EACCES':
      return new PermissionDeniedError(
        `${doing}: permission denied${where}: /dev/agnocast must be readable and writable ` +
        'by this user: join the group it belongs to (sudo usermod -aG agnocast $USER after ' +
        'sudo npx agnocast module install, then log in again); npx agnocast doctor checks it', e);
    case 'EPERM':
      return new PermissionDeniedError(
        `${doing}: the id belongs to another process${where}: ids cannot be shared between ` +
        'processes (a forked child must create its own publishers and subscriptions)', e);
    case 'ENOMEM':
      return new PoolExhaustedError(
        `${doing}: the pool is exhausted${where}: release received messages, publish or ` +
        'dispose of loans, or join with a larger poolMax', e);
    case 'ENOSPC':
      return new LimitError(`${doing}: a module limit was reached${where} (64 subscribers or ` +
        '256 publishers per topic, or no free address range)', e);
    case 'EAGAIN':
      return new WouldBlockError(`${doing}: a reliable subscriber's queue is full, nothing was published ` +
        '(the loan is still yours): `await pub.publishAsync(...)` waits for room, or retry later', e);
    case 'ENOBUFS':
      return new LimitError(`${doing}: this subscription holds 4096 messages already: ` +
        'release some (msg.release()) before receiving more', e);
    case 'EINVAL':
    case 'ENAMETOOLONG':
    case 'E2BIG':
    case 'ERANGE':
      return new InvalidArgumentError(`${doing}: invalid argument${where}: ${e.message}`, e);
    case 'ESRCH':
      return new AgnocastError('AGNOCAST_SYSTEM',
        `${doing}: this process has not joined agnocast (call join() first)`, e);
    default:
      return new AgnocastError('AGNOCAST_SYSTEM', `${doing}: ${e.message}${where}`, e);
  }
}

/**
 * A failure of the library's own asynchronous work on an endpoint (what
 * says which, e.g. "subscription on /topic"): the endpoint's 'error' event
 * if anyone listens, else a process warning. Never an uncaught exception.
 */
export function reportAsync(emitter: EventEmitter, error: unknown, what: string): void {
  if (emitter.listenerCount('error') > 0) {
    emitter.emit('error', error);
    return;
  }
  const e = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(e.message, { type: e.name || 'Error', code: (e as { code?: string }).code,
    detail: `${what} (add an 'error' listener to handle it)` });
}

