import { FER_CLASSES, FER_TO_FERPLUS, FERPLUS_CLASSES, FERPLUS_NUM_VOTES } from './classes';
import type { FerDataset } from './dataset';
import { processVotes } from './votes';

/**
 * Analysis of the FER+ crowd votes against the original FER2013 labels: the majority outcome of each image, the
 * entropy of its votes, and how the crowd relabelled each FER2013 class. Plain numbers, drawn by src/viz/data.ts
 * (agreementFigure, voteEntropyFigure).
 */

/** The images a vote analysis reads: FER2013 labels and the FER+ votes (a FerDataset satisfies it). */
export type VotedImages = Pick<FerDataset, 'n' | 'emotion' | 'ferplus'>;

/**
 * Outcomes of the FER+ majority vote, in the order of {@link ferplusMajorityOutcome}'s indices: the 8 FER+ emotions
 * (FERPLUS_CLASSES), then 'unknown' (no majority, or the crowd voted unknown), then 'not a face' (NF).
 */
export const FERPLUS_OUTCOMES = [...FERPLUS_CLASSES, 'unknown', 'not a face'] as const;

/**
 * FER+ majority outcome of one image under microsoft/FERPlus' `majority` rule (processVotes(votes, 'majority'):
 * outlier votes removed, the peak kept when it holds more than half of the rest).
 * @param votes the 10 vote counts of one image (FERPLUS_VOTE_COLUMNS order).
 * @returns index into {@link FERPLUS_OUTCOMES}: 0-7 an emotion, 8 = no majority / unknown, 9 = not a face.
 */
export function ferplusMajorityOutcome(votes: ArrayLike<number>): number {
  const e = processVotes(votes, 'majority');
  let idx = 0;
  for (let i = 1; i < e.length; i++) if (e[i] > e[idx]) idx = i;
  return idx;
}

/**
 * Shannon entropy of an image's raw FER+ vote distribution, in bits (10 columns, no outlier removal): 0 for a
 * unanimous vote, log2(10) = 3.32 at most; 0 for an image without votes.
 * @param votes the 10 vote counts of one image.
 */
export function voteEntropy(votes: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < FERPLUS_NUM_VOTES; k++) s += votes[k];
  if (!s) return 0;
  let h = 0;
  for (let k = 0; k < FERPLUS_NUM_VOTES; k++) if (votes[k] > 0) h -= (votes[k] / s) * Math.log2(votes[k] / s);
  return h;
}

/** FER2013 labels against FER+ majority outcomes, from {@link ferVsFerplusAgreement}. */
export interface FerVsFerplusAgreement {
  /**
   * `[7][10]` image counts: rows = FER2013 label (FER_CLASSES), columns = FER+ majority outcome (FERPLUS_OUTCOMES).
   */
  counts: number[][];
  /** Images whose FER+ majority is the FER+ twin of their FER2013 label (FER_TO_FERPLUS). */
  agree: number;
  /** Images counted: those with a named FER+ row. */
  total: number;
}

/** The votes of image i (a view, no copy). */
function votesOf(ferplus: NonNullable<VotedImages['ferplus']>, i: number): Uint8Array {
  return ferplus.votes.subarray(i * FERPLUS_NUM_VOTES, (i + 1) * FERPLUS_NUM_VOTES);
}

function requireVotes(ds: VotedImages, what: string): NonNullable<VotedImages['ferplus']> {
  if (!ds.ferplus) throw new Error(`${what} needs the FER+ votes: fer2013new.csv (microsoft/FERPlus) is not in the data directory`);
  return ds.ferplus;
}

/**
 * How the FER+ crowd relabelled each FER2013 class: every image with a named FER+ row counted by its FER2013 label
 * and its FER+ majority outcome.
 * @throws Error when the dataset has no FER+ votes.
 */
export function ferVsFerplusAgreement(ds: VotedImages): FerVsFerplusAgreement {
  const ferplus = requireVotes(ds, 'ferVsFerplusAgreement');
  const counts = FER_CLASSES.map(() => new Array<number>(FERPLUS_OUTCOMES.length).fill(0));
  let agree = 0;
  let total = 0;
  for (let i = 0; i < ds.n; i++) {
    if (!ferplus.named[i]) continue;
    const outcome = ferplusMajorityOutcome(votesOf(ferplus, i));
    counts[ds.emotion[i]][outcome]++;
    total++;
    if (outcome === FER_TO_FERPLUS[ds.emotion[i]]) agree++;
  }
  return { counts, agree, total };
}

/** Vote entropies split by agreement, from {@link voteEntropyByAgreement}. */
export interface VoteEntropyByAgreement {
  /** Vote entropy (bits) of each named image whose FER2013 label equals its FER+ majority (dataset order). */
  agree: number[];
  /** Vote entropy (bits) of each named image whose FER2013 label differs from its FER+ majority (dataset order). */
  disagree: number[];
}

/**
 * The vote entropy ({@link voteEntropy}) of every image with a named FER+ row, split by whether its FER2013 label
 * equals its FER+ majority outcome.
 * @throws Error when the dataset has no FER+ votes.
 */
export function voteEntropyByAgreement(ds: VotedImages): VoteEntropyByAgreement {
  const ferplus = requireVotes(ds, 'voteEntropyByAgreement');
  const agree: number[] = [];
  const disagree: number[] = [];
  for (let i = 0; i < ds.n; i++) {
    if (!ferplus.named[i]) continue;
    const v = votesOf(ferplus, i);
    (ferplusMajorityOutcome(v) === FER_TO_FERPLUS[ds.emotion[i]] ? agree : disagree).push(voteEntropy(v));
  }
  return { agree, disagree };
}
