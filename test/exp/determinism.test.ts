/**
 * Determinism across processes: the same command run twice, in two separate Node processes, gives identical run
 * records. `ferlab exp --quick --only deep-ferplus --set epochs=1 --workers 1` (one epoch on the quick slice of the
 * real data; about half a minute each) runs twice one after the other; then, in the two run folders
 * `<runs-dir>/default-quick-<stamp>/deep-ferplus/`:
 * - metrics.json: PublicTest (`val`) and PrivateTest (`test`) metrics identical, and every other field too except
 *   the timings (trainSeconds, wallSeconds, imagesPerSec) and the folder path (dir);
 * - predictions.json: identical (labels, predictions, probabilities);
 * - epochs.jsonl: identical line by line except the timing fields trainSeconds, valSeconds, imagesPerSec.
 * Skipped (with the reason) without the real data; under CI=true missing data fails (test/helpers/realdata.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';
import { runCli, experimentDir } from '../helpers/cli';

const dataDir = realDataDir();

/** Fields that measure time, per file: they differ between two otherwise identical runs. */
const EPOCH_TIMING = ['trainSeconds', 'valSeconds', 'imagesPerSec'];
const METRICS_VARYING = ['trainSeconds', 'wallSeconds', 'imagesPerSec', 'dir'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** JSON paths where a and b differ (up to 10), for messages. */
function differences(a: Json, b: Json, path = '$', out: string[] = []): string[] {
  if (out.length >= 10) return out;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    if (!Object.is(a, b)) out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    return out;
  }
  if (Array.isArray(a) !== Array.isArray(b)) {
    out.push(`${path}: array vs object`);
    return out;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const x = (a as Record<string, Json>)[k];
    const y = (b as Record<string, Json>)[k];
    if (x === undefined || y === undefined) out.push(`${path}.${k}: ${x === undefined ? 'missing in the first' : 'missing in the second'}`);
    else differences(x, y, `${path}.${k}`, out);
  }
  return out;
}

function without(o: Record<string, Json>, keys: string[]): Record<string, Json> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** Runs the CLI once in a fresh process; returns the run folder of deep-ferplus. */
function runOnce(dataDir: string): string {
  const runsDir = tempDir('ferlab-determinism-');
  const args = [
    '--data-dir',
    dataDir,
    'exp',
    '--quick',
    '--only',
    'deep-ferplus',
    '--set',
    'epochs=1',
    '--workers',
    '1',
    '--runs-dir',
    runsDir,
    '--no-progress',
  ];
  const r = runCli(args);
  assert.is(r.status, 0, `ferlab ${args.join(' ')}: exit ${r.status}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  // the experiment folder is <experiment>-quick-<stamp>, and the only one
  const dir = join(experimentDir(runsDir, 'default-quick-'), 'deep-ferplus');
  for (const f of ['metrics.json', 'predictions.json', 'epochs.jsonl']) assert.ok(existsSync(join(dir, f)), `${dir}/${f} written`);
  return dir;
}

if (!dataDir) {
  skipFile(noRealDataReason());
} else {
  test('two processes, same command: identical metrics, predictions and epoch records (timings aside)', () => {
    const a = runOnce(dataDir);
    const b = runOnce(dataDir);
    const read = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

    const ma = read(a, 'metrics.json');
    const mb = read(b, 'metrics.json');
    assert.ok(ma.val && ma.test, 'metrics.json has val and test metrics');
    assert.ok(ma.test.accuracy >= 0 && ma.test.accuracy <= 1, `test accuracy ${ma.test.accuracy} in [0, 1]`);
    assert.equal(differences(ma.val, mb.val), [], 'PublicTest metrics');
    assert.equal(differences(ma.test, mb.test), [], 'PrivateTest metrics');
    assert.equal(differences(without(ma, METRICS_VARYING), without(mb, METRICS_VARYING)), [], 'the rest of metrics.json');

    const pa = read(a, 'predictions.json');
    assert.ok(pa.pred.length > 0 && pa.prob.length === pa.pred.length, 'predictions.json has per-image predictions');
    assert.equal(differences(pa, read(b, 'predictions.json')), [], 'predictions.json');

    const lines = (dir: string) =>
      readFileSync(join(dir, 'epochs.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, Json>);
    const ea = lines(a);
    const eb = lines(b);
    assert.is(ea.length, 1, 'one line for the one epoch');
    assert.is(eb.length, ea.length);
    for (const k of EPOCH_TIMING) assert.ok(k in ea[0], `epochs.jsonl has the timing field ${k} (update EPOCH_TIMING if it was renamed)`);
    ea.forEach((e, i) => assert.equal(differences(without(e, EPOCH_TIMING), without(eb[i], EPOCH_TIMING)), [], `epochs.jsonl line ${i + 1}`));
    assert.ok(Number.isFinite(ea[0].trainLoss as number), 'a finite training loss');
  });
}

test.run();
