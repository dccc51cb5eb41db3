/**
 * The release machinery (src/export/release.ts) on small folders, no data: SHA256SUMS written in the format
 * coreutils' `sha256sum -c` checks (an implementation ferlab did not write), every kind of tampering found, rebuilt
 * folders compared file by file (build date, machine and paths left out of ferlab.json and the card), and the run
 * record a release is built from checked (experiment, run, not a --quick slice, finished).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CHECKSUM_FILE,
  compareReleases,
  DEFAULT_RELEASE,
  RELEASES,
  releaseRunDir,
  releaseSpec,
  verifyChecksums,
  writeChecksums,
} from '../../src/export/release';
import { tempDir } from '../helpers/fixtures';

const work = tempDir('ferlab-release-');

/** A folder laid out as a release: weights, model.json, ferlab.json with volatile fields, and a card quoting them. */
function releaseFolder(name: string, opts: { date?: string; cpu?: string; weights?: number[] } = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const date = opts.date ?? '2026-12-07T06:00:00.000Z';
  writeFileSync(join(dir, 'weights.bin'), Buffer.from(new Float32Array(opts.weights ?? [0.5, -1.25, 3]).buffer));
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }));
  const meta = {
    classes: ['a', 'b'],
    export: {
      date,
      environment: { cpu: opts.cpu ?? 'AMD EPYC', commit: 'abc' },
      source: { folder: `/home/${name}/runs/x`, runDir: `/home/${name}/runs/x/r`, run: 'r' },
    },
  };
  writeFileSync(join(dir, 'ferlab.json'), JSON.stringify(meta, null, 2));
  writeFileSync(join(dir, 'model-card.md'), `# card\nExported on ${date.slice(0, 10)} from /home/${name}/runs/x/r.\n`);
  return dir;
}

test('SHA256SUMS is what coreutils sha256sum -c accepts, and verifyChecksums agrees', () => {
  const dir = releaseFolder('sums');
  const sums = writeChecksums(dir);
  assert.equal(Object.keys(sums), ['ferlab.json', 'model-card.md', 'model.json', 'weights.bin']);
  const check = spawnSync('sha256sum', ['-c', CHECKSUM_FILE], { cwd: dir, encoding: 'utf8' });
  assert.is(check.status, 0, `sha256sum -c: ${check.stdout}${check.stderr}`);
  assert.is((check.stdout.match(/: OK$/gm) ?? []).length, 4, check.stdout);
  // the checksum of one file computed by coreutils equals ferlab's
  const one = spawnSync('sha256sum', ['weights.bin'], { cwd: dir, encoding: 'utf8' }).stdout.split(' ')[0];
  assert.is(sums['weights.bin'], one);
  const rep = verifyChecksums(dir);
  assert.equal(rep.problems, []);
  assert.is(rep.ok.length, 4);
});

test('verifyChecksums finds a changed byte, a missing file, an unlisted file and a malformed line', () => {
  const dir = releaseFolder('tamper');
  writeChecksums(dir);
  const w = readFileSync(join(dir, 'weights.bin'));
  w[0] ^= 1;
  writeFileSync(join(dir, 'weights.bin'), w);
  assert.is(spawnSync('sha256sum', ['-c', '--quiet', CHECKSUM_FILE], { cwd: dir }).status, 1, 'coreutils sees the change too');
  let rep = verifyChecksums(dir);
  assert.is(rep.problems.length, 1, rep.problems.join('\n'));
  assert.match(rep.problems[0], /^weights\.bin: SHA-256 [0-9a-f]{64}, SHA256SUMS says [0-9a-f]{64}$/);

  const dir2 = releaseFolder('tamper2');
  writeChecksums(dir2);
  writeFileSync(join(dir2, 'extra.txt'), 'x');
  symlinkSync(join(dir2, 'model.json'), join(dir2, 'link.json'));
  cpSync(join(dir2, 'model-card.md'), join(work, 'card-backup.md'));
  spawnSync('rm', [join(dir2, 'model-card.md')]);
  appendFileSync(join(dir2, CHECKSUM_FILE), 'not a checksum line\n');
  rep = verifyChecksums(dir2);
  const text = rep.problems.join('\n');
  assert.match(text, /model-card\.md: listed in SHA256SUMS but missing/);
  assert.match(text, /extra\.txt: not listed in SHA256SUMS/);
  assert.match(text, /SHA256SUMS:5: not a '<sha256> {2}<file>' line/);
  assert.is(rep.problems.length, 3, `the symlink is not a release file and is not reported as one: ${text}`);
  assert.throws(() => verifyChecksums(work), /SHA256SUMS is missing/);
});

test('compareReleases: model files byte for byte, ferlab.json and the card without build date, machine and paths', () => {
  const a = releaseFolder('cmp-a');
  const b = releaseFolder('cmp-b', { date: '2027-01-02T03:04:05.000Z', cpu: 'Intel Xeon' });
  writeChecksums(a);
  writeChecksums(b);
  let r = compareReleases(a, b);
  const verdicts = Object.fromEntries(r.files.map((f) => [f.file, f.verdict]));
  assert.equal(verdicts, { 'ferlab.json': 'same content', 'model-card.md': 'same content', 'model.json': 'identical', 'weights.bin': 'identical' });
  assert.ok(r.ok);

  const c = releaseFolder('cmp-c', { weights: [0.5, -1.25, 3.0000002] });
  r = compareReleases(a, c);
  assert.not.ok(r.ok);
  assert.equal(
    r.files.filter((f) => f.verdict !== 'identical' && f.verdict !== 'same content'),
    [{ file: 'weights.bin', verdict: 'differs' }],
  );
  // a change outside the volatile fields is a difference
  const d = releaseFolder('cmp-d');
  const meta = JSON.parse(readFileSync(join(d, 'ferlab.json'), 'utf8'));
  meta.classes = ['a', 'c'];
  writeFileSync(join(d, 'ferlab.json'), JSON.stringify(meta));
  assert.equal(
    compareReleases(a, d).files.find((f) => f.file === 'ferlab.json'),
    { file: 'ferlab.json', verdict: 'differs' },
  );
});

test('releaseRunDir: the run record of the release, found in its experiment folder; quick, unfinished and other runs refused', () => {
  const spec = releaseSpec('ferlab-fer2013');
  const experimentDir = join(work, 'runs', 'best-cpu-20261207-000000');
  const run = (name: string, experiment: string, slice: Record<string, number | null>, finished = true) => {
    const dir = join(experimentDir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ run: { experiment, name, slice } }));
    if (finished) writeFileSync(join(dir, 'metrics.json'), '{}');
    return dir;
  };
  const full = run('deep-fer', 'best-cpu', { train: null, val: null, test: null });
  assert.is(releaseRunDir(spec, experimentDir), full);
  assert.is(releaseRunDir(spec, full), full);
  assert.throws(() => releaseRunDir(releaseSpec('ferlab-ferplus'), experimentDir), /neither it nor .*deep-ferplus-ce is a run record of best-cpu\/deep-ferplus-ce/);
  run('deep-fer', 'best-cpu', { train: 1280, val: 320, test: 320 });
  assert.throws(() => releaseRunDir(spec, experimentDir), /a --quick \(sliced\) run of best-cpu\/deep-fer/);
  run('deep-fer', 'default', { train: null, val: null, test: null });
  assert.throws(() => releaseRunDir(spec, experimentDir), /is a run record of best-cpu\/deep-fer/);
  const unfinished = join(work, 'unfinished');
  mkdirSync(join(unfinished, 'deep-fer'), { recursive: true });
  writeFileSync(join(unfinished, 'deep-fer', 'config.json'), JSON.stringify({ run: { experiment: 'best-cpu', name: 'deep-fer', slice: {} } }));
  assert.throws(() => releaseRunDir(spec, unfinished), /has not finished \(no metrics\.json\)/);
});

test('the releases: ferlab-ferplus is the default, every name is a folder name, unknown names are refused', () => {
  assert.is(DEFAULT_RELEASE, 'ferlab-ferplus');
  assert.equal(
    RELEASES.map((r) => [r.name, r.experiment, r.run]),
    [
      ['ferlab-ferplus', 'best-cpu', 'deep-ferplus-ce'],
      ['ferlab-fer2013', 'best-cpu', 'deep-fer'],
    ],
  );
  assert.throws(() => releaseSpec('ferlab-nope'), /unknown release 'ferlab-nope': expected one of ferlab-ferplus, ferlab-fer2013/);
});

test.run();
