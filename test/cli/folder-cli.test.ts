/**
 * The command line on a folder dataset with an unreadable image (generated images, no real data needed): without
 * `--skip-bad` the experiment stops with an error naming the file; with it, the image is skipped in the main thread and in
 * the worker threads alike and counted in every run record. Then `exp --init-from <run> --freeze conv`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FER_CLASSES } from '../../src/data/classes';
import { tempDir } from '../helpers/fixtures';
import { runCli } from '../helpers/cli';
import { encode, gray48, writeTree } from '../data/folder-fixtures';

/** `ferlab ARGS` with FERLAB_SKIP_BAD cleared, so that only --skip-bad turns skipping on. */
const cli = (args: string[]) => runCli(args, { env: { FERLAB_SKIP_BAD: '' } });

test('exp on a folder dataset: an unreadable image stops it; --skip-bad skips it in every worker and counts it in the run records; --init-from', async () => {
  const data = tempDir();
  const files: Record<string, Buffer | string> = {};
  let seed = 1;
  for (const c of FER_CLASSES) {
    for (let k = 0; k < 14; k++) files[`train/${c}/${c}${k}.png`] = await encode(gray48(seed++));
    for (let k = 0; k < 3; k++) files[`test/${c}/${c}${k}.png`] = await encode(gray48(seed++));
  }
  const jpeg = await encode(gray48(999), 'jpeg');
  files['train/happy/bad.jpg'] = jpeg.subarray(0, 200);
  files['train/notes.txt'] = 'not an image';
  writeTree(data, files);
  const common = ['--data-dir', data, '--cache-dir', tempDir(), 'exp', 'default', '--quick', '--only', 'baseline-fer,deep-fer', '--no-progress'];

  const strict = cli([...common, '--runs-dir', tempDir()]);
  assert.is(strict.status, 1, strict.out);
  assert.match(strict.out, /train\/happy\/bad\.jpg: .*cannot read it as an image/);
  assert.match(strict.out, /--skip-bad/);

  const runsDir = tempDir();
  const skip = cli(['--skip-bad', ...common, '--workers', '2', '--runs-dir', runsDir]);
  assert.is(skip.status, 0, skip.out);
  assert.match(skip.out, /1 unreadable images SKIPPED/);
  const experiment = join(runsDir, readdirSync(runsDir)[0]);
  for (const run of ['baseline-fer', 'deep-fer']) {
    const config = JSON.parse(readFileSync(join(experiment, run, 'config.json'), 'utf8'));
    assert.is(config.data.kind, 'folder');
    assert.is(config.data.skippedImages.count, 1, `${run}: skipped images in config.json`);
    assert.is(config.data.skippedImages.files[0].file, 'train/happy/bad.jpg');
    assert.is(config.data.ignoredFiles.count, 1, 'notes.txt');
    assert.is(config.labelSet.sizes.train + config.labelSet.sizes.val, 7 * 14, 'the good training images, bad.jpg left out');
    const metrics = JSON.parse(readFileSync(join(experiment, run, 'metrics.json'), 'utf8'));
    assert.is(metrics.skippedImages, 1, `${run}: skipped images in metrics.json`);
  }

  // --init-from / --freeze: the fine-tuning settings, recorded with the run and its starting model
  const runs2 = tempDir();
  const tuned = cli(['--skip-bad', ...common, '--only', 'baseline-fer', '--init-from', join(experiment, 'baseline-fer'), '--freeze', 'conv', '--runs-dir', runs2]);
  assert.is(tuned.status, 0, tuned.out);
  const rdir = join(runs2, readdirSync(runs2)[0], 'baseline-fer');
  const config = JSON.parse(readFileSync(join(rdir, 'config.json'), 'utf8'));
  assert.is(config.run.initFrom, join(experiment, 'baseline-fer'));
  assert.is(config.run.freeze, 'conv');
  const init = JSON.parse(readFileSync(join(rdir, 'init.json'), 'utf8'));
  assert.is(init.dir, join(experiment, 'baseline-fer', 'model'));
  assert.is(init.model, 'baseline');
  assert.is(init.headReplaced, false);
  assert.ok(init.before.mapping.identity);
});

test.run();
