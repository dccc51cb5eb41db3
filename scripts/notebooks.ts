/**
 * `npm run notebooks`: builds dist/ (notebooks import the compiled API), registers the tslab TypeScript kernel with
 * Jupyter (no global install: the kernel runs this checkout's node_modules/.bin/tslab), and starts Jupyter on
 * notebooks/.
 *
 * `npm run notebooks -- --execute [--quick] [--out DIR]`: executes every notebook headless with the tslab kernel
 * (jupyter nbconvert --execute) into DIR (default test-output/notebooks), failing on the first cell error; with
 * --quick, FERLAB_QUICK=1 makes the notebooks use the experiments' quick slices.
 *
 * Jupyter itself comes from Debian (`apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient
 * jupyter-client`), pip (`pip install notebook nbconvert`) or conda; FERLAB_JUPYTER_PYTHON names the Python that
 * has it when it is not `python3` or /usr/bin/python3.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

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

/** The Python whose Jupyter we register the kernel with. */
function jupyterPython(): string {
  for (const py of [process.env.FERLAB_JUPYTER_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(py, ['-c', 'import jupyter_client, nbconvert'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  console.error(
    'No Python with Jupyter (jupyter_client, nbconvert) found. Install it: apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client (Debian/Ubuntu), or pip install notebook nbconvert; or set FERLAB_JUPYTER_PYTHON.',
  );
  process.exit(1);
}

const py = jupyterPython();
run(process.execPath, ['--require', 'tsx/cjs', join(root, 'scripts', 'build.ts')]);
run(process.execPath, [
  join(root, 'node_modules', 'tslab', 'bin', 'tslab'),
  'install',
  `--python=${py}`,
  `--binary=${join(root, 'node_modules', '.bin', 'tslab')}`,
]);

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
      [
        '-m',
        'jupyter',
        'nbconvert',
        '--to',
        'notebook',
        '--execute',
        '--ExecutePreprocessor.kernel_name=tslab',
        '--ExecutePreprocessor.timeout=1800',
        '--output-dir',
        out,
        join(root, 'notebooks', nb),
      ],
      env,
    );
    console.log(`  ok in ${((Date.now() - t0) / 1000).toFixed(0)} s -> ${join(out, nb)}`);
  }
} else {
  run(py, ['-m', 'notebook', '--notebook-dir', join(root, 'notebooks')]);
}
