/**
 * `npm run ferlab -- ensemble <folder>... --out models/<name> [--select greedy|all] [--combine auto|logits|probs]
 * [--formats tfjs,onnx,tflite]` (issue 29): an ensemble of saved models written as one model folder.
 *
 * 1. Candidates ({@link findEnsembleCandidates}): run folders (their model/), experiment or sweep folders (their finished
 *    runs) and exported model folders (models/<name>), all of one label set (`--labels`, else the first candidate's).
 * 2. Every candidate is scored on PublicTest with its own input spec; members and combination are chosen there only
 *    (ensemble-select.ts: greedy forward selection with replacement, Caruana et al. 2004, or all candidates; `--combine
 *    auto` takes the better of the mean of logits and the mean of probabilities by PublicTest accuracy, then NLL, ties to
 *    logits). Every (selection, combination) pair's PublicTest accuracy is recorded.
 * 3. The graph (ensemble.ts buildEnsemble) is checked against the members' outputs averaged by hand on PublicTest, then
 *    scored on PrivateTest for the record only (plain, and with the flip TTA), and with `combine` 'logits' its
 *    temperature is fitted on PublicTest (ferlab.json `temperature`, as a training run does).
 * 4. The folder gets model.json + weights.bin (plain tfjs), ferlab.json (ModelMeta with `ensemble`: members with source
 *    folder, model, label set, input spec, weight, recorded PrivateTest and measured PublicTest accuracy; the selection
 *    steps; the scores; every written format with its PrivateTest check against the tfjs graph) and, with `--formats`,
 *    model.onnx / model.tflite. It is written beside its final place and renamed into it when complete.
 *
 * `ferlab export <ensemble folder>` ({@link exportEnsembleFolder}) rewrites an ensemble folder with other formats.
 * PrivateTest decides nothing here: not the members, not the combination, not the temperature.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { backendFromEnv, initBackend, type BackendChoice } from '../backend/select';
import { IMAGE_SIZE } from '../data/classes';
import { loadDataset, type FerDataset } from '../data/dataset';
import { IMAGE_CONVERSION } from '../data/image';
import { DEFAULT_INPUT, describeInput, recordedInputSpec, type InputSpec } from '../data/input';
import { buildLabelSet, type LabelSetName, type SplitLabels } from '../data/labels';
import { fitTemperature } from '../eval/calibration';
import { computeMetrics } from '../eval/metrics';
import { predictLogits } from '../eval/predict';
import { bootstrapAccuracy, mcnemarTest, type AccuracyInterval } from '../eval/stats';
import { ensembleShift, predictProbabilitiesTTA } from '../eval/tta';
import { loadLayersModelFromDir, saveLayersModel } from '../models/io';
import { EXPORT_FORMATS, MODEL_META_FILE, readModelMeta, writeModelMeta, type EnsembleInfo, type FormatCheck, type ModelMeta } from '../records/model';
import { CONFIG_FILE, MODEL_SUBDIR, readRunStatus, STATUS_FILE } from '../records/run';
import { isExperimentFolder } from '../records/experiment';
import { RecordError } from '../records/io';
import { argmaxRows } from '../util/argmax';
import { writeFileAtomic } from '../util/atomic';
import { pct } from '../util/format';
import { projectRelative } from '../util/paths';
import { buildEnsemble, checkEnsembleMember, EnsembleError, type EnsembleCombine } from './ensemble';
import { combineOutputs, scoreOutputs, selectMembers, type EnsembleScore } from './ensemble-select';
import { checkOf, FORMAT_LOADS, type ExportFormat } from './exporter';
import { ONNX_DEFAULT_OPSET, ONNX_INPUT_NAME, ONNX_LOGITS_NAME, ONNX_PROBABILITIES_NAME, tfjsToOnnx } from './onnx';
import { loadOnnxRuntime, onnxLogits } from './ort';
import { TFLITE_WEIGHTS, tfjsToTflite, type TfliteWeights } from './tflite';
import { loadLiteRt, tfliteLogits } from './tflite-runtime';

/** One saved model that may join the ensemble. */
export interface EnsembleCandidate {
  /** Run name (ferlab.json `run`), else the folder name; made unique with `#2`, `#3` when names repeat. */
  name: string;
  /** Absolute folder holding model.json. */
  modelDir: string;
  /** The folder it stands for (a run folder, or the model folder itself), relative to the project root when inside it. */
  source: string;
  meta: ModelMeta;
  /** Its input spec (ferlab.json `inputSpec`; absent = the default). */
  input: InputSpec;
}

/** What {@link findEnsembleCandidates} found. */
export interface EnsembleCandidates {
  candidates: EnsembleCandidate[];
  /** Subfolders or models left out (unfinished runs, another label set) and why. */
  skipped: Array<{ name: string; why: string }>;
  labelSet: string;
  classes: string[];
}

const hasModel = (dir: string) => existsSync(join(dir, 'model.json'));

/** A model folder's ferlab.json, its RecordError rethrown as an EnsembleError (same message). */
function metaOf(modelDir: string): ModelMeta {
  try {
    return readModelMeta(modelDir);
  } catch (e) {
    if (e instanceof RecordError) throw new EnsembleError(e.message);
    throw e;
  }
}

/**
 * The candidates of `folders` (see the file comment, step 1), in argument order then folder order.
 * @param opts.labels the label set every candidate must have (default: the first candidate's); others are skipped.
 * An experiment folder whose runs are all unfinished adds only `skipped` entries.
 * @throws EnsembleError for a folder that does not exist or holds neither a model, a run nor runs; a run folder given
 *   by name that is not finished; an ensemble given as a candidate (list its members instead); candidates with other
 *   classes than the first; no candidate left.
 */
export function findEnsembleCandidates(folders: readonly string[], opts: { labels?: string } = {}): EnsembleCandidates {
  const found: Array<{ modelDir: string; source: string; fallback: string }> = [];
  const skipped: EnsembleCandidates['skipped'] = [];
  const notFinished = (dir: string) => {
    const status = readRunStatus(dir);
    return status && status.state !== 'complete' ? `status.json says '${status.state}'` : undefined;
  };
  for (const folder of folders) {
    const dir = resolve(folder);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new EnsembleError(`${folder}: no such folder (expected a run folder, an experiment folder or an exported model folder)`);
    if (hasModel(dir)) {
      found.push({ modelDir: dir, source: projectRelative(basename(dir) === MODEL_SUBDIR ? dirname(dir) : dir), fallback: basename(dir) });
    } else if (hasModel(join(dir, MODEL_SUBDIR))) {
      const why = notFinished(dir);
      if (why) throw new EnsembleError(`${folder} is not a finished run: ${why}`);
      found.push({ modelDir: join(dir, MODEL_SUBDIR), source: projectRelative(dir), fallback: basename(dir) });
    } else {
      const subs = readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
      let any = false;
      const skippedBefore = skipped.length;
      for (const name of subs) {
        const sub = join(dir, name);
        if (isExperimentFolder(sub)) continue;
        const model = hasModel(sub) ? sub : hasModel(join(sub, MODEL_SUBDIR)) ? join(sub, MODEL_SUBDIR) : undefined;
        if (!model) {
          if (existsSync(join(sub, STATUS_FILE)) || existsSync(join(sub, CONFIG_FILE)))
            skipped.push({ name: `${basename(dir)}/${name}`, why: 'no model/ yet (unfinished run)' });
          continue;
        }
        const why = notFinished(sub);
        if (why) {
          skipped.push({ name: `${basename(dir)}/${name}`, why });
          continue;
        }
        any = true;
        found.push({ modelDir: model, source: projectRelative(sub), fallback: name });
      }
      // an experiment still running (its runs all unfinished) is skipped and listed; a folder with no run at all is a mistake
      if (!any && skipped.length === skippedBefore)
        throw new EnsembleError(
          `${folder} holds no model: expected a run folder (with model/), an experiment folder of finished runs or an exported model folder (model.json)`,
        );
    }
  }
  const seen = new Set<string>();
  const names = new Map<string, number>();
  const candidates: EnsembleCandidate[] = [];
  let labelSet = opts.labels;
  let classes: string[] | undefined;
  for (const f of found) {
    if (seen.has(f.modelDir)) continue;
    seen.add(f.modelDir);
    const meta = metaOf(f.modelDir);
    if (meta.ensemble)
      throw new EnsembleError(
        `${f.source} is an ensemble itself (ferlab.json 'ensemble'): give its members' folders instead (${meta.ensemble.members.map((m) => m.source).join(', ')})`,
      );
    const set = meta.labelSet ?? 'fer';
    labelSet ??= set;
    if (set !== labelSet) {
      skipped.push({ name: f.source, why: `label set '${set}', not '${labelSet}'${opts.labels ? ' (--labels)' : " (the first candidate's)"}` });
      continue;
    }
    classes ??= meta.classes;
    if (meta.classes.join() !== classes.join())
      throw new EnsembleError(
        `${f.source} has classes ${meta.classes.join(', ')}, the first candidate ${classes.join(', ')}: members must share their classes`,
      );
    const base = meta.run ?? f.fallback;
    const k = (names.get(base) ?? 0) + 1;
    names.set(base, k);
    let input: InputSpec;
    try {
      input = recordedInputSpec(meta, join(f.modelDir, MODEL_META_FILE));
    } catch (e) {
      throw new EnsembleError((e as Error).message);
    }
    candidates.push({ name: k === 1 ? base : `${base}#${k}`, modelDir: f.modelDir, source: f.source, meta, input });
  }
  if (!candidates.length || !labelSet || !classes)
    throw new EnsembleError(
      `no candidate of label set '${labelSet}' in ${folders.join(', ')}${skipped.length ? ` (${skipped.map((s) => `${s.name}: ${s.why}`).join('; ')})` : ''}`,
    );
  return { candidates, skipped, labelSet, classes };
}

/** Options of {@link makeEnsemble}. */
export interface EnsembleOptions {
  /** Output folder (required; replaced when it holds an earlier ferlab model folder). */
  out: string;
  /** Member choice (default 'greedy'). */
  select?: 'greedy' | 'all';
  /** Combination (default 'auto': the better on PublicTest, ties to 'logits'). */
  combine?: EnsembleCombine | 'auto';
  /** Formats to write besides tfjs (always written: it is the ensemble). */
  formats?: ExportFormat[];
  /** ONNX opset (default 13). */
  opset?: number;
  /** model.tflite weights (default float32). */
  tfliteWeights?: TfliteWeights;
  /** Label set of the candidates (default: the first candidate's). */
  labels?: string;
  /** Greedy steps (default ensemble-select.ts: max(10, 2 x candidates)). */
  maxSteps?: number;
  dataDir?: string;
  cacheDir?: string | false;
  backend?: BackendChoice;
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /** The command line, recorded in ferlab.json (default rebuilt from the options). */
  command?: string;
  /** Status lines (default console.log). */
  log?: (line: string) => void;
}

/** What {@link makeEnsemble} returns. */
export interface EnsembleResult {
  dir: string;
  meta: ModelMeta & { ensemble: EnsembleInfo };
  candidates: EnsembleCandidates;
}

/** The folder to write into: new, or an earlier model folder (ferlab.json), which is replaced. */
function checkOut(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new EnsembleError(`--out ${out} is a file; expected a folder (new, or an earlier model folder)`);
  const entries = readdirSync(out);
  if (entries.length && !entries.includes(MODEL_META_FILE))
    throw new EnsembleError(`--out ${out} is not empty and holds no ${MODEL_META_FILE}: refusing to replace it; choose another --out`);
}

/** The data of a label set: the dataset, PublicTest and PrivateTest (whole splits), and the backend's name. */
async function ensembleData(labelSet: string, opts: Pick<EnsembleOptions, 'dataDir' | 'cacheDir' | 'backend' | 'log'>) {
  const info = await initBackend(opts.backend ?? backendFromEnv());
  const ds = await loadDataset({ dataDir: opts.dataDir, cacheDir: opts.cacheDir, log: opts.log });
  const labels = buildLabelSet(ds, labelSet as LabelSetName);
  return { ds, val: labels.val, test: labels.test, backend: info.name };
}

/** The `output` sentence of ferlab.json for a combination (src/records/model.ts outputIsProbabilities reads its first word). */
function outputSentence(combine: EnsembleCombine, C: number): string {
  return combine === 'logits'
    ? `logits [batch, ${C}] float32; the weighted mean of the members' logits; softmax gives class probabilities`
    : `probabilities [batch, ${C}] float32; the weighted mean of the members' softmax probabilities (rows sum to 1; no softmax to apply)`;
}

/**
 * Writes the graph's files into `dir` (model.json + weights.bin always, model.onnx / model.tflite as asked) and checks
 * each against the graph's own PrivateTest outputs `reference`.
 * @returns the formats' records (ferlab.json `ensemble.formats`).
 */
async function writeFormats(
  graph: tf.LayersModel,
  dir: string,
  o: {
    formats: readonly ExportFormat[];
    combine: EnsembleCombine;
    classes: string[];
    labelSet: string;
    name: string;
    opset: number;
    tfliteWeights: TfliteWeights;
    ds: FerDataset;
    test: SplitLabels;
    reference: Float32Array;
    backend: string;
    batchSize: number;
    log: (l: string) => void;
  },
): Promise<EnsembleInfo['formats']> {
  const C = o.classes.length;
  const out: EnsembleInfo['formats'] = {};
  const probs = o.combine === 'probs';
  const what = probs ? 'probability' : 'logit';
  const line = (fmt: string, bytes: number, c: FormatCheck | { skipped: string }) =>
    o.log(
      'skipped' in c
        ? `ensemble: ${fmt} (${bytes} bytes) written, NOT checked: ${c.skipped}`
        : `ensemble: ${fmt} (${bytes} bytes): PrivateTest accuracy ${pct(c.privateTestAccuracy)}, max |${what} diff| vs the tfjs graph ${c.maxAbsLogitDiff.toExponential(2)}`,
    );
  await saveLayersModel(graph, dir, { ferlab: { classes: o.classes, ensemble: true } });
  const reloaded = await loadLayersModelFromDir(dir);
  const tfjsOut = predictLogits(reloaded, o.ds.pixels, o.test.index, o.batchSize, DEFAULT_INPUT);
  reloaded.dispose();
  const tfjsBytes = ['model.json', 'weights.bin'].map((f) => statSync(join(dir, f)).size);
  out.tfjs = {
    files: { 'model.json': tfjsBytes[0], 'weights.bin': tfjsBytes[1] },
    bytes: tfjsBytes[0] + tfjsBytes[1],
    weights: 'float32',
    loads: FORMAT_LOADS.tfjs,
    check: checkOf(tfjsOut, o.reference, o.test.label, C, `tfjs ${tf.version.tfjs} ${o.backend} backend, reloaded`),
  };
  line('tfjs', out.tfjs.bytes, out.tfjs.check);
  const metadata = (batch: string): Record<string, string> => ({
    classes: JSON.stringify(o.classes),
    input: `${ONNX_INPUT_NAME} [${batch}, ${IMAGE_SIZE}, ${IMAGE_SIZE}, 1] float32 NHWC`,
    output: outputSentence(o.combine, C),
    preprocessing: describeInput(DEFAULT_INPUT),
    image_conversion: IMAGE_CONVERSION,
    label_set: o.labelSet,
    ensemble: o.name,
  });
  if (o.formats.includes('onnx')) {
    const bytes = tfjsToOnnx(graph, { opset: o.opset, name: `ferlab-${o.name}`, metadata: metadata('batch'), probabilitiesOutput: probs });
    writeFileAtomic(join(dir, 'model.onnx'), bytes);
    const rt = loadOnnxRuntime();
    const check = rt.ort
      ? checkOf(await onnxLogits(rt.ort, bytes, o.ds.pixels, o.test.index, o.batchSize), o.reference, o.test.label, C, `onnxruntime-node ${rt.version} CPU`)
      : { skipped: rt.reason };
    out.onnx = { files: { 'model.onnx': bytes.length }, bytes: bytes.length, weights: 'float32', opset: o.opset, loads: FORMAT_LOADS.onnx, check };
    line(`onnx (opset ${o.opset}, output '${probs ? ONNX_PROBABILITIES_NAME : ONNX_LOGITS_NAME}')`, bytes.length, check);
  }
  if (o.formats.includes('tflite')) {
    const bytes = tfjsToTflite(graph, { weights: o.tfliteWeights, name: `ferlab-${o.name}`, metadata: metadata('1'), probabilitiesOutput: probs });
    writeFileAtomic(join(dir, 'model.tflite'), bytes);
    const rt = await loadLiteRt();
    const check = rt.litert
      ? checkOf(await tfliteLogits(bytes, o.ds.pixels, o.test.index), o.reference, o.test.label, C, `LiteRT.js (@litertjs/core ${rt.version}, WebAssembly CPU)`)
      : { skipped: rt.reason };
    out.tflite = { files: { 'model.tflite': bytes.length }, bytes: bytes.length, weights: o.tfliteWeights, loads: FORMAT_LOADS.tflite, check };
    line(`tflite (${o.tfliteWeights} weights)`, bytes.length, check);
  }
  return out;
}

/** Writes into a fresh folder beside `out`, then swaps it in (an interrupted write leaves the previous folder intact). */
async function swapInto(out: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(tmp, { recursive: true });
  try {
    await write(tmp);
    const old = existsSync(out) ? `${tmp}.old` : undefined;
    if (old) renameSync(out, old);
    renameSync(tmp, out);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function checkFormats(formats: readonly string[] | undefined, tfliteWeights: string | undefined): void {
  const bad = (formats ?? []).filter((f) => !(EXPORT_FORMATS as readonly string[]).includes(f));
  if (bad.length) throw new EnsembleError(`--formats: unknown ${bad.join(', ')}; expected a comma-separated subset of ${EXPORT_FORMATS.join(', ')}`);
  if (tfliteWeights !== undefined && !(TFLITE_WEIGHTS as readonly string[]).includes(tfliteWeights))
    throw new EnsembleError(`--tflite-weights '${tfliteWeights}': expected one of ${TFLITE_WEIGHTS.join(', ')}`);
}

/**
 * Builds, scores and writes an ensemble (see the file comment).
 * @param folders run, experiment or exported model folders (see {@link findEnsembleCandidates}).
 * @returns the folder written, its ferlab.json content and the candidates.
 * @throws EnsembleError for the candidates' problems (findEnsembleCandidates), a member the graph refuses (its
 *   normalization or resize, naming it: ensemble.ts), an unknown option value or an --out that is not a model folder;
 *   OnnxExportError / TfliteExportError when a format cannot be written; DataError for missing data.
 */
export async function makeEnsemble(folders: readonly string[], opts: EnsembleOptions): Promise<EnsembleResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const select = opts.select ?? 'greedy';
  if (select !== 'greedy' && select !== 'all') throw new EnsembleError(`--select '${String(select)}': expected greedy or all`);
  const combineOpt = opts.combine ?? 'auto';
  if (!['auto', 'logits', 'probs'].includes(combineOpt)) throw new EnsembleError(`--combine '${String(combineOpt)}': expected auto, logits or probs`);
  checkFormats(opts.formats, opts.tfliteWeights);
  const out = resolve(opts.out);
  checkOut(out);
  const batchSize = opts.batchSize ?? 256;
  const found = findEnsembleCandidates(folders, { labels: opts.labels });
  const { candidates, classes, labelSet } = found;
  const C = classes.length;
  for (const s of found.skipped) log(`ensemble: skipped ${s.name}: ${s.why}`);
  log(`ensemble: ${candidates.length} candidate(s) of label set '${labelSet}': ${candidates.map((c) => c.name).join(', ')}`);

  const { ds, val, test, backend } = await ensembleData(labelSet, { ...opts, log });
  const models: tf.LayersModel[] = [];
  try {
    // every candidate on PublicTest, with its own input spec: the selection data
    const publicOut: Float32Array[] = [];
    for (const c of candidates) {
      const model = await loadLayersModelFromDir(c.modelDir);
      models.push(model);
      checkEnsembleMember({ name: c.name, model, input: c.input });
      if (model.outputs[0].shape[1] !== C) throw new EnsembleError(`${c.source}: ${model.outputs[0].shape[1]} outputs, but its ferlab.json lists ${C} classes`);
      publicOut.push(predictLogits(model, ds.pixels, val.index, batchSize, c.input));
    }
    const single = publicOut.map((o) => scoreOutputs(o, C, val.label, 'logits').accuracy);
    candidates.forEach((c, k) => log(`ensemble: ${c.name}: PublicTest ${pct(single[k])} (${val.index.length} images)`));

    // every (selection, combination) on PublicTest; the asked one (or, for auto, the better combination) is kept
    const runs = (['greedy', 'all'] as const).flatMap((method) =>
      (['logits', 'probs'] as const).map((combine) => ({
        method,
        combine,
        sel: selectMembers(publicOut, val.label, C, { method, combine, maxSteps: opts.maxSteps }),
      })),
    );
    for (const r of runs) log(`ensemble: PublicTest ${r.method} / mean of ${r.combine}: ${pct(r.sel.score.accuracy)} (NLL ${r.sel.score.nll.toFixed(4)})`);
    const mine = runs.filter((r) => r.method === select && (combineOpt === 'auto' || r.combine === combineOpt));
    const better = (a: EnsembleScore, b: EnsembleScore) => a.accuracy > b.accuracy || (a.accuracy === b.accuracy && a.nll < b.nll);
    const chosen = mine.length === 2 && better(mine[1].sel.score, mine[0].sel.score) ? mine[1] : mine[0];
    const { combine, sel } = chosen;
    const counts = sel.counts;
    log(
      `ensemble: chosen on PublicTest: ${select}, mean of ${combine}${combineOpt === 'auto' ? ' (--combine auto: the better PublicTest accuracy, then NLL; ties to logits)' : ''}: ` +
        candidates
          .map((c, k) => (counts[k] ? `${c.name} x${counts[k]}` : ''))
          .filter(Boolean)
          .join(', '),
    );

    // the graph, checked against the members' outputs averaged by hand
    const idx = candidates.map((_, k) => k).filter((k) => counts[k] > 0);
    const graph = buildEnsemble(
      idx.map((k) => ({ name: candidates[k].name, model: models[k], input: candidates[k].input, weight: counts[k] })),
      { combine, name: basename(out) },
    );
    try {
      const graphPublic = predictLogits(graph, ds.pixels, val.index, batchSize, DEFAULT_INPUT);
      const byHand = combineOutputs(publicOut, counts, C, combine);
      let maxAbsDiff = 0;
      for (let i = 0; i < byHand.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(graphPublic[i] - byHand[i]));
      log(`ensemble: graph vs the members' outputs averaged by hand on PublicTest: max |diff| ${maxAbsDiff.toExponential(2)}`);
      const temperature = combine === 'logits' ? fitTemperature(graphPublic, C, val.label).temperature : undefined;

      // PrivateTest: reported only
      const testOut = predictLogits(graph, ds.pixels, test.index, batchSize, DEFAULT_INPUT);
      const preds = argmaxRows(testOut, C);
      const correct = Array.from(preds, (p, i) => (p === test.label[i] ? 1 : 0));
      const metrics = computeMetrics(test.label, preds, classes);
      const flip = predictProbabilitiesTTA(graph, ds.pixels, test.index, 'flip', {
        input: DEFAULT_INPUT,
        outputs: combine === 'probs' ? 'probabilities' : 'logits',
      });
      const flipPreds = argmaxRows(flip.probabilities, C);
      const interval = bootstrapAccuracy(correct);
      const flipTta = bootstrapAccuracy(Array.from(flipPreds, (p, i) => (p === test.label[i] ? 1 : 0)));
      log(
        `ensemble: PrivateTest ${pct(interval.accuracy)} (95% CI ${pct(interval.lower)}-${pct(interval.upper)}), with flip TTA ${pct(flipTta.accuracy)} (reported only)`,
      );
      const tta = measureTta(
        graph,
        ds.pixels,
        val,
        test,
        C,
        combine,
        idx.map((k) => candidates[k].input),
        { plainPublic: scoreOutputs(graphPublic, C, val.label, combine).accuracy, plainPrivate: interval, flipPrivate: flipTta },
      );
      for (const m of tta.modes)
        log(
          `ensemble: TTA ${m.mode}${m.shift ? ` (shifted whole images, members' crop ${m.shift})` : ''}: PublicTest ${pct(m.publicTestAccuracy)}, PrivateTest ${pct(m.privateTest.accuracy)} (95% CI ${pct(m.privateTest.lower)}-${pct(m.privateTest.upper)})`,
        );
      log(`ensemble: TTA chosen on PublicTest: ${tta.chosen}`);
      // the best single candidate by PublicTest, on the same PrivateTest images, and McNemar's test against it
      const bestK = single.indexOf(Math.max(...single));
      const bestPreds = argmaxRows(predictLogits(models[bestK], ds.pixels, test.index, batchSize, candidates[bestK].input), C);
      const bestCorrect = Array.from(bestPreds, (p, i) => (p === test.label[i] ? 1 : 0));
      const mc = mcnemarTest(correct, bestCorrect);
      const vsBestMember = {
        name: candidates[bestK].name,
        interval: bootstrapAccuracy(bestCorrect),
        mcnemar: { b: mc.b, c: mc.c, method: mc.method, pValue: mc.pValue },
      };
      log(
        `ensemble: vs the best PublicTest candidate ${vsBestMember.name} (PrivateTest ${pct(vsBestMember.interval.accuracy)}): McNemar b ${mc.b} (only the ensemble right), c ${mc.c} (only the member), p = ${mc.pValue.toPrecision(3)}${mc.pValue > 0.05 ? ' (within noise)' : ''}`,
      );

      const formats = [...new Set<ExportFormat>(['tfjs', ...(opts.formats ?? [])])];
      const opset = opts.opset ?? ONNX_DEFAULT_OPSET;
      const command =
        opts.command ??
        `npm run ferlab -- ensemble ${folders.join(' ')} --out ${opts.out} --select ${select} --combine ${combineOpt}${opts.formats ? ` --formats ${formats.join(',')}` : ''}`;
      const name = basename(out);
      let meta!: ModelMeta & { ensemble: EnsembleInfo };
      await swapInto(out, async (tmp) => {
        const written = await writeFormats(graph, tmp, {
          formats,
          combine,
          classes,
          labelSet,
          name,
          opset,
          tfliteWeights: opts.tfliteWeights ?? 'float32',
          ds,
          test,
          reference: testOut,
          backend,
          batchSize,
          log,
        });
        meta = {
          run: name,
          experiment: 'ensemble',
          model: 'ensemble',
          labelSet,
          classes,
          input: `[batch, ${IMAGE_SIZE}, ${IMAGE_SIZE}, 1] float32`,
          preprocessing: describeInput(DEFAULT_INPUT),
          inputSpec: { ...DEFAULT_INPUT },
          output: outputSentence(combine, C),
          testAccuracy: interval.accuracy,
          ...(temperature !== undefined ? { temperature } : {}),
          testImages: `${test.index.length} PrivateTest images of label set '${labelSet}'`,
          ensemble: {
            combine,
            members: idx.map((k) => ({
              name: candidates[k].name,
              source: candidates[k].source,
              ...(candidates[k].meta.model !== undefined ? { model: candidates[k].meta.model } : {}),
              ...(candidates[k].meta.labelSet !== undefined ? { labelSet: candidates[k].meta.labelSet } : {}),
              inputSpec: candidates[k].input,
              weight: counts[k],
              ...(candidates[k].meta.testAccuracy !== undefined ? { testAccuracy: candidates[k].meta.testAccuracy } : {}),
              publicTestAccuracy: single[k],
            })),
            selection: {
              method: select,
              criterion:
                select === 'greedy'
                  ? 'greedy forward selection with replacement (Caruana et al. 2004) on PublicTest accuracy, ties by PublicTest NLL; the best step is kept'
                  : 'all candidates, once each',
              steps: sel.steps.map((s) => ({ added: candidates[s.added].name, publicTestAccuracy: s.accuracy, publicTestNll: s.nll })),
              candidates: candidates.map((c, k) => ({ name: c.name, source: c.source, publicTestAccuracy: single[k] })),
            },
            publicTest: runs.map((r) => ({ select: r.method, combine: r.combine, accuracy: r.sel.score.accuracy, nll: r.sel.score.nll })),
            privateTest: { interval, macroF1: metrics.macroF1, flipTta, vsBestMember },
            tta,
            formats: written,
            graphCheck: { maxAbsDiff, images: val.index.length, against: "the members' PublicTest outputs combined by hand (float64)" },
            date: new Date().toISOString(),
            command,
          },
        };
        writeModelMeta(tmp, meta);
      });
      log(`ensemble: wrote ${out} (${readdirSync(out).join(', ')})`);
      return { dir: out, meta, candidates: found };
    } finally {
      graph.dispose();
    }
  } finally {
    for (const m of models) m.dispose();
  }
}

/**
 * The ensemble graph's TTA modes on PublicTest and PrivateTest (EnsembleInfo `tta`): none and flip, and tencrop on
 * shifted whole images (src/eval/tta.ts `shift`) when some member crops inside the graph (the smallest crop side is the
 * shift; a member on whole images then sees translated images). The mode with the best PublicTest accuracy is chosen
 * (ties to fewer views); PrivateTest is reported only.
 * @param plain the plain and flip scores already measured (not recomputed).
 */
function measureTta(
  graph: tf.LayersModel,
  pixels: Uint8Array,
  val: SplitLabels,
  test: SplitLabels,
  C: number,
  combine: EnsembleCombine,
  inputs: InputSpec[],
  plain: { plainPublic: number; plainPrivate: AccuracyInterval; flipPrivate: AccuracyInterval },
): NonNullable<EnsembleInfo['tta']> {
  const outputs = combine === 'probs' ? 'probabilities' : 'logits';
  // PublicTest accuracy as the selection scores it (scoreOutputs); PrivateTest as the per-image right / wrong its
  // bootstrap needs
  const publicAccuracy = (probs: Float32Array) => scoreOutputs(probs, C, val.label, 'probs').accuracy;
  const flipPublic = publicAccuracy(predictProbabilitiesTTA(graph, pixels, val.index, 'flip', { input: DEFAULT_INPUT, outputs }).probabilities);
  const modes: NonNullable<EnsembleInfo['tta']>['modes'] = [
    { mode: 'none', views: 1, publicTestAccuracy: plain.plainPublic, privateTest: plain.plainPrivate },
    { mode: 'flip', views: 2, publicTestAccuracy: flipPublic, privateTest: plain.flipPrivate },
  ];
  const shift = ensembleShift(inputs);
  if (shift !== undefined) {
    const pub = predictProbabilitiesTTA(graph, pixels, val.index, 'tencrop', { shift, outputs }).probabilities;
    const priv = argmaxRows(predictProbabilitiesTTA(graph, pixels, test.index, 'tencrop', { shift, outputs }).probabilities, C);
    const right = Array.from(priv, (p, i) => (p === test.label[i] ? 1 : 0));
    modes.push({ mode: 'tencrop', views: 10, shift, publicTestAccuracy: publicAccuracy(pub), privateTest: bootstrapAccuracy(right) });
  }
  let best = modes[0];
  for (const m of modes) if (m.publicTestAccuracy > best.publicTestAccuracy) best = m;
  return { modes, chosen: best.mode };
}

/** Whether `dir` is an ensemble's model folder (ferlab.json with `ensemble`). */
export function isEnsembleFolder(dir: string): boolean {
  if (!existsSync(join(dir, MODEL_META_FILE))) return false;
  try {
    return readModelMeta(dir).ensemble !== undefined;
  } catch {
    return false;
  }
}

/**
 * `ferlab export <ensemble folder>`: writes the ensemble's graph (its model.json, unchanged) into `out` with the formats
 * asked, each checked on PrivateTest against the graph, and its ferlab.json with the new formats, date and command.
 * @param opts.out output folder (default: the ensemble folder itself, rewritten). opts.formats (default all).
 * @throws EnsembleError when `folder` is not an ensemble folder or an option is invalid; what the converters throw.
 */
export async function exportEnsembleFolder(
  folder: string,
  opts: Pick<EnsembleOptions, 'formats' | 'opset' | 'tfliteWeights' | 'dataDir' | 'cacheDir' | 'backend' | 'batchSize' | 'command' | 'log'> & { out?: string },
): Promise<{ dir: string; meta: ModelMeta & { ensemble: EnsembleInfo } }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const dir = resolve(folder);
  const old = metaOf(dir);
  if (!old.ensemble) throw new EnsembleError(`${folder}: ferlab.json has no 'ensemble': not an ensemble folder`);
  checkFormats(opts.formats, opts.tfliteWeights);
  const out = resolve(opts.out ?? dir);
  if (out !== dir) checkOut(out);
  const combine = old.ensemble.combine;
  const labelSet = old.labelSet ?? 'fer';
  const { ds, test, backend } = await ensembleData(labelSet, { ...opts, log });
  const graph = await loadLayersModelFromDir(dir);
  try {
    const batchSize = opts.batchSize ?? 256;
    const reference = predictLogits(graph, ds.pixels, test.index, batchSize, DEFAULT_INPUT);
    const formats = [...new Set<ExportFormat>(['tfjs', ...(opts.formats ?? EXPORT_FORMATS)])];
    const command = opts.command ?? `npm run ferlab -- export ${folder}${opts.out ? ` --out ${opts.out}` : ''} --formats ${formats.join(',')}`;
    let meta!: ModelMeta & { ensemble: EnsembleInfo };
    await swapInto(out, async (tmp) => {
      const written = await writeFormats(graph, tmp, {
        formats,
        combine,
        classes: old.classes,
        labelSet,
        name: basename(out),
        opset: opts.opset ?? ONNX_DEFAULT_OPSET,
        tfliteWeights: opts.tfliteWeights ?? 'float32',
        ds,
        test,
        reference,
        backend,
        batchSize,
        log,
      });
      meta = { ...old, ensemble: { ...old.ensemble!, formats: written, date: new Date().toISOString(), command } };
      writeModelMeta(tmp, meta);
    });
    log(`ensemble: wrote ${out} (${readdirSync(out).join(', ')})`);
    return { dir: out, meta };
  } finally {
    graph.dispose();
  }
}
