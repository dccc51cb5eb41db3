/**
 * ferlab as a VS Code workspace: the .vscode/ files parse (JSON with comments) and point at things that exist (npm
 * scripts, programs, CLI options, experiments); the debug configurations' way of running TypeScript gives the
 * debugger source maps at the real file paths, and a breakpoint set through them stops on the intended source line;
 * the Jupyter kernel that `npm run kernel` registers is the one every notebook names, and `jupyter nbconvert --execute`
 * without a kernel name runs it.
 *
 * The kernel tests register into a fresh JUPYTER_DATA_DIR (the user's own Jupyter folder is not touched). They need
 * Jupyter (Debian: jupyter-client jupyter-nbconvert python3-nbclient; .ci/run installs them): skipped with the
 * reason where it is missing, a failure under CI.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { jupyterPython, withKernelMetadata } from '../scripts/kernel';
import { tempDir } from './helpers/fixtures';
import { skipTest } from './helpers/skip';
import { runCli } from './helpers/cli';

const root = join(__dirname, '..');
const vscodeDir = join(root, '.vscode');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** Parses a .vscode file as VS Code does (JSON with comments), failing with the parser's first error. */
function readJsonc<T>(file: string): T {
  const errors: ParseError[] = [];
  const value = parseJsonc(readFileSync(file, 'utf8'), errors, { allowTrailingComma: false, disallowComments: false });
  assert.equal(
    errors.map((e) => `${printParseErrorCode(e.error)} at offset ${e.offset}`),
    [],
    `${file} parses as JSON with comments`,
  );
  return value as T;
}

interface Input {
  id: string;
  type: string;
  default?: string;
  options?: unknown[];
}
interface Task {
  label: string;
  type: string;
  command: string;
  args?: string[];
  problemMatcher?: string | string[];
}
interface LaunchConfig {
  name: string;
  type: string;
  request: string;
  cwd?: string;
  runtimeExecutable?: string;
  runtimeArgs?: string[];
  program: string;
  args?: string[];
  sourceMaps?: boolean;
  outFiles?: string[];
}

const files = () => readdirSync(vscodeDir).filter((f) => f.endsWith('.json'));
const tasks = () => readJsonc<{ version: string; tasks: Task[]; inputs?: Input[] }>(join(vscodeDir, 'tasks.json'));
const launch = () => readJsonc<{ version: string; configurations: LaunchConfig[]; inputs?: Input[] }>(join(vscodeDir, 'launch.json'));

/** `${input:id}` ids used in `values`. */
const inputRefs = (values: string[]) => values.flatMap((v) => [...v.matchAll(/\$\{input:([^}]+)\}/g)].map((m) => m[1]));

/**
 * Replaces VS Code's variables the way VS Code would for a user: `${workspaceFolder}` = the checkout, `${file}` = the
 * open file, `${input:id}` = the input's default. Any other variable is an error (the test does not know it).
 */
function substitute(value: string, inputs: Input[], file: string): string {
  return value.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    if (name === 'workspaceFolder') return root;
    if (name === 'file') return file;
    if (name.startsWith('input:')) {
      const input = inputs.find((i) => i.id === name.slice(6));
      if (input?.default === undefined) throw new Error(`\${${name}} has no input with a default (inputs: ${JSON.stringify(inputs)})`);
      return input.default;
    }
    throw new Error(`unexpected variable \${${name}} in '${value}'`);
  });
}

/** The long options (`--quick`, `--no-progress`, ...) that `ferlab <command> --help` lists, read from the real CLI. */
function cliOptions(command: string): Set<string> {
  const r = runCli([command, '--help']);
  assert.is(r.status, 0, `ferlab ${command} --help exits 0:\n${r.stdout}${r.stderr}`);
  return new Set([...r.stdout.matchAll(/(?:^|[\s,])(--[a-z][a-z-]*)/gm)].map((m) => m[1]));
}

test('.vscode/ holds exactly extensions, settings, tasks and launch, each JSON with comments', () => {
  assert.equal(files().sort(), ['extensions.json', 'launch.json', 'settings.json', 'tasks.json']);
  for (const f of files()) readJsonc(join(vscodeDir, f));
});

test('extensions.json recommends Jupyter and Prettier, nothing more', () => {
  const ext = readJsonc<{ recommendations: string[] }>(join(vscodeDir, 'extensions.json'));
  assert.equal([...ext.recommendations].sort(), ['esbenp.prettier-vscode', 'ms-toolsai.jupyter']);
});

test("settings.json: the workspace TypeScript, Prettier with the project's config, generated folders out of search", () => {
  const s = readJsonc<Record<string, unknown>>(join(vscodeDir, 'settings.json'));
  const tsdk = resolve(root, String(s['typescript.tsdk']));
  assert.ok(existsSync(join(tsdk, 'tsserver.js')), `typescript.tsdk ${tsdk} holds tsserver.js`);
  // the project's TypeScript: the same version package.json's `typecheck` runs
  const tsVersion = (JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string }).version;
  assert.match(readFileSync(join(tsdk, 'typescript.js'), 'utf8'), `version = "${tsVersion}"`, 'tsdk is node_modules/typescript');
  assert.is(s['editor.defaultFormatter'], 'esbenp.prettier-vscode');
  const prettierConfig = resolve(root, String(s['prettier.configPath']));
  assert.is(prettierConfig, join(root, '.prettierrc.json'));
  assert.ok(existsSync(prettierConfig), `${prettierConfig} exists`);
  const gitignore = readFileSync(join(root, '.gitignore'), 'utf8').split('\n');
  for (const dir of ['runs', '.cache', 'dist', 'test-output']) {
    assert.ok(gitignore.includes(`${dir}/`), `${dir}/ is a generated folder (.gitignore)`);
    assert.is((s['search.exclude'] as Record<string, boolean>)[dir], true, `search.exclude hides ${dir}`);
    assert.is((s['files.watcherExclude'] as Record<string, boolean>)[`${dir}/**`], true, `files.watcherExclude has ${dir}/**`);
  }
  // the kernel runs in the notebook's folder: the notebooks import '../dist'
  assert.is(s['jupyter.notebookFileRoot'], '${fileDirname}');
  const nb = readFileSync(join(root, 'notebooks', '02-baseline-vs-deep.ipynb'), 'utf8');
  assert.match(nb, "from '../dist'", 'notebooks import the API relative to their folder');
});

test('tasks.json: every task runs an npm script of package.json; all the asked-for tasks are there', () => {
  const { version, tasks: list, inputs = [] } = tasks();
  assert.is(version, '2.0.0');
  assert.is(new Set(list.map((t) => t.label)).size, list.length, 'task labels are unique');
  const scriptsRun: string[][] = [];
  for (const t of list) {
    assert.ok(['shell', 'process'].includes(t.type), `${t.label}: type shell or process, got ${t.type}`);
    assert.is(t.command, 'npm', `${t.label}: runs npm`);
    const args = t.args ?? [];
    const script = args[0] === 'run' ? args[1] : args[0];
    assert.ok(args[0] === 'run' || args[0] === 'test', `${t.label}: npm run <script> or npm test, got npm ${args.join(' ')}`);
    assert.ok(script in pkg.scripts, `${t.label}: '${script}' is a script of package.json (${Object.keys(pkg.scripts).join(', ')})`);
    for (const id of inputRefs(args))
      assert.ok(
        inputs.some((i) => i.id === id),
        `${t.label}: input '${id}' is defined`,
      );
    scriptsRun.push([script, ...args.slice(args[0] === 'run' ? 2 : 1)]);
  }
  const has = (...want: string[]) => scriptsRun.some((s) => JSON.stringify(s) === JSON.stringify(want));
  assert.ok(has('exp'), 'default experiment: npm run exp');
  assert.ok(has('exp', '--', '--quick'), 'its quick variant: npm run exp -- --quick');
  assert.ok(has('exp', '--', '${input:experiment}'), 'any experiment by name: npm run exp -- ${input:experiment}');
  for (const s of ['test', 'bench', 'build', 'typecheck', 'kernel']) assert.ok(has(s), `a task runs npm ${s === 'test' ? 'test' : `run ${s}`}`);
  const typecheck = list.find((t) => JSON.stringify(t.args) === JSON.stringify(['run', 'typecheck']));
  assert.is(typecheck?.problemMatcher, '$tsc', 'typecheck reports through the TypeScript problem matcher');

  // what the experiment tasks pass exists: the experiment the prompt offers, and the CLI's options
  const experiment = inputs.find((i) => i.id === 'experiment');
  assert.is(experiment?.type, 'promptString');
  assert.ok(existsSync(join(root, 'experiments', `${experiment?.default}.ts`)), `experiments/${experiment?.default}.ts exists`);
  const options = cliOptions('exp');
  for (const s of scriptsRun.filter((s) => s[0] === 'exp'))
    for (const a of s.slice(2).filter((a) => a.startsWith('--'))) assert.ok(options.has(a), `ferlab exp has ${a} (has ${[...options].join(' ')})`);
});

test('launch.json: experiment (quick first) and current-test-file configurations through tsx, pointing at files that exist', () => {
  const { version, configurations, inputs = [] } = launch();
  assert.is(version, '0.2.0');
  assert.match(configurations[0].name, /experiment/i, 'the first (default) configuration debugs an experiment');
  assert.ok(configurations[0].args?.includes('--quick'), 'the default experiment configuration is quick');
  assert.ok(
    configurations.some((c) => c.program === '${file}' && /test/i.test(c.name)),
    'a configuration debugs the current test file',
  );
  const options = cliOptions('exp');
  for (const c of configurations) {
    assert.is(c.type, 'node', `${c.name}: node debugger`);
    assert.is(c.request, 'launch');
    assert.is(c.sourceMaps, true, `${c.name}: source maps on`);
    // VS Code's debugger swaps a .ts program for a compiled file of outFiles whose source map names it
    // (vscode-js-debug, nodeLauncher.ts tryGetCompiledFile): dist/ (npm run build, with source maps) must not qualify
    assert.ok(c.outFiles?.includes('!${workspaceFolder}/dist/**'), `${c.name}: outFiles leaves out dist/ (got ${JSON.stringify(c.outFiles)})`);
    assert.is(c.runtimeExecutable ?? 'node', 'node', `${c.name}: runs node`);
    assert.equal(c.runtimeArgs, ['--require', 'tsx/cjs'], `${c.name}: TypeScript through tsx, as npm test and npm run exp`);
    const cwd = substitute(c.cwd ?? '${workspaceFolder}', inputs, '');
    assert.is(cwd, root, `${c.name}: runs in the workspace folder`);
    require.resolve('tsx/cjs', { paths: [cwd] });
    for (const id of inputRefs([c.program, ...(c.args ?? [])]))
      assert.ok(
        inputs.some((i) => i.id === id),
        `${c.name}: input '${id}' is defined`,
      );
    // ${file}: the test file open in the editor, e.g. this one
    const program = substitute(c.program, inputs, __filename);
    assert.ok(existsSync(program) && statSync(program).isFile(), `${c.name}: program ${program} exists`);
    const args = (c.args ?? []).map((a) => substitute(a, inputs, __filename));
    if (program.endsWith(join('src', 'cli', 'main.ts'))) {
      assert.is(args[0], 'exp', `${c.name}: runs ferlab exp`);
      assert.ok(existsSync(join(root, 'experiments', `${args[1]}.ts`)), `${c.name}: experiments/${args[1]}.ts exists`);
      for (const a of args.filter((a) => a.startsWith('--'))) assert.ok(options.has(a), `${c.name}: ferlab exp has ${a}`);
      // every training in the debugged thread (worker threads would need their own attach)
      assert.is(args[args.indexOf('--workers') + 1], '1', `${c.name}: --workers 1`);
    } else {
      for (const a of args.filter((a) => a.includes('/') || a.endsWith('.ts'))) assert.ok(existsSync(resolve(cwd, a)), `${c.name}: ${a} exists`);
    }
  }
});

/**
 * Preloaded (`--require`) after the launch configuration's runtimeArgs, in the debugged process itself: an inspector
 * session on the process's own thread (node:inspector) records every script V8 parses with its source map, as the
 * VS Code debugger sees them; for the file PROBE_BREAK_FILE it maps the source line marked `// BREAK` to the
 * generated position through the source map (what the debugger does for a breakpoint set in the editor), sets a V8
 * breakpoint there, and on the pause maps the paused position back to the source. Results go to PROBE_OUT at exit.
 */
const PROBE = String.raw`
const inspector = require('node:inspector');
const { SourceMap } = require('node:module');
const { readFileSync, writeFileSync } = require('node:fs');
const { pathToFileURL } = require('node:url');
const session = new inspector.Session();
session.connect();
const post = (method, params) => { let out, err; session.post(method, params, (e, r) => { err = e; out = r; }); if (err) throw err; return out; };
const breakUrl = process.env.PROBE_BREAK_FILE ? pathToFileURL(process.env.PROBE_BREAK_FILE).href : undefined;
const result = { scripts: [], breakpoint: undefined, paused: [] };
const maps = new Map();
const decode = (u) => JSON.parse(u.startsWith('data:') ? Buffer.from(u.slice(u.indexOf(',') + 1), 'base64').toString('utf8') : readFileSync(new URL(u), 'utf8'));
session.on('Debugger.scriptParsed', ({ params }) => {
  if (!params.url.startsWith('file:') || params.url.includes('/node_modules/')) return;
  const entry = { url: params.url, sources: [] };
  result.scripts.push(entry);
  if (!params.sourceMapURL) return;
  const payload = decode(params.sourceMapURL);
  entry.sources = payload.sources.map((s) => new URL((payload.sourceRoot || '') + s, params.url).href);
  const map = new SourceMap(payload);
  maps.set(params.scriptId, map);
  if (params.url !== breakUrl) return;
  const target = readFileSync(new URL(breakUrl), 'utf8').split('\n').findIndex((l) => l.includes('// BREAK'));
  const lines = post('Debugger.getScriptSource', { scriptId: params.scriptId }).scriptSource.split('\n');
  for (let g = 0; g < lines.length && !result.breakpoint; g++)
    for (let c = 0; c <= lines[g].length; c++) {
      const e = map.findEntry(g, c);
      if (e && e.generatedLine === g && e.originalLine === target) {
        post('Debugger.setBreakpoint', { location: { scriptId: params.scriptId, lineNumber: g, columnNumber: c } });
        result.breakpoint = { sourceLine: target, generatedLine: g, generatedColumn: c };
        break;
      }
    }
});
session.on('Debugger.paused', ({ params }) => {
  const frame = params.callFrames[0];
  const e = maps.get(frame.location.scriptId)?.findEntry(frame.location.lineNumber, frame.location.columnNumber);
  result.paused.push({ fn: frame.functionName, source: e && e.originalSource, line: e && e.originalLine });
  session.post('Debugger.resume');
});
post('Debugger.enable');
process.on('exit', () => writeFileSync(process.env.PROBE_OUT, JSON.stringify(result)));
`;

interface ProbeResult {
  scripts: Array<{ url: string; sources: string[] }>;
  breakpoint?: { sourceLine: number };
  paused: Array<{ fn: string; source?: string; line?: number }>;
}

/** Runs `node <runtimeArgs> --require probe <program> <args>` as the launch configuration would, with the probe. */
function runProbed(c: LaunchConfig, program: string, args: string[], breakFile?: string) {
  const dir = tempDir('ferlab-vscode-probe-');
  writeFileSync(join(dir, 'probe.cjs'), PROBE);
  const out = join(dir, 'probe.json');
  const r = spawnSync(process.execPath, [...(c.runtimeArgs ?? []), '--require', join(dir, 'probe.cjs'), program, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PROBE_OUT: out, ...(breakFile ? { PROBE_BREAK_FILE: breakFile } : {}) },
  });
  assert.ok(existsSync(out), `the probe wrote ${out}:\n${r.stdout}${r.stderr}`);
  return { r, probe: JSON.parse(readFileSync(out, 'utf8')) as ProbeResult };
}

test('debug configurations: src/ files load at their own paths with source maps back to themselves', () => {
  const { configurations, inputs = [] } = launch();
  const exp = configurations.find((c) => c.program.endsWith('/src/cli/main.ts'));
  assert.ok(exp, 'an experiment configuration runs src/cli/main.ts');
  // the configuration's own command line, stopped by --help before any training
  const { r, probe } = runProbed(exp, substitute(exp.program, inputs, ''), [...(exp.args ?? []).map((a) => substitute(a, inputs, '')), '--help']);
  assert.is(r.status, 0, `help exits 0:\n${r.stdout}${r.stderr}`);
  const src = probe.scripts.filter((s) => s.url.startsWith(pathToFileURL(join(root, 'src')).href + '/'));
  assert.ok(
    src.some((s) => s.url === pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href),
    `src/cli/main.ts is parsed at its own path (got ${src.map((s) => s.url).join(', ')})`,
  );
  for (const s of src) assert.equal(s.sources, [s.url], `${fileURLToPath(s.url)}: its source map leads back to the file itself`);
});

test('debug configurations: a breakpoint on a TypeScript source line stops there (current test file)', () => {
  const { configurations } = launch();
  const c = configurations.find((c) => c.program === '${file}');
  assert.ok(c, 'a configuration runs ${file}');
  // a test file with TypeScript-only syntax (types, parameter properties) that esbuild removes, moving lines and columns
  const file = join(realpathSync(tempDir('ferlab-vscode-file-')), 'probe.test.ts');
  writeFileSync(
    file,
    [
      'interface Point {',
      '  x: number;',
      '  y: number;',
      '}',
      'type Pair = [Point, Point];',
      '',
      'export class Box {',
      '  private readonly items: Pair[] = [];',
      '  constructor(private readonly scale: number) {}',
      '',
      '  add(p: Pair): number {',
      '    const dx: number = (p[1].x - p[0].x) * this.scale; // BREAK',
      '    this.items.push(p);',
      '    return dx;',
      '  }',
      '}',
      '',
      'console.log(`dx=${new Box(2).add([{ x: 1, y: 0 }, { x: 4, y: 0 }])}`);',
      '',
    ].join('\n'),
  );
  const { r, probe } = runProbed(c, file, [], file);
  assert.is(r.status, 0, `${file} runs:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, 'dx=6', '(4 - 1) * 2');
  assert.ok(probe.breakpoint, `the source map maps line 12 of ${file} to generated code`);
  // 0-based line 11 = the `// BREAK` line (12th), in method add
  assert.equal(probe.paused, [{ fn: 'add', source: file, line: 11 }]);
});

test('withKernelMetadata rewrites only metadata.kernelspec and metadata.language_info, every other byte as it was', () => {
  // nbformat's layout (indent 1, sorted keys, raw non-ASCII), a code cell mentioning "kernelspec" and odd escapes
  const before = `{
 "cells": [
  {
   "cell_type": "code",
   "execution_count": null,
   "id": "aa11",
   "metadata": {"kernelspec": "cell metadata, not the notebook's"},
   "outputs": [],
   "source": [
    "const s = \\"x · é\\\\n\\"; // metadata.kernelspec\\n",
    "console.log(s)"
   ]
  }
 ],
 "metadata": {
  "kernelspec": {
   "display_name": "TypeScript",
   "language": "typescript",
   "name": "tslab"
  },
  "language_info": {
   "name": "typescript"
  },
  "other": [1,2]
 },
 "nbformat": 4,
 "nbformat_minor": 5
}
`;
  const after = withKernelMetadata(before, 'example.ipynb');
  const expected = before.replace(
    `  "kernelspec": {
   "display_name": "TypeScript",
   "language": "typescript",
   "name": "tslab"
  },
  "language_info": {
   "name": "typescript"
  },`,
    `  "kernelspec": {
   "display_name": "ferlab (TypeScript)",
   "language": "typescript",
   "name": "ferlab"
  },
  "language_info": {
   "codemirror_mode": {
    "mode": "typescript",
    "name": "javascript",
    "typescript": true
   },
   "file_extension": ".ts",
   "mimetype": "text/typescript",
   "name": "typescript",
   "version": "3.7.2"
  },`,
  );
  assert.is.not(expected, before, 'the expected text differs from the input');
  assert.fixture(after, expected);
  assert.throws(() => withKernelMetadata('{"cells": []}', 'bad.ipynb'), /bad\.ipynb: expected a top-level "metadata" object, got undefined/);
  assert.throws(() => withKernelMetadata('{"cells": [', 'broken.ipynb'), /broken\.ipynb: not valid JSON/);
});

// --- the kernel (needs Jupyter) ---

let py: string | undefined;
let noJupyter = '';
try {
  py = jupyterPython(['jupyter_client', 'nbconvert', 'nbclient']);
} catch (e) {
  noJupyter = (e as Error).message;
}

const notebooks = readdirSync(join(root, 'notebooks'))
  .filter((f) => f.endsWith('.ipynb'))
  .sort();
const nbMetadata = (f: string) =>
  (JSON.parse(readFileSync(join(root, 'notebooks', f), 'utf8')) as { metadata: { kernelspec: Record<string, string>; language_info: unknown } }).metadata;

/** Env of a fresh per-user Jupyter folder: nothing registered there yet. */
const freshJupyter = () => {
  const d = tempDir('ferlab-jupyter-');
  return { ...process.env, JUPYTER_DATA_DIR: join(d, 'data'), JUPYTER_CONFIG_DIR: join(d, 'config') };
};

interface KernelSpecs {
  kernelspecs: Record<string, { resource_dir: string; spec: { argv: string[]; display_name: string; language: string } }>;
}
const kernelspecs = (env: NodeJS.ProcessEnv): KernelSpecs => {
  const r = spawnSync(py!, ['-m', 'jupyter', 'kernelspec', 'list', '--json'], { encoding: 'utf8', env });
  assert.is(r.status, 0, `jupyter kernelspec list --json:\n${r.stderr}`);
  return JSON.parse(r.stdout) as KernelSpecs;
};

/** A one-cell notebook with `metadata` (TypeScript-only syntax, so only a TypeScript kernel runs it); returns its path. */
function throwawayNotebook(metadata: unknown): string {
  const dir = tempDir('ferlab-nb-');
  const nb = {
    cells: [
      {
        cell_type: 'code',
        execution_count: null,
        id: 'c0',
        metadata: {},
        outputs: [],
        source: ['const x: number = 1 + 1;\n', 'console.log(x, process.argv[1]);'],
      },
    ],
    metadata,
    nbformat: 4,
    nbformat_minor: 5,
  };
  writeFileSync(join(dir, 'probe.ipynb'), JSON.stringify(nb, null, 1) + '\n');
  return join(dir, 'probe.ipynb');
}

/** `jupyter nbconvert --execute` with no kernel named: the notebook's metadata decides. */
const nbconvertExecute = (nb: string, env: NodeJS.ProcessEnv) =>
  spawnSync(py!, ['-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute', '--output-dir', join(dirname(nb), 'out'), nb], {
    encoding: 'utf8',
    env,
  });

const KERNEL_TESTS = [
  'npm run kernel registers this checkout’s tslab under the name every notebook’s kernelspec names',
  'nbconvert --execute without a kernel name runs the notebooks’ kernel after npm run kernel, and fails without it',
];
if (!py) {
  for (const name of KERNEL_TESTS) {
    if (process.env.CI) test(name, () => assert.unreachable(`CI=true: ${noJupyter}`));
    else skipTest(name, noJupyter);
  }
} else {
  const env = freshJupyter();
  let registered: { name: string; spec: KernelSpecs['kernelspecs'][string]['spec'] } | undefined;
  /** `npm run kernel` into the fresh Jupyter folder (once); the kernelspec it registered. */
  const register = () => {
    if (registered) return registered;
    const r = spawnSync('npm', ['run', 'kernel'], { cwd: root, encoding: 'utf8', env: { ...env, FERLAB_JUPYTER_PYTHON: py } });
    assert.is(r.status, 0, `npm run kernel:\n${r.stdout}${r.stderr}`);
    const tslab = join(root, 'node_modules', 'tslab', 'bin', 'tslab');
    const ours = Object.entries(kernelspecs(env).kernelspecs).filter(([, k]) => k.spec.argv.includes(tslab));
    assert.is(ours.length, 1, `one kernelspec runs ${tslab}, got ${JSON.stringify(ours)}`);
    const [name, { resource_dir, spec }] = ours[0];
    assert.ok(resource_dir.startsWith(env.JUPYTER_DATA_DIR!), `registered for the user (${resource_dir} in JUPYTER_DATA_DIR)`);
    assert.equal(spec.argv.slice(1), [tslab, 'kernel', '--config-path', '{connection_file}'], "tslab's kernel command (as tslab install writes it)");
    assert.ok(existsSync(spec.argv[0]), `the kernel's node ${spec.argv[0]} exists`);
    assert.is(spec.language, 'typescript');
    registered = { name, spec };
    return registered;
  };

  test(KERNEL_TESTS[0], () => {
    const { name, spec } = register();
    assert.ok(notebooks.length >= 4, `notebooks found: ${notebooks.join(', ')}`);
    for (const f of notebooks) {
      const { kernelspec } = nbMetadata(f);
      assert.equal(kernelspec, { display_name: spec.display_name, language: spec.language, name }, `${f}: metadata.kernelspec`);
    }
  });

  test(KERNEL_TESTS[1], () => {
    const { name } = register();
    const nb = throwawayNotebook(nbMetadata('02-baseline-vs-deep.ipynb'));
    const r = nbconvertExecute(nb, env);
    assert.is(r.status, 0, `nbconvert --execute:\n${r.stdout}${r.stderr}`);
    const out = JSON.parse(readFileSync(join(dirname(nb), 'out', 'probe.ipynb'), 'utf8')) as {
      cells: Array<{ outputs: Array<{ output_type: string; name?: string; text?: string[] }> }>;
      metadata: { kernelspec: { name: string }; language_info: unknown };
    };
    // 1 + 1 under TypeScript, in the kernel process started from this checkout's tslab
    assert.equal(out.cells[0].outputs, [{ output_type: 'stream', name: 'stdout', text: [`2 ${join(root, 'node_modules', 'tslab', 'bin', 'tslab')}\n`] }]);
    assert.is(out.metadata.kernelspec.name, name);
    // the kernel reports the language_info the notebooks hold: running and saving a notebook leaves its metadata as is
    for (const f of notebooks) assert.equal(nbMetadata(f).language_info, out.metadata.language_info, `${f}: language_info as the kernel reports it`);

    // control: in a Jupyter folder where `npm run kernel` did not run, the same notebook finds no kernel
    const bare = freshJupyter();
    if (!(name in kernelspecs(bare).kernelspecs)) {
      const f = nbconvertExecute(throwawayNotebook(nbMetadata('02-baseline-vs-deep.ipynb')), bare);
      assert.is.not(f.status, 0, 'nbconvert fails without the kernel registered');
      assert.match(f.stderr, `No such kernel named ${name}`);
    }
  });
}

test.run();
