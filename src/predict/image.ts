import { readFileSync } from 'node:fs';
import { IMAGE_PIXELS } from '../data/classes';
import { decodeForDetection, detectFaces, DEFAULT_MIN_SCORE } from './detect';
import { decodeErrorMessage, toFerPixels } from '../data/image';
import { classify, cropFaces, modelInput } from './faces';
import { DEFAULT_MARGIN, faceCropBox, type Box } from './geometry';
import type { PredictModel } from './model';

/** One face of an image and what the model says about it. */
export interface FaceResult {
  /** 1-based number of the face in its image (reading order: left to right). */
  face: number;
  /** Detected box in pixels of the displayed (EXIF-rotated) image; the whole image with `detect: false`. */
  box: Box;
  /** Detector confidence in [0, 1]; null with `detect: false`. */
  score: number | null;
  /** The square region that became the model input (src/predict/geometry.ts `faceCropBox`). */
  crop: Box;
  /** The most probable class. */
  label: string;
  /** Softmax probability of every class, in the model's class order. */
  probabilities: Record<string, number>;
  /** `[48, 48]` uint8 grayscale: exactly the face as the model saw it (before pixel / 255). */
  pixels: Uint8Array;
}

/** Faces of one image. */
export interface ImageResult {
  /** Size of the displayed image (after EXIF orientation), pixels. */
  width: number;
  height: number;
  faces: FaceResult[];
}

/** Options of {@link predictImage}. */
export interface ImageOptions {
  /** Detect faces (default). `false`: the whole image is one face (already a face crop, e.g. a FER2013 image). */
  detect?: boolean;
  /** Crop margin (see geometry.ts DEFAULT_MARGIN). */
  margin?: number;
  /** Minimum detector score (see detect.ts DEFAULT_MIN_SCORE). */
  minScore?: number;
  /** Keep only detections that pass the human-face rule (src/predict/human.ts); default true. */
  humanCheck?: boolean;
}

/**
 * Detects, crops and classifies every face of an image: sharp decodes it (JPEG, PNG, WebP, ...; EXIF orientation
 * applied), face-api's detector finds faces on a copy downscaled to at most 1280 px, each face's square crop with a
 * margin is converted like FER2013 (toFerPixels) and the model classifies all faces of the image in one batch.
 *
 * @param input a path or encoded image bytes; `name` is used in errors (default: the path, or "image").
 * @returns the faces in reading order; `faces` is empty when no face is found.
 * @throws Error `<name>: cannot read it as an image (...)` when the file is missing, unreadable or not a decodable
 *   image, or has more than MAX_INPUT_PIXELS pixels (src/data/image.ts; the message gives its size and the limit,
 *   checked from the header before anything is decoded).
 */
export async function predictImage(pm: PredictModel, input: string | Buffer, opts: ImageOptions = {}, name?: string): Promise<ImageResult> {
  const what = name ?? (typeof input === 'string' ? input : 'image');
  const unreadable = (e: unknown) =>
    new Error(`${what}: cannot read it as an image (${(e as Error).message.replace(/^image buffer: cannot read it as an image \((.*)\)$/s, '$1')})`);
  let bytes: Buffer;
  try {
    bytes = typeof input === 'string' ? readFileSync(input) : input;
  } catch (e) {
    throw unreadable(e);
  }
  let width: number;
  let height: number;
  let pixels: Uint8Array;
  const found: Array<{ box: Box; score: number | null; crop: Box }> = [];
  if (opts.detect === false) {
    let whole: Awaited<ReturnType<typeof toFerPixels>>;
    try {
      whole = await toFerPixels(bytes);
    } catch (e) {
      throw unreadable(e);
    }
    ({ width, height, pixels } = whole);
    const box = { left: 0, top: 0, width, height };
    found.push({ box, score: null, crop: box });
  } else {
    let decoded: Awaited<ReturnType<typeof decodeForDetection>>;
    try {
      decoded = await decodeForDetection(bytes);
    } catch (e) {
      throw unreadable(new Error(await decodeErrorMessage(e, bytes))); // names the size and MAX_INPUT_PIXELS when over it
    }
    width = decoded.fullWidth;
    height = decoded.fullHeight;
    for (const d of await detectFaces(decoded, opts.minScore ?? DEFAULT_MIN_SCORE, opts.humanCheck ?? true))
      found.push({ box: d.box, score: d.score, crop: faceCropBox(d.box, width, height, opts.margin ?? DEFAULT_MARGIN) });
    try {
      pixels = await cropFaces(
        bytes,
        found.map((f) => f.crop),
      );
    } catch (e) {
      throw unreadable(e);
    }
  }
  const { probabilities, labels } = classify(pm, modelInput(pixels, pm.input));
  const classes = pm.meta.classes;
  const C = classes.length;
  const faces = found.map((f, i) => ({
    face: i + 1,
    box: f.box,
    score: f.score,
    crop: f.crop,
    label: classes[labels[i]],
    probabilities: Object.fromEntries(classes.map((c, j) => [c, probabilities[i * C + j]])),
    pixels: pixels.slice(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS),
  }));
  return { width, height, faces };
}
