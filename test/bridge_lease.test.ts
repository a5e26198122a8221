// SPDX-License-Identifier: Apache-2.0
// An exporter's leases: they lapse leaseMs after the last want, but not
// during a stall of the exporter's own event loop nor while it is cut off
// from NATS (it could not hear the refreshes then).
import { describe, expect, it } from 'vitest';
import type { BridgeContext } from '../src/bridge/context.js';
import { emptyStats, type BridgeEvent } from '../src/bridge/events.js';
import { Exporter } from '../src/bridge/exporter.js';
import type { LocalSide } from '../src/bridge/local.js';
import { resolveOptions } from '../src/bridge/options.js';

function exporter(connected = { now: true }) {
  const events: BridgeEvent[] = [];
  let subscribed = 0;
  const local = {
    pid: 1,
    subscribe: () => {
      subscribed++;
      return { close: () => { subscribed--; } };
    },
  } as unknown as LocalSide;
  const opts = resolveOptions({ servers: 'nats://127.0.0.1:4222', export: ['/t'], leaseMs: 3000 });
  const ctx = {
    id: 'A', local, opts, stats: emptyStats(), reassembling: 0, chunkSize: 1000,
    get connected() {
      return connected.now;
    },
    emit: (e: BridgeEvent) => events.push(e),
  } as unknown as BridgeContext;
  const e = new Exporter(ctx, opts.exports[0]!);
  return { e, events, subscribed: () => subscribed };
}

describe('export leases', () => {
  it('lapse leaseMs after the last want, and the export stops', async () => {
    const { e, events, subscribed } = exporter();
    const t0 = Date.now();
    e.want('B', undefined);
    expect(e.active).toBe(true);
    e.expire(t0 + 2000);
    expect(e.active).toBe(true);
    e.expire(t0 + 3100);
    expect(e.active).toBe(false);
    await Promise.resolve();	// the local subscription closes in a microtask, then export-stop
    expect(subscribed()).toBe(0);
    expect(events.map((x) => x.type)).toEqual(['export-start', 'interest', 'export-stop']);
  });

  it('are extended by a stall of the exporter itself', () => {
    const { e } = exporter();
    const t0 = Date.now();
    e.want('B', undefined);
    e.expire(t0 + 3100, 2000);	// 2 s of the 3.1 were a stall: 1.1 s of listening
    expect(e.active).toBe(true);
    e.expire(t0 + 5100);
    expect(e.active).toBe(false);
  });

  it('do not lapse while the exporter is disconnected', () => {
    const connected = { now: true };
    const { e } = exporter(connected);
    const t0 = Date.now();
    e.want('B', undefined);
    connected.now = false;
    e.expire(t0 + 10_000);
    expect(e.active).toBe(true);
  });
});
