// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import {
  AgnocastError, InvalidArgumentError, LimitError, ModuleNotLoadedError,
  PermissionDeniedError, PoolExhaustedError, translate, WouldBlockError,
} from '../src/errors.js';

function sysErr(code: string, syscall: string): Error {
  return Object.assign(new Error(`${code}: ${syscall}`), { code, syscall, errno: 1 });
}

describe('errors say what happened and what to do', () => {
  it('a missing device means the module is not loaded, and says how to load it', () => {
    const e = translate(sysErr('ENOENT', 'open /dev/agnocast'), 'joining');
    expect(e).toBeInstanceOf(ModuleNotLoadedError);
    expect(e.code).toBe('AGNOCAST_MODULE_NOT_LOADED');
    expect(e.message).toMatch(/agnocast\.ko is not loaded.*sudo npx agnocast module install/);
  });

  it.each([
    ['EPERM', PermissionDeniedError, /another process/],
    ['EACCES', PermissionDeniedError, /join the group it belongs to \(sudo usermod -aG agnocast/],
    ['ENOMEM', PoolExhaustedError, /poolMax/],
    ['ENOBUFS', LimitError, /release some/],
    ['ENOSPC', LimitError, /limit/],
    ['ERANGE', InvalidArgumentError, /invalid argument/],
    ['EAGAIN', WouldBlockError, /publishAsync/],
  ])('%s becomes the right class with advice', (code, cls, advice) => {
    const e = translate(sysErr(code, 'AGNOCAST_PUBLISH_CMD'), 'publishing on /t');
    expect(e).toBeInstanceOf(cls);
    expect(e).toBeInstanceOf(AgnocastError);
    expect(e.message).toMatch(/^publishing on \/t/);
    expect(e.message).toMatch(advice);
    expect(e.errnoCode).toBe(code);
    expect(e.syscall).toBe('AGNOCAST_PUBLISH_CMD');
  });

  it('keeps the original error as the cause', () => {
    const cause = sysErr('EPERM', 'AGNOCAST_RELEASE_CMD');
    expect(translate(cause, 'x').cause).toBe(cause);
  });
});
