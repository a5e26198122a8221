// SPDX-License-Identifier: Apache-2.0
/**
 * Simulated hosts for the bridge tests: each an IPC namespace (agnocast's
 * topics are per IPC namespace), held by a `sleep` made with unshare --ipc;
 * processes join it through nsenter (the launcher).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Host {
  /** Prepend to a command to run it in this namespace. */
  launcher: string[];
  close(): Promise<void>;
}

export async function ipcNamespace(): Promise<Host> {
  const holder: ChildProcess = spawn('unshare', ['--ipc', '--', 'sh', '-c', 'echo ready && exec sleep infinity'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => holder.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: holder.stdout! }).once('line', () => resolve());
    holder.once('exit', (code) => reject(new Error(`unshare --ipc exited (${code})`)));
  });
  return {
    launcher: ['nsenter', `--ipc=/proc/${holder.pid}/ns/ipc`, '--'],
    close: async () => {
      holder.kill('SIGKILL');
      await exited;
    },
  };
}
