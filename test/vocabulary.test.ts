/**
 * One meaning per word (issue 27): "study" is Optuna's name for a search, which ferlab calls a sweep, so ferlab never
 * uses it for an experiment's execution (an experiment folder, `npm run exp`). The word appears only where old run
 * folders and exported models are still read (src/records: the legacy study.json, ferlab.json's old kind 'study') and
 * in the deprecated aliases of the public API (src/index.ts). Read from the source text of everything a user or a
 * newcomer reads: src, experiments, sweeps, scripts, notebooks, docs, README.md, models/README.md, .vscode.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/cli';

const ALLOWED = ['src/records/experiment.ts', 'src/records/model.ts', 'src/index.ts'];
const TEXT = /\.(ts|js|mjs|md|ipynb|json|py)$/;

const files = (p: string): string[] => {
  if (!existsSync(p)) return [];
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p).flatMap((n) => (n === 'node_modules' || n.endsWith('.wasm') ? [] : files(join(p, n)).filter((f) => TEXT.test(f))));
};

test('"study" is not used for an experiment anywhere a user reads (only the legacy record names)', () => {
  const roots = ['src', 'experiments', 'sweeps', 'scripts', 'notebooks', 'docs', 'README.md', 'models/README.md', '.vscode'];
  const found: string[] = [];
  for (const f of roots.flatMap((r) => files(join(ROOT, r)))) {
    const rel = relative(ROOT, f).split('\\').join('/');
    if (ALLOWED.includes(rel)) continue;
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((l, i) => {
        if (/\bstud(y|ies)\b/i.test(l)) found.push(`${rel}:${i + 1}: ${l.trim().slice(0, 120)}`);
      });
  }
  assert.equal(found, [], `lines using "study":\n${found.join('\n')}`);
});

test('the check can fail: it finds the word in the files allowed to keep it', () => {
  const text = ALLOWED.map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
  assert.ok(/\bstudy\b/.test(text), 'src/records/experiment.ts names the legacy study.json');
});

test.run();
