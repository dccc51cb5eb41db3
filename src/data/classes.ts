/**
 * Class sets of FER2013 and FER+, as single constants.
 *
 * - FER2013 (Goodfellow et al., "Challenges in Representation Learning", arXiv 1307.0414; Kaggle
 *   `fer2013.csv`): column `emotion` holds 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral.
 * - FER+ (Barsoum et al., arXiv 1608.01041; microsoft/FERPlus `fer2013new.csv` and `src/train.py`
 *   `emotion_table`): 10 vote columns, of which the first 8 are the emotion classes the FER+ models predict
 *   (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt) and the last two (unknown, NF =
 *   not a face) are never targets.
 */

/** FER2013 class names in label order (index = value of the `emotion` column). */
export const FER_CLASSES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;

/** FER+ emotion class names in label order (microsoft/FERPlus `src/train.py` `emotion_table`). */
export const FERPLUS_CLASSES = ['neutral', 'happiness', 'surprise', 'sadness', 'anger', 'disgust', 'fear', 'contempt'] as const;

/** The 10 vote columns of `fer2013new.csv`, in file order: the 8 FER+ classes, then unknown and NF. */
export const FERPLUS_VOTE_COLUMNS = [...FERPLUS_CLASSES, 'unknown', 'NF'] as const;

/** Number of vote columns per row in `fer2013new.csv`. */
export const FERPLUS_NUM_VOTES = FERPLUS_VOTE_COLUMNS.length; // 10

/** FER2013 `Usage` values in split order; index stored in the dataset's `usage` array. */
export const USAGES = ['Training', 'PublicTest', 'PrivateTest'] as const;
export type Usage = (typeof USAGES)[number];

/** ferlab split names; standard protocol: train on Training, select on PublicTest, report PrivateTest. */
export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** Usage value of each split (train = Training, val = PublicTest, test = PrivateTest). */
export const SPLIT_USAGE: Record<SplitName, Usage> = { train: 'Training', val: 'PublicTest', test: 'PrivateTest' };

/** Image side in pixels; every FER2013 image is 48x48 grayscale. */
export const IMAGE_SIZE = 48;
/** Pixels per image (48 * 48 = 2,304). */
export const IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/**
 * FER2013 label index -> FER+ class index of the same emotion. Every FER class has a FER+ counterpart
 * (angry -> anger, happy -> happiness, sad -> sadness, ...); FER+ `contempt` (7) has none.
 */
export const FER_TO_FERPLUS: readonly number[] = FER_CLASSES.map((name) => {
  const ferplusName = ({ angry: 'anger', happy: 'happiness', sad: 'sadness' } as Record<string, string>)[name] ?? name;
  const index = (FERPLUS_CLASSES as readonly string[]).indexOf(ferplusName);
  if (index < 0) throw new Error(`no FER+ class for FER class '${name}'`);
  return index;
});

/** FER+ class index -> FER2013 label index, or -1 for `contempt`, which FER2013 does not have. */
export const FERPLUS_TO_FER: readonly number[] = FERPLUS_CLASSES.map((_, j) => FER_TO_FERPLUS.indexOf(j));
