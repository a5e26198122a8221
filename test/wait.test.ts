// SPDX-License-Identifier: Apache-2.0
// waitFor(): the one way the library waits with a signal and a timeout.
import { describe, expect, it } from 'vitest';
import { AbortedError, InvalidArgumentError, TimeoutError } from '../src/errors.js';
import { waitFor } from '../src/wait.js';

describe('waitFor', () => {
  it('resolves with what the armed source reports, and disarms once', async () => {
    let disarmed = 0;
    let fire!: (v: number) => void;
    const p = waitFor<number>('waiting', {}, (done) => {
      fire = done;
      return () => disarmed++;
    });
    fire(7);
    fire(8);
    expect(await p).toBe(7);
    expect(disarmed).toBe(1);
  });

  it('a timeout rejects with TimeoutError, or gives onTimeout()\'s value', async () => {
    let disarmed = 0;
    await expect(waitFor('waiting for x', { timeoutMs: 5 }, () => () => disarmed++)).rejects.toBeInstanceOf(TimeoutError);
    expect(await waitFor<number | null>('waiting', { timeoutMs: 5 }, () => () => disarmed++, () => null)).toBeNull();
    expect(disarmed).toBe(2);
  });

  it('an abort rejects with AbortedError whose cause is the reason; no listener stays on the signal', async () => {
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const signal = ac.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...a: Parameters<typeof add>) => { added++; add(...a); }) as typeof add;
    signal.removeEventListener = ((...a: Parameters<typeof remove>) => { removed++; remove(...a); }) as typeof remove;
    const p = waitFor('waiting', { signal }, () => () => undefined);
    ac.abort('stop');
    const e = await p.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AbortedError);
    expect((e as AbortedError).code).toBe('AGNOCAST_ABORTED');
    expect((e as Error).cause).toBe('stop');
    expect([added, removed]).toEqual([1, 1]);
    await expect(waitFor('again', { signal }, () => () => undefined)).rejects.toBeInstanceOf(AbortedError);
  });

  it('a bad timeoutMs is an InvalidArgumentError', () => {
    expect(() => waitFor('w', { timeoutMs: -1 }, () => () => undefined)).toThrow(InvalidArgumentError);
  });
});
