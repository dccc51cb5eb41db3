/**
 * What a distributed sweep's worker accepts from Redis and what it sends back (src/sweep/queue.ts), without Redis:
 * every job is checked against the run-config schema (a climbing or absolute run name, an unknown label set, an unknown
 * key, `initFrom` are refused with the reason), a valid job comes out unchanged (key order included, so the worker
 * trains exactly what the coordinator sent); the files returned are the run folder's regular files only (no symlink
 * followed, no checkpoint), under a size cap; the coordinator writes returned files only at plain paths inside the run
 * folder.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, resolveRuns, type RunConfig } from '../../src/exp/config';
import { loadExperiment } from '../../src/exp/experiment';
import { parseTrialJob, readRecordFiles, writeRecordFiles } from '../../src/sweep/queue';
import { tempDir } from '../helpers/fixtures';

const run: RunConfig = { experiment: 'sweep-x', name: 'trial-0003', model: 'deep', labels: 'majority', ...DEFAULT_SETTINGS };
const job = (over: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
  sweep: 'sweep-x-quick-1',
  run: { ...run, ...over },
  decide: true,
  ...top,
});

test('jobs that name folders outside the worker, bad settings or files of the worker are refused with the reason', () => {
  const refused = (data: unknown, why: RegExp) =>
    assert.throws(
      () => parseTrialJob('j1', data),
      (e: Error) => e.name === 'UnrecoverableError' && why.test(e.message),
    );
  refused(job({ name: '../x' }), /job j1: refused: not a valid trial job: .*no '\.\.'.*run\.name/);
  refused(job({ name: '/etc/cron.d/x' }), /letters, digits.*run\.name/);
  refused(job({ name: 'a/b' }), /run\.name/);
  refused(job({ name: '..' }), /run\.name/);
  refused(job({ experiment: '../../e' }), /run\.experiment/);
  refused(job({ labels: 'bogus' }), /run\.labels/);
  refused(job({ epochs: -1 }), /run\.epochs/);
  refused(job({ extra: 1 }), /extra/);
  refused(job({}, { evil: true }), /evil/);
  refused({ sweep: 's' }, /run/);
  refused(job({ initFrom: '/home/someone/secret-model' }), /sets initFrom .*a model on the worker's disk/);
});

test('a valid job comes out exactly as sent (the runs of the default experiment and a sweep trial)', () => {
  const runs = [...resolveRuns(loadExperiment('default'), { quick: true }), ...resolveRuns(loadExperiment('ferplus-modes')), run];
  for (const r of runs) {
    const data = { sweep: 's', run: r, decide: false };
    assert.is(JSON.stringify(parseTrialJob('j', data)), JSON.stringify(data), r.name);
  }
});

test('the worker returns the regular files of its run folder only: no symlink, no checkpoint, at most the cap', () => {
  const dir = tempDir('ferlab-record-');
  mkdirSync(join(dir, 'model'));
  writeFileSync(join(dir, 'metrics.json'), '{}');
  writeFileSync(join(dir, 'model', 'weights.bin'), Buffer.alloc(100, 1));
  writeFileSync(join(dir, 'checkpoint.bin'), 'x');
  const secret = join(tempDir('ferlab-outside-'), 'secret');
  writeFileSync(secret, 'outside');
  symlinkSync(secret, join(dir, 'status.json'));
  symlinkSync(join(secret, '..'), join(dir, 'linkdir'));
  const skipped: string[] = [];
  const files = readRecordFiles(dir, (rel) => skipped.push(rel));
  assert.equal(Object.keys(files).sort(), ['metrics.json', 'model/weights.bin']);
  assert.equal(skipped.sort(), ['linkdir', 'status.json']);
  assert.throws(() => readRecordFiles(dir, () => {}, 64), /holds more than .* MiB, the most a worker returns through Redis/);
});

test('the coordinator writes returned files only at plain paths inside the run folder', () => {
  const base = tempDir('ferlab-write-');
  const rdir = join(base, 'sweep', 'trial-0000');
  for (const bad of ['../x', '../../x', '/abs', 'a/../../x', 'a//b', '.hidden/../..', '']) {
    assert.throws(() => writeRecordFiles(rdir, { 'metrics.json': 'e30=', [bad]: 'eA==' }), /not a plain path inside the run folder/, bad);
    assert.not.ok(existsSync(rdir), `nothing written for ${JSON.stringify(bad)}`);
  }
  assert.equal(readdirSync(base), []);
  writeRecordFiles(rdir, { 'metrics.json': 'e30=', 'model/model.json': 'e30=' });
  assert.equal(readdirSync(rdir).sort(), ['metrics.json', 'model']);
});

test.run();
