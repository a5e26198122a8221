// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { formatStatus, formatTopic, parseStatus, table } from '../src/status.js';

/** What the module printed in the guest while a publisher and a subscriber ran. */
const sample = `agnocast 0.2.0 abi 2
totals processes 2 topics 1 publishers 1 subscribers 1 entries 3 mappings 1
process pid 120 uid 0 addr 0x40000000000 size 102400 max 204800 state live attached 1 publishers 1 subscribers 0 mappers 1 reclaimable 0
process pid 121 uid 1000 addr 0x40000200000 size 204800 max 204800 state exited attached 1 publishers 0 subscribers 1 mappers 0 reclaimable 2
topic /status/test publishers 1 subscribers 1 entries 3 last-seq 3
  publisher id 1 pid 120 depth 2 transient-local 1 retained 2
  subscriber id 1 pid 121 depth 10 transient-local 0 held 2 pending 0
  entry seq 1 publisher 1 pid 120 addr 0x40000000000 len 10 refs 1 retained 0
  entry seq 2 publisher 1 pid 120 addr 0x40000000100 len 20 refs 1 retained 1
  entry seq 3 publisher 1 pid 120 addr 0x40000000200 len 30 refs 0 retained 1
`;

describe('the status file', () => {
  const s = parseStatus(sample);

  it('parses version, totals and processes', () => {
    expect(s.version).toBe('0.2.0');
    expect(s.abi).toBe(2);
    expect(s.totals).toEqual({ processes: 2, topics: 1, publishers: 1, subscribers: 1, entries: 3, mappings: 1 });
    expect(s.processes[0]).toMatchObject({ pid: 120, addr: 0x40000000000n, size: 102400, state: 'live', mappers: 1 });
    expect(s.processes[1]).toMatchObject({ pid: 121, uid: 1000, state: 'exited', reclaimable: 2 });
  });

  it('attaches endpoints and entries to their topic', () => {
    const t = s.topics[0];
    expect(t?.name).toBe('/status/test');
    expect(t?.lastSeq).toBe(3n);
    expect(t?.publishers).toEqual([{ id: 1, pid: 120, depth: 2, transientLocal: true, retained: 2 }]);
    expect(t?.subscribers).toEqual([{ id: 1, pid: 121, depth: 10, transientLocal: false, held: 2, pending: false }]);
    expect(t?.entries.map((e) => [e.seq, e.refs, e.retained])).toEqual([[1n, 1, false], [2n, 1, true], [3n, 0, true]]);
  });

  it('renders readable tables', () => {
    const text = formatStatus(s);
    expect(text).toContain('2 processes, 1 topics');
    expect(text).toMatch(/120\s+0x40000000000\s+100 KiB\s+200 KiB\s+0\s+live/);
    expect(formatTopic(s.topics[0]!)).toMatch(/3\s+1\s+120\s+0x40000000200\s+30\s+0\s+yes/);
  });

  it('counts entries from the topic line when the module lists only the oldest', () => {
    const capped = parseStatus(`${sample.replace('entries 3 last-seq 3', 'entries 70 last-seq 70')}  more-entries count 67\n`);
    expect(capped.topics[0]?.nrEntries).toBe(70);
    expect(capped.topics[0]?.entries).toHaveLength(3);
    expect(formatTopic(capped.topics[0]!)).toContain('70 entries alive (the oldest 3 listed)');
  });

  it('rejects a record with a missing field instead of showing nonsense', () => {
    expect(() => parseStatus('totals processes 1')).toThrow(/missing/);
  });
});

describe('tables', () => {
  it('aligns numbers right and text left', () => {
    expect(table(['NAME', 'N'], [['a', 5], ['bbb', 100]])).toBe('NAME    N\n----  ---\na       5\nbbb   100');
  });
});
