/**
 * The human-face rule (src/predict/human.ts, both stages) on hand-made landmark sets and hand-made COCO detection lists
 * (src/predict/coco.ts), then on real photos: the cat photo gives a face without the rule (`--no-human-check`) and
 * none with it (the default), recorded in `--json`; the dog, calf and pony photos (one SSD face each) and the coffee
 * cup give none with it; the macaque, proboscis-monkey and lemur photos pass the landmark stage and are rejected by the
 * COCO stage (an animal, no person, where the face is); every hand-marked human face of the measured photos
 * (test/predict/measured-photos.ts: face-api's sample1-6, astronaut, Grace Hopper, smile.jpg) is still found with the
 * rule on, and no box is left without a hand-marked face there. CenterNet is loaded once for the file (detect.ts
 * caches it; the `predict` runs are their own processes).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { decodeForDetection, detectFaces, detectFacesChecked } from '../../src/predict/detect';
import { checkCocoPerson, cocoDetections, COCO_MIN_SCORE, type CocoDetection } from '../../src/predict/coco';
import { checkHumanFace, landmarkPositions, MIN_MOUTH_Y, MIN_NOSE_Y, withCocoCheck, type Point } from '../../src/predict/human';
import { tempDir } from '../helpers/fixtures';
import { cli, matchFaces, writeModelFolder } from './helpers';
import { assetsDir, photoPath, PHOTOS } from './measured-photos';

/** 68 landmarks all at (50, y), except the nose tip (30) at noseY and the outer lip (48-59) at mouthY. */
function landmarks(noseY: number, mouthY: number, y = 110): Point[] {
  return Array.from({ length: 68 }, (_, i) => ({ x: 50, y: i === 30 ? noseY : i >= 48 && i <= 59 ? mouthY : y }));
}
const BOX = { left: 0, top: 100, width: 100, height: 200 };

/**
 * Each photo of assets/ decoded, run through the SSD without the rule and through detectFacesChecked (both stages)
 * once for the whole file: the tests below read the same photos (the cat, the primates), and the results of a
 * deterministic detector on the same pixels do not change between calls.
 */
const once = <T>(f: (file: string) => Promise<T>) => {
  const memo = new Map<string, Promise<T>>();
  return (file: string) => memo.get(file) ?? (memo.set(file, f(file)), memo.get(file)!);
};
const decoded = once((file) => decodeForDetection(join(assetsDir, file)));
const withoutRule = once(async (file) => detectFaces(await decoded(file), 0.5, false));
const checkedOf = once(async (file) => detectFacesChecked(await decoded(file)));
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

test('cocoDetections: rows of the 512 x 512 input scaled to the image, the floor applied, malformed rows refused', () => {
  const rows = [
    [0, 0, 256, 512, 0.9, 0], // person: left half of the input
    [128, 64, 384, 320, 0.3, 15], // cat
    [10, 10, 20, 20, 0.04, 16], // dog below the floor 0.05
    [0, 0, 512, 512, 0.05, 77], // teddy bear exactly at the floor
  ];
  // image 1024 x 256: x scaled by 2, y by 0.5
  assert.equal(cocoDetections(rows, 1024, 256), [
    { box: { left: 0, top: 0, width: 512, height: 256 }, score: 0.9, classIndex: 0 },
    { box: { left: 256, top: 32, width: 512, height: 128 }, score: 0.3, classIndex: 15 },
    { box: { left: 0, top: 0, width: 1024, height: 256 }, score: 0.05, classIndex: 77 },
  ]);
  assert.is(COCO_MIN_SCORE, 0.05, 'the floor docs/predict-faces.md reports');
  assert.is(cocoDetections(rows, 512, 512, 0).length, 4, 'floor 0 keeps every row');
  assert.throws(() => cocoDetections([[1, 2, 3, 4, 0.5]], 512, 512), /6 numbers .* got 5/);
  assert.throws(() => cocoDetections(rows, 0, 512), /image size must be positive, got 0 x 512/);
});

test('checkCocoPerson: a person containing the face centre, scoring above every animal that contains it', () => {
  const FACE = { left: 100, top: 100, width: 50, height: 50 }; // centre (125, 125)
  const det = (left: number, top: number, right: number, bottom: number, score: number, classIndex: number): CocoDetection => ({
    box: { left, top, width: right - left, height: bottom - top },
    score,
    classIndex,
  });
  const person = det(90, 80, 160, 400, 0.3, 0);
  const ok = checkCocoPerson(FACE, [person]);
  assert.equal(ok, { human: true, person: 0.3, animal: 0, animalClass: '', reason: '' });
  // a monkey: the best animal (dog 0.43) beats the best person (0.13)
  const monkey = checkCocoPerson(FACE, [det(0, 0, 200, 200, 0.13, 0), det(50, 50, 300, 300, 0.43, 16), det(60, 60, 250, 250, 0.16, 16)]);
  assert.equal(monkey, { human: false, person: 0.13, animal: 0.43, animalClass: 'dog', reason: 'COCO dog 0.43 >= person 0.13' });
  // a tie is not a person
  assert.is(checkCocoPerson(FACE, [det(0, 0, 200, 200, 0.3, 0), det(0, 0, 200, 200, 0.3, 14)]).reason, 'COCO bird 0.30 >= person 0.30');
  // no person at all: rejected, with the animal named
  assert.equal(checkCocoPerson(FACE, [det(0, 0, 200, 200, 0.3, 18)]), {
    human: false,
    person: 0,
    animal: 0.3,
    animalClass: 'sheep',
    reason: 'no COCO person (score >= 0.05) contains the face; sheep 0.30',
  });
  assert.is(checkCocoPerson(FACE, []).reason, 'no COCO person (score >= 0.05) contains the face', 'nothing detected: rejected');
  // boxes that miss the centre, detections below the floor and classes that are neither person nor animal do not count
  const ignored = [
    det(126, 0, 400, 400, 0.9, 16), // starts right of the centre (125)
    det(0, 0, 124, 400, 0.9, 15), // ends left of it
    det(0, 0, 400, 400, 0.049, 17), // below the floor
    det(0, 0, 400, 400, 0.8, 59), // a bed
  ];
  assert.equal(checkCocoPerson(FACE, [person, ...ignored]), ok);
  // a box whose edge passes through the centre contains it; teddy bear (77) counts as an animal
  assert.is(checkCocoPerson(FACE, [person, det(125, 125, 300, 300, 0.31, 77)]).reason, 'COCO teddy bear 0.31 >= person 0.30');
  // the floor as a parameter: at 0.35 the person of 0.3 is ignored
  assert.is(checkCocoPerson(FACE, [person], 0.35).human, false);
});

test('withCocoCheck: a human face needs both stages; the reasons of both are kept', () => {
  const pass = checkHumanFace(BOX, landmarks(at(0.6), at(0.75)));
  const fail = checkHumanFace(BOX, landmarks(at(0.45), at(0.7)));
  const person = { human: true, person: 0.5, animal: 0, animalClass: '', reason: '' };
  const animal = { human: false, person: 0.1, animal: 0.4, animalClass: 'dog', reason: 'COCO dog 0.40 >= person 0.10' };
  assert.equal([withCocoCheck(pass, person).human, withCocoCheck(pass, person).reason], [true, '']);
  const a = withCocoCheck(pass, animal);
  assert.equal([a.human, a.landmarks, a.reason, a.coco], [false, true, 'COCO dog 0.40 >= person 0.10', animal]);
  const b = withCocoCheck(fail, person);
  assert.equal([b.human, b.landmarks, b.reason], [false, false, 'nose tip at 0.45 of the box height (< 0.5)']);
  assert.is(withCocoCheck(fail, animal).reason, 'nose tip at 0.45 of the box height (< 0.5); COCO dog 0.40 >= person 0.10');
});

test('the cat photo: one face before the rule, none after (detector level)', async () => {
  await initBackend('wasm');
  const cat = await decoded('cat.jpg');
  const before = await withoutRule('cat.jpg');
  assert.is(before.length, 1, 'SSD MobileNet v1 reports the cat head as a face');
  assert.ok(before[0].score > 0.9, `score ${before[0].score}`);
  assert.is(before[0].human, undefined, 'no rule values when the rule is off');
  const checked = await checkedOf('cat.jpg');
  assert.is(checked.length, 1);
  assert.is(checked[0].human!.human, false, `rejected: ${checked[0].human!.reason}`);
  assert.equal(await detectFaces(cat), [], 'no face with the rule (default)');
});

test('every photo of an animal (cat, dog, calf, pony, macaque, proboscis monkey, lemur) and the coffee cup give no face with the rule', async () => {
  await initBackend('wasm');
  const animals = PHOTOS.filter((p) => p.faces.length === 0).map((p) => p.file);
  assert.equal(
    animals,
    ['cat.jpg', 'dog.jpg', 'calf.jpg', 'pony.jpg', 'macaque.jpg', 'proboscis-monkey.jpg', 'lemur.jpg', 'coffee.jpg'],
    'the photos without a human face',
  );
  for (const file of animals) {
    const before = await withoutRule(file);
    assert.is(before.length, file === 'coffee.jpg' ? 0 : 1, `${file}: SSD detections without the rule (docs/predict-faces.md table)`);
    // what detectFaces keeps with the rule (it filters these on human.human; the cat test and the human photos below
    // call detectFaces itself): the same detections, each rejected
    const checked = await checkedOf(file);
    assert.is(checked.length, before.length, `${file}: the rule sees the same SSD detections`);
    const after = checked.filter((d) => d.human!.human);
    assert.equal(
      after.map((d) => d.box),
      [],
      `${file}: no face expected with the rule, got ${after.length}`,
    );
  }
});

test('the primates pass the landmark stage and are rejected by the COCO stage: an animal and no stronger person at the face', async () => {
  await initBackend('wasm');
  // docs/predict-faces.md: macaque dog 0.44 vs person 0.13; proboscis monkey bird 0.30, lemur bird 0.33, no person
  for (const file of ['macaque.jpg', 'proboscis-monkey.jpg', 'lemur.jpg']) {
    const checked = await checkedOf(file);
    assert.is(checked.length, 1, `${file}: one SSD detection`);
    const h = checked[0].human!;
    assert.is(h.landmarks, true, `${file}: passes the landmarks (nose ${h.noseY.toFixed(2)}, mouth ${h.mouthY.toFixed(2)})`);
    assert.ok(h.coco!.animal > 0.2 && h.coco!.person < 0.2, `${file}: COCO animal ${h.coco!.animalClass} ${h.coco!.animal} vs person ${h.coco!.person}`);
    assert.equal([h.human, h.coco!.human], [false, false], `${file}: rejected (${h.reason})`);
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

test('predict: the cat and the primates give no face by default, the cat one with --no-human-check; --json records the rule; smile.jpg is one face', async () => {
  const work = tempDir('ferlab-human-');
  const model = await writeModelFolder(join(work, 'model'));
  const cat = join(assetsDir, 'cat.jpg');
  const smile = join(assetsDir, 'smile.jpg');
  const primates = ['macaque.jpg', 'proboscis-monkey.jpg', 'lemur.jpg'].map((f) => join(assetsDir, f));
  type Doc = { detector: { humanCheck: { on: boolean; rule: string } | null }; files: Array<{ faces: unknown[] }> };
  const on = cli(['predict', cat, smile, ...primates, '--model', model, '--json']);
  assert.is(on.status, 0, on.stderr.slice(-1500));
  const docOn = JSON.parse(on.stdout) as Doc;
  assert.equal(
    docOn.files.map((f) => f.faces.length),
    [0, 1, 0, 0, 0],
    'cat: none; smile.jpg: one; macaque, proboscis monkey, lemur: none',
  );
  assert.is(docOn.detector.humanCheck!.on, true);
  assert.match(docOn.detector.humanCheck!.rule, /68-point landmarks.*nose tip >= 0\.5 and mouth centre >= 0\.6/);
  assert.match(docOn.detector.humanCheck!.rule, /COCO CenterNet .*score >= 0\.05 .*contains the face box's centre, a person, scoring above every animal/);
  assert.match(on.stderr, /cat\.jpg: no face found/);
  assert.match(on.stderr, /lemur\.jpg: no face found/);
  const off = cli(['predict', cat, '--model', model, '--json', '--no-human-check']);
  assert.is(off.status, 0, off.stderr.slice(-1500));
  const docOff = JSON.parse(off.stdout) as Doc;
  assert.is(docOff.files[0].faces.length, 1, 'the cat head is a face without the rule');
  assert.is(docOff.detector.humanCheck!.on, false);
});

test.run();
