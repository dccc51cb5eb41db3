/**
 * Is a detected "face" a human face? face-api's SSD MobileNet v1 also reports animal heads as faces (a cat's head at
 * score 0.94 in assets/photos/cat.jpg), which the classifier would then label. This file is the rule that rejects
 * them; `predict` (src/predict/detect.ts, Node) and the browser demo (src/demo/client.ts, bundled into the page) feed
 * it the output of the same networks, so both apply the same rule.
 *
 * No Node or tfjs imports here: the browser bundle includes this file as it is.
 *
 * The rule has two stages; a detection is a human face when it passes both.
 *
 * 1. Landmarks ({@link checkHumanFace}): face-api's 68-point landmark net (`faceLandmark68Net`; iBUG 300-W point
 *    order: 30 the nose tip, 48-59 the outer lip), run on the detected box, must put
 *    - the nose tip at least {@link MIN_NOSE_Y} of the box height below the box top, and
 *    - the mouth centre (mean of points 48-59) at least {@link MIN_MOUTH_Y} of the box height below the box top.
 *
 *    Why it works: the SSD's boxes of human faces run from the forehead to the chin, so on a human face the nose tip
 *    and the mouth sit low in the box (on the 99 human detections of docs/predict-faces.md: nose 0.54-0.72, mouth
 *    0.63-0.82 of the box height). On the long muzzle of a cat, dog, calf or horse the landmark net, which always
 *    draws a human face, puts its nose and mouth near the middle of the box (nose 0.35-0.55, mouth 0.44-0.70 on the 12
 *    false faces of the cat, dog, calf and pony photos there; none passes both). Faces of primates (a macaque, a
 *    proboscis monkey, a lemur there: 9 detections) have human proportions and pass this stage.
 *
 * 2. A COCO person, not an animal (src/predict/coco.ts `checkCocoPerson`, added with {@link withCocoCheck}): the COCO
 *    object detector CenterNet, run once on the whole image, must have a person box containing the face centre that
 *    scores above every animal box containing it. On the same set the human faces get person 0.140-0.788 and animal
 *    < 0.07; the 9 primate faces person 0-0.137 and animal 0.269-0.444 (the macaque is a "dog", the proboscis monkey
 *    and the lemur "birds" or "sheep"), so all 9 are rejected with a margin of 0.15 and no human face is lost.
 *
 * The thresholds were set on that photo set (scripts/face-filter-measure.ts; no held-out set). What was measured and
 * dropped (docs/predict-faces.md): face-api's Tiny Face Detector as a second detector (it missed close-ups), and
 * second checks for the primates from every other face-api net and from @vladmandic/human's BlazeFace and face mesh
 * (none separated the primates from the human faces).
 */
import { COCO_CHECK_RULE, type CocoCheck } from './coco';

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

/** Smallest nose-tip position (landmark 30), as a fraction of the box height from its top. */
export const MIN_NOSE_Y = 0.5;

/** Smallest mouth-centre position (mean of landmarks 48-59), as a fraction of the box height from its top. */
export const MIN_MOUTH_Y = 0.6;

/** The landmark stage in words. */
export const LANDMARK_CHECK_RULE = `face-api 68-point landmarks on the detected box: nose tip >= ${MIN_NOSE_Y} and mouth centre >= ${MIN_MOUTH_Y} of the box height below its top`;

/** The whole rule (both stages) in words, recorded in predict's `--json` output (`detector.humanCheck.rule`). */
export const HUMAN_CHECK_RULE = `${LANDMARK_CHECK_RULE}; and ${COCO_CHECK_RULE}`;

/** Number of landmarks of face-api's `faceLandmark68Net`. */
export const LANDMARKS = 68;

/** What the rule found for one detection. */
export interface HumanCheck {
  /** The detection passes the rule: the landmark stage, and the COCO stage when it ran ({@link withCocoCheck}). */
  human: boolean;
  /** The detection passes the landmark stage ({@link checkHumanFace}). */
  landmarks: boolean;
  /** Nose tip (landmark 30) below the box top, as a fraction of the box height. */
  noseY: number;
  /** Mouth centre (mean of landmarks 48-59) below the box top, as a fraction of the box height. */
  mouthY: number;
  /** The COCO stage's findings (src/predict/coco.ts), when it ran. */
  coco?: CocoCheck;
  /** Why it is not a human face ('' when it is). */
  reason: string;
}

/**
 * Nose tip and mouth centre below the box top, as fractions of the box height.
 * @param landmarks 68 points in the same pixels as the box (face-api `FaceLandmarks68.positions`).
 * @throws Error when there are not 68 landmarks or the box height is not positive.
 */
export function landmarkPositions(box: CheckBox, landmarks: readonly Point[]): { noseY: number; mouthY: number } {
  if (landmarks.length !== LANDMARKS) throw new Error(`expected ${LANDMARKS} landmarks, got ${landmarks.length}`);
  if (!(box.height > 0)) throw new Error(`box height must be > 0, got ${box.height}`);
  let mouth = 0;
  for (let i = 48; i <= 59; i++) mouth += landmarks[i].y;
  return { noseY: (landmarks[30].y - box.top) / box.height, mouthY: (mouth / 12 - box.top) / box.height };
}

/**
 * Applies the rule of this file to one detection.
 * @param box the detected box; @param landmarks its 68 landmarks (same pixels).
 * @throws Error from {@link landmarkPositions}.
 */
export function checkHumanFace(box: CheckBox, landmarks: readonly Point[]): HumanCheck {
  const { noseY, mouthY } = landmarkPositions(box, landmarks);
  const reasons: string[] = [];
  if (!(noseY >= MIN_NOSE_Y)) reasons.push(`nose tip at ${noseY.toFixed(2)} of the box height (< ${MIN_NOSE_Y})`);
  if (!(mouthY >= MIN_MOUTH_Y)) reasons.push(`mouth at ${mouthY.toFixed(2)} of the box height (< ${MIN_MOUTH_Y})`);
  return { human: reasons.length === 0, landmarks: reasons.length === 0, noseY, mouthY, reason: reasons.join('; ') };
}

/**
 * Adds the COCO stage's findings (src/predict/coco.ts {@link checkCocoPerson}) to the landmark stage's: the detection is
 * a human face when it passes both; the reasons of both failures are joined.
 */
export function withCocoCheck(check: HumanCheck, coco: CocoCheck): HumanCheck {
  const reason = [check.reason, coco.reason].filter((r) => r !== '').join('; ');
  return { ...check, human: check.landmarks && coco.human, coco, reason };
}
