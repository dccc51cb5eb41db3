import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { DECODE_OPTIONS } from '../data/image';
import { PROJECT_ROOT } from '../util/paths';
import {
  COCO_INPUT_SIDE,
  COCO_MODEL_FILE,
  COCO_MODEL_PATH,
  COCO_OUTPUT_NODE,
  COCO_WEIGHTS_FILE,
  checkCocoPerson,
  cocoDetections,
  type CocoDetection,
} from './coco';
import type { Box } from './geometry';
import { checkHumanFace, withCocoCheck, type HumanCheck } from './human';

/**
 * Face detection for `predict`: @vladmandic/face-api's SSD MobileNet v1 detector (MIT licence; weights shipped inside
 * its npm package under `model/`, so detection works offline), on ferlab's own tfjs instance and backend.
 *
 * One tfjs: face-api's node-wasm build (`dist/face-api.node-wasm.js`) does not bundle tfjs; it `require`s
 * `@tensorflow/tfjs` and `@tensorflow/tfjs-backend-wasm`, which npm resolves to ferlab's own copies (face-api has no
 * nested node_modules; both at 4.22.0), so the detector runs on the engine and backend that
 * src/backend/select.ts `initBackend` set up (wasm with ferlab's kernels, or tfjs-node when installed).
 * `detectorShareTfjs()` checks this at load time. (The browser demo uses face-api's bundled `dist/face-api.js`
 * instead, and loads the classifier with that bundle's tfjs: one tfjs in the page too.)
 */

/** Detector name recorded in outputs. */
export const DETECTOR = '@vladmandic/face-api SSD MobileNet v1' as const;

/** Longest image side (pixels) that detection sees; larger images are downscaled first (boxes are scaled back).
 * The SSD resizes its input to 512x512 anyway (face-api `SsdMobilenetv1`), so 1280 loses nothing it would use. */
export const DETECT_MAX_SIDE = 1280;

/** Default minimum detection score (face-api's own default for SsdMobilenetv1Options). */
export const DEFAULT_MIN_SCORE = 0.5;

/** A detected face. */
export interface Detection {
  /** Box in pixels of the full-size displayed (EXIF-rotated) image. */
  box: Box;
  /** Detector confidence in [0, 1]. */
  score: number;
  /** The human-face rule's findings (src/predict/human.ts), when it ran. */
  human?: HumanCheck;
}

interface ApiBox {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface ApiDetection {
  score: number;
  box: ApiBox;
}
interface Net {
  isLoaded: boolean;
  loadFromDisk(dir: string): Promise<void>;
}
/** face-api's `detectAllFaces` result: awaitable, or chained with the 68-point landmark net. */
type DetectTask = Promise<ApiDetection[]> & {
  withFaceLandmarks(): Promise<Array<{ detection: ApiDetection; landmarks: { positions: Array<{ x: number; y: number }> } }>>;
};

/** The part of face-api's API ferlab uses (its own .d.ts embeds a second copy of tfjs' types). */
interface FaceApi {
  tf: { engine(): unknown };
  version: string;
  nets: { ssdMobilenetv1: Net; faceLandmark68Net: Net };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(input: tf.Tensor3D, options: unknown): DetectTask;
}

let faceapi: FaceApi | undefined;

/** Folder of face-api's bundled weights (node_modules/@vladmandic/face-api/model). */
export function faceApiModelDir(): string {
  return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/** Folder of the COCO CenterNet graph model of the human-face rule's second stage (src/predict/coco.ts). */
export const COCO_MODEL_DIR = join(PROJECT_ROOT, COCO_MODEL_PATH);

let coco: tf.GraphModel | undefined;

const DTYPE = z.enum(['float32', 'int32', 'bool', 'string', 'complex64']);
/** The parts of a tfjs graph-model JSON ({@link loadCocoDetector}) read here (tfjs-core `io.ModelJSON`). */
const GraphModelJsonSchema = z.object({
  format: z.string().optional(),
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z.array(
    z.object({
      paths: z.array(z.string()),
      weights: z.array(
        z.object({
          name: z.string(),
          shape: z.array(z.number()),
          dtype: DTYPE,
          quantization: z
            .object({
              dtype: z.enum(['uint8', 'uint16', 'float16']),
              original_dtype: DTYPE.optional(),
              min: z.number().optional(),
              scale: z.number().optional(),
            })
            .optional(),
        }),
      ),
    }),
  ),
});

/**
 * Loads the COCO CenterNet graph model (4.2 MB, {@link COCO_MODEL_DIR}) once per process, on ferlab's tfjs.
 * @throws Error (node's ENOENT naming the file) when the model files are missing; zod's error when the JSON is not a
 *   tfjs graph model's.
 */
export async function loadCocoDetector(): Promise<tf.GraphModel> {
  if (!coco) {
    const json = GraphModelJsonSchema.parse(JSON.parse(readFileSync(join(COCO_MODEL_DIR, COCO_MODEL_FILE), 'utf8')));
    const bin = readFileSync(join(COCO_MODEL_DIR, COCO_WEIGHTS_FILE));
    const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) as ArrayBuffer;
    coco = await tf.loadGraphModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData, format: json.format }),
    );
  }
  return coco;
}

/**
 * Runs COCO CenterNet on a decoded image (src/predict/coco.ts: resized bilinearly to 512 x 512, pixel values 0-255).
 * @returns its detections with score >= COCO_MIN_SCORE, boxes in pixels of `image` (its `width` x `height`, not the
 *   full size).
 */
export async function detectCocoObjects(image: DetectionImage): Promise<CocoDetection[]> {
  const model = await loadCocoDetector();
  const out = tf.tidy(() => {
    const x = tf.image.resizeBilinear(tf.tensor3d(image.rgb, [image.height, image.width, 3], 'int32').toFloat(), [COCO_INPUT_SIDE, COCO_INPUT_SIDE]);
    return model.execute(x.expandDims(0), COCO_OUTPUT_NODE) as tf.Tensor;
  });
  try {
    const rows = (await out.array()) as number[][][];
    return cocoDetections(rows[0], image.width, image.height);
  } finally {
    out.dispose();
  }
}

/**
 * Loads face-api's node-wasm build and its SSD MobileNet v1 weights (5.4 MB) once per process, and with `humanCheck`
 * also what the human-face rule uses (src/predict/human.ts): the 68-point landmark net (0.35 MB) and the COCO
 * CenterNet model (4.2 MB, src/predict/coco.ts). Call after `initBackend` (src/backend/select.ts).
 * @throws Error when face-api resolved a different tfjs than ferlab's (two engines would not share tensors).
 */
export async function loadFaceDetector(humanCheck = false): Promise<void> {
  if (!faceapi) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    if (api.tf.engine() !== tf.engine())
      throw new Error("@vladmandic/face-api loaded its own @tensorflow/tfjs instead of ferlab's; run `npm ls @tensorflow/tfjs` (expected one deduped copy)");
    faceapi = api;
  }
  const nets = faceapi.nets;
  if (!nets.ssdMobilenetv1.isLoaded) await nets.ssdMobilenetv1.loadFromDisk(faceApiModelDir());
  if (humanCheck) {
    if (!nets.faceLandmark68Net.isLoaded) await nets.faceLandmark68Net.loadFromDisk(faceApiModelDir());
    await loadCocoDetector();
  }
}

/** Whether the detector runs on ferlab's tfjs engine (true once {@link loadFaceDetector} succeeded). */
export function detectorSharesTfjs(): boolean {
  return faceapi !== undefined && faceapi.tf.engine() === tf.engine();
}

/** A decoded image ready for detection. */
export interface DetectionImage {
  /** `[height, width, 3]` uint8 RGB of the displayed image, downscaled to at most DETECT_MAX_SIDE. */
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Size of the full displayed image (after EXIF orientation), pixels. */
  fullWidth: number;
  fullHeight: number;
}

/**
 * Decodes an image for detection with sharp: EXIF orientation applied, alpha dropped, downscaled (Lanczos-3) so that
 * its longer side is at most `maxSide`.
 * @param input encoded image bytes (JPEG, PNG, WebP, ...) or a path.
 * @throws sharp's error when the image cannot be decoded or has more than MAX_INPUT_PIXELS pixels (src/data/image.ts
 *   DECODE_OPTIONS; the caller names the file, src/data/image.ts decodeErrorMessage spells the limit out).
 */
export async function decodeForDetection(input: Buffer | string, maxSide = DETECT_MAX_SIDE): Promise<DetectionImage> {
  // decoded once to raw pixels (a re-encoded intermediate would be lossy for JPEG)
  const rotated = await sharp(input, DECODE_OPTIONS).rotate().raw().toBuffer({ resolveWithObject: true }); // at most MAX_INPUT_PIXELS
  const { width: fullWidth, height: fullHeight, channels } = rotated.info;
  let img = sharp(rotated.data, { raw: { width: fullWidth, height: fullHeight, channels } })
    .removeAlpha()
    .toColourspace('srgb');
  if (Math.max(fullWidth, fullHeight) > maxSide) img = img.resize(maxSide, maxSide, { fit: 'inside', kernel: 'lanczos3' });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3 (RGB)`);
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, fullWidth, fullHeight };
}

/**
 * Finds every face in a decoded image.
 * @param minScore detections below this confidence are dropped (default {@link DEFAULT_MIN_SCORE}).
 * @param humanCheck keep only detections that pass the human-face rule of src/predict/human.ts, both stages: the
 *   landmarks and the COCO person check of src/predict/coco.ts (default true; false = every SSD detection, as before
 *   the rule).
 * @returns boxes in pixels of the full-size image, clipped to it, in reading order (left to right by box centre,
 *   then top to bottom), so "face 1" is the leftmost face in tables, crops and annotations; with `humanCheck` each
 *   carries the rule's findings in `human`.
 */
export async function detectFaces(image: DetectionImage, minScore = DEFAULT_MIN_SCORE, humanCheck = true): Promise<Detection[]> {
  const all = await detectFacesChecked(image, minScore, humanCheck);
  return humanCheck ? all.filter((d) => d.human!.human) : all;
}

/**
 * Every SSD detection of an image, with the human-face rule's findings on each when `check` is true (none rejected):
 * what {@link detectFaces} filters, and what scripts/face-filter-measure.ts counts before and after the rule. With
 * `check`, COCO CenterNet runs once on the image when the SSD found anything, and every detection gets both stages'
 * findings (the COCO ones in `human.coco`).
 * @returns as {@link detectFaces}.
 */
export async function detectFacesChecked(image: DetectionImage, minScore = DEFAULT_MIN_SCORE, check = true): Promise<Detection[]> {
  await loadFaceDetector(check);
  const api = faceapi!;
  const input = tf.tensor3d(image.rgb, [image.height, image.width, 3], 'int32');
  try {
    const options = new api.SsdMobilenetv1Options({ minConfidence: minScore, maxResults: 100 });
    const toBox = (b: ApiBox) => ({ left: b.x, top: b.y, width: b.width, height: b.height });
    let found: Array<{ detection: ApiDetection; human?: HumanCheck }>;
    if (check) {
      const withLandmarks = await api.detectAllFaces(input, options).withFaceLandmarks();
      const objects = withLandmarks.length ? await detectCocoObjects(image) : [];
      found = withLandmarks.map((d) => {
        const box = toBox(d.detection.box);
        return { detection: d.detection, human: withCocoCheck(checkHumanFace(box, d.landmarks.positions), checkCocoPerson(box, objects)) };
      });
    } else found = (await api.detectAllFaces(input, options)).map((detection) => ({ detection }));
    const sx = image.fullWidth / image.width;
    const sy = image.fullHeight / image.height;
    return found
      .map(({ detection: d, human }) => {
        const left = Math.max(0, d.box.x * sx);
        const top = Math.max(0, d.box.y * sy);
        const right = Math.min(image.fullWidth, (d.box.x + d.box.width) * sx);
        const bottom = Math.min(image.fullHeight, (d.box.y + d.box.height) * sy);
        return { box: { left, top, width: right - left, height: bottom - top }, score: d.score, ...(human ? { human } : {}) };
      })
      .filter((d) => d.box.width > 0 && d.box.height > 0)
      .sort((a, b) => a.box.left + a.box.width / 2 - (b.box.left + b.box.width / 2) || a.box.top - b.box.top);
  } finally {
    input.dispose();
  }
}
