/**
 * `ferlab predict [images or videos...] [--model <dir>]` (default: the sample photo and the released model): the command (registered in src/cli/main.ts by
 * {@link registerPredictCommand}); the work is done by src/predict, loaded only when the command runs.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- heavy modules (sharp, tfjs, face-api) load lazily */
import { InvalidArgumentError, type Command } from 'commander';
import type { BackendChoice } from '../backend/select';
import type { FileResult } from '../predict/files';

function nonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got '${v}'`);
  return n;
}

function smoothValue(v: string): number {
  const { parseSmooth } = require('../predict/smooth') as typeof import('../predict/smooth');
  try {
    return parseSmooth(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function probability(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a number between 0 and 1, got '${v}'`);
  return n;
}

/**
 * Adds `predict` to the ferlab program. The global `--backend` option picks the tfjs backend.
 * Exit status: 0 when every file was read (also when no face was found), 1 when any file failed (each named on
 * stderr; the others are still processed).
 */
export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('detect faces in photos and videos and classify their expressions with a saved model')
    .argument('[files...]', `photos (JPEG, PNG, WebP, ...) and videos (mp4, mov, webm, ...; need ffmpeg); default: the sample photo ${SAMPLE_PHOTO}`)
    .option(
      '--model <dir>',
      'model folder (models/<name>: model.json + weights + ferlab.json) or a run folder (its model/); default: the released models/ferlab-ferplus',
    )
    .option('--json', 'print a JSON document (per face: box in pixels, label, probabilities) instead of the table')
    .option('--annotate <file|dir>', 'write each photo with boxes and labels drawn: a .png/.jpg/.webp file (one photo) or a folder')
    .option(
      '--crops <dir>',
      'write the 48x48 grayscale input of each face (what the model sees, before its ferlab.json inputSpec crop / resize / normalisation if it has one) as <dir>/<photo>-face<k>.png',
    )
    .option('--out <dir>', 'folder for video outputs: <video>.emotions.csv and <video>.report.html', '.')
    .option('--fps <n>', 'video frames analysed per second (0 = every frame)', nonNegative, 5)
    .option('--margin <f>', 'crop margin around each face box, fraction of its longer side on each side', nonNegative)
    .option('--min-score <p>', 'minimum face-detector confidence', probability)
    .option('--no-detect', 'no face detection: each image is one face (already cropped)')
    .option(
      '--no-human-check',
      'keep every detection: without it, detections whose 68 landmarks do not fit a human face (nose and mouth low in the box), or where the COCO object detector CenterNet sees no person or an animal scoring above the person, are dropped, such as cat, dog and monkey heads (docs/predict-faces.md)',
    )
    .option(
      '--smooth [n]',
      "videos: smooth each face's probabilities over frames (faces followed by box overlap): n frames (EMA alpha = 2 / (n + 1); default 5) or an alpha in (0, 1); the CSV and report then show raw and smoothed",
      smoothValue,
    )
    .action(async (files: string[], o: PredictCliOptions) => {
      try {
        process.exitCode = await predictCommand(files, o, program.opts().backend as BackendChoice | undefined);
      } catch (e) {
        // a bad model folder or option: the message names it; the stack would only hide it
        console.error(`ferlab: ${(e as Error).message}`);
        process.exitCode = 1;
      }
    });
}

/**
 * The photo `predict` labels when given no file: a crop of one smiling face from @vladmandic/face-api's sample3.jpg
 * (MIT; assets/photos/README.md), shipped in the repository so that a fresh clone shows a first result in seconds.
 */
export const SAMPLE_PHOTO = 'assets/photos/smile.jpg';

/** Options of the `predict` command (commander's parsed options). */
export interface PredictCliOptions {
  /** Model folder; absent = the released default model (src/export/release.ts DEFAULT_RELEASE). */
  model?: string;
  json?: boolean;
  annotate?: string;
  crops?: string;
  out?: string;
  fps?: number;
  margin?: number;
  minScore?: number;
  detect: boolean;
  /** false with `--no-human-check`. */
  humanCheck: boolean;
  /** EMA weight alpha from `--smooth <n>`; `true` for `--smooth` without a value (DEFAULT_SPAN frames). */
  smooth?: number | true;
}

/** Table rows of all results: a row per face, one per photo without faces, one per video. */
function tableRows(results: readonly FileResult[], classes: readonly string[]): Array<Record<string, string>> {
  const { faceRow } = require('../predict/output') as typeof import('../predict/output');
  const { totalScores } = require('../predict/timeline') as typeof import('../predict/timeline');
  const rows: Array<Record<string, string>> = [];
  const empty = (file: string, label: string) => ({
    file,
    face: '-',
    'box (left,top,w,h px)': '-',
    'face score': '-',
    label,
    probability: '-',
    'runner-up': '-',
  });
  for (const r of results) {
    if (r.type === 'image') {
      if (r.faces.length === 0) rows.push(empty(r.file, 'no face found'));
      for (const f of r.faces) rows.push(faceRow(r.file, f));
    } else if (r.type === 'video') {
      const faces = r.frames.reduce((s, f) => s + f.faces.length, 0);
      const { score } = totalScores(r.frames, classes);
      const best = score.indexOf(Math.max(...score));
      rows.push({
        ...empty(r.file, faces ? `mostly ${classes[best]}` : 'no face found'),
        face: `${faces} in ${r.frames.length} frames`,
        probability: faces ? `${((100 * score[best]) / faces).toFixed(1)}% (mean)` : '-',
      });
    }
  }
  return rows;
}

/**
 * Runs `predict`: loads the model (a model folder or a run folder), processes every file and prints a table (or the
 * JSON document with `--json`) on stdout; notes and errors go to stderr.
 * @returns the exit status: 0 when every file was read (also when no face was found), 1 when any file failed.
 */
export async function predictCommand(files: string[], o: PredictCliOptions, backend?: BackendChoice): Promise<number> {
  const { initBackend } = require('../backend/select') as typeof import('../backend/select');
  const { predictFiles, resultsJson } = require('../predict/files') as typeof import('../predict/files');
  const { loadPredictModel } = require('../predict/model') as typeof import('../predict/model');
  const { printTable } = require('./table') as typeof import('./table');
  const { defaultModelOrThrow } = require('../export/release') as typeof import('../export/release');
  const { projectPath } = require('../util/paths') as typeof import('../util/paths');
  if (!files.length) {
    files = [projectPath(SAMPLE_PHOTO)];
    process.stderr.write(`no file given: labelling the sample photo ${SAMPLE_PHOTO}\n`);
  }
  const info = await initBackend(backend);
  const pm = await loadPredictModel(o.model ?? defaultModelOrThrow());
  const log = (l: string) => process.stderr.write(`${l}\n`);
  log(`model ${pm.dir} (${pm.meta.classes.length} classes: ${pm.meta.classes.join(', ')}); backend ${info.description}`);
  const { alphaFromSpan, DEFAULT_SPAN } = require('../predict/smooth') as typeof import('../predict/smooth');
  const smooth = o.smooth === true ? alphaFromSpan(DEFAULT_SPAN) : o.smooth;
  const opts = {
    annotate: o.annotate,
    crops: o.crops,
    videoOut: o.out,
    fps: o.fps,
    margin: o.margin,
    minScore: o.minScore,
    detect: o.detect,
    humanCheck: o.humanCheck !== false,
    smooth,
    log,
  };
  const results = await predictFiles(pm, files, opts);
  pm.model.dispose();
  if (o.json) process.stdout.write(JSON.stringify(resultsJson(pm, results, opts), null, 2) + '\n');
  else {
    const rows = tableRows(results, pm.meta.classes);
    if (rows.length) printTable(rows);
    for (const r of results) {
      if (r.type === 'video') console.log(`${r.file}: per-frame emotions ${r.csv}, report ${r.report}`);
      if (r.type === 'image' && r.annotated) console.log(`${r.file}: annotated ${r.annotated}`);
    }
    if (o.crops) console.log(`48x48 model inputs of each face: ${o.crops}`);
  }
  for (const r of results) if (r.type === 'image' && r.faces.length === 0) log(`${r.file}: no face found`);
  const failed = results.filter((r): r is Extract<FileResult, { type: 'error' }> => r.type === 'error');
  for (const r of failed) log(`ferlab: ${r.error}`);
  if (failed.length) log(`ferlab: ${failed.length} of ${results.length} files could not be processed`);
  return failed.length ? 1 : 0;
}
