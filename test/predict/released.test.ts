/**
 * The one-minute path of a fresh clone (issue: released models), as a user types it, with no data folder
 * (FERLAB_DATA_DIR points at an empty folder): `npm run ferlab -- predict` with no argument labels the sample photo's
 * one smiling face (assets/photos/smile.jpg, a crop of face-api's sample3.jpg) as happiness with the released
 * models/ferlab-ferplus; a photo without a face (assets/photos/coffee.jpg) prints no face and exits 0; the released
 * FER2013 model labels the same face "happy". The labels were checked by looking at the photos, not by the model.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { root } from './helpers';
import { tempDir } from '../helpers/fixtures';
import { runCli } from '../helpers/cli';

const env = { FERLAB_DATA_DIR: tempDir('ferlab-no-data-') };
const photo = (name: string) => join(root, 'assets', 'photos', name);

interface Doc {
  model: { classes: string[] };
  files: Array<{ file: string; type: string; faces: Array<{ label: string; probabilities: Record<string, number> }> }>;
}

test('predict with no argument: the sample photo, the released FER+ model, one face labelled happiness', () => {
  const r = runCli(['predict', '--json'], { env });
  assert.is(r.status, 0, r.out);
  const doc = JSON.parse(r.stdout) as Doc;
  assert.equal(doc.model.classes, ['neutral', 'happiness', 'surprise', 'sadness', 'anger', 'disgust', 'fear', 'contempt']);
  assert.is(doc.files.length, 1);
  assert.match(doc.files[0].file, /assets\/photos\/smile\.jpg$/);
  assert.is(doc.files[0].faces.length, 1, `faces: ${JSON.stringify(doc.files[0].faces.map((f) => f.label))}`);
  assert.is(doc.files[0].faces[0].label, 'happiness', JSON.stringify(doc.files[0].faces[0].probabilities));
  // the table form names the model and prints the row
  const t = runCli(['predict'], { env });
  assert.is(t.status, 0, t.out);
  assert.match(t.stderr, /no file given: labelling the sample photo assets\/photos\/smile\.jpg/);
  assert.match(t.stderr, /models\/ferlab-ferplus/);
  assert.match(t.stdout, /smile\.jpg.*happiness/);
});

test('predict on a photo without a face prints no face and exits 0', () => {
  const r = runCli(['predict', photo('coffee.jpg'), '--json'], { env });
  assert.is(r.status, 0, r.out);
  const doc = JSON.parse(r.stdout) as Doc;
  assert.equal(
    doc.files.map((f) => [f.type, f.faces.length]),
    [['image', 0]],
  );
});

test('the released FER2013 model labels the sample face happy', () => {
  const r = runCli(['predict', photo('smile.jpg'), '--model', join(root, 'models', 'ferlab-fer2013'), '--json'], { env });
  assert.is(r.status, 0, r.out);
  const doc = JSON.parse(r.stdout) as Doc;
  assert.is(doc.model.classes.length, 7);
  assert.equal(
    doc.files[0].faces.map((f) => f.label),
    ['happy'],
  );
});

test.run();
