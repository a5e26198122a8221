// SPDX-License-Identifier: Apache-2.0
/** Waiting for an event with an AbortSignal and a timeout, the one way the library does it. */
import { AbortedError, InvalidArgumentError, TimeoutError } from './errors.js';

export interface WaitOptions {
  /** Ends the wait: the promise rejects with AbortedError (its cause is the signal's reason). */
  signal?: AbortSignal;
  /** Ends the wait after this many milliseconds (see each method for what it then does). */
  timeoutMs?: number;
}

export function checkWait(options: WaitOptions): void {
  const t = options.timeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !(t >= 0) || !Number.isFinite(t))) {
    throw new InvalidArgumentError(`timeoutMs must be a finite number of milliseconds >= 0, not ${String(t)}`);
  }
}

/**
 * Starts `arm(done, fail)`, which returns its disarm function, and settles
 * with what it reports, or on abort (AbortedError), or at the timeout
 * (`onTimeout()`'s value, else TimeoutError). Disarms exactly once; leaves
 * no listener on the signal and no timer behind.
 */
export function waitFor<T>(what: string, options: WaitOptions,
  arm: (done: (value: T) => void, fail: (error: unknown) => void) => () => void,
  onTimeout?: () => T): Promise<T> {
  checkWait(options);
  const { signal, timeoutMs } = options;
  if (signal?.aborted) return Promise.reject(new AbortedError(what, signal.reason));
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let disarm: (() => void) | undefined;
    const finish = (ok: boolean, v: unknown) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      disarm?.();
      if (ok) resolve(v as T);
      else reject(v);
    };
    const onAbort = () => finish(false, new AbortedError(what, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (onTimeout) finish(true, onTimeout());
        else finish(false, new TimeoutError(`${what} did not happen within ${timeoutMs} ms`));
      }, timeoutMs);
    }
    const d = arm((v) => finish(true, v), (e) => finish(false, e));
    if (settled) d();
    else disarm = d;
  });
}
