import { FER_CLASSES, FER_TO_FERPLUS, FERPLUS_CLASSES, FERPLUS_NUM_VOTES, FERPLUS_VOTE_COLUMNS, IMAGE_SIZE } from '../data/classes';
import type { FerDataset } from '../data/dataset';
import { ferVsFerplusAgreement, voteEntropyByAgreement, type FerVsFerplusAgreement, type VoteEntropyByAgreement, type VotedImages } from '../data/agreement';
import { buildLabelSet, type LabelSetName } from '../data/labels';
import { Rng } from '../util/rng';
import { baseLayout, classLabels, COLORS, type Figure } from './figure';
import { grayImageTrace, imageMosaic } from './images';

/**
 * Dataset figures: class distributions of the label sets, image grids, FER vs FER+ agreement, vote entropy.
 */

/**
 * Training images per class of each label set, on the 8 FER+ classes (FER2013 labels mapped to their FER+ twins;
 * FER2013 has no contempt). Grouped bars, one trace per label set.
 * @param split which split to count (default train).
 */
export function classDistributionFigure(ds: FerDataset, sets: LabelSetName[], split: 'train' | 'val' | 'test' = 'train'): Figure {
  const data = sets.map((name, i) => {
    const ls = buildLabelSet(ds, name);
    const counts = new Array<number>(FERPLUS_CLASSES.length).fill(0);
    for (const c of ls[split].label) counts[name === 'fer' ? FER_TO_FERPLUS[c] : c]++;
    return {
      type: 'bar',
      name: `${name} (${ls[split].index.length})`,
      x: classLabels(FERPLUS_CLASSES),
      y: counts,
      marker: { color: COLORS[i % COLORS.length] },
    };
  });
  return {
    data,
    layout: baseLayout(`Images per class, ${split} split, by label set`, {
      barmode: 'group',
      xaxis: { title: { text: 'class (FER2013 labels mapped to FER+ names)' } },
      yaxis: { title: { text: 'images' } },
      legend: { orientation: 'h', y: -0.25 },
    }),
  };
}

/**
 * A grid of example images: one row per class of a label set, `perClass` images each (seeded random choice from the
 * split).
 */
export function imageGridFigure(ds: FerDataset, set: LabelSetName, split: 'train' | 'val' | 'test' = 'train', perClass = 8, seed = 0): Figure {
  const ls = buildLabelSet(ds, set);
  const rng = new Rng(seed);
  const byClass: number[][] = ls.classes.map(() => []);
  ls[split].label.forEach((c, i) => byClass[c].push(ls[split].index[i]));
  const tiles = byClass.map((rows) => rng.shuffle(Int32Array.from(rows)).slice(0, perClass)).map((a) => Array.from(a));
  const pitch = IMAGE_SIZE + 4;
  return {
    data: [grayImageTrace(imageMosaic(ds, tiles, pitch, pitch))],
    layout: baseLayout(`${set}: ${perClass} ${split} images per class`, {
      height: 60 + tiles.length * 70,
      width: 140 + perClass * 70,
      xaxis: { visible: false, constrain: 'domain' },
      yaxis: {
        autorange: 'reversed',
        scaleanchor: 'x',
        tickvals: ls.classes.map((_, r) => r * pitch + IMAGE_SIZE / 2),
        ticktext: classLabels(ls.classes),
        ticks: '',
      },
      margin: { l: 90, r: 10, t: 40, b: 10 },
    }),
  };
}

/**
 * FER2013 label (rows) against the FER+ majority outcome (columns: 8 emotions, "unknown / no majority", "not a
 * face") over all images with a named FER+ row: how the crowd relabelled each original class. Counts, with the
 * row-normalised share as colour.
 * @param input the counts from ferVsFerplusAgreement (src/data/agreement.ts), or a dataset to compute them from.
 * @throws Error when given a dataset without FER+ votes.
 */
export function agreementFigure(input: FerVsFerplusAgreement | VotedImages): Figure {
  const { counts, agree, total } = 'counts' in input ? input : ferVsFerplusAgreement(input);
  const cols = [...classLabels(FERPLUS_CLASSES), 'Unknown / no majority', 'Not a face'];
  const share = counts.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (s ? v / s : 0));
  });
  return {
    data: [
      {
        type: 'heatmap',
        z: share,
        x: cols,
        y: classLabels(FER_CLASSES),
        text: counts.map((row, r) => row.map((v, c) => `${v} (${(100 * share[r][c]).toFixed(1)}%)`)),
        texttemplate: '%{text}',
        hovertemplate: 'FER2013 %{y} -> FER+ %{x}: %{text}<extra></extra>',
        colorscale: 'Blues',
        reversescale: true,
        zmin: 0,
        zmax: 1,
        colorbar: { title: { text: 'share of row' } },
      },
    ],
    layout: baseLayout(`FER2013 label vs FER+ majority vote (${((100 * agree) / total).toFixed(1)}% of ${total} images agree)`, {
      xaxis: { title: { text: 'FER+ majority (microsoft/FERPlus rule)' }, tickangle: -30 },
      yaxis: { title: { text: 'FER2013 label' }, autorange: 'reversed' },
      height: 480,
      margin: { l: 90, r: 20, t: 50, b: 120 },
    }),
  };
}

/**
 * Histogram of the vote entropy of every named FER+ image, split by whether the FER2013 label equals the FER+
 * majority: disagreement concentrates on ambiguous (high-entropy) faces.
 * @param input the entropies from voteEntropyByAgreement (src/data/agreement.ts, bits), or a dataset to compute
 *   them from.
 * @throws Error when given a dataset without FER+ votes.
 */
export function voteEntropyFigure(input: VoteEntropyByAgreement | VotedImages): Figure {
  const { agree, disagree } = 'agree' in input ? input : voteEntropyByAgreement(input);
  const trace = (x: number[], name: string, color: string) => ({
    type: 'histogram',
    x,
    name: `${name} (${x.length})`,
    xbins: { start: 0, end: Math.log2(FERPLUS_NUM_VOTES), size: 0.1 },
    marker: { color },
    opacity: 0.75,
  });
  return {
    data: [trace(agree, 'FER label = FER+ majority', COLORS[0]), trace(disagree, 'FER label differs', COLORS[5])],
    layout: baseLayout(`Entropy of the 10 FER+ votes per image (${FERPLUS_VOTE_COLUMNS.length} columns)`, {
      barmode: 'overlay',
      xaxis: { title: { text: 'vote entropy (bits): 0 = unanimous' } },
      yaxis: { title: { text: 'images' } },
      legend: { orientation: 'h', y: -0.25 },
    }),
  };
}
