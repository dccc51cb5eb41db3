/**
 * Shared pieces of the predict and demo tests: a saved model folder (random initial weights: enough where a test
 * checks plumbing, not accuracy), the sample photos shipped in @vladmandic/face-api's package with the faces in them
 * marked by hand, the CLI, and ffmpeg / Chromium locations.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { FERPLUS_CLASSES } from '../../src/data/classes';
import { PREPROCESSING } from '../../src/data/preprocess';
import { saveLayersModel } from '../../src/models/io';
import { createModel } from '../../src/models/registry';
import '../../src/models';
import { writeJsonAtomic } from '../../src/util/atomic';
import { ROOT, runCli, type CliResult } from '../helpers/cli';

export const root = ROOT;

/** Folder of the sample photos of @vladmandic/face-api (MIT), node_modules/@vladmandic/face-api/demo. */
export const samplesDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');

/**
 * Face centres marked by hand (looking at each photo, independently of any detector), in pixels of the full-size
 * photo: every face in sample1.jpg (3 women, 1920x1280), sample5.jpg (5 women on stairs, 1920x1398) and sample6.jpg
 * (4 women standing, 1920x1537). A detected box must contain exactly one of them, each one once.
 */
export const HAND_MARKED: Record<string, Array<[number, number]>> = {
  'sample1.jpg': [
    [516, 468],
    [936, 540],
    [1572, 324],
  ],
  'sample5.jpg': [
    [468, 972],
    [696, 528],
    [852, 216],
    [1176, 336],
    [1488, 504],
  ],
  'sample6.jpg': [
    [360, 612],
    [756, 468],
    [1260, 444],
    [1596, 384],
  ],
};

/**
 * Saves a registered model with random initial weights as a ferlab model folder (model.json + weights.bin +
 * ferlab.json with the fields src/exp/run.ts writes). With `runFolder`, lays it out as a run record (`<dir>/model/`).
 * @returns the folder to pass to `--model`.
 */
export async function writeModelFolder(
  dir: string,
  opts: { model?: string; classes?: readonly string[]; runFolder?: boolean; seed?: number } = {},
): Promise<string> {
  await initBackend('cpu'); // building and saving a model needs no speed; 'cpu' also silences tfjs' Node banner
  const classes = [...(opts.classes ?? FERPLUS_CLASSES)];
  const modelDir = opts.runFolder ? join(dir, 'model') : dir;
  mkdirSync(modelDir, { recursive: true });
  const model = createModel(opts.model ?? 'baseline', { numClasses: classes.length, seed: opts.seed ?? 7 });
  const ferlab = {
    run: 'test-random',
    model: opts.model ?? 'baseline',
    labelSet: 'majority',
    classes,
    input: '[batch, 48, 48, 1] float32',
    preprocessing: PREPROCESSING,
    output: `logits [batch, ${classes.length}] float32; softmax gives class probabilities`,
  };
  await saveLayersModel(model, modelDir, { ferlab });
  writeJsonAtomic(join(modelDir, 'ferlab.json'), ferlab);
  model.dispose();
  return dir;
}

/** Runs the ferlab CLI (`npm run ferlab -- ...`) synchronously (test/helpers/cli.ts runCli). */
export function cli(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli(args, { env });
}

/** The ffmpeg program the tests use (FERLAB_FFMPEG, else ffmpeg from PATH), or undefined when it does not run. */
export function ffmpegPath(): string | undefined {
  const cmd = process.env.FERLAB_FFMPEG || 'ffmpeg';
  const r = spawnSync(cmd, ['-hide_banner', '-version'], { encoding: 'utf8' });
  return !r.error && r.status === 0 ? cmd : undefined;
}

/**
 * An independent computation of a face's expected 48x48 input for a crop region: the photo's RGB pixels (as sharp
 * decodes them) -> grayscale by the libvips rule for sRGB (Rec. 709 luminance in linear light, sRGB-encoded again) ->
 * exact area average (box filter) of each of the 48x48 cells. predict resizes with Lanczos-3 instead, so the two agree
 * only up to resampling differences: about 1 grey level on average on the sample photos, while a crop moved by 5% of
 * its side differs by more than 13.
 * @param rgb `[height, width, 3]` uint8. @returns `[48 * 48]` float64 in [0, 255].
 */
export function expectedCrop(rgb: Uint8Array, width: number, crop: { left: number; top: number; width: number; height: number }, S = 48): Float64Array {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  };
  const enc = (y: number) => 255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * Math.pow(y, 1 / 2.4) - 0.055);
  const gray = (x: number, y: number) => {
    const i = 3 * (y * width + x);
    return enc(0.2126 * lin(rgb[i]) + 0.7152 * lin(rgb[i + 1]) + 0.0722 * lin(rgb[i + 2]));
  };
  const out = new Float64Array(S * S);
  const sx = crop.width / S;
  const sy = crop.height / S;
  for (let oy = 0; oy < S; oy++)
    for (let ox = 0; ox < S; ox++) {
      const x0 = crop.left + ox * sx;
      const y0 = crop.top + oy * sy;
      let sum = 0;
      let area = 0;
      for (let y = Math.floor(y0); y < Math.ceil(y0 + sy); y++) {
        const wy = Math.min(y + 1, y0 + sy) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.ceil(x0 + sx); x++) {
          const wx = Math.min(x + 1, x0 + sx) - Math.max(x, x0);
          sum += wx * wy * gray(x, y);
          area += wx * wy;
        }
      }
      out[oy * S + ox] = sum / area;
    }
  return out;
}

/** Mean and largest absolute difference of two images of the same size. */
export function pixelDiff(a: ArrayLike<number>, b: ArrayLike<number>): { mean: number; max: number } {
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length}`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

/**
 * Checks that detected boxes and hand-marked face centres pair up one to one: each box contains exactly one centre
 * and each centre lies in exactly one box.
 * @param marks face centres in the same pixels as the boxes. @returns a problem description, or '' when they match.
 */
export function matchFaces(boxes: ReadonlyArray<{ left: number; top: number; width: number; height: number }>, marks: ReadonlyArray<[number, number]>): string {
  const inside = (b: (typeof boxes)[number], [x, y]: [number, number]) => x >= b.left && x <= b.left + b.width && y >= b.top && y <= b.top + b.height;
  if (boxes.length !== marks.length) return `${boxes.length} faces found, ${marks.length} marked by hand`;
  for (const b of boxes) {
    const n = marks.filter((m) => inside(b, m)).length;
    if (n !== 1) return `box ${JSON.stringify(b)} contains ${n} hand-marked centres`;
  }
  for (const m of marks) {
    const n = boxes.filter((b) => inside(b, m)).length;
    if (n !== 1) return `hand-marked centre ${m} lies in ${n} boxes`;
  }
  return '';
}
