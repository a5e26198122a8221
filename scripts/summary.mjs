// SPDX-License-Identifier: Apache-2.0
// @ts-check
/**
 * Adds up the results of every suite of one `npm test` run and prints the
 * closing line "N passed, N failed".
 *
 *   node scripts/summary.mjs DIR
 *
 * DIR holds vitest JSON reports (*.json) and TAP files (*.tap), one per
 * suite. A suite whose file is empty counts as a failure (scripts/test.sh
 * leaves an empty file for every suite a crashed guest did not report), so
 * a crashed guest can never look green.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * failures: the failed tests' names; notes: for each failure, the lines that
 * say why (its TAP diagnostics, its assertion message), so that the end of
 * a CI log shows them.
 * @typedef {{ name: string, passed: number, failed: number, skipped: number, failures: string[], notes: string[][] }} Suite
 */

/**
 * Of a failure's notes, the report prints this many first lines (the rule
 * and the seed) and this many last ones (the operations just before).
 */
const NOTE_HEAD = 6;
const NOTE_TAIL = 6;

/**
 * The notes to print, with a marker for the lines left out.
 * @param {string[]} notes
 * @returns {string[]}
 */
function excerpt(notes) {
  if (notes.length <= NOTE_HEAD + NOTE_TAIL + 1) return notes;
  return [...notes.slice(0, NOTE_HEAD), `… ${notes.length - NOTE_HEAD - NOTE_TAIL} more lines`,
    ...notes.slice(-NOTE_TAIL)];
}

/**
 * Counts `count` failed tests under one title, with the lines that say why.
 * @param {Suite} suite
 * @param {string} title
 * @param {string[]} [notes]
 * @param {number} [count]
 */
function fail(suite, title, notes = [], count = 1) {
  suite.failed += count;
  suite.failures.push(title);
  suite.notes.push(notes);
}

/**
 * Parses TAP: "ok N - name", "not ok N - name", "# SKIP" directives and a
 * plan "1..N". Tests the plan promised but never reported count as failed.
 * @param {string} name
 * @param {string} text
 * @returns {Suite}
 */
export function parseTap(name, text) {
  /** @type {Suite} */
  const suite = { name, passed: 0, failed: 0, skipped: 0, failures: [], notes: [] };
  let planned = -1;
  let seen = 0;
  /**
   * The diagnostics ("# …") after a "not ok" line go to its notes.
   * @type {string[] | null}
   */
  let notes = null;
  for (const line of text.split('\n')) {
    const plan = /^1\.\.(\d+)/.exec(line);
    if (plan) {
      planned = Number(plan[1]);
      notes = null;
      continue;
    }
    const m = /^(not )?ok\b\s*\d*\s*(?:- )?(.*)$/.exec(line);
    if (!m) {
      if (notes && line.startsWith('#')) notes.push(line);
      continue;
    }
    seen++;
    notes = null;
    const title = m[2] ?? '';
    if (/#\s*skip/i.test(title)) suite.skipped++;
    else if (m[1]) {
      notes = [];
      fail(suite, title, notes);
    } else suite.passed++;
  }
  if (seen === 0) fail(suite, 'no test results (the suite did not run or crashed)');
  else if (planned < 0) fail(suite, 'no plan line: the suite stopped before its end');
  else if (planned > seen) fail(suite, `${planned - seen} planned tests never reported`, [], planned - seen);
  return suite;
}

/**
 * Parses vitest's JSON report.
 * @param {string} name
 * @param {string} text
 * @returns {Suite}
 */
export function parseVitestJson(name, text) {
  /** @type {Suite} */
  const suite = { name, passed: 0, failed: 0, skipped: 0, failures: [], notes: [] };
  /** @type {{ testResults?: { name: string, message?: string, status?: string, assertionResults: { status: string, fullName: string, failureMessages?: string[] }[] }[] }} */
  const report = JSON.parse(text);
  for (const file of report.testResults ?? []) {
    for (const t of file.assertionResults) {
      if (t.status === 'passed') suite.passed++;
      else if (t.status === 'failed') {
        fail(suite, t.fullName, (t.failureMessages ?? []).join('\n').split('\n').filter((l) => !/^\s+at /.test(l)));
      } else suite.skipped++;
    }
    // A file that failed to load has no assertion results.
    if (file.assertionResults.length === 0 && file.status === 'failed') {
      fail(suite, `${file.name}: ${file.message ?? 'failed to load'}`);
    }
  }
  return suite;
}

/**
 * @param {string} dir
 * @returns {Suite[]}
 */
export function collect(dir) {
  /** @type {Suite[]} */
  const suites = [];
  for (const f of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, f), 'utf8');
    const name = f.replace(/\.(tap|json)$/, '');
    if (f.endsWith('.json')) suites.push(text.trim() ? parseVitestJson(name, text) : parseTap(name, ''));
    else if (f.endsWith('.tap')) suites.push(parseTap(name, text));
  }
  return suites;
}

/**
 * @param {Suite[]} suites
 * @returns {string}
 */
export function report(suites) {
  const lines = [];
  /** @type {string[]} */
  const why = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const s of suites) {
    lines.push(`${s.name}: ${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}`);
    s.failures.forEach((f, i) => {
      lines.push(`  FAILED ${f}`);
      why.push(`${s.name}: FAILED ${f}`, ...excerpt(s.notes[i] ?? []).map((n) => `    ${n}`));
    });
    passed += s.passed;
    failed += s.failed;
    skipped += s.skipped;
  }
  if (suites.length === 0) failed++;
  // Why each test failed comes last, next to the closing line: the end of
  // a CI log is what a reader sees first.
  if (why.length) lines.push('', 'why they failed:', ...why);
  lines.push(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/summary.mjs RESULTS_DIR');
    process.exit(2);
  }
  const text = report(collect(dir));
  console.log(text);
  process.exit(/ 0 failed/.test(text.split('\n').at(-1) ?? '') ? 0 : 1);
}
