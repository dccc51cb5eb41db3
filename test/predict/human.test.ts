/**
 * The human-face rule (src/predict/human.ts) on hand-made landmark sets, then on real photos: the cat photo gives a
 * face without the rule (`--no-human-check`) and none with it (the default), recorded in `--json`; the dog, calf and
 * pony photos (one SSD face each) and the coffee cup give none with it (the primate photos still give one: a known
 * miss, docs/predict-faces.md); every hand-marked
 * human face of the measured photos (test/predict/measured-photos.ts: face-api's sample1-6, astronaut, Grace Hopper,
 * smile.jpg) is still found with the rule on, and no box is left without a hand-marked face there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { decodeForDetection, detectFaces, detectFacesChecked } from '../../src/predict/detect';
import { checkHumanFace, landmarkPositions, MIN_MOUTH_Y, MIN_NOSE_Y, type Point } from '../../src/predict/human';
import { tempDir } from '../helpers/fixtures';
import { cli, matchFaces, writeModelFolder } from './helpers';
import { assetsDir, photoPath, PHOTOS } from './measured-photos';

/** 68 landmarks all at (50, y), except the nose tip (30) at noseY and the outer lip (48-59) at mouthY. */
function landmarks(noseY: number, mouthY: number, y = 110): Point[] {
  return Array.from({ length: 68 }, (_, i) => ({ x: 50, y: i === 30 ? noseY : i >= 48 && i <= 59 ? mouthY : y }));
}
const BOX = { left: 0, top: 100, width: 100, height: 200 };
const at = (f: number) => BOX.top + f * BOX.height;

test('landmarkPositions: nose tip (30) and mean of the outer lip (48-59) below the box top, as fractions of its height', () => {
  assert.equal(landmarkPositions(BOX, landmarks(220, 250)), { noseY: 0.6, mouthY: 0.75 }); // (220 - 100) / 200, (250 - 100) / 200
  const pts = landmarks(200, 0);
  for (let i = 48; i <= 59; i++) pts[i] = { x: 0, y: 100 + (i - 48) * 20 }; // y 100 ... 320, mean 210
  assert.is(landmarkPositions(BOX, pts).mouthY, 0.55); // (210 - 100) / 200
  assert.throws(() => landmarkPositions(BOX, landmarks(200, 250).slice(1)), /expected 68 landmarks, got 67/);
  assert.throws(() => landmarkPositions({ ...BOX, height: 0 }, landmarks(200, 250)), /box height must be > 0/);
});

test('checkHumanFace: both the nose tip and the mouth low enough in the box', () => {
  assert.ok(MIN_NOSE_Y === 0.5 && MIN_MOUTH_Y === 0.6, 'the thresholds docs/predict-faces.md reports');
  const human = checkHumanFace(BOX, landmarks(at(0.6), at(0.75)));
  assert.equal([human.human, human.reason], [true, '']);
  assert.is(checkHumanFace(BOX, landmarks(at(0.5), at(0.6))).human, true, 'exactly at both thresholds');
  const muzzle = checkHumanFace(BOX, landmarks(at(0.45), at(0.55)));
  assert.is(muzzle.human, false);
  assert.is(muzzle.reason, 'nose tip at 0.45 of the box height (< 0.5); mouth at 0.55 of the box height (< 0.6)');
  const noseHigh = checkHumanFace(BOX, landmarks(at(0.49), at(0.7)));
  assert.equal([noseHigh.human, noseHigh.reason], [false, 'nose tip at 0.49 of the box height (< 0.5)']);
  const mouthHigh = checkHumanFace(BOX, landmarks(at(0.55), at(0.59)));
  assert.equal([mouthHigh.human, mouthHigh.reason], [false, 'mouth at 0.59 of the box height (< 0.6)']);
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

test('the photos of animals that are not primates (cat, dog, calf, pony) and the coffee cup give no face with the rule', async () => {
  await initBackend('wasm');
  // known misses, stated in docs/predict-faces.md: the macaque, proboscis-monkey and lemur photos still give a face
  const primates = new Set(['macaque.jpg', 'proboscis-monkey.jpg', 'lemur.jpg']);
  const animals = PHOTOS.filter((p) => p.faces.length === 0 && !primates.has(p.file)).map((p) => p.file);
  assert.equal(animals, ['cat.jpg', 'dog.jpg', 'calf.jpg', 'pony.jpg', 'coffee.jpg'], 'the photos without a human face, primates aside');
  for (const file of animals) {
    const image = await decodeForDetection(join(assetsDir, file));
    const before = await detectFaces(image, 0.5, false);
    assert.is(before.length, file === 'coffee.jpg' ? 0 : 1, `${file}: SSD detections without the rule (docs/predict-faces.md table)`);
    const after = await detectFaces(image);
    assert.equal(
      after.map((d) => d.box),
      [],
      `${file}: no face expected with the rule, got ${after.length}`,
    );
  }
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
  assert.match(docOn.detector.humanCheck!.rule, /68-point landmarks.*nose tip >= 0\.5 and mouth centre >= 0\.6/);
  assert.match(on.stderr, /cat\.jpg: no face found/);
  const off = cli(['predict', cat, '--model', model, '--json', '--no-human-check']);
  assert.is(off.status, 0, off.stderr.slice(-1500));
  const docOff = JSON.parse(off.stdout) as Doc;
  assert.is(docOff.files[0].faces.length, 1, 'the cat head is a face without the rule');
  assert.is(docOff.detector.humanCheck!.on, false);
});

test.run();
