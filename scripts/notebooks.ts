/**
 * `npm run notebooks`: builds dist/ (notebooks import the compiled API), registers the ferlab Jupyter kernel (tslab's
 * TypeScript kernel under the name `ferlab`, see scripts/kernel.ts; no global install: the kernel runs this checkout's
 * node_modules/tslab) and starts Jupyter on notebooks/.
 *
 * `npm run notebooks -- --execute [--quick] [--out DIR]`: executes every notebook headless (jupyter nbconvert
 * --execute, with the kernel the notebook's metadata names: ferlab) into DIR (default test-output/notebooks), failing
 * on the first cell error; with --quick, FERLAB_QUICK=1 makes the notebooks use the experiments' quick slices.
 *
 * Jupyter itself comes from Debian (`apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient
 * jupyter-client`), pip (`pip install notebook nbconvert`) or conda; FERLAB_JUPYTER_PYTHON names the Python that
 * has it when it is not `python3` or /usr/bin/python3.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { jupyterPython, registerKernel } from './kernel';

const root = join(__dirname, '..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

function run(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, env });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}

let py: string;
try {
  py = jupyterPython(['jupyter_client', 'nbconvert']);
  run(process.execPath, ['--require', 'tsx/cjs', join(root, 'scripts', 'build.ts')]);
  registerKernel(py, root);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}

if (flag('--execute')) {
  const out = option('--out') ?? join(root, 'test-output', 'notebooks');
  mkdirSync(out, { recursive: true });
  const env = { ...process.env, ...(flag('--quick') ? { FERLAB_QUICK: '1' } : {}) };
  const notebooks = readdirSync(join(root, 'notebooks'))
    .filter((f) => f.endsWith('.ipynb'))
    .sort();
  for (const nb of notebooks) {
    console.log(`executing notebooks/${nb}${flag('--quick') ? ' (quick)' : ''}`);
    const t0 = Date.now();
    run(
      py,
      ['-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.timeout=1800', '--output-dir', out, join(root, 'notebooks', nb)],
      env,
    );
    console.log(`  ok in ${((Date.now() - t0) / 1000).toFixed(0)} s -> ${join(out, nb)}`);
  }
} else {
  run(py, ['-m', 'notebook', '--notebook-dir', join(root, 'notebooks')]);
}
