/**
 * Executes every notebook headless (`npm run notebooks -- --execute --quick`: jupyter nbconvert --execute,
 * FERLAB_QUICK=1) on the real data, and checks that each one ran every code cell without error and drew plotly figures.
 * The kernel is the one each notebook's metadata names (ferlab, tslab's TypeScript kernel), registered by the script
 * itself into a fresh JUPYTER_DATA_DIR, so an earlier registration in the user's Jupyter folder cannot stand in for it.
 * Needs Jupyter (Debian: jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client; .ci/run installs them);
 * skipped with a message where Jupyter is missing, except under CI where that is a failure.
 * test-time-limit: 720
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT as root, runTsx } from './helpers/cli';
import { noRealDataReason, realDataDir } from './helpers/realdata';
import { skipFile, skipFileUnlessCI } from './helpers/skip';
import { tempDir } from './helpers/fixtures';
import { sharedQuickExperiment } from './helpers/quick-experiment';
import { sharedQuickSweep } from './helpers/quick-sweep';

const hasJupyter = ['python3', '/usr/bin/python3'].some((py) => spawnSync(py, ['-c', 'import jupyter_client, nbconvert'], { stdio: 'ignore' }).status === 0);
const dataDir = realDataDir();

if (!hasJupyter) {
  skipFileUnlessCI(
    'Jupyter is installed',
    'Jupyter not found (apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client; .ci/run installs them)',
  );
} else if (!dataDir) {
  skipFile(noRealDataReason());
} else {
  test('all five notebooks execute with zero cell errors on the quick slice and draw plotly figures', async () => {
    const out = join(root, 'test-output', 'notebooks');
    // the runs folder holds the quick default experiment and the tests' quick sweep (each trained once per test run,
    // test/helpers/quick-experiment.ts, quick-sweep.ts), as after `npm run exp -- --quick` and a quick sweep:
    // notebooks 02-04 read the experiment and 05 the sweep instead of training them again
    const runsDir = tempDir('ferlab-nb-runs-');
    await sharedQuickExperiment(dataDir, { runsDir });
    await sharedQuickSweep(dataDir, { runsDir });
    // FERLAB_BACKEND=wasm: the notebooks' initBackend() (auto) on the backend the shared runs were trained on, so that
    // notebook 04's reloaded model reproduces the recorded accuracy exactly (auto would pick native where it is built)
    const r = runTsx(join(root, 'scripts', 'notebooks.ts'), ['--execute', '--quick', '--out', out], {
      env: { FERLAB_DATA_DIR: dataDir, FERLAB_RUNS_DIR: runsDir, JUPYTER_DATA_DIR: tempDir('ferlab-nb-jupyter-'), FERLAB_BACKEND: 'wasm' },
      maxBuffer: 256 << 20, // nbconvert's progress and the notebooks' outputs
    });
    assert.is(r.status, 0, `notebook execution failed:\n${r.out.slice(-4000)}`);
    const sources = readdirSync(join(root, 'notebooks')).filter((f) => f.endsWith('.ipynb'));
    assert.equal(sources.sort(), [
      '01-data-fer-vs-ferplus.ipynb',
      '02-baseline-vs-deep.ipynb',
      '03-confusion-analysis.ipynb',
      '04-export-and-predict.ipynb',
      '05-sweeps.ipynb',
    ]);
    for (const f of sources) {
      const nb = JSON.parse(readFileSync(join(out, f), 'utf8'));
      assert.is(nb.cells[0].cell_type, 'markdown', `${f} opens with a markdown cell`);
      assert.match(nb.cells[0].source.join(''), /\*\*Question\.\*\*/, `${f} says what question it answers`);
      const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
      const outputs = code.flatMap((c: { outputs: Array<{ output_type: string; data?: Record<string, unknown> }> }) => c.outputs);
      assert.not.ok(
        outputs.some((o: { output_type: string }) => o.output_type === 'error'),
        `${f}: no error outputs`,
      );
      // tslab leaves execution_count empty; every code cell of these notebooks prints or displays something
      const silent = code.filter((c: { outputs: unknown[] }) => c.outputs.length === 0).length;
      assert.is(silent, 0, `${f}: ${silent} code cell(s) produced no output (did they run?)`);
      const html = outputs.map((o: { data?: Record<string, unknown> }) => String(o.data?.['text/html'] ?? '')).join('\n');
      assert.match(html, /Plotly\.newPlot/, `${f} shows plotly figures`);
    }
    // notebook 04 re-scored the reloaded model and printed the comparison
    const nb4 = readFileSync(join(out, '04-export-and-predict.ipynb'), 'utf8');
    assert.match(nb4, /reloaded model: [\d.]+% on \d+ images; the run reported [\d.]+%/);
    assert.not.match(
      nb4,
      // the printed line names the backend; the cell's source (also in the file) has `${backend.name}` there
      /WARNING: the saved model does not reproduce its recorded accuracy \(backend [a-z-]+\)/,
      `on the training backend (wasm) it does: ${nb4.match(/reloaded model:[^"]*/)?.[0]} ${nb4.match(/WARNING[^"]*/)?.[0]}`,
    );
    // and checked the released model (models/ferlab-ferplus) against its SHA256SUMS
    assert.match(nb4, /models\/ferlab-ferplus: 6 files match SHA256SUMS/);
    // and scored it in LiteRT.js among the formats (a row of the table, not the catch's message)
    assert.match(nb4, /TFLite \(LiteRT\.js\)<\/td><td>[\d.]+%<\/td>/);
  });
}

test.run();
