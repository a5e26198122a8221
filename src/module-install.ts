// SPDX-License-Identifier: Apache-2.0
/**
 * `agnocast module install | uninstall | status`: puts agnocast.ko on this
 * machine the way README describes by hand. As root:
 *   - builds the module from this package's kmod/ for the running kernel:
 *     through DKMS when it is there (rebuilt for every kernel update, loaded
 *     at boot), else with make into a scratch directory and insmod (gone
 *     after a reboot or kernel update: the command says so);
 *   - gives /dev/agnocast to the group "agnocast" (mode 0660): creates the
 *     group, installs kmod/99-agnocast.rules for udev, and sets the node's
 *     group and mode at once as that rule would;
 *   - loads it and checks that it answers with this package's ABI.
 * `uninstall` undoes all of it; `status` says what is in place.
 *
 * Every file written goes under `root` (default "/"), every command comes
 * from PATH: tests run it inside a guest whose "/" is read-only.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import { defaultEnv, packageAbi } from './doctor.js';
import { AgnocastError } from './errors.js';

export interface InstallOptions {
  /** Where files are written (/usr/src, /etc/udev/rules.d, /etc/modules-load.d). */
  root: string;
  /** The package's root (kmod/ under it). */
  packageRoot: string;
  /** Use DKMS when it is installed (default true). */
  dkms: boolean;
  /** Group given the device: a name (created when missing) or a numeric gid. */
  group: string;
  /** Device mode: 0o660 (the group) or 0o666 (everyone, only when asked for). */
  mode: number;
  kernelRelease: string;
  device: string;
  statusFile: string;
  log: (line: string) => void;
}

export function defaultInstallOptions(): InstallOptions {
  const d = defaultEnv();
  return {
    root: '/', packageRoot: d.packageRoot, dkms: true, group: 'agnocast', mode: 0o660,
    kernelRelease: release(), device: d.device, statusFile: d.statusFile, log: (l) => console.log(l),
  };
}

/** A failure of an install step, with what to do. */
export class InstallError extends AgnocastError {
  constructor(message: string) {
    super('AGNOCAST_INSTALL_FAILED', message);
  }
}

function run(cmd: string, args: string[], opts: ExecFileSyncOptions = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();
  } catch (e) {
    const err = e as { stderr?: Buffer | string; code?: string; status?: number };
    if (err.code === 'ENOENT') throw new InstallError(`${cmd} is not installed: install it (apt-get install ${cmd === 'dkms' ? 'dkms' : cmd === 'make' ? 'make gcc' : 'kmod'}) and run this again`);
    const out = String(err.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new InstallError(`${cmd} ${args.join(' ')} failed (exit ${err.status ?? '?'}):\n${out}`);
  }
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The version in kmod/dkms.conf (PACKAGE_VERSION="x.y.z"). */
export function moduleVersion(packageRoot: string): string {
  const conf = readFileSync(pathJoin(packageRoot, 'kmod/dkms.conf'), 'utf8');
  const m = conf.match(/^PACKAGE_VERSION="([^"]+)"/m);
  if (!m?.[1]) throw new InstallError(`${packageRoot}/kmod/dkms.conf has no PACKAGE_VERSION`);
  return m[1];
}

const paths = (o: InstallOptions) => ({
  src: pathJoin(o.root, 'usr/src', `agnocast-${moduleVersion(o.packageRoot)}`),
  rule: pathJoin(o.root, 'etc/udev/rules.d/99-agnocast.rules'),
  boot: pathJoin(o.root, 'etc/modules-load.d/agnocast.conf'),
});

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new InstallError('loading a kernel module needs root: run sudo npx agnocast module install');
  }
}

function loaded(o: InstallOptions): boolean {
  return existsSync(o.statusFile);
}

/** The numeric gid of the group, creating a named group that is missing. */
function ensureGroup(o: InstallOptions): number {
  if (/^\d+$/.test(o.group)) return Number(o.group);
  const line = (() => {
    try {
      return run('getent', ['group', o.group]);
    } catch {
      return '';
    }
  })();
  if (!line) {
    run('groupadd', ['--system', o.group]);
    o.log(`created the group ${o.group}: add users with sudo usermod -aG ${o.group} <user> (they log in again after)`);
    return ensureGroup(o);
  }
  return Number(line.split(':')[2]);
}

function buildWithDkms(o: InstallOptions): void {
  const version = moduleVersion(o.packageRoot);
  const { src, boot } = paths(o);
  rmSync(src, { recursive: true, force: true });
  cpSync(pathJoin(o.packageRoot, 'kmod'), src, { recursive: true });
  try {
    const status = run('dkms', ['status', `agnocast/${version}`]);
    if (status.trim()) run('dkms', ['remove', `agnocast/${version}`, '--all']);
    run('dkms', ['install', `agnocast/${version}`, '-k', o.kernelRelease]);
  } catch (e) {
    throw new InstallError(`${(e as Error).message}\nDKMS did not build and install agnocast ${version} for ` +
      `${o.kernelRelease} (the lines above are dkms's): fix that and run this again, or build it with make ` +
      'instead (not rebuilt for kernel updates): sudo npx agnocast module install --no-dkms');
  }
  mkdirSync(pathJoin(o.root, 'etc/modules-load.d'), { recursive: true });
  writeFileSync(boot, 'agnocast\n');
  run('modprobe', ['agnocast', `device_mode=0${o.mode.toString(8)}`]);
  o.log(`built agnocast ${version} with DKMS for ${o.kernelRelease} (rebuilt for every kernel update, loaded at boot)`);
}

function buildWithMake(o: InstallOptions): void {
  const headers = `/lib/modules/${o.kernelRelease}/build`;
  if (!existsSync(pathJoin(headers, 'Makefile'))) {
    throw new InstallError(`no kernel headers for ${o.kernelRelease} at ${headers}: sudo apt-get install linux-headers-${o.kernelRelease}`);
  }
  const out = mkdtempSync(pathJoin(tmpdir(), 'agnocast-kmod-'));
  try {
    // One compiler per CPU, as DKMS runs it.
    run('make', ['-s', `-j${availableParallelism()}`, '-C', pathJoin(o.packageRoot, 'kmod'), `OUT=${out}`, `KDIR=${headers}`]);
    run('insmod', [pathJoin(out, 'agnocast.ko'), `device_mode=0${o.mode.toString(8)}`]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  o.log(`built agnocast.ko with make and loaded it; it will not survive a reboot or a kernel update ` +
    `(install dkms and run this again for that)`);
}

function installRule(o: InstallOptions, gid: number): void {
  const { rule } = paths(o);
  mkdirSync(pathJoin(o.root, 'etc/udev/rules.d'), { recursive: true });
  const text = readFileSync(pathJoin(o.packageRoot, 'kmod/99-agnocast.rules'), 'utf8')
    .replace(/GROUP="[^"]*"/, `GROUP="${o.group}"`).replace(/MODE="[^"]*"/, `MODE="0${o.mode.toString(8)}"`);
  writeFileSync(rule, text);
  if (has('udevadm')) {
    try {
      run('udevadm', ['control', '--reload']);
    } catch {
      /* no udev daemon (a container): the rule applies from the next boot */
    }
  }
  // What the rule does, now: the node exists already.
  run('chgrp', [String(gid), o.device]);
  run('chmod', [`0${o.mode.toString(8)}`, o.device]);
}

function checkAbi(o: InstallOptions): string {
  const text = readFileSync(o.statusFile, 'utf8');
  const m = text.match(/^agnocast (\S+) abi (\d+)/);
  const want = packageAbi(o.packageRoot);
  if (!m || Number(m[2]) !== want) {
    throw new InstallError(`the loaded module answers "${text.split('\n')[0]}", not ABI ${want}: ` +
      'another agnocast.ko is loaded; sudo rmmod agnocast and run this again');
  }
  return `agnocast ${m[1]} (ABI ${m[2]})`;
}

export function install(o: InstallOptions): void {
  requireRoot();
  if (o.mode !== 0o660 && o.mode !== 0o666) throw new InstallError(`--mode must be 0660 or 0666, not 0${o.mode.toString(8)}`);
  if (loaded(o)) {
    o.log(`a module is loaded already: ${checkAbi(o)}; setting up access only`);
  } else if (o.dkms && has('dkms')) {
    if (o.root !== '/') {
      throw new InstallError(`files are to go under ${o.root} (AGNOCAST_INSTALL_ROOT), but dkms builds from ` +
        '/usr/src and installs into /lib/modules: unset AGNOCAST_INSTALL_ROOT, or pass --no-dkms');
    }
    buildWithDkms(o);
  } else {
    buildWithMake(o);
  }
  const gid = ensureGroup(o);
  installRule(o, gid);
  const st = statSync(o.device);
  o.log(`${o.device}: mode 0${(st.mode & 0o777).toString(8)}, group ${o.group} (gid ${st.gid}); ${checkAbi(o)}`);
}

export function uninstall(o: InstallOptions): void {
  requireRoot();
  const { src, rule, boot } = paths(o);
  if (loaded(o)) {
    try {
      run('rmmod', ['agnocast']);
    } catch (e) {
      throw new InstallError(`cannot unload agnocast.ko: processes still use it (see npx agnocast status); ` +
        `stop them and run this again\n${(e as Error).message}`);
    }
  }
  if (has('dkms') && existsSync(src)) {
    const version = moduleVersion(o.packageRoot);
    if (run('dkms', ['status', `agnocast/${version}`]).trim()) run('dkms', ['remove', `agnocast/${version}`, '--all']);
  }
  for (const f of [src, rule, boot]) rmSync(f, { recursive: true, force: true });
  if (!/^\d+$/.test(o.group)) {
    try {
      run('groupdel', [o.group]);
    } catch {
      /* not there, or someone else's: leave it */
    }
  }
  o.log('agnocast.ko unloaded; its DKMS tree, udev rule, boot entry and group are removed');
}

export interface ModuleStatus {
  loaded: string | null;
  device: string | null;
  /** `dkms status` of this version ("" when DKMS has none), null without dkms. */
  dkms: string | null;
  /** The sources DKMS builds from are in /usr/src. */
  sources: boolean;
  rule: boolean;
  boot: boolean;
}

export function moduleStatus(o: InstallOptions): ModuleStatus {
  const { src, rule, boot } = paths(o);
  let device: string | null = null;
  try {
    const st = statSync(o.device);
    device = `mode 0${(st.mode & 0o777).toString(8)}, uid ${st.uid}, gid ${st.gid}`;
  } catch {
    /* no node */
  }
  const first = loaded(o) ? readFileSync(o.statusFile, 'utf8').split('\n')[0] ?? null : null;
  let dkms: string | null = null;
  if (has('dkms')) {
    try {
      dkms = run('dkms', ['status', `agnocast/${moduleVersion(o.packageRoot)}`]).trim().split('\n').join('; ');
    } catch (e) {
      dkms = `dkms status failed: ${(e as Error).message}`;
    }
  }
  return { loaded: first, device, dkms, sources: existsSync(src), rule: existsSync(rule), boot: existsSync(boot) };
}

export function formatModuleStatus(s: ModuleStatus): string {
  return [
    `module:     ${s.loaded ?? 'not loaded'}`,
    `device:     ${s.device ?? 'none'}`,
    `dkms:       ${s.dkms === null ? 'not installed' : s.dkms || 'no agnocast'}` +
      (s.sources ? '' : s.dkms ? ' (its sources are gone from /usr/src)' : ''),
    `udev rule:  ${s.rule ? 'installed' : 'no'}`,
    `boot load:  ${s.boot ? 'yes' : 'no'}`,
  ].join('\n');
}
