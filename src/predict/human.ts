/**
 * Is a detected "face" a human face? face-api's SSD MobileNet v1 also reports animal heads as faces (a cat's head at
 * score 0.94 in assets/photos/cat.jpg), which the classifier would then label. This file is the rule that rejects
 * them; `predict` (src/predict/detect.ts, Node) and the browser demo (src/demo/client.ts, bundled into the page) feed
 * it the outputs of the same two face-api networks, so both apply the same rule.
 *
 * No Node or tfjs imports here: the browser bundle includes this file as it is.
 *
 * The rule (both parts must hold):
 * 1. Landmarks fit a human face: face-api's 68-point landmark net (iBUG 300-W point order: 48-59 the outer lip), run on
 *    the detected box, puts the mouth centre (mean of points 48-59) at least {@link MIN_MOUTH_Y} of the box height
 *    below the box top. The SSD's human boxes run from the forehead to the chin, so a human mouth sits low in the box
 *    (0.66-0.82 of its height on the 95 human detections of docs/predict-faces.md, median 0.78); on the long muzzles of
 *    cats, dogs and calves the net puts it near the middle (0.45-0.58).
 * 2. A second detector agrees: face-api's Tiny Face Detector (a different network, Tiny YOLO v2 based), run on the
 *    whole image at input size {@link TINY_INPUT_SIZE}, finds a face whose box overlaps the SSD box with IoU >=
 *    {@link TINY_MIN_IOU} at score >= {@link TINY_MIN_SCORE} (human detections of the measured set: >= 0.24; the cat,
 *    the pony and a false face in a grayscale portrait: <= 0.14).
 *
 * The thresholds were set on the photo set of scripts/face-filter-measure.ts (the table and what the rule still
 * misses are in docs/predict-faces.md): every human face of that set passes; faces of primates (a macaque, a
 * proboscis monkey, a lemur) fit both parts and are NOT rejected.
 */

/** A point in pixels of the image. */
export interface Point {
  x: number;
  y: number;
}

/** A box in pixels (the fields of src/predict/geometry.ts `Box`). */
export interface CheckBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Name of the rule, recorded in predict's `--json` output and the demo. */
export const HUMAN_CHECK_RULE =
  '68-point landmarks: mouth centre >= 0.6 of the box height below its top; and Tiny Face Detector (input 608) agrees: IoU >= 0.3, score >= 0.15' as const;

/** Smallest mouth-centre position, as a fraction of the box height from its top (rule part 1). */
export const MIN_MOUTH_Y = 0.6;

/** Input size of the Tiny Face Detector for rule part 2 (face-api `TinyFaceDetectorOptions.inputSize`: a multiple of
 * 32; 608 is the largest face-api documents, 416 its default). At 416 it missed a human face of the measured set. */
export const TINY_INPUT_SIZE = 608;

/** Smallest Tiny Face Detector score that counts as agreement (rule part 2); also its `scoreThreshold`. */
export const TINY_MIN_SCORE = 0.15;

/** Smallest IoU between the SSD box and a Tiny Face Detector box for them to be the same face (rule part 2). Boxes of
 * the two detectors for one human face overlap by 0.4-0.7: the tiny detector's boxes are squarer and larger. */
export const TINY_MIN_IOU = 0.3;

/** Number of landmarks of face-api's `faceLandmark68Net`. */
export const LANDMARKS = 68;

/** What the rule found for one detection. */
export interface HumanCheck {
  /** Both parts hold. */
  human: boolean;
  /** Mouth centre (mean of landmarks 48-59) below the box top, as a fraction of the box height. */
  mouthY: number;
  /** Highest Tiny Face Detector score among its boxes with IoU >= TINY_MIN_IOU with this box; 0 when none. */
  tinyScore: number;
  /** Why it is not a human face ('' when it is). */
  reason: string;
}

/** Intersection over union of two boxes (0 when they do not overlap). */
function iou(a: CheckBox, b: CheckBox): number {
  const w = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const h = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * Mouth centre below the box top, as a fraction of the box height.
 * @param landmarks 68 points in the same pixels as the box (face-api `FaceLandmarks68.positions`).
 * @throws Error when there are not 68 landmarks or the box has no height.
 */
export function mouthPosition(box: CheckBox, landmarks: readonly Point[]): number {
  if (landmarks.length !== LANDMARKS) throw new Error(`expected ${LANDMARKS} landmarks, got ${landmarks.length}`);
  if (!(box.height > 0)) throw new Error(`box height must be > 0, got ${box.height}`);
  let y = 0;
  for (let i = 48; i <= 59; i++) y += landmarks[i].y;
  return (y / 12 - box.top) / box.height;
}

/**
 * Tiny Face Detector agreement: the highest score among `tiny` boxes with IoU >= TINY_MIN_IOU with `box`, 0 when none.
 * @param tiny the Tiny Face Detector's detections of the whole image, in the same pixels as `box`.
 */
export function tinyAgreement(box: CheckBox, tiny: ReadonlyArray<{ box: CheckBox; score: number }>): number {
  let best = 0;
  for (const t of tiny) if (iou(box, t.box) >= TINY_MIN_IOU && t.score > best) best = t.score;
  return best;
}

/**
 * Applies the rule of this file to one SSD detection.
 * @param box the SSD box; @param landmarks its 68 landmarks; @param tiny the Tiny Face Detector's detections of the
 *   same image (all in the same pixels).
 * @throws Error from {@link mouthPosition}.
 */
export function checkHumanFace(box: CheckBox, landmarks: readonly Point[], tiny: ReadonlyArray<{ box: CheckBox; score: number }>): HumanCheck {
  const mouthY = mouthPosition(box, landmarks);
  const tinyScore = tinyAgreement(box, tiny);
  const reasons: string[] = [];
  if (!(mouthY >= MIN_MOUTH_Y)) reasons.push(`mouth at ${mouthY.toFixed(2)} of the box height (< ${MIN_MOUTH_Y})`);
  if (!(tinyScore >= TINY_MIN_SCORE))
    reasons.push(`second detector ${tinyScore > 0 ? `score ${tinyScore.toFixed(2)} (< ${TINY_MIN_SCORE})` : 'found no face there'}`);
  return { human: reasons.length === 0, mouthY, tinyScore, reason: reasons.join('; ') };
}
