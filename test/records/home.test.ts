/**
 * src/records is the one home of ferlab's on-disk records (issue 27): outside it no source file spells a record's file
 * name, casts parsed JSON to a type, or declares a record type of its own. Read from the source text of src/ (a check
 * anyone can also run: `grep -rn "'metrics.json'" src | grep -v src/records` prints nothing).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/cli';

const src = join(ROOT, 'src');
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.ts$/.test(n) ? [p] : [];
  });
// outside src/records; the AssemblyScript kernels are no TypeScript for Node
const outside = files(src)
  .filter((f) => !f.startsWith(join(src, 'records')) && !f.includes(join('wasm', 'assembly')))
  .map((f) => ({ rel: relative(ROOT, f), text: readFileSync(f, 'utf8') }));

/** Lines of `text` matching `re`, as `file:line: text`. */
const hits = (re: RegExp) =>
  outside.flatMap(({ rel, text }) =>
    text
      .split('\n')
      .map((l, i) => ({ l, i }))
      .filter(({ l }) => re.test(l) && !/^\s*(\*|\/\/|\/\*)/.test(l)) // code, not comments
      .map(({ l, i }) => `${rel}:${i + 1}: ${l.trim()}`),
  );

test('no record file name spelled outside src/records', () => {
  const names = [
    'metrics.json',
    'config.json',
    'status.json',
    'epochs.jsonl',
    'predictions.json',
    'experiment.json',
    'sweep.json',
    'ferlab.json',
    'journal.jsonl',
    'init.json',
  ];
  // a string literal, or the end of a path in a template literal
  const found = hits(new RegExp(`(['"]|/)(${names.map((n) => n.replace('.', '\\.')).join('|')})['"\`]`));
  assert.equal(found, [], `record file names outside src/records:\n${found.join('\n')}`);
});

test('no parsed JSON cast to a type outside src/records', () => {
  // exporter.ts readJson<T> reads tfjs' model.json: TensorFlow.js' format, not a ferlab record
  const found = hits(/JSON\.parse\([^)]*\)\)? as [A-Z]\w*/).filter(
    (l) => !/as (unknown|Record<)/.test(l) && !(l.startsWith('src/export/exporter.ts') && / as T;/.test(l)),
  );
  assert.equal(found, [], `casts of parsed JSON:\n${found.join('\n')}`);
});

test('the record types are declared once, in src/records', () => {
  const types = [
    'RunSummary',
    'RunStatus',
    'RunInit',
    'EpochRecord',
    'TestPredictions',
    'ModelMeta',
    'ExportInfo',
    'ExperimentResult',
    'TrialRow',
    'FailedRun',
    'SavedModelInfo',
  ];
  const found = hits(new RegExp(`(interface|type) (${types.join('|')})\\b\\s*(<[^>]*>)?\\s*(\\{|=\\s*\\{)`));
  assert.equal(found, [], `record types declared outside src/records:\n${found.join('\n')}`);
});

test.run();
