// SPDX-License-Identifier: Apache-2.0
// Summarizes V8 .cpuprofile files (node --cpu-prof): self time by function
// (and by category: JS of the bench, the library, Node internals, native,
// GC, idle), top N. Usage: node scripts/bench/cpuprof.mjs FILE.cpuprofile... [--top N]
import fs from 'node:fs';

const args = process.argv.slice(2);
const ti = args.indexOf('--top');
const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 25;

function category(f) {
  const name = f.functionName || '(anonymous)';
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  const url = f.url ?? '';
  if (url.includes('/dist/')) return 'agnocast library (dist/)';
  if (url.includes('/scripts/bench/')) return 'bench code';
  if (url.startsWith('node:')) return 'Node internals';
  if (!url) return 'native (addon, V8 builtins)';
  return 'other JS';
}

for (const file of args) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = prof.timeDeltas;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]);
    const d = dt[i] ?? 0;
    total += d;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^.*\/(dist|scripts|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : ''}`;
    const e = self.get(key) ?? { us: 0, cat: category(f) };
    e.us += d;
    self.set(key, e);
  }
  const busy = [...self.entries()].filter(([, e]) => e.cat !== '(idle)').reduce((a, [, e]) => a + e.us, 0);
  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle`);
  const cats = new Map();
  for (const [, e] of self) cats.set(e.cat, (cats.get(e.cat) ?? 0) + e.us);
  for (const [c, us] of [...cats].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${(100 * us / total).toFixed(1).padStart(5)} %  ${c}`);
  }
  console.log('  top functions by self time (share of non-idle):');
  for (const [k, e] of [...self].filter(([, e]) => e.cat !== '(idle)').sort((a, b) => b[1].us - a[1].us).slice(0, top)) {
    console.log(`  ${(100 * e.us / busy).toFixed(1).padStart(5)} %  ${k}`);
  }
}
