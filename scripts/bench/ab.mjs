// SPDX-License-Identifier: Apache-2.0
// A/B of the sustained rows (sustained.mjs) between checkouts, in one run:
// each round runs every tree once, the order alternating from round to
// round, so that a drift of the machine (TCG guests wander by ±30 %) lands
// on both sides instead of on whichever ran first. Every tree must be
// built (npm run build) and use the same loaded module; C->C runs once, in
// the first round, as the scale.
//
// Usage (with the module loaded, e.g. in scripts/guest.sh 6.1):
//   node scripts/bench/ab.mjs [--rounds 3] [--seconds 5] [--copy] TREE...
// TREE: a checkout's root; this tree is `.`. Prints each round's msg/s and,
// per tree, the median and the spread across rounds.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = { rounds: 3, seconds: 5, copy: false };
const trees = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--copy') opt.copy = true;
  else if (a === '--rounds' || a === '--seconds') opt[a.slice(2)] = Number(args[++i]);
  else if (a.startsWith('--')) throw new Error(`ab.mjs: unknown option ${a}`);
  else trees.push(path.resolve(a));
}
if (!trees.length || !(opt.rounds >= 1) || !(opt.seconds > 0)) {
  console.error('usage: node scripts/bench/ab.mjs [--rounds N] [--seconds S] [--copy] TREE...');
  process.exit(2);
}

const mods = new Map();
for (const t of trees) mods.set(t, await import(path.join(t, 'scripts/bench/sustained.mjs')));
const rows = opt.copy ? ['ts', 'ts_copy'] : ['ts'];
const got = new Map(trees.map((t) => [t, Object.fromEntries(rows.map((r) => [r, []]))]));
let c = null;
for (let round = 0; round < opt.rounds; round++) {
  for (const t of round % 2 ? [...trees].reverse() : trees) {
    const first = round === 0 && t === trees[0];
    const r = await mods.get(t).benchSustained({ cbench: path.join(ROOT, 'build/demo/cbench'), seconds: opt.seconds,
      ts: true, tsCopy: opt.copy, c: first });
    if (r.errors) throw new Error(`${t}: ${r.errors.join('; ')}`);
    if (r.c) c = r.c.msgs_per_s;
    const line = rows.map((k) => {
      got.get(t)[k].push(r[k].msgs_per_s);
      return `${k} ${r[k].msgs_per_s.toFixed(0)} msg/s (lost ${r[k].lost})`;
    });
    console.log(`round ${round + 1} ${t}: ${line.join(', ')}${r.c ? `; C→C ${r.c.msgs_per_s.toFixed(0)} msg/s` : ''}`);
  }
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const t of trees) {
  for (const k of rows) {
    const v = got.get(t)[k];
    const m = median(v);
    console.log(`${t} ${k}: median ${m.toFixed(0)} msg/s (${v.map((x) => x.toFixed(0)).join(' / ')}, spread ` +
      `${((Math.max(...v) - Math.min(...v)) / m * 100).toFixed(0)} %)${c ? `, ${(m / c * 100).toFixed(1)} % of C→C` : ''}`);
  }
}
