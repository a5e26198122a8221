// SPDX-License-Identifier: Apache-2.0
/**
 * `agnocast doctor`: checks that this machine can run agnocast and says how
 * to fix what is not right. Every check reads the system directly (no
 * joining, no addon needed), so it works on a machine where nothing else
 * does yet.
 */
import { accessSync, constants, existsSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { release, userInfo } from 'node:os';
import { dirname, join as pathJoin } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AddonError } from './errors.js';
import { addonPath, loadAddon, rebuildCommand } from './native.js';
import { parseSize } from './options.js';
import { STATUS_PATH } from './status.js';

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  verdict: Verdict;
  /** What was found. */
  detail: string;
  /** What to do about it (empty when all is well). */
  fix: string;
}

/** Where the checks look; tests point them elsewhere. */
export interface DoctorEnv {
  device: string;
  statusFile: string;
  shm: string;
  proc: string;
  /** The package's root (kmod/, build/ and native/ under it). */
  packageRoot: string;
  env: NodeJS.ProcessEnv;
  kernelRelease: string;
}

export const DEFAULT_POOL = '64M';
/** Bytes one /new_publisher@<pid> queue takes from RLIMIT_MSGQUEUE (10 × 512 B + the kernel's per-message overhead). */
const QUEUE_BYTES = 10 * 512 + 10 * 64;

export function defaultEnv(): DoctorEnv {
  return {
    device: '/dev/agnocast',
    statusFile: STATUS_PATH,
    shm: '/dev/shm',
    proc: '/proc',
    packageRoot: pathJoin(dirname(fileURLToPath(import.meta.url)), '..'),
    env: process.env,
    kernelRelease: release(),
  };
}

const ok = (name: string, detail: string): Check => ({ name, verdict: 'ok', detail, fix: '' });
const bad = (verdict: Verdict, name: string, detail: string, fix: string): Check => ({ name, verdict, detail, fix });

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The ABI this package speaks: kmod/uapi/agnocast.h, shipped with it. */
export function packageAbi(root: string): number | undefined {
  const m = readText(pathJoin(root, 'kmod/uapi/agnocast.h'))?.match(/#define\s+AGNOCAST_ABI_VERSION\s+(\d+)/);
  return m ? Number(m[1]) : undefined;
}

const INSTALL_FIX = 'load it: sudo npx agnocast module install (or, from a checkout: make -C kmod && sudo insmod kmod/agnocast.ko)';

export function checkModule(e: DoctorEnv): Check {
  const name = 'module loaded';
  const text = readText(e.statusFile);
  if (text === undefined) {
    return bad('fail', name, `${e.statusFile} does not exist: agnocast.ko is not loaded`, INSTALL_FIX);
  }
  const m = text.match(/^agnocast (\S+) abi (\d+)/);
  if (!m) return bad('fail', name, `${e.statusFile} does not start with "agnocast <version> abi <n>"`, INSTALL_FIX);
  const [, version, abi] = m;
  const want = packageAbi(e.packageRoot);
  if (want !== undefined && Number(abi) !== want) {
    return bad('fail', name, `agnocast.ko ${version} speaks ABI ${abi}, this package ABI ${want}`,
      'unload the old module (sudo rmmod agnocast) and load the one of this package: sudo npx agnocast module install');
  }
  return ok(name, `agnocast.ko ${version}, ABI ${abi}${want === undefined ? '' : ' (as this package)'}`);
}

export function checkDevice(e: DoctorEnv): Check {
  const name = `${e.device} access`;
  let st;
  try {
    st = statSync(e.device);
  } catch {
    return bad('fail', name, `${e.device} does not exist`, INSTALL_FIX);
  }
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  const who = `mode ${mode}, uid ${st.uid}, gid ${st.gid}`;
  try {
    accessSync(e.device, constants.R_OK | constants.W_OK);
  } catch {
    return bad('fail', name, `${userInfo().username} cannot open it read-write (${who})`,
      'add yourself to its group: sudo groupadd --system agnocast; sudo usermod -aG agnocast $USER; install ' +
      'kmod/99-agnocast.rules in /etc/udev/rules.d (npx agnocast module install does both), then log in again');
  }
  return ok(name, `read-write for ${userInfo().username} (${who})`);
}

export function checkShm(e: DoctorEnv): Check {
  const name = `${e.shm} space`;
  const wanted = e.env.AGNOCAST_MEMPOOL_SIZE ?? DEFAULT_POOL;
  let pool: number;
  try {
    pool = parseSize(wanted, 'AGNOCAST_MEMPOOL_SIZE');
  } catch (err) {
    return bad('fail', name, (err as Error).message, 'set AGNOCAST_MEMPOOL_SIZE to a size such as 256M');
  }
  let fs;
  try {
    fs = statfsSync(e.shm);
  } catch {
    return bad('fail', name, `${e.shm} is not mounted`, 'mount a tmpfs there: sudo mount -t tmpfs -o mode=1777 shm /dev/shm');
  }
  const total = fs.blocks * fs.bsize;
  const free = fs.bavail * fs.bsize;
  const detail = `${mib(free)} free of ${mib(total)}; each process's pool starts at ${mib(pool)} (AGNOCAST_MEMPOOL_SIZE ${wanted})`;
  const fix = `make ${e.shm} larger: sudo mount -o remount,size=${mib(Math.max(total, pool * 8)).replace(' ', '')} ${e.shm} (or set AGNOCAST_MEMPOOL_SIZE smaller)`;
  if (free < pool) return bad('fail', name, detail, fix);
  if (free < pool * 4) return bad('warn', name, `${detail}: room for fewer than 4 pools`, fix);
  return ok(name, detail);
}

function readNumber(path: string): number | undefined {
  const t = readText(path);
  return t === undefined ? undefined : Number(t.trim());
}

/** RLIMIT_MSGQUEUE of this process (soft), from /proc/self/limits. */
function msgqueueLimit(proc: string): number | undefined {
  const m = readText(pathJoin(proc, 'self/limits'))?.match(/^Max msgqueue size\s+(\S+)/m);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

export function checkMqueue(e: DoctorEnv): Check {
  const name = 'message queues';
  const dir = pathJoin(e.proc, 'sys/fs/mqueue');
  const msgMax = readNumber(pathJoin(dir, 'msg_max'));
  const sizeMax = readNumber(pathJoin(dir, 'msgsize_max'));
  const queuesMax = readNumber(pathJoin(dir, 'queues_max'));
  const limit = msgqueueLimit(e.proc);
  if (msgMax === undefined || sizeMax === undefined || queuesMax === undefined) {
    return bad('fail', name, `${dir} is missing: this kernel has no POSIX message queues`,
      'use a kernel built with CONFIG_POSIX_MQUEUE (every distribution kernel is)');
  }
  if (msgMax < 10 || sizeMax < 512) {
    return bad('fail', name, `fs.mqueue.msg_max ${msgMax}, msgsize_max ${sizeMax}: a discovery queue needs 10 messages of 512 bytes`,
      'sudo sysctl fs.mqueue.msg_max=10 fs.mqueue.msgsize_max=8192');
  }
  const perUser = limit === undefined || limit === Infinity ? Infinity : Math.floor(limit / QUEUE_BYTES);
  const room = Math.min(queuesMax, perUser);
  const detail = `one queue per subscribing process: room for ${room === Infinity ? 'any number of' : room} of them ` +
    `(fs.mqueue.queues_max ${queuesMax}, RLIMIT_MSGQUEUE ${limit === Infinity ? 'unlimited' : `${limit} bytes`})`;
  if (room < 16) {
    return bad('warn', name, detail, 'raise them: sudo sysctl fs.mqueue.queues_max=1024, and ulimit -q (RLIMIT_MSGQUEUE) in the service\'s unit');
  }
  return ok(name, detail);
}

export function checkKernel(e: DoctorEnv): Check {
  const name = 'kernel headers';
  const build = `/lib/modules/${e.kernelRelease}/build`;
  if (!existsSync(pathJoin(build, 'Makefile'))) {
    return bad('warn', name, `Linux ${e.kernelRelease}: no headers at ${build}, so agnocast.ko cannot be built for it`,
      `sudo apt-get install linux-headers-${e.kernelRelease}`);
  }
  return ok(name, `Linux ${e.kernelRelease}, headers in ${build}`);
}

export function checkHeaphook(e: DoctorEnv): Check {
  const name = 'heaphook';
  const lib = pathJoin(e.packageRoot, 'build/heaphook/libagnocast_heaphook.so');
  if (!existsSync(lib)) {
    return bad('warn', name, `${lib} is not built (only LD_PRELOAD users need it)`,
      `build it: make -C ${pathJoin(e.packageRoot, 'heaphook')}`);
  }
  return ok(name, `LD_PRELOAD=${lib}`);
}

export function checkAddon(e: DoctorEnv): Check {
  const name = 'native addon';
  const addon = addonPath(e.packageRoot);
  try {
    loadAddon(addon, rebuildCommand(e.packageRoot));
  } catch (err) {
    if (err instanceof AddonError) return bad('fail', name, err.problem, err.fix);
    throw err;
  }
  return ok(name, `${addon}, built for this Node.js (${process.version})`);
}

export function runChecks(e: DoctorEnv = defaultEnv()): Check[] {
  return [checkModule, checkDevice, checkShm, checkMqueue, checkKernel, checkAddon, checkHeaphook].map((c) => c(e));
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

export function formatChecks(checks: Check[]): string {
  const mark: Record<Verdict, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  const lines = checks.flatMap((c) => [`${mark[c.verdict]}  ${c.name}: ${c.detail}`, ...(c.fix ? [`      fix: ${c.fix}`] : [])]);
  const bad = checks.filter((c) => c.verdict !== 'ok').length;
  lines.push(bad ? `${bad} of ${checks.length} checks need attention` : `all ${checks.length} checks passed`);
  return lines.join('\n');
}

/** 0 only when every check passed. */
export function exitCode(checks: Check[]): number {
  return checks.every((c) => c.verdict === 'ok') ? 0 : 1;
}
