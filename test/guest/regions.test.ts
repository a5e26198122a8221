// SPDX-License-Identifier: Apache-2.0
// Keyed shared regions: created in one process's pool, read live by key in
// others, removed by the creator; duplicate and unknown keys are errors.
import { afterEach, describe, expect, it } from 'vitest';
import { useActors, ZERO } from './actors.js';

const actor = useActors(afterEach, (t) => expect(t).toEqual(ZERO));

describe('shared regions', () => {
  it('a reader sees the creator\'s writes live, at the creator\'s address', async () => {
    const creator = await actor();
    const reader = await actor();
    const address = await creator.call<string>('createRegion', { key: 'config', size: 64 });
    await creator.call('writeRegion', { key: 'config', text: 'gain=3' });
    expect(await reader.call('openRegion', { key: 'config' })).toEqual({ address, byteLength: 64 });
    expect(await reader.call('readRegion', { key: 'config', length: 6 })).toBe('gain=3');
    // Same memory, not a copy: a later write shows up without anything sent.
    await creator.call('writeRegion', { key: 'config', text: 'gain=7' });
    expect(await reader.call('readRegion', { key: 'config', length: 6 })).toBe('gain=7');
    // Closing detaches the reader's view.
    expect(await reader.call('closeRegion', { key: 'config' })).toBe(0);
    await creator.call('removeRegion', { key: 'config' });
  });

  it('a taken key and an unknown key are clear errors; a removed key is free again', async () => {
    const a = await actor();
    const b = await actor();
    await a.call('createRegion', { key: 'map', size: 16 });
    await expect(b.call('createRegion', { key: 'map', size: 16 }))
      .rejects.toMatchObject({ code: 'AGNOCAST_REGION_EXISTS' });
    await expect(b.call('openRegion', { key: 'nothing-here' }))
      .rejects.toMatchObject({ code: 'AGNOCAST_REGION_NOT_FOUND', message: expect.stringMatching(/createRegion/) });
    await a.call('removeRegion', { key: 'map' });
    await expect(b.call('openRegion', { key: 'map' })).rejects.toMatchObject({ code: 'AGNOCAST_REGION_NOT_FOUND' });
    await b.call('createRegion', { key: 'map', size: 16 });
    await b.call('removeRegion', { key: 'map' });
  });
});
