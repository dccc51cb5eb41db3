/**
 * The predict benchmark function that `npm run bench` calls (src/predict/bench.ts): end-to-end passes over the
 * five-face sample photo. No timing is asserted; the counts and the arithmetic of the rates are.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { benchPredict } from '../../src/predict/bench';
import { detectorSharesTfjs } from '../../src/predict/detect';
import { tempDir } from '../helpers/fixtures';
import { samplesDir } from './helpers';

test('benchPredict: faces per pass on sample5.jpg, and faces/s = faces x runs / total seconds', async () => {
  const r = await benchPredict({ runs: 2, model: 'baseline', backend: 'wasm' });
  assert.is(r.image, join(samplesDir, 'sample5.jpg'));
  assert.is(r.faces, 5, 'five faces in sample5.jpg');
  assert.is(r.runs, 2);
  assert.is(r.msPerRun.length, 2);
  const seconds = (r.msPerRun[0] + r.msPerRun[1]) / 1000;
  assert.ok(Math.abs(r.facesPerSec - 10 / seconds) < 1e-9 * r.facesPerSec, `faces/s ${r.facesPerSec} vs ${10 / seconds}`);
  assert.ok(Math.abs(r.imagesPerSec - 2 / seconds) < 1e-9 * r.imagesPerSec);
  assert.match(r.backend, /^wasm/);
  assert.is(r.model, 'baseline');
  // one tfjs: face-api's node-wasm build runs on ferlab's engine and backend
  assert.ok(detectorSharesTfjs(), "face-api's tfjs is ferlab's");
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- face-api's node-wasm build, loaded after ferlab's backend is set
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as { tf: { getBackend(): string; version_core: string } };
  assert.is(faceapi.tf.getBackend(), tf.getBackend());
  assert.is(faceapi.tf.version_core, tf.version_core);
});

test('benchPredict: a photo without a face is an error naming it', async () => {
  const blank = join(tempDir(), 'grey.png');
  await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } })
    .png()
    .toFile(blank);
  try {
    await benchPredict({ runs: 1, model: 'baseline', backend: 'wasm', image: blank });
    assert.unreachable('no error');
  } catch (e) {
    assert.match((e as Error).message, /grey\.png: no face found; the predict benchmark needs a photo with faces/);
  }
});

test.run();
