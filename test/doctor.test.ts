// SPDX-License-Identifier: Apache-2.0
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkDevice, checkHeaphook, checkKernel, checkModule, checkMqueue, checkShm, type DoctorEnv, exitCode, formatChecks,
  packageAbi,
} from '../src/doctor.js';

const repo = join(import.meta.dirname, '..');

/** A fake /proc and status file in a scratch directory; the rest is the real machine's. */
function fakeEnv(opts: { status?: string; msgMax?: number; queuesMax?: number; mqLimit?: string } = {}): DoctorEnv {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  const mq = join(dir, 'proc/sys/fs/mqueue');
  mkdirSync(mq, { recursive: true });
  mkdirSync(join(dir, 'proc/self'));
  writeFileSync(join(mq, 'msg_max'), `${opts.msgMax ?? 10}\n`);
  writeFileSync(join(mq, 'msgsize_max'), '8192\n');
  writeFileSync(join(mq, 'queues_max'), `${opts.queuesMax ?? 256}\n`);
  writeFileSync(join(dir, 'proc/self/limits'),
    `Limit                     Soft Limit           Hard Limit           Units\nMax msgqueue size         ${opts.mqLimit ?? '819200'}               819200               bytes\n`);
  if (opts.status !== undefined) writeFileSync(join(dir, 'status'), opts.status);
  return {
    device: join(dir, 'agnocast'), statusFile: join(dir, 'status'), shm: tmpdir(), proc: join(dir, 'proc'),
    packageRoot: repo, env: {}, kernelRelease: 'no-such-kernel',
  };
}

describe('agnocast doctor', () => {
  const abi = packageAbi(repo);

  it('reads the ABI this package speaks from the uapi header it ships', () => {
    expect(abi).toBeGreaterThanOrEqual(2);
  });

  it('says the module is missing, and how to load it', () => {
    const c = checkModule(fakeEnv());
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/not loaded/);
    expect(c.fix).toMatch(/module install|insmod/);
  });

  it('accepts a module of the same ABI and refuses another', () => {
    expect(checkModule(fakeEnv({ status: `agnocast 0.3.0 abi ${abi}\ntotals processes 0\n` })).verdict).toBe('ok');
    const old = checkModule(fakeEnv({ status: 'agnocast 0.1.0 abi 1\n' }));
    expect(old.verdict).toBe('fail');
    expect(old.detail).toContain(`ABI 1, this package ABI ${abi}`);
    expect(old.fix).toMatch(/rmmod agnocast/);
  });

  it('says a missing device node needs the module', () => {
    const c = checkDevice(fakeEnv());
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/does not exist/);
  });

  it('counts the room for discovery queues, and flags limits too small', () => {
    expect(checkMqueue(fakeEnv()).verdict).toBe('ok');
    expect(checkMqueue(fakeEnv()).detail).toMatch(/room for 142 of them/);
    const low = checkMqueue(fakeEnv({ mqLimit: '20000' }));
    expect(low.verdict).toBe('warn');
    expect(low.fix).toMatch(/queues_max|RLIMIT_MSGQUEUE/);
    expect(checkMqueue(fakeEnv({ msgMax: 4 })).verdict).toBe('fail');
  });

  it('checks /dev/shm against AGNOCAST_MEMPOOL_SIZE', () => {
    const e = fakeEnv();
    expect(['ok', 'warn']).toContain(checkShm(e).verdict);
    const huge = checkShm({ ...e, env: { AGNOCAST_MEMPOOL_SIZE: '900T' } });
    expect(huge.verdict).toBe('fail');
    expect(huge.fix).toMatch(/remount,size=/);
    expect(checkShm({ ...e, env: { AGNOCAST_MEMPOOL_SIZE: 'lots' } }).detail).toMatch(/not a size/);
  });

  it('names the headers package a kernel needs', () => {
    const c = checkKernel(fakeEnv());
    expect(c.verdict).toBe('warn');
    expect(c.fix).toBe('sudo apt-get install linux-headers-no-such-kernel');
  });

  it('says where the heaphook is, or how to build it', () => {
    const c = checkHeaphook(fakeEnv());
    expect(c.fix === '' ? c.detail : c.fix).toMatch(/libagnocast_heaphook\.so|make -C/);
  });

  it('exits 0 only when every check passed', () => {
    const pass = { name: 'a', verdict: 'ok' as const, detail: 'fine', fix: '' };
    const warn = { name: 'b', verdict: 'warn' as const, detail: 'meh', fix: 'do this' };
    expect(exitCode([pass])).toBe(0);
    expect(exitCode([pass, warn])).toBe(1);
    expect(formatChecks([pass, warn])).toBe('ok    a: fine\nWARN  b: meh\n      fix: do this\n1 of 2 checks need attention');
  });
});
