// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { parseTap, parseVitestJson, report } from '../scripts/summary.mjs';

describe('TAP results of a guest suite', () => {
  it('counts ok and not ok lines against the plan', () => {
    const s = parseTap('g', 'ok 1 - a\nnot ok 2 - b\n# reason\nok 3 - c\n1..3\n');
    expect(s.passed).toBe(2);
    expect(s.failed).toBe(1);
    expect(s.failures).toEqual(['b']);
  });

  it('keeps the diagnostics after a failure and prints them last, just above the closing line', () => {
    const s = parseTap('g', 'ok 1 - a\nnot ok 2 - b\n# rule: x\n# seed 7\nok 3 - c\n# stats\n1..3\n');
    expect(s.notes).toEqual([['# rule: x', '# seed 7']]);
    expect(report([s, parseTap('h', 'ok 1\n1..1\n')]).split('\n')).toEqual(['g: 2 passed, 1 failed', '  FAILED b',
      'h: 1 passed, 0 failed', '', 'why they failed:', 'g: FAILED b', '    # rule: x', '    # seed 7',
      '3 passed, 1 failed']);
  });

  it('prints the first and the last lines of long diagnostics (the rule, and the operations just before)', () => {
    const ops = Array.from({ length: 40 }, (_, i) => `# op ${i}`);
    const s = parseTap('g', ['not ok 1 - f', '# rule: y', ...ops, '1..1', ''].join('\n'));
    const lines = report([s]).split('\n');
    expect(lines.slice(lines.indexOf('g: FAILED f') + 1, -1)).toEqual([
      '    # rule: y', '    # op 0', '    # op 1', '    # op 2', '    # op 3', '    # op 4', '    … 29 more lines',
      '    # op 34', '    # op 35', '    # op 36', '    # op 37', '    # op 38', '    # op 39']);
  });

  it('counts tests the plan promised but never reported as failed', () => {
    const s = parseTap('g', '1..5\nok 1 - a\nok 2 - b\n');
    expect(s.passed).toBe(2);
    expect(s.failed).toBe(3);
  });

  it('fails a suite that stopped before printing its plan', () => {
    const s = parseTap('g', 'ok 1 - a\n');
    expect(s.failed).toBe(1);
  });

  it('fails a suite that produced nothing (a crashed guest)', () => {
    const s = parseTap('g', '');
    expect(s.failed).toBe(1);
    expect(s.passed).toBe(0);
  });

  it('reports skips apart from passes', () => {
    const s = parseTap('g', 'ok 1 - a # SKIP no module\n1..1\n');
    expect(s.skipped).toBe(1);
    expect(s.passed).toBe(0);
  });
});

describe('vitest JSON report', () => {
  it('counts assertion results and files that failed to load', () => {
    const json = JSON.stringify({
      testResults: [
        { name: 'a.test.ts', status: 'passed', assertionResults: [
          { status: 'passed', fullName: 'x' }, { status: 'failed', fullName: 'y' }] },
        { name: 'b.test.ts', status: 'failed', message: 'SyntaxError', assertionResults: [] },
      ],
    });
    const s = parseVitestJson('host', json);
    expect(s.passed).toBe(1);
    expect(s.failed).toBe(2);
    expect(s.failures).toEqual(['y', 'b.test.ts: SyntaxError']);
  });

  it('keeps the message of a failed assertion, without its stack', () => {
    const json = JSON.stringify({ testResults: [{ name: 'a.test.ts', status: 'failed', assertionResults: [
      { status: 'failed', fullName: 'y', failureMessages: ['AssertionError: 1 != 2\n    at f (a.ts:1:1)'] }] }] });
    expect(parseVitestJson('host', json).notes).toEqual([['AssertionError: 1 != 2']]);
  });
});

describe('closing line', () => {
  it('adds every suite up into "N passed, N failed"', () => {
    const text = report([parseTap('a', 'ok 1\n1..1\n'), parseTap('b', 'ok 1\nnot ok 2\n1..2\n')]);
    expect(text.split('\n').at(-1)).toBe('2 passed, 1 failed');
  });

  it('is never green when no suite ran', () => {
    expect(report([]).split('\n').at(-1)).toBe('0 passed, 1 failed');
  });
});
