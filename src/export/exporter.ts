/**
 * `npm run ferlab -- export <run | experiment | sweep folder>`: picks the run (select.ts: best PublicTest accuracy), writes
 * `models/<name>/` with the tfjs layers model (float32, or quantized with `--quantize`), `model.onnx` (float32),
 * `model.tflite` (float32, or float16 / dynamic-range int8 weights with `--tflite-weights`; tflite.ts),
 * `ferlab.json` (the run's model/ferlab.json plus what export adds) and `model-card.md` (card.ts), and checks every
 * written format by re-scoring it on the run's PrivateTest images (reporting, not selection).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { backendFromEnv, initBackend, type BackendChoice } from '../backend/select';
import { loadDataset, type FerDataset } from '../data/dataset';
import { IMAGE_CONVERSION } from '../data/image';
import { classCounts, isFerPlus, type LabelSetName } from '../data/labels';
import { describeInput, isDefaultInput, recordedInputSpec } from '../data/input';
import { runLabels } from '../exp/run';
import { evaluateSplit } from '../eval/evaluate';
import { predictLogits } from '../eval/predict';
import { loadLayersModelFromDir, readModelFolderFile, readModelJson } from '../models/io';
import { argmaxRows } from '../util/argmax';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { environment } from '../util/env';
import { PROJECT_ROOT, projectRelative } from '../util/paths';
import { bootstrapAccuracy } from './bootstrap';
import { modelCardMarkdown } from './card';
import { ONNX_DEFAULT_OPSET, ONNX_INPUT_NAME, ONNX_LOGITS_NAME, tfjsToOnnx } from './onnx';
import { loadOnnxRuntime, onnxLogits } from './ort';
import { TFLITE_INPUT_NAME, TFLITE_LOGITS_NAME, TFLITE_WEIGHTS, tfjsToTflite, type TfliteWeights } from './tflite';
import { loadLiteRt, tfliteLogits } from './tflite-runtime';
import { WEIGHT_QUANTIZATIONS, quantizeModel, type WeightQuantization } from './quantize';
import { candidateRows, ExportError, records, selectRun, type Selection } from './select';
import { readRecord } from '../records/io';
import {
  EXPORT_FORMATS,
  MODEL_META_FILE,
  ModelMetaSchema,
  writeModelMeta,
  type ExportInfo,
  type ExportedFormat,
  type FormatCheck,
  type ReleaseInfo,
} from '../records/model';
import { CONFIG_FILE, MODEL_SUBDIR, PREDICTIONS_FILE, readPredictions, readRunConfigFile } from '../records/run';
import { RunConfigSchema } from '../exp/config';

/** Formats `export` writes. */
export { EXPORT_FORMATS } from '../records/model';
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Options of {@link exportModel}. */
export interface ExportOptions {
  /** Output folder (default `models/<experiment>[-quick]-<run>` in the project). Replaced when it holds an earlier export. */
  out?: string;
  /** Formats to write (default all). */
  formats?: ExportFormat[];
  /** Quantize the tfjs weights (float16 or uint8, tensorflowjs_converter's storage); model.onnx stays float32. */
  quantize?: WeightQuantization;
  /** Storage of model.tflite's weights (tflite.ts TFLITE_WEIGHTS): float32 (default), float16 or int8 (dynamic range). */
  tfliteWeights?: TfliteWeights;
  /** ONNX opset (13-21, default 13). */
  opset?: number;
  /** Only runs of this label set compete (select.ts labelFilter: a label set name or `ferplus`). */
  labels?: string;
  dataDir?: string;
  cacheDir?: string | false;
  /** tfjs backend used to re-score (default FERLAB_BACKEND, else auto). */
  backend?: BackendChoice;
  /** The command line, recorded in ferlab.json and the card (default: rebuilt from the options). */
  command?: string;
  /** Status lines (default console.log). */
  log?: (line: string) => void;
  /** A released model (src/export/release.ts): its name and the commands that train and rebuild it, recorded in ferlab.json and the card. */
  release?: ReleaseInfo;
}

/**
 * What export writes into ferlab.json (its `export`, `io`, `labels`, `data`, `evaluation` and `release` keys, with the
 * per-format records and checks): schemas and types in src/records/model.ts.
 */
export type { ExportedFormat, ExportInfo, FormatCheck, ReleaseInfo } from '../records/model';

/** What {@link exportModel} returns. */
export interface ExportResult {
  /** Output folder, absolute. */
  dir: string;
  selection: Selection;
  /** Content of the written ferlab.json: the run's model/ferlab.json plus {@link ExportInfo}. */
  info: Record<string, unknown> & ExportInfo;
  /** Paths of the written files. */
  files: string[];
}

/** Rules of each label set, for the card (microsoft/FERPlus src/ferplus.py; arXiv 1608.01041 section 3). */
export const LABEL_SET_RULES: Record<LabelSetName, string> = {
  fer: 'the original FER2013 label of each image (one of 7 classes; Goodfellow et al. 2013)',
  majority: 'FER+ (Barsoum et al. 2016): after removing single votes, the emotion with more than half of the 10 crowd votes, as a one-hot target',
  probability:
    'FER+ (Barsoum et al. 2016) "probability" mode: the top emotions up to 75% of the crowd votes (at most 3); one one-hot target drawn from that distribution per image per epoch',
  crossentropy: 'FER+ (Barsoum et al. 2016) "crossentropy" mode: the vote distribution (top emotions up to 75% of the votes) as a soft target',
  multi_target: 'FER+ (Barsoum et al. 2016) "multi_target" mode: every emotion with at least 30% of the votes is accepted; loss -log(max_i t_i p_i)',
};

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new ExportError(`${file}: cannot read it (${(e as Error).message})`);
  }
}

/** What loads each exported format, in words (ferlab.json `export.formats.<format>.loads`). */
export const FORMAT_LOADS: Record<ExportFormat, string> = {
  tfjs: 'TensorFlow.js: tf.loadLayersModel(url + "/model.json") in browsers, Node (tfjs-node: file://) and React Native (tfjs-react-native bundleResourceIO)',
  onnx: 'ONNX Runtime (Python, C/C++, C#, Java, JavaScript: onnxruntime-node / onnxruntime-web, mobile: ONNX Runtime Mobile on Android and iOS, onnxruntime-react-native), and other ONNX runtimes',
  tflite:
    'TFLite / LiteRT: Android (com.google.ai.edge.litert:litert, org.tensorflow:tensorflow-lite), iOS (TensorFlowLiteSwift), Python (ai-edge-litert, tf.lite.Interpreter), C/C++, JavaScript (LiteRT.js @litertjs/core, @tensorflow/tfjs-tflite); builtin operators only',
};

/** max |a - b| over all entries. */
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`logit arrays differ in length: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * The check of one written format: its PrivateTest accuracy, max |output - reference output| and the predictions that
 * changed, against the reference model's outputs on the same images.
 * @param logits `[n, C]` outputs of the format. @param reference `[n, C]` outputs of the reference model. @param labels `[n]`.
 * @throws Error when the arrays differ in length.
 */
export function checkOf(logits: Float32Array, reference: Float32Array, labels: Uint8Array, C: number, runtime: string): FormatCheck {
  const preds = argmaxRows(logits, C);
  const refPreds = argmaxRows(reference, C);
  let correct = 0;
  let changed = 0;
  preds.forEach((p, i) => {
    if (p === labels[i]) correct++;
    if (p !== refPreds[i]) changed++;
  });
  return {
    privateTestAccuracy: correct / labels.length,
    n: labels.length,
    maxAbsLogitDiff: maxAbsDiff(logits, reference),
    changedPredictions: changed,
    runtime,
  };
}

const countsByClass = (counts: number[], classes: readonly string[]) => Object.fromEntries(classes.map((c, i) => [c, counts[i]]));

/** The folder to write into: a fresh one, or one holding an earlier export (ferlab.json), which is replaced. */
function checkOutDir(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new ExportError(`--out ${out} is a file; expected a folder (new, or an earlier export)`);
  const entries = readdirSync(out);
  if (entries.length && !entries.includes(MODEL_META_FILE))
    throw new ExportError(`--out ${out} is not empty and holds no ferlab.json (not an earlier export): refusing to replace it; choose another --out`);
}

/**
 * Exports a run (see the file comment). The folder is written next to its final place and renamed into it once every
 * file is written and checked, so an interrupted export leaves the previous one intact.
 *
 * @param folder a run record, an experiment folder or any folder whose subfolders are run records.
 * @returns the output folder, the selection, ferlab.json's content and the files written.
 * @throws ExportError for a folder without a finished run record (select.ts), an unknown format or quantization, an
 *   output folder that is not an earlier export, data whose fer2013.csv MD5 differs from the run's (the checks would
 *   score other images) or whose PrivateTest rows differ from the run's predictions.json; OnnxExportError / TfliteExportError
 *   for a model tfjsToOnnx / tfjsToTflite cannot convert; DataError for missing or bad data. A reloaded float32 model whose PrivateTest
 *   predictions differ from predictions.json (another backend can flip a borderline image) is reported, not thrown.
 */
export async function exportModel(folder: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const formats = opts.formats ?? [...EXPORT_FORMATS];
  const bad = formats.filter((f) => !(EXPORT_FORMATS as readonly string[]).includes(f));
  if (bad.length || !formats.length)
    throw new ExportError(`--formats '${formats.join(',')}': expected a comma-separated subset of ${EXPORT_FORMATS.join(', ')}`);
  if (opts.quantize !== undefined && !WEIGHT_QUANTIZATIONS.includes(opts.quantize))
    throw new ExportError(`--quantize '${opts.quantize}': expected one of ${WEIGHT_QUANTIZATIONS.join(', ')}`);
  if (opts.quantize && !formats.includes('tfjs'))
    throw new ExportError(`--quantize applies to the tfjs format, which --formats ${formats.join(',')} leaves out`);
  if (opts.tfliteWeights !== undefined && !TFLITE_WEIGHTS.includes(opts.tfliteWeights))
    throw new ExportError(`--tflite-weights '${opts.tfliteWeights}': expected one of ${TFLITE_WEIGHTS.join(', ')}`);
  if (opts.tfliteWeights && opts.tfliteWeights !== 'float32' && !formats.includes('tflite'))
    throw new ExportError(`--tflite-weights applies to the tflite format, which --formats ${formats.join(',')} leaves out`);
  const opset = opts.opset ?? ONNX_DEFAULT_OPSET;

  const selection = selectRun(folder, { labels: opts.labels });
  const run = selection.best;
  const config = records(() => readRunConfigFile(run.dir, RunConfigSchema));
  const modelDir = join(run.dir, MODEL_SUBDIR);
  // the run's model metadata, its `config` checked as the resolved run it is (src/exp/config.ts)
  const baseMeta = records(() => readRecord(ModelMetaSchema.extend({ config: RunConfigSchema.optional() }), join(modelDir, MODEL_META_FILE)));
  // the input the model was trained with: every check below feeds it exactly that way
  const input = recordedInputSpec(baseMeta, join(modelDir, MODEL_META_FILE));
  const S = input.size;
  const predictions = records(() => readPredictions(run.dir));
  const name = `${config.run.experiment}${selection.quick ? '-quick' : ''}-${config.run.name}`;
  if (!opts.out && !/^[\w][\w.-]*$/.test(name))
    throw new ExportError(
      `${join(run.dir, CONFIG_FILE)}: experiment and run names '${config.run.experiment}', '${config.run.name}' do not make a folder name under models/ (letters, digits, '_', '-', '.'); pass --out`,
    );
  const out = resolve(opts.out ?? join(PROJECT_ROOT, 'models', name));
  checkOutDir(out);
  const command =
    opts.command ??
    `npm run ferlab -- export ${relative(PROJECT_ROOT, selection.source) || '.'}${opts.out ? ` --out ${opts.out}` : ''}` +
      `${opts.formats ? ` --formats ${formats.join(',')}` : ''}${opts.quantize ? ` --quantize ${opts.quantize}` : ''}${opts.tfliteWeights ? ` --tflite-weights ${opts.tfliteWeights}` : ''}${opts.labels ? ` --labels ${opts.labels}` : ''}`;

  log(`export: ${selection.kind} ${folder}: ${selection.reason}`);
  const info0 = await initBackend(opts.backend ?? backendFromEnv());
  const ds: FerDataset = await loadDataset({ dataDir: opts.dataDir, cacheDir: opts.cacheDir, log });
  const recordedMd5 = typeof config.data?.fer2013Md5 === 'string' ? config.data.fer2013Md5 : '';
  if (recordedMd5 && ds.source.fer2013Md5 && recordedMd5 !== ds.source.fer2013Md5)
    throw new ExportError(
      `the data in ${ds.source.dataDir} (fer2013.csv MD5 ${ds.source.fer2013Md5}) is not the data run ${run.name} was trained on ` +
        `(MD5 ${recordedMd5} in ${join(run.dir, CONFIG_FILE)}): pass --data-dir with that data`,
    );
  const labels = runLabels(ds, config.run);
  const classes = [...labels.classes];
  const C = classes.length;
  const test = labels.test;

  // the run's float32 model: the reference of every check
  const source = await loadLayersModelFromDir(modelDir);
  const val = evaluateSplit(source, ds, labels.val, classes, config.run.evalBatchSize, input);
  const ref = evaluateSplit(source, ds, test, classes, config.run.evalBatchSize, input);
  const recordedPreds = predictions.pred;
  if (recordedPreds.length !== test.index.length || predictions.index.some((row, i) => row !== test.index[i]))
    throw new ExportError(
      `${join(run.dir, PREDICTIONS_FILE)} covers ${recordedPreds.length} PrivateTest images, the run's label set and slice give ${test.index.length} ` +
        '(or other rows): is the data the one the run used?',
    );
  const disagree = recordedPreds.filter((p, i) => p !== ref.preds[i]).length;
  if (disagree)
    log(
      `export: WARNING: the reloaded model predicts ${disagree} of ${test.index.length} PrivateTest images differently from predictions.json (backend ${info0.name})`,
    );
  if (val.metrics.accuracy !== run.summary.val.accuracy)
    log(
      `export: note: PublicTest accuracy re-scored ${(100 * val.metrics.accuracy).toFixed(2)}% vs recorded ${(100 * run.summary.val.accuracy).toFixed(2)}% (backend ${info0.name})`,
    );

  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(tmp, { recursive: true });
  const exported: Partial<Record<ExportFormat, ExportedFormat>> = {};
  const size = (f: string) => statSync(join(tmp, f)).size;
  try {
    if (formats.includes('tfjs')) {
      if (opts.quantize) {
        const q = await quantizeModel(source, opts.quantize);
        const runJson = readJson<{ userDefinedMetadata?: Record<string, unknown> }>(join(run.dir, 'model', 'model.json'));
        q.modelJson.userDefinedMetadata = { ...(runJson.userDefinedMetadata ?? {}), weightQuantization: opts.quantize };
        writeFileAtomic(join(tmp, q.modelJson.weightsManifest[0].paths[0]), q.weightsBin);
        writeJsonAtomic(join(tmp, 'model.json'), q.modelJson);
      } else {
        // the run's files byte for byte: the very weights that were evaluated; readModelJson admits only plain files
        // beside model.json (src/models/io.ts modelFolderFile), so each copy lands directly in tmp
        const runModel = readModelJson(join(run.dir, 'model'));
        writeFileAtomic(join(tmp, 'model.json'), readModelFolderFile(runModel.file));
        runModel.json.weightsManifest.forEach((group, i) =>
          group.paths.forEach((p, j) => writeFileAtomic(join(tmp, p), readModelFolderFile(runModel.weightFiles[i][j]))),
        );
      }
      const json = readJson<tf.io.ModelJSON>(join(tmp, 'model.json'));
      const files = ['model.json', ...json.weightsManifest.flatMap((g) => g.paths)];
      const reloaded = await loadLayersModelFromDir(tmp);
      const logits = predictLogits(reloaded, ds.pixels, test.index, config.run.evalBatchSize, input);
      reloaded.dispose();
      const check = checkOf(logits, ref.logits, test.label, C, `tfjs ${tf.version.tfjs} ${info0.name} backend`);
      exported.tfjs = {
        files: Object.fromEntries(files.map((f) => [f, size(f)])),
        bytes: files.reduce((a, f) => a + size(f), 0),
        weights: opts.quantize ?? 'float32',
        loads: FORMAT_LOADS.tfjs,
        check,
      };
      log(
        `export: tfjs (${exported.tfjs.weights} weights, ${exported.tfjs.bytes} bytes): PrivateTest accuracy ${(100 * check.privateTestAccuracy).toFixed(2)}%, ` +
          `max |logit diff| vs the run's float32 model ${check.maxAbsLogitDiff.toExponential(2)}`,
      );
    }
    if (formats.includes('onnx')) {
      const metadata: Record<string, string> = {
        classes: JSON.stringify(classes),
        input: `${ONNX_INPUT_NAME} [batch, ${S}, ${S}, 1] float32 NHWC`,
        output: `${ONNX_LOGITS_NAME} [batch, ${C}] float32 (softmax gives class probabilities)`,
        preprocessing: describeInput(input),
        ...(isDefaultInput(input) ? {} : { input_spec: JSON.stringify(input) }),
        image_conversion: IMAGE_CONVERSION,
        label_set: config.run.labels,
        run: `${config.run.experiment}/${config.run.name}`,
        fer2013_md5: recordedMd5,
        commit: config.environment?.commit ?? 'unknown',
      };
      const bytes = tfjsToOnnx(source, { opset, name: `ferlab-${name}`, metadata });
      writeFileAtomic(join(tmp, 'model.onnx'), bytes);
      const rt = loadOnnxRuntime();
      let check: FormatCheck | { skipped: string };
      if (rt.ort) {
        const logits = await onnxLogits(rt.ort, join(tmp, 'model.onnx'), ds.pixels, test.index, config.run.evalBatchSize, input);
        check = checkOf(logits, ref.logits, test.label, C, `onnxruntime-node ${rt.version} CPU`);
        log(
          `export: onnx (opset ${opset}, ${bytes.length} bytes): PrivateTest accuracy ${(100 * check.privateTestAccuracy).toFixed(2)}%, ` +
            `max |logit diff| vs tfjs ${check.maxAbsLogitDiff.toExponential(2)}`,
        );
      } else {
        check = { skipped: rt.reason };
        log(`export: onnx (opset ${opset}, ${bytes.length} bytes) written, NOT checked: ${rt.reason}`);
      }
      exported.onnx = {
        files: { 'model.onnx': bytes.length },
        bytes: bytes.length,
        weights: 'float32',
        opset,
        loads: FORMAT_LOADS.onnx,
        check,
      };
    }
    if (formats.includes('tflite')) {
      const tfliteWeights = opts.tfliteWeights ?? 'float32';
      const metadata: Record<string, string> = {
        classes: JSON.stringify(classes),
        input: `${TFLITE_INPUT_NAME} [1, ${S}, ${S}, 1] float32 NHWC`,
        output: `${TFLITE_LOGITS_NAME} [1, ${C}] float32 (softmax gives class probabilities)`,
        preprocessing: describeInput(input),
        ...(isDefaultInput(input) ? {} : { input_spec: JSON.stringify(input) }),
        image_conversion: IMAGE_CONVERSION,
        label_set: config.run.labels,
        run: `${config.run.experiment}/${config.run.name}`,
        fer2013_md5: recordedMd5,
        commit: config.environment?.commit ?? 'unknown',
      };
      const bytes = tfjsToTflite(source, { weights: tfliteWeights, name: `ferlab-${name}`, metadata });
      writeFileAtomic(join(tmp, 'model.tflite'), bytes);
      const rt = await loadLiteRt();
      let check: FormatCheck | { skipped: string };
      if (rt.litert) {
        // the written file, one image per call (its batch is 1)
        const logits = await tfliteLogits(join(tmp, 'model.tflite'), ds.pixels, test.index, input);
        check = checkOf(logits, ref.logits, test.label, C, `LiteRT.js (@litertjs/core ${rt.version}, WebAssembly CPU)`);
        log(
          `export: tflite (${tfliteWeights} weights, ${bytes.length} bytes): PrivateTest accuracy ${(100 * check.privateTestAccuracy).toFixed(2)}%, ` +
            `max |logit diff| vs tfjs ${check.maxAbsLogitDiff.toExponential(2)}`,
        );
      } else {
        check = { skipped: rt.reason };
        log(`export: tflite (${tfliteWeights} weights, ${bytes.length} bytes) written, NOT checked: ${rt.reason}`);
      }
      exported.tflite = {
        files: { 'model.tflite': bytes.length },
        bytes: bytes.length,
        weights: tfliteWeights,
        loads: FORMAT_LOADS.tflite,
        check,
      };
    }

    const train = labels.train;
    const fullTrain = runLabels(ds, { ...config.run, slice: { train: null, val: null, test: null } }).train;
    const correctTest = recordedPreds.map((p, i) => p === predictions.label[i]);
    const correctVal = Array.from(val.preds, (p, i) => p === labels.val.label[i]);
    const info: ExportInfo = {
      export: {
        date: new Date().toISOString(),
        command,
        source: {
          folder: projectRelative(selection.source),
          kind: selection.kind,
          run: run.name,
          runDir: projectRelative(run.dir),
          criterion: 'best PublicTest (validation) accuracy of the best epoch (src/exp/records.ts bestRun; first on ties); PrivateTest only reported',
          reason: selection.reason,
          candidates: selection.candidates.map((c) => ({
            run: c.name,
            model: c.model,
            labels: c.labels,
            publicTestAccuracy: c.publicTest,
            privateTestAccuracy: c.privateTest,
          })),
          skipped: selection.skipped,
          notes: selection.notes,
        },
        environment: environment(info0.description),
        formats: exported,
        reference: {
          privateTestAccuracy: ref.metrics.accuracy,
          publicTestAccuracy: val.metrics.accuracy,
          recordedPrivateTestAccuracy: run.summary.test.accuracy,
          recordedPublicTestAccuracy: run.summary.val.accuracy,
        },
      },
      io: {
        input: {
          name: ONNX_INPUT_NAME,
          shape: [null, S, S, 1],
          layout: 'NHWC',
          dtype: 'float32',
          range: input.normalize === 'standardize' ? null : [0, 1],
          preprocessing: describeInput(input),
          imageConversion: IMAGE_CONVERSION,
        },
        output: { name: ONNX_LOGITS_NAME, shape: [null, C], meaning: 'logits; softmax over the last axis gives class probabilities', classes },
      },
      labels: {
        set: config.run.labels,
        ferplus: isFerPlus(config.run.labels),
        rule: LABEL_SET_RULES[config.run.labels],
        evaluationLabels: isFerPlus(config.run.labels) ? 'FER+ majority labels (PublicTest and PrivateTest), as in the FER+ paper' : 'FER2013 labels',
      },
      data: {
        record: config.data ?? {},
        trainCounts: countsByClass(classCounts(train, C), classes),
        ...(fullTrain.index.length !== train.index.length ? { fullTrainCounts: countsByClass(classCounts(fullTrain, C), classes) } : {}),
        slice: config.run.slice,
      },
      evaluation: {
        publicTest: {
          role: 'model selection (best epoch; best run of the folder)',
          interval: bootstrapAccuracy(correctVal),
          macroF1: val.metrics.macroF1,
        },
        privateTest: {
          role: 'reported only (never used to select)',
          interval: bootstrapAccuracy(correctTest),
          macroF1: run.summary.test.macroF1,
          perClass: run.summary.test.perClass,
          confusion: run.summary.test.confusion,
        },
        cross: run.summary.cross,
        ...(run.summary.tta
          ? {
              tta: {
                mode: run.summary.tta.tta,
                views: run.summary.tta.views,
                average: run.summary.tta.average,
                publicTestAccuracy: run.summary.tta.val.accuracy,
                privateTest: { interval: run.summary.tta.testInterval, macroF1: run.summary.tta.test.macroF1, perClass: run.summary.tta.test.perClass },
              },
            }
          : {}),
        ...(run.summary.calibration
          ? {
              calibration: {
                temperature: run.summary.calibration.temperature,
                fittedOn: run.summary.calibration.fittedOn,
                privateTestEce: run.summary.calibration.test.ece,
                privateTestEceScaled: run.summary.calibration.testScaled.ece,
                bins: run.summary.calibration.test.numBins,
              },
            }
          : {}),
      },
      ...(opts.release ? { release: opts.release } : {}),
    };
    const full = { ...baseMeta, ...info };
    writeModelMeta(tmp, full);
    writeFileAtomic(join(tmp, 'model-card.md'), modelCardMarkdown(full, { name, params: source.countParams(), candidates: candidateRows(selection) }));

    // swap the finished folder in
    mkdirSync(dirname(out), { recursive: true });
    const old = existsSync(out) ? `${tmp}.old` : undefined;
    if (old) renameSync(out, old);
    renameSync(tmp, out);
    if (old) rmSync(old, { recursive: true, force: true });
    source.dispose();
    const files = readdirSync(out).map((f) => join(out, f));
    log(`export: wrote ${out} (${readdirSync(out).join(', ')})`);
    return { dir: out, selection, info: full, files };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    source.dispose();
    throw e;
  }
}
