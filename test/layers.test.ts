/**
 * The layer rules of ferlab's source tree, checked on the import graph of every file under src/:
 *
 *   util < backend < data < records < models < train | eval < exp / sweep < viz / cli / bench
 *
 * records (ferlab's on-disk records: schemas, file names, readers and writers) builds on util and on types of data and
 * backend only, and data knows nothing of records; data knows nothing of models or training, training knows no
 * evaluation or experiment, evaluation does not import training, viz only draws from plain inputs (no exp, train,
 * cli or sweep), backend builds on util only, util on nothing else in src. Type-only imports count too (they couple the layers' code the same way). A file under src/
 * importing the barrel (src/index.ts) breaks every rule at once (the barrel re-exports all layers).
 *
 * Specifiers come from the TypeScript compiler's own scanner (ts.preProcessFile): `import ... from`, `export ...
 * from`, side-effect imports, `require('...')`, `import('...')` and `typeof import('...')`, never text in comments or
 * strings.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

const root = join(__dirname, '..');
const srcDir = join(root, 'src');

/** What a folder of src/ may import from the other folders: an allow-list or a deny-list of top-level folders. */
type Rule = { allow: string[] } | { deny: string[] };

/** The rules, by folder of src/ (folders not listed, such as exp or cli, are unrestricted). */
const RULES: Record<string, Rule> = {
  util: { allow: ['util'] },
  backend: { allow: ['util', 'backend'] },
  data: { deny: ['records', 'models', 'train', 'eval', 'exp', 'sweep', 'viz', 'cli', 'bench'] },
  // the on-disk records: schemas and file names of what every layer above writes and reads
  records: { allow: ['util', 'backend', 'data', 'records'] },
  models: { deny: ['train', 'eval', 'exp', 'sweep', 'viz', 'cli', 'bench'] },
  train: { deny: ['eval', 'exp', 'sweep', 'viz', 'cli', 'bench'] },
  eval: { deny: ['train', 'exp', 'sweep', 'viz', 'cli', 'bench'] },
  viz: { deny: ['exp', 'train', 'cli', 'sweep', 'bench', 'predict', 'demo', 'export'] },
  export: { deny: ['cli', 'bench', 'predict', 'demo'] },
  predict: { allow: ['util', 'backend', 'data', 'records', 'models', 'eval', 'viz', 'predict'] },
  // the demo server checks the model folder it serves with the one model-folder check every loader uses (src/models/io.ts)
  demo: { allow: ['util', 'records', 'models', 'predict', 'demo'] },
};

/** The module specifiers a TypeScript file imports, exports from or requires, in source order. */
function importSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** One import that breaks a rule. */
interface Violation {
  /** Importing file, relative to the project root (src/...). */
  file: string;
  /** The specifier as written. */
  spec: string;
  /** Top-level folder of src/ it resolves to ('' for a file directly in src/, such as the barrel index.ts). */
  target: string;
}

/**
 * The imports of `files` (path relative to src/ -> source text) that break `rules`. Relative specifiers are resolved
 * against the importing file; package imports and paths outside src/ are not layer imports.
 */
function violations(files: Map<string, string>, rules: Record<string, Rule>): Map<string, Violation[]> {
  const out = new Map<string, Violation[]>(Object.keys(rules).map((k) => [k, []]));
  for (const [file, text] of files) {
    const folder = file.split(/[\\/]/)[0];
    const rule = rules[folder];
    if (!rule || !file.includes('/')) continue;
    for (const spec of importSpecifiers(text)) {
      if (!spec.startsWith('.')) continue;
      const rel = relative(srcDir, resolve(srcDir, dirname(file), spec));
      if (rel.startsWith('..')) continue;
      const parts = rel.split(sep);
      // a folder import ('../models') is that folder's index.ts; only a file directly in src/ is the barrel
      const isFolder = parts.length === 1 && existsSync(join(srcDir, parts[0])) && statSync(join(srcDir, parts[0])).isDirectory();
      const target = parts.length === 1 && !isFolder ? '' : parts[0];
      if (target === folder) continue;
      const bad = target === '' || ('allow' in rule ? !rule.allow.includes(target) : rule.deny.includes(target));
      if (bad) out.get(folder)!.push({ file: `src/${file}`, spec, target });
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return name === 'assembly' ? [] : sourceFiles(p); // AssemblyScript, not TypeScript modules of ferlab
      return /\.(ts|tsx|js|cjs|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
    });
}

const files = new Map(sourceFiles(srcDir).map((p) => [relative(srcDir, p).split(sep).join('/'), readFileSync(p, 'utf8')]));
const found = violations(files, RULES);

const describe = (folder: string, rule: Rule) =>
  'allow' in rule
    ? `src/${folder} imports only from ${rule.allow.map((f) => `src/${f}`).join(', ')}`
    : `src/${folder} imports nothing from ${rule.deny.join('/')}`;

test('the scanner sees every form of import and nothing in comments or strings', () => {
  const text = [
    "// import x from '../commented';",
    "/** export * from '../doc'; */",
    "import a from '../a';",
    "import type { B } from '../b';",
    "import '../side';",
    "export { c } from '../c';",
    "export * from '../d';",
    "const e = require('../e');",
    "const f = import('../f');",
    "type G = typeof import('../g');",
    'const s = "import z from \'../string\'";',
  ].join('\n');
  assert.equal(importSpecifiers(text), ['../a', '../b', '../side', '../c', '../d', '../e', '../f', '../g']);
});

test('the checker flags denied and non-allowed folders and the barrel, and passes allowed ones', () => {
  const fake = new Map([
    [
      'data/x.ts',
      "import { a } from '../train/loop';\nimport { b } from './labels';\nimport { c } from '../util/rng';\nimport * as tf from '@tensorflow/tfjs';",
    ],
    ['backend/y.ts', "import { d } from '../data/classes';\nimport { e } from '../util/env';"],
    ['viz/z.ts', "export * from '../index';\nimport type { M } from '../eval/metrics';"],
    ['exp/w.ts', "import { f } from '../cli/progress';"],
  ]);
  const v = violations(fake, RULES);
  assert.equal(v.get('data'), [{ file: 'src/data/x.ts', spec: '../train/loop', target: 'train' }]);
  assert.equal(v.get('backend'), [{ file: 'src/backend/y.ts', spec: '../data/classes', target: 'data' }]);
  assert.equal(v.get('viz'), [{ file: 'src/viz/z.ts', spec: '../index', target: '' }]);
  assert.is(v.get('exp'), undefined, 'exp has no rule');
});

/**
 * The non-type imports of a file from the given folders of src/ (`import type` and `export type` are left out): what
 * src/records may take from data and backend is types only, so that the records layer runs no data or backend code.
 */
function valueImportsFrom(file: string, text: string, folders: string[]): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (!(ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) || !st.moduleSpecifier || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const spec = st.moduleSpecifier.text;
    const target = relative(srcDir, resolve(srcDir, dirname(file), spec)).split(sep)[0];
    if (!folders.includes(target)) continue;
    const typeOnly = ts.isImportDeclaration(st)
      ? !!st.importClause &&
        (st.importClause.isTypeOnly ||
          (!st.importClause.name &&
            !!st.importClause.namedBindings &&
            ts.isNamedImports(st.importClause.namedBindings) &&
            st.importClause.namedBindings.elements.every((e) => e.isTypeOnly)))
      : st.isTypeOnly;
    if (!typeOnly) out.push(spec);
  }
  return out;
}

test('the type-only check tells type imports from value imports', () => {
  const text =
    "import type { A } from '../data/a';\nimport { type B } from '../data/b';\nimport { c } from '../data/c';\nimport '../backend/d';\nimport { e } from '../util/e';";
  assert.equal(valueImportsFrom('records/x.ts', text, ['data', 'backend']), ['../data/c', '../backend/d']);
});

test('src/records takes only types from src/data and src/backend', () => {
  const bad = [...files]
    .filter(([f]) => f.startsWith('records/'))
    .flatMap(([f, text]) => valueImportsFrom(f, text, ['data', 'backend']).map((s) => `src/${f} -> '${s}'`));
  if (bad.length) assert.unreachable(`src/records may import only types from src/data and src/backend, but:\n  ${bad.join('\n  ')}`);
});

test('src/ has the layer folders the rules name', () => {
  const folders = new Set([...files.keys()].map((f) => f.split('/')[0]));
  for (const f of Object.keys(RULES)) assert.ok(folders.has(f), `src/${f} is missing: found ${[...folders].sort().join(', ')}`);
});

for (const [folder, rule] of Object.entries(RULES)) {
  test(`layer rule: ${describe(folder, rule)}`, () => {
    const v = found.get(folder)!;
    const lines = v.map((x) => `  ${x.file} -> '${x.spec}' (${x.target === '' ? 'the src/index.ts barrel' : `src/${x.target}`})`);
    if (v.length) assert.unreachable(`${describe(folder, rule)}, but ${v.length} import(s) break it:\n${lines.join('\n')}`);
  });
}

test.run();
