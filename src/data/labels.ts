import { FER_CLASSES, FERPLUS_CLASSES, FERPLUS_NUM_VOTES, SPLITS, SPLIT_USAGE, USAGES, type SplitName } from './classes';
import type { FerDataset } from './dataset';
import { DataError } from './errors';
import { FERPLUS_MODES, ferplusTarget, type FerPlusMode } from './votes';
import { argmaxRows } from '../util/argmax';

/** Label sets: `fer` (the 7 original FER2013 labels) and the four FER+ training modes (8 classes). */
export const LABEL_SETS = ['fer', ...FERPLUS_MODES] as const;
export type LabelSetName = (typeof LABEL_SETS)[number];

/** Loss a label set trains with (microsoft/FERPlus `src/train.py` `cost_func`). */
export type LossKind = 'crossentropy' | 'multi_target';

/** The images of one split and their labels. */
export interface SplitLabels {
  /** `[m]` int32 row indices into the FerDataset arrays, in file order. */
  index: Int32Array;
  /** `[m]` uint8 hard label (class index): the majority/original label; for soft training targets, their argmax. */
  label: Uint8Array;
}

/** Training split: also the per-image target distribution. */
export interface TrainLabels extends SplitLabels {
  /**
   * `[m, numClasses]` float32 target distributions, rows summing to 1: one-hot for `fer` and `majority`, the
   * processed vote distribution for `probability` (sampled to one-hot each epoch), `crossentropy` and `multi_target`
   * (turned into the 0.001-smoothed acceptance mask by the loss).
   */
  target: Float32Array;
}

/** A label set bound to a dataset: classes, the three splits, and how to train on it. */
export interface LabelSet {
  name: LabelSetName;
  /** Class names in label order (FER_CLASSES or FERPLUS_CLASSES). */
  classes: readonly string[];
  numClasses: number;
  /** Training loss (`multi_target` for that mode, cross-entropy otherwise). */
  loss: LossKind;
  /** `probability` mode draws a one-hot target from `target` for every image in every epoch. */
  sampleOneHot: boolean;
  train: TrainLabels;
  /** PublicTest, hard labels (FER+ sets: majority labels, as in the paper). */
  val: SplitLabels;
  /** PrivateTest, hard labels (FER+ sets: majority labels). */
  test: SplitLabels;
}

/** True for the four FER+ label sets. */
export function isFerPlus(name: LabelSetName): name is FerPlusMode {
  return name !== 'fer';
}

/**
 * Builds a label set over the standard protocol: Training -> train, PublicTest -> val, PrivateTest -> test.
 *
 * - `fer`: every row, the original `emotion` label, one-hot targets.
 * - FER+ modes: rows with a non-blank FER+ image name (microsoft/FERPlus `src/generate_training_data.py` writes only
 *   those) whose processed votes do not peak on unknown/NF (`FERPlusReader.load_folders`). Training targets follow
 *   the mode; validation and test always use `majority` labels (`train.py`: `test_and_val_params` use "majority").
 *
 * @throws DataError when a FER+ label set is asked for but the dataset has no FER+ votes.
 */
export function buildLabelSet(ds: FerDataset, name: LabelSetName): LabelSet {
  if (!(LABEL_SETS as readonly string[]).includes(name)) {
    throw new Error(`unknown label set '${name}' (expected one of ${LABEL_SETS.join(', ')})`);
  }
  const usageOf = (split: SplitName) => USAGES.indexOf(SPLIT_USAGE[split]);
  if (!isFerPlus(name)) {
    const make = (split: SplitName, withTarget: boolean) => {
      const idx: number[] = [];
      for (let i = 0; i < ds.n; i++) if (ds.usage[i] === usageOf(split)) idx.push(i);
      const index = Int32Array.from(idx);
      const label = Uint8Array.from(idx, (i) => ds.emotion[i]);
      if (!withTarget) return { index, label };
      const target = new Float32Array(idx.length * FER_CLASSES.length);
      label.forEach((c, j) => (target[j * FER_CLASSES.length + c] = 1));
      return { index, label, target };
    };
    return {
      name,
      classes: FER_CLASSES,
      numClasses: FER_CLASSES.length,
      loss: 'crossentropy',
      sampleOneHot: false,
      train: make('train', true) as TrainLabels,
      val: make('val', false),
      test: make('test', false),
    };
  }
  if (!ds.ferplus) {
    throw new DataError(
      `${ds.source.dataDir}/fer2013new.csv`,
      undefined,
      `label set '${name}' needs the FER+ votes, but the file was not found when the data was loaded`,
    );
  }
  const { votes, named } = ds.ferplus;
  const C = FERPLUS_CLASSES.length;
  const make = (split: SplitName, mode: FerPlusMode) => {
    const idx: number[] = [];
    const targets: Float32Array[] = [];
    for (let i = 0; i < ds.n; i++) {
      if (ds.usage[i] !== usageOf(split) || !named[i]) continue;
      const t = ferplusTarget(votes.subarray(i * FERPLUS_NUM_VOTES, (i + 1) * FERPLUS_NUM_VOTES), mode);
      if (t === null) continue;
      idx.push(i);
      targets.push(t);
    }
    const target = new Float32Array(idx.length * C);
    const label = new Uint8Array(idx.length);
    targets.forEach((t, j) => {
      target.set(t, j * C);
      label[j] = targetLabel(t);
    });
    return { index: Int32Array.from(idx), label, target };
  };
  const val = make('val', 'majority');
  const test = make('test', 'majority');
  return {
    name,
    classes: FERPLUS_CLASSES,
    numClasses: C,
    loss: name === 'multi_target' ? 'multi_target' : 'crossentropy',
    sampleOneHot: name === 'probability',
    train: make('train', name),
    val: { index: val.index, label: val.label },
    test: { index: test.index, label: test.label },
  };
}

/** The hard label of a target distribution: the index of its first largest entry (as `np.argmax`; util/argmax.ts). */
export function targetLabel(target: Float32Array): number {
  return argmaxRows(target, target.length)[0];
}

/**
 * FER+ majority labels of images given their votes, by the rule of ferlab's FER+ validation and test splits
 * ({@link buildLabelSet}: `ferplusTarget(votes, 'majority')`, then {@link targetLabel}), for votes from any file
 * (fer2013new.csv, or a microsoft/FERPlus label.csv: src/data/ferplus-label.ts). Images without a majority, or whose
 * majority is unknown or NF, are dropped.
 *
 * @param index `[m]` dataset rows of the images. @param votes `[m, 10]` their vote counts (FERPLUS_VOTE_COLUMNS).
 * @returns the kept images (`index`, `label`: FERPLUS_CLASSES index) in input order, and how many were dropped.
 * @throws Error when votes is not 10 counts per row.
 */
export function ferplusMajorityLabels(index: Int32Array, votes: Uint8Array): SplitLabels & { dropped: number } {
  if (votes.length !== index.length * FERPLUS_NUM_VOTES)
    throw new Error(`ferplusMajorityLabels: ${votes.length} vote counts for ${index.length} images (expected ${FERPLUS_NUM_VOTES} per image)`);
  const idx: number[] = [];
  const lab: number[] = [];
  for (let k = 0; k < index.length; k++) {
    const t = ferplusTarget(votes.subarray(k * FERPLUS_NUM_VOTES, (k + 1) * FERPLUS_NUM_VOTES), 'majority');
    if (t === null) continue;
    idx.push(index[k]);
    lab.push(targetLabel(t));
  }
  return { index: Int32Array.from(idx), label: Uint8Array.from(lab), dropped: index.length - idx.length };
}

/** Per-class image counts of a split's hard labels: `[numClasses]`. */
export function classCounts(split: SplitLabels, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const c of split.label) counts[c] += 1;
  return counts;
}

/** Sizes of every split of a label set: `{train, val, test}` image counts. */
export function splitSizes(ls: LabelSet): Record<SplitName, number> {
  return Object.fromEntries(SPLITS.map((s) => [s, ls[s].index.length])) as Record<SplitName, number>;
}

/** Images of each split to use, counted from the start of the split in file order; null = all. */
export interface SplitSlice {
  train: number | null;
  val: number | null;
  test: number | null;
}

/** The first n images of a split (all when n is null); `target` rows too where the split has them. */
export function sliceSplit<S extends SplitLabels & { target?: Float32Array }>(split: S, n: number | null, numClasses: number): S {
  if (n === null || n >= split.index.length) return split;
  const part = { ...split, index: split.index.subarray(0, n), label: split.label.subarray(0, n) };
  if (split.target) part.target = split.target.subarray(0, n * numClasses);
  return part;
}

/** A label set with each split cut to its first n images (quick runs; `slice` of a run's settings). */
export function sliceLabelSet(ls: LabelSet, slice: SplitSlice): LabelSet {
  const C = ls.numClasses;
  return { ...ls, train: sliceSplit(ls.train, slice.train, C), val: sliceSplit(ls.val, slice.val, C), test: sliceSplit(ls.test, slice.test, C) };
}
