/**
 * The human-face rule (src/predict/human.ts) on hand-made landmark sets, then on real photos: the cat photo gives a
 * face without the rule (`--no-human-check`) and none with it (the default), recorded in `--json`; every hand-marked
 * human face of the measured photos (test/predict/measured-photos.ts: face-api's sample1-6, astronaut, Grace Hopper,
 * smile.jpg) is still found with the rule on, and no box is left without a hand-marked face there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { decodeForDetection, detectFaces, detectFacesChecked } from '../../src/predict/detect';
import { checkHumanFace, MIN_MOUTH_Y, mouthPosition, tinyAgreement, TINY_MIN_SCORE, type Point } from '../../src/predict/human';
import { tempDir } from '../helpers/fixtures';
import { cli, matchFaces, writeModelFolder } from './helpers';
import { assetsDir, photoPath, PHOTOS } from './measured-photos';

/** 68 landmarks all at (50, y) except the outer lip (48-59) at mouthY. */
function landmarks(mouthY: number, y = 10): Point[] {
  return Array.from({ length: 68 }, (_, i) => ({ x: 50, y: i >= 48 && i <= 59 ? mouthY : y }));
}
const BOX = { left: 0, top: 100, width: 100, height: 200 };

test('mouthPosition: mean of points 48-59 below the box top, as a fraction of the box height', () => {
  assert.is(mouthPosition(BOX, landmarks(250)), 0.75); // (250 - 100) / 200
  const pts = landmarks(0);
  for (let i = 48; i <= 59; i++) pts[i] = { x: 0, y: 100 + (i - 48) * 20 }; // y 100 ... 320, mean 210
  assert.is(mouthPosition(BOX, pts), 0.55); // (210 - 100) / 200
  assert.throws(() => mouthPosition(BOX, landmarks(200).slice(1)), /expected 68 landmarks, got 67/);
});

test('tinyAgreement: best score among boxes with IoU >= 0.3; checkHumanFace needs both parts', () => {
  const same = { box: { ...BOX }, score: 0.4 };
  const shifted = { box: { left: 60, top: 100, width: 100, height: 200 }, score: 0.9 }; // IoU = 40*200 / (40000 - 8000) = 0.25
  assert.is(tinyAgreement(BOX, [shifted]), 0, 'IoU 0.25 < 0.3: not the same face');
  assert.is(tinyAgreement(BOX, [shifted, same]), 0.4);
  const ok = checkHumanFace(BOX, landmarks(100 + 200 * 0.7), [same]);
  assert.equal([ok.human, ok.reason], [true, '']);
  const muzzle = checkHumanFace(BOX, landmarks(100 + 200 * 0.5), [same]);
  assert.is(muzzle.human, false);
  assert.match(muzzle.reason, /mouth at 0\.50 of the box height \(< 0\.6\)/);
  const alone = checkHumanFace(BOX, landmarks(100 + 200 * 0.7), []);
  assert.equal([alone.human, alone.reason], [false, 'second detector found no face there']);
  const weak = checkHumanFace(BOX, landmarks(100 + 200 * 0.7), [{ box: BOX, score: TINY_MIN_SCORE - 0.01 }]);
  assert.is(weak.human, false);
  assert.ok(MIN_MOUTH_Y === 0.6 && TINY_MIN_SCORE === 0.15, 'the thresholds docs/predict-faces.md reports');
});

test('the cat photo: one face before the rule, none after (detector level)', async () => {
  await initBackend('wasm');
  const cat = await decodeForDetection(join(assetsDir, 'cat.jpg'));
  const before = await detectFaces(cat, 0.5, false);
  assert.is(before.length, 1, 'SSD MobileNet v1 reports the cat head as a face');
  assert.ok(before[0].score > 0.9, `score ${before[0].score}`);
  assert.is(before[0].human, undefined, 'no rule values when the rule is off');
  const checked = await detectFacesChecked(cat);
  assert.is(checked.length, 1);
  assert.is(checked[0].human!.human, false, `rejected: ${checked[0].human!.reason}`);
  assert.equal(await detectFaces(cat), [], 'no face with the rule (default)');
});

test('every hand-marked human face of the measured photos is still found with the rule, and nothing else', async () => {
  await initBackend('wasm');
  const humans = PHOTOS.filter((p) => p.faces.length > 0);
  assert.ok(humans.length >= 9 && humans.reduce((s, p) => s + p.faces.length, 0) >= 25, 'the measured human set');
  for (const p of humans) {
    const faces = await detectFaces(await decodeForDetection(photoPath(p)));
    assert.is(
      matchFaces(
        faces.map((f) => f.box),
        p.faces,
      ),
      '',
      `${p.file}: boxes vs hand marks`,
    );
  }
});

test('predict: the cat gives no face by default and one with --no-human-check; --json records the rule; smile.jpg is one face', async () => {
  const work = tempDir('ferlab-human-');
  const model = await writeModelFolder(join(work, 'model'));
  const cat = join(assetsDir, 'cat.jpg');
  const smile = join(assetsDir, 'smile.jpg');
  type Doc = { detector: { humanCheck: { on: boolean; rule: string } | null }; files: Array<{ faces: unknown[] }> };
  const on = cli(['predict', cat, smile, '--model', model, '--json']);
  assert.is(on.status, 0, on.stderr.slice(-1500));
  const docOn = JSON.parse(on.stdout) as Doc;
  assert.equal(
    docOn.files.map((f) => f.faces.length),
    [0, 1],
    'cat: none; smile.jpg: one',
  );
  assert.is(docOn.detector.humanCheck!.on, true);
  assert.match(docOn.detector.humanCheck!.rule, /landmarks.*Tiny Face Detector/);
  assert.match(on.stderr, /cat\.jpg: no face found/);
  const off = cli(['predict', cat, '--model', model, '--json', '--no-human-check']);
  assert.is(off.status, 0, off.stderr.slice(-1500));
  const docOff = JSON.parse(off.stdout) as Doc;
  assert.is(docOff.files[0].faces.length, 1, 'the cat head is a face without the rule');
  assert.is(docOff.detector.humanCheck!.on, false);
});

test.run();
