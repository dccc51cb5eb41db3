import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FerDataset } from '../data/dataset';
import { buildLabelSet, isFerPlus, sliceLabelSet, splitSizes, type LabelSet } from '../data/labels';
import { describeInput, isDefaultInput } from '../data/input';
import { evaluateSplit } from '../eval/evaluate';
import { modelEntry, resolveInputSpec } from '../models/registry';
import { loadLayersModelFromDir, saveLayersModel } from '../models/io';
import { readSavedModelInfo, resolveModelRef } from '../models/init';
import { evaluateMapped, savedModelClasses } from '../eval/transfer';
import { removeCheckpoint } from '../train/checkpoint';
import { train, TrainError, type EpochRecord, type StepProgress } from '../train/loop';
import type { Environment } from '../util/env';
import { checkRunName, trainConfigOf, type RunConfig } from './config';
import { writeRunReport } from './reports';
import { evalContext, runEvaluators, selectEvaluators } from './evaluators';
import { CHECKPOINT_FILE, writeRunStatus } from './status';
import {
  CONFIG_FILE,
  MODEL_SUBDIR,
  readRunInit,
  writeEpochs,
  writeRunConfigFile,
  writeRunInit,
  writeRunSummary,
  type RunInit,
  type RunSummary,
} from '../records/run';
import { writeModelMeta } from '../records/model';

/**
 * The records a run writes (metrics.json: RunSummary; init.json: RunInit; predictions.json: TestPredictions): their
 * schemas, file names and readers / writers are in src/records/run.ts.
 */
export type { RunInit, RunSummary, TestPredictions } from '../records/run';

/** The label set of a run with its slice applied (first n images of each split, in file order). */
export function runLabels(ds: FerDataset, run: Pick<RunConfig, 'labels' | 'slice'>): LabelSet {
  return sliceLabelSet(buildLabelSet(ds, run.labels), run.slice);
}

/** Options of {@link runOne}. */
export interface RunOptions {
  /** Folder of this run's record (created). */
  dir: string;
  /** Folder holding the plotly.min.js the run report uses (default: the parent of `dir`, the experiment folder). */
  plotlyDir?: string;
  env: Environment;
  onStep?: (p: StepProgress) => void;
  onEpoch?: (r: EpochRecord) => void;
  /**
   * Asked after every epoch, once the epoch's checkpoint, epochs.jsonl and status are written (and after `onEpoch`):
   * `true` stops the run there. runOne then records it as `pruned` (status.json with that epoch; the checkpoint is
   * removed, config.json and epochs.jsonl stay; no evaluation on PrivateTest, no model) and throws {@link RunStopped}.
   * Sweeps use it to prune trials (src/sweep/coordinator.ts). The stopped training's tensors (model, optimizer moments,
   * best weights) are not disposed: run such a run in a worker thread that ends afterwards, as the sweep runner does.
   */
  shouldStop?: (r: EpochRecord, history: readonly EpochRecord[]) => boolean;
  /** Data-parallel replicas for the training (src/train/loop.ts TrainOptions.replicas); default 1. */
  replicas?: number;
}

/** Thrown by {@link runOne} when `shouldStop` stopped the run after `epoch` (its record says `pruned`). */
export class RunStopped extends Error {
  constructor(
    readonly run: string,
    readonly epoch: number,
  ) {
    super(`run '${run}' stopped after epoch ${epoch} (pruned)`);
    this.name = 'RunStopped';
  }
}

/**
 * Trains and evaluates one run and writes its record (every file atomically):
 * `config.json` (resolved config, environment, data provenance, split sizes), `status.json` (running / complete /
 * failed, with the epoch), `checkpoint.bin` (the state after the last finished epoch, see src/train/checkpoint.ts;
 * removed once the run is complete), `epochs.jsonl` (rewritten after each epoch), `metrics.json` (best-epoch val/test
 * metrics with confusion matrices, cross-evaluation, timings), `predictions.json` (per-image PrivateTest predictions)
 * (the post-training analyses are the evaluators of src/exp/evaluators, called in order; the run's `evaluators`
 * setting may leave some out) and `model/` (model.json + weights.bin, tfjs layers format, with the classes, preprocessing and test accuracy in its
 * metadata and ferlab.json beside it), and report.html (figures of the run; plotly.js shared from the experiment folder).
 *
 * A run folder with a checkpoint is continued from it (same results as an uninterrupted run); `config.json` of the
 * first attempt is kept.
 *
 * @throws ConfigError, before anything is written, when `run.name` is not a safe folder name (src/exp/config.ts
 *   checkRunName); the training or evaluation error, after recording the run as failed in status.json;
 *   {@link RunStopped} when `opts.shouldStop` stopped the run (recorded as pruned).
 */
export async function runOne(run: RunConfig, ds: FerDataset, opts: RunOptions): Promise<RunSummary> {
  // before anything is written: the record folder is named after the run (src/exp/config.ts RUN_NAME)
  checkRunName(run.name, 'run name');
  let epoch: number | null = null;
  try {
    return await runRecord(run, ds, opts, (e) => (epoch = e));
  } catch (e) {
    const err = e as Error;
    if (err instanceof RunStopped) {
      writeRunStatus(opts.dir, { state: 'pruned', epoch: err.epoch });
      removeCheckpoint(join(opts.dir, CHECKPOINT_FILE));
      throw e;
    }
    writeRunStatus(opts.dir, { state: 'failed', epoch: err instanceof TrainError ? err.epoch : epoch, error: err.message });
    throw e;
  }
}

async function runRecord(run: RunConfig, ds: FerDataset, opts: RunOptions, onEpochDone: (epoch: number) => void): Promise<RunSummary> {
  const t0 = performance.now();
  mkdirSync(opts.dir, { recursive: true });
  const labels = runLabels(ds, run);
  const sizes = splitSizes(labels);
  const entry = modelEntry(run.model);
  // the model's input spec with the run's `input` setting over it (the loop resolves the same one)
  const input = resolveInputSpec(run.model, run.input);
  const inputRecord = isDefaultInput(input) ? {} : { inputSpec: input };
  const checkpoint = join(opts.dir, CHECKPOINT_FILE);
  writeRunStatus(opts.dir, { state: 'running', epoch: null });
  const init = run.initFrom ? await startingModel(run.initFrom, ds, labels, run, opts.dir) : undefined;
  if (!existsSync(join(opts.dir, CONFIG_FILE)))
    writeRunConfigFile(opts.dir, {
      run,
      model: { name: run.model, description: entry.description },
      labelSet: { name: labels.name, classes: labels.classes, loss: labels.loss, sampleOneHot: labels.sampleOneHot, sizes },
      preprocessing: describeInput(input),
      ...inputRecord,
      data: dataProvenance(ds),
      ...(init ? { init: { ...init, before: init.before && { val: init.before.val.accuracy, test: init.before.test.accuracy } } } : {}),
      environment: opts.env,
    });
  const result = await train(trainConfigOf(run), ds, labels, {
    validate: (model) => evaluateSplit(model, ds, labels.val, labels.classes, run.evalBatchSize, input),
    checkpoint,
    initDir: init?.dir,
    // distillation teachers: references resolved as initFrom's, also among the experiments beside this one
    ...(run.distill ? { teacherDirs: run.distill.teacher.map((r) => resolveModelRef(r, { runsDirs: [dirname(dirname(opts.dir))] })) } : {}),
    ...(opts.replicas && opts.replicas > 1 ? { replicas: opts.replicas } : {}),
    onStep: opts.onStep,
    onEpoch: (r, history) => {
      writeEpochs(opts.dir, history);
      writeRunStatus(opts.dir, { state: 'running', epoch: r.epoch });
      onEpochDone(r.epoch);
      opts.onEpoch?.(r);
      if (opts.shouldStop?.(r, history)) throw new RunStopped(run.name, r.epoch);
    },
  });
  // a resumed run whose last epoch was already checkpointed: its epochs.jsonl may predate the kill
  writeEpochs(opts.dir, result.history);
  const { model } = result;
  // the post-training analyses (src/exp/evaluators), in order; the run's `evaluators` setting picks them (absent = all)
  const ctx = evalContext({ model, ds, labels, run, input, dir: opts.dir });
  const evaluated = runEvaluators(selectEvaluators(run.evaluators), ctx);
  const test = evaluated.test!;
  const { calibration } = evaluated;
  const C = labels.numClasses;

  const modelDir = join(opts.dir, MODEL_SUBDIR);
  const meta = {
    ferlab: {
      run: run.name,
      experiment: run.experiment,
      model: run.model,
      labelSet: run.labels,
      classes: [...labels.classes],
      input: `[batch, ${input.size}, ${input.size}, 1] float32`,
      preprocessing: describeInput(input),
      ...inputRecord,
      output: `logits [batch, ${C}] float32; softmax gives class probabilities`,
      testAccuracy: test.accuracy,
      ...(calibration ? { temperature: calibration.temperature } : {}),
      testImages: `${sizes.test} PrivateTest images of label set '${run.labels}' (${isFerPlus(run.labels) ? 'FER+ majority labels' : 'FER2013 labels'})`,
    },
  };
  await saveLayersModel(model, modelDir, meta);
  writeModelMeta(modelDir, { ...meta.ferlab, config: run, environment: opts.env });

  const summary: RunSummary = {
    name: run.name,
    ...(run.group ? { group: run.group } : {}),
    model: run.model,
    labels: run.labels,
    sizes,
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    trainSeconds: result.trainSeconds,
    wallSeconds: (performance.now() - t0) / 1000,
    imagesPerSec: result.imagesPerSec,
    ...(result.replicas > 1 ? { replicas: result.replicas } : {}),
    val: result.bestVal,
    test,
    cross: evaluated.cross ?? null,
    dir: opts.dir,
    ...(evaluated.testInterval ? { testInterval: evaluated.testInterval } : {}),
    ...(calibration ? { calibration } : {}),
    ...(evaluated.tta ? { tta: evaluated.tta } : {}),
    ...(ds.source.folder ? { skippedImages: ds.source.folder.skipped.length } : {}),
    ...(init ? { init: { ...init, headReplaced: result.init?.headReplaced ?? init.headReplaced } } : {}),
    ...(result.ema ? { ema: { ...result.ema, finalModel: 'averaged weights' as const } } : {}),
    ...(result.distill ? { distill: result.distill } : {}),
  };
  writeRunSummary(opts.dir, summary);
  writeRunReport(opts.dir, run, summary, result.history, ctx.predictions(), ds, opts.plotlyDir ?? dirname(opts.dir));
  model.dispose();
  writeRunStatus(opts.dir, { state: 'complete', epoch: result.history.length });
  removeCheckpoint(checkpoint);
  return summary;
}

/** What a run record says about its data: the CSV files' stamps and MD5, or a folder dataset's provenance. */
function dataProvenance(ds: FerDataset): Record<string, unknown> {
  const f = ds.source.folder;
  if (!f) return { kind: 'csv', fer2013Md5: ds.source.fer2013Md5, official: ds.source.fer2013Official, sources: ds.source.key };
  return {
    kind: 'folder',
    root: f.root,
    specFile: f.specFile,
    layout: f.layout,
    splits: f.splits,
    usageFromNames: f.usageFromNames,
    classMap: f.classMap,
    options: f.options,
    images: f.images,
    perSplit: f.perSplit,
    ignoredFiles: f.ignored,
    droppedImages: f.dropped,
    skippedImages: { count: f.skipped.length, files: f.skipped },
    listSha1: f.listSha1,
    conversion: f.conversion,
  };
}

/**
 * Resolves a run's `initFrom` (also among the experiments beside this run's experiment) and scores that model, before any
 * training, on the run's val and test images; kept in the record's init.json, which a resumed run reads back.
 */
async function startingModel(ref: string, ds: FerDataset, labels: LabelSet, run: RunConfig, dir: string): Promise<RunInit> {
  const recorded = readRunInit(dir);
  if (recorded) return recorded;
  const modelDir = resolveModelRef(ref, { runsDirs: [dirname(dirname(dir))] });
  const info = readSavedModelInfo(modelDir);
  const model = await loadLayersModelFromDir(modelDir);
  let before: RunInit['before'];
  let classes: string[];
  try {
    classes = savedModelClasses(info, model.outputs[0].shape[1] as number).classes;
    try {
      const val = evaluateMapped(model, classes, ds.pixels, labels.val, labels.classes, run.evalBatchSize, info.input);
      const test = evaluateMapped(model, classes, ds.pixels, labels.test, labels.classes, run.evalBatchSize, info.input);
      before = { mapping: val.mapping, val: val.metrics, test: test.metrics, excluded: { val: val.excluded, test: test.excluded } };
    } catch {
      before = null; // no shared class: nothing to score before training
    }
  } finally {
    model.dispose();
  }
  const sameHead = classes.length === labels.classes.length && classes.every((c, i) => c === labels.classes[i]);
  const init: RunInit = {
    ref,
    dir: modelDir,
    weightsSha1: info.weightsSha1,
    model: info.model,
    labelSet: info.labelSet,
    classes,
    headReplaced: !sameHead,
    freeze: run.freeze,
    before,
  };
  writeRunInit(dir, init);
  return init;
}
