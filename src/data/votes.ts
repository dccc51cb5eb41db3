import { FERPLUS_CLASSES, FERPLUS_NUM_VOTES } from './classes';

/**
 * The four FER+ training modes of Barsoum et al., "Training Deep Networks for Facial Expression Recognition with
 * Crowd-Sourced Label Distribution" (arXiv 1608.01041, section 3), as implemented in microsoft/FERPlus
 * `src/ferplus.py` (`FERPlusReader._process_data`, `_process_target`, `load_folders`) and `src/train.py`
 * (`cost_func`):
 * - `majority`: the emotion with more than half of the (outlier-removed) votes, one-hot; cross-entropy loss.
 * - `probability`: the vote distribution; each epoch draws one one-hot target from it; cross-entropy loss.
 * - `crossentropy`: the vote distribution as a soft target; cross-entropy loss.
 * - `multi_target`: every emotion with at least 30% of the votes is an acceptable answer; loss
 *   `-log(max_i t_i * p_i)`.
 */
export const FERPLUS_MODES = ['majority', 'probability', 'crossentropy', 'multi_target'] as const;
export type FerPlusMode = (typeof FERPLUS_MODES)[number];

/** Index of `unknown` in the vote vector (ferplus.py `emotion_unknown[-2] = 1.0`). */
const UNKNOWN = FERPLUS_NUM_VOTES - 2;

/**
 * `FERPlusReader._process_data` of microsoft/FERPlus `src/ferplus.py`, rule for rule:
 * 1. outlier removal: every count of at most one vote (`< 1 + eps`) becomes 0;
 * 2. `majority`: keep the peak count if it is more than 50% of the remaining votes, else unknown;
 *    `probability`/`crossentropy`: take the largest counts (ties together) until they cover 75% of the votes,
 *    at most 3 emotions; an unknown/NF peak ends the loop (and is dropped if emotions were taken before it);
 *    discard (unknown) when the taken counts are at most 50% of the votes or more than 3 were taken;
 *    `multi_target`: keep every count of at least 30% of the votes; unknown when they cover at most 50%;
 * 3. normalise to sum 1.
 *
 * @param votes the 10 counts of one row (8 emotions, unknown, NF), e.g. a subarray of FerPlusTable.votes.
 * @returns length-10 float64 distribution; an `unknown` row comes back as one-hot on index 8.
 */
export function processVotes(votes: ArrayLike<number>, mode: FerPlusMode): Float64Array {
  const size = FERPLUS_NUM_VOTES;
  const raw: Float64Array = new Float64Array(size);
  for (let i = 0; i < size; i++) raw[i] = votes[i] < 1.0 + Number.EPSILON ? 0 : votes[i];
  let sumList = 0;
  for (let i = 0; i < size; i++) sumList += raw[i];
  let emotion: Float64Array = new Float64Array(size);
  const unknown = (): Float64Array => {
    const u = new Float64Array(size);
    u[UNKNOWN] = 1;
    return u;
  };
  const sum = (a: Float64Array): number => a.reduce((s, v) => s + v, 0);
  const max = (a: Float64Array): number => a.reduce((m, v) => (v > m ? v : m), -Infinity);

  if (mode === 'majority') {
    const maxval = max(raw);
    if (maxval > 0.5 * sumList) emotion[raw.indexOf(maxval)] = maxval;
    else emotion = unknown();
  } else if (mode === 'probability' || mode === 'crossentropy') {
    let sumPart = 0;
    let count = 0;
    let valid = true;
    while (sumPart < 0.75 * sumList && count < 3 && valid) {
      const maxval = max(raw);
      for (let i = 0; i < size; i++) {
        if (raw[i] === maxval) {
          emotion[i] = maxval;
          raw[i] = 0;
          sumPart += emotion[i];
          count += 1;
          if (i >= UNKNOWN) {
            // unknown or non-face shares the peak: stop; drop it if emotions were taken before it
            valid = false;
            if (sum(emotion) > maxval) {
              emotion[i] = 0;
              count -= 1;
            }
            break;
          }
        }
      }
    }
    if (sum(emotion) <= 0.5 * sumList || count > 3) emotion = unknown();
  } else if (mode === 'multi_target') {
    const threshold = 0.3;
    for (let i = 0; i < size; i++) if (raw[i] >= threshold * sumList) emotion[i] = raw[i];
    if (sum(emotion) <= 0.5 * sumList) emotion = unknown();
  } else {
    throw new Error(`unknown FER+ mode '${mode as string}' (expected one of ${FERPLUS_MODES.join(', ')})`);
  }
  const total = sum(emotion);
  for (let i = 0; i < size; i++) emotion[i] /= total;
  return emotion;
}

/**
 * The training target of one image, as `FERPlusReader.load_folders` builds it: `processVotes`, then the image is
 * dropped when the argmax (first maximum, as `np.argmax`) is unknown or NF; otherwise the 8 emotion entries are
 * renormalised to sum 1.
 *
 * @returns the length-8 float32 soft target over FERPLUS_CLASSES, or `null` when the image is dropped.
 */
export function ferplusTarget(votes: ArrayLike<number>, mode: FerPlusMode): Float32Array | null {
  const e = processVotes(votes, mode);
  let idx = 0;
  for (let i = 1; i < e.length; i++) if (e[i] > e[idx]) idx = i;
  if (idx >= FERPLUS_CLASSES.length) return null;
  let s = 0;
  for (let i = 0; i < FERPLUS_CLASSES.length; i++) s += e[i];
  const t = new Float32Array(FERPLUS_CLASSES.length);
  for (let i = 0; i < t.length; i++) t[i] = e[i] / s;
  return t;
}

/**
 * `FERPlusReader._process_target` for `multi_target`: every class with a non-zero target becomes 1, then
 * `(1 - 0.001) * t + 0.001` ("small epsilon in order to avoid ill-conditioned computation").
 * @param target length-8 soft target from {@link ferplusTarget}; returns a new float32 array.
 */
export function multiTargetMask(target: ArrayLike<number>): Float32Array {
  const eps = 0.001;
  const out = new Float32Array(target.length);
  for (let i = 0; i < out.length; i++) out[i] = (1 - eps) * (target[i] > 0 ? 1 : 0) + eps;
  return out;
}
