import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import type { FerDataset } from '../data/dataset';
import type { LabelSet } from '../data/labels';
import { createModel, resolveInputSpec } from '../models/registry';
import { inputShapeOf, isDefaultInput } from '../data/input';
import { freezeLayers, initFromSaved, resolveModelRef, unfreezeLayers, type InitReport } from '../models/init';
import { dropoutCallCounts, setDropoutCallCounts } from '../models/layers';
import { readLayerWeights, writeLayerWeights } from '../models/weights';
import { installReluGradient } from '../backend/ops';
import { beginSyncReads, currentBackend, trainingOnDevice, type BackendChoice } from '../backend/select';
import { Rng } from '../util/rng';
import { TrainBatches } from './batches';
import { loadCheckpoint, removeStaleTemps, saveCheckpoint, type TrainCheckpoint } from './checkpoint';
import { balancedClassWeights } from './loss';
import { Distiller, type DistillInfo } from './distill';
import { WeightEma } from './ema';
import { createOptimizer } from './optimizer';
import { learningRate } from './schedule';
import { DataParallel } from './parallel';
import { StepAccounting, trainingStep, READ_EVERY, type StepContext } from './step';
import type { TrainConfig } from './settings';

export type { TrainConfig } from './settings';

export { READ_EVERY } from './step';

/** Metrics of one epoch (a line of the run record's epochs.jsonl): schema and reader / writer in src/records/run.ts. */
export type { EpochRecord } from '../records/run';
import type { EpochRecord } from '../records/run';

/** The fields of an epoch record that measure time: they differ between two runs that are otherwise identical. */
export const TIMING_FIELDS = ['trainSeconds', 'valSeconds', 'imagesPerSec'] as const;

/** Progress of the training steps, for progress bars (called after every step). */
export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  imagesPerSec: number;
}

/** What the validation callback returns: loss, and metrics with at least accuracy and macro-F1 (src/eval computes them). */
export interface Validation<M extends ValidationMetrics = ValidationMetrics> {
  /** Mean cross-entropy of the hard labels (nats). */
  loss: number;
  metrics: M;
}

/** The part of the validation metrics the loop reads: accuracy selects the best epoch. */
export interface ValidationMetrics {
  /** In [0, 1]. */
  accuracy: number;
  macroF1: number;
}

/** Result of {@link train}: the model with its best-validation weights restored, and the history. */
export interface TrainResult<M extends ValidationMetrics = ValidationMetrics> {
  model: tf.LayersModel;
  history: EpochRecord[];
  /** Epoch (1-based) whose weights the model holds: best validation accuracy. */
  bestEpoch: number;
  /** Validation metrics of the best epoch. */
  bestVal: M;
  stoppedEarly: boolean;
  /** Total training-step time (s), excluding validation; across resumed sessions. */
  trainSeconds: number;
  /** Images per second over all training steps. */
  imagesPerSec: number;
  /** Epoch (1-based) of the checkpoint training continued from, or 0 for a fresh start. */
  resumedFrom: number;
  /** Fine-tuning (`initFrom`): where the initial weights came from and what happened to the head; undefined otherwise or on resume. */
  init?: InitReport;
  /** Layers kept fixed during training (`freeze`), by name. */
  frozen: string[];
  /** Data-parallel replicas it trained with (1 = this thread only). */
  replicas: number;
  /** Setting `ema`: the model, the validation and the best-epoch selection are those of the averaged weights. */
  ema?: { decay: number; warmup: boolean; updates: number };
  /** Setting `distill`: the teachers and how their targets were made (src/train/distill.ts). */
  distill?: DistillInfo;
}

/** Options and callbacks of {@link train}. */
export interface TrainOptions<M extends ValidationMetrics = ValidationMetrics> {
  /**
   * Scores the model on the validation split (PublicTest) in inference mode after every epoch; the loop keeps the
   * weights of the epoch with the best `metrics.accuracy`. (src/eval's evaluateSplit; training does not import
   * evaluation.)
   */
  validate: (model: tf.LayersModel) => Validation<M>;
  /**
   * Checkpoint file: written atomically at the end of every epoch (replacing the previous one); when it exists at
   * the start, training continues from it and gives exactly the result of an uninterrupted run.
   */
  checkpoint?: string;
  onStep?: (p: StepProgress) => void;
  /** After every epoch (and its checkpoint): the epoch's record and the whole history so far (resumed epochs too). */
  onEpoch?: (r: EpochRecord, history: readonly EpochRecord[]) => void;
  /**
   * Model folder of `cfg.initFrom`, already resolved by the caller (default: src/models/init.ts resolveModelRef of
   * `cfg.initFrom`). Not read when a checkpoint is continued (its weights replace the initial ones).
   */
  initDir?: string;
  /**
   * Data-parallel replicas (src/train/parallel.ts): this thread and `replicas - 1` worker threads, each with its own
   * backend, one per core (wasm and cpu backends; others train with 1). Default 1. A continued checkpoint keeps the
   * count it was written with (the result depends on it: per-shard batch-norm statistics, per-replica dropout).
   * `modules`: files the replica threads load first (models registered outside src/models).
   */
  replicas?: number;
  replicaModules?: string[];
  /**
   * Model folders of `cfg.distill.teacher`, already resolved by the caller (default: src/models/init.ts resolveModelRef
   * of each).
   */
  teacherDirs?: string[];
}

/** An error of a training run, with the epoch (1-based) it happened in. */
export class TrainError extends Error {
  constructor(
    message: string,
    readonly epoch: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TrainError';
  }
}

/** `best` (in model.getWeights() order) in layer order (readLayerWeights), without touching the model's weights. */
function bestLayerWeights(model: tf.LayersModel, best: tf.Tensor[]): Float32Array[] {
  const order = model.weights.map((w) => w.name);
  const byName = new Map(order.map((n, i) => [n, best[i]]));
  return model.layers.flatMap((l) => l.weights.map((w) => (byName.get(w.name)!.dataSync() as Float32Array).slice()));
}

/** What a checkpoint must match to be continued: the configuration and the training data it was made with. */
function fingerprint(cfg: TrainConfig, labels: LabelSet): string {
  const { evalBatchSize: _speedOnly, ...rest } = cfg;
  const sorted = (v: unknown): unknown =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
        )
      : v;
  return JSON.stringify(sorted({ ...rest, labels: labels.name, numClasses: labels.numClasses, train: labels.train.index.length }));
}

/**
 * Trains a registered model on a label set: shuffled, augmented batches from the uint8 data; Adam/AdamW with the
 * configured schedule; validation after every epoch through `opts.validate`; the best-validation-accuracy weights
 * kept and restored at the end; early stopping after `patience` epochs without improvement. Deterministic for a
 * given seed and backend, also across a checkpoint: with `opts.checkpoint`, the state after every epoch is saved
 * (weights, Adam's moments and step, the schedule position, batch order and random state, dropout counters, the best
 * epoch's weights and metrics, the history), and an existing checkpoint is continued.
 *
 * Fine-tuning: with `cfg.initFrom` the model starts from a saved model's weights (src/models/init.ts initFromSaved: by
 * weight name; a different class set gets a freshly initialised classifier head), and with `cfg.freeze = 'conv'` the
 * layers before the first Flatten stay fixed (not in the optimizer's variables; BatchNorm in inference mode).
 *
 * The step's loss and accuracy stay on the device and are read every READ_EVERY steps (src/train/step.ts
 * StepAccounting: the same numbers as a read after every step). On the webgpu backend validation and checkpoints run on wasm, and train() returns with wasm active so that the caller's synchronous reads work (tfjs'
 * webgpu backend cannot read synchronously in Node); the next train() makes webgpu active again.
 *
 * Whatever ends a training early (an error, or a callback such as onEpoch throwing to stop it) releases the model, the
 * optimizer state, the kept best weights and the data-parallel threads before the error propagates.
 * @throws TrainError (with the epoch) when the loss becomes NaN or infinite; Error when the model is unknown, the
 *   training split has fewer images than one batch, the checkpoint belongs to another configuration, or `initFrom`
 *   cannot be found or does not fit the model.
 */
export async function train<M extends ValidationMetrics>(cfg: TrainConfig, ds: FerDataset, labels: LabelSet, opts: TrainOptions<M>): Promise<TrainResult<M>> {
  installReluGradient();
  const rng = new Rng(cfg.seed);
  // the model's input spec with the run's `input` setting over it: the model's input shape and the batches' transform
  const input = resolveInputSpec(cfg.model, cfg.input);
  const model = createModel(cfg.model, { numClasses: labels.numClasses, seed: cfg.seed, inputShape: inputShapeOf(input) });
  // what a failed or stopped training releases (the model, optimizer state, kept weights, worker threads), newest first:
  // a run stopped by its caller (a pruned trial, a cancelled experiment) or by an error frees its tensors and threads itself
  const owned: Array<() => unknown> = [() => model.dispose()];
  let epochAcc: StepAccounting | undefined;
  owned.push(() => epochAcc?.dispose());
  try {
    // fine-tuning: saved weights (a new head for a new class set), then frozen blocks; a continued checkpoint brings its own weights
    let init: InitReport | undefined;
    if (cfg.initFrom && !(opts.checkpoint && existsSync(opts.checkpoint)))
      init = initFromSaved(model, opts.initDir ?? resolveModelRef(cfg.initFrom), labels.classes, cfg.model);
    const frozen = freezeLayers(model, cfg.freeze);
    const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const optimizer = createOptimizer(cfg.optimizer);
    owned.push(() => optimizer.dispose());
    const classWeights = cfg.classWeights === 'balanced' ? tf.keep(tf.tensor1d(balancedClassWeights(labels.train.label, labels.numClasses))) : undefined;
    owned.push(() => classWeights?.dispose());
    const batches = new TrainBatches(ds.pixels, labels.train, labels.numClasses, {
      batchSize: cfg.batchSize,
      augment: cfg.augment,
      loss: labels.loss,
      sampleOneHot: labels.sampleOneHot,
      rng: rng.fork(),
      ...(cfg.balancedSampling ? { balanced: true } : {}),
      ...(isDefaultInput(input) ? {} : { input }),
      ...(cfg.mixup || cfg.cutmix ? { mix: { mixup: cfg.mixup, cutmix: cfg.cutmix } } : {}),
    });
    // weight averaging (src/train/ema.ts): starts from the initial (or fine-tuning) weights; a checkpoint replaces it below
    const ema = cfg.ema ? new WeightEma(model, cfg.ema) : undefined;
    owned.push(() => ema?.dispose());
    const totalSteps = batches.steps * cfg.epochs;
    const ctx: StepContext = { model, vars, optimizer, loss: labels.loss, numClasses: labels.numClasses, labelSmoothing: cfg.labelSmoothing, classWeights };
    const print = fingerprint(cfg, labels);
    let history: EpochRecord[] = [];
    let best: { epoch: number; acc: number; weights: tf.Tensor[]; metrics: M } | undefined;
    owned.push(() => best?.weights.forEach((w) => w.dispose()));
    let trainSeconds = 0;
    let images = 0;
    let stoppedEarly = false;
    let step = 0;
    let startEpoch = 1;
    let replicas = opts.replicas ?? 1;

    if (opts.checkpoint) {
      removeStaleTemps(opts.checkpoint);
      const ck = loadCheckpoint<M, EpochRecord>(opts.checkpoint);
      if (ck) {
        if (ck.fingerprint !== print)
          throw new Error(`${opts.checkpoint} was written for another configuration:\n  checkpoint: ${ck.fingerprint}\n  this run:   ${print}`);
        // the best epoch's weights first, to take them in model.getWeights() order (the order best.weights uses)
        writeLayerWeights(model, ck.best.weights);
        const bestWeights = model.getWeights().map((w) => tf.keep(w.clone()));
        if (ema) {
          if (!ck.ema) throw new Error(`${opts.checkpoint} holds no weight average, but this run averages its weights (ema)`);
          writeLayerWeights(model, ck.ema);
          ema.setFromModel();
        }
        writeLayerWeights(model, ck.weights);
        optimizer.setState(vars, ck.optimizer);
        batches.setState(ck.batches);
        setDropoutCallCounts(model, ck.dropout);
        best = { epoch: ck.best.epoch, acc: ck.best.accuracy, metrics: ck.best.metrics, weights: bestWeights };
        history = ck.history;
        step = ck.step;
        trainSeconds = ck.trainSeconds;
        images = ck.images;
        stoppedEarly = ck.stopped;
        startEpoch = ck.stopped ? cfg.epochs + 1 : ck.epoch + 1;
        replicas = ck.replicas ?? 1;
      }
    }
    const resumedFrom = startEpoch - 1;

    // webgpu (Node): tfjs cannot read GPU data synchronously there; validation and checkpoints switch to wasm
    const onDevice = await trainingOnDevice();
    const backendName = currentBackend()?.name ?? tf.getBackend();
    // data parallelism: wasm / cpu only (one thread per replica), and not with frozen layers (their BatchNorm statistics would be needed everywhere)
    // nor with distillation (the replicas compute the plain loss)
    if (replicas > 1 && (!['wasm', 'cpu'].includes(backendName) || frozen.length > 0 || cfg.distill)) replicas = 1;
    // knowledge distillation (src/train/distill.ts): the teachers, and for 'cached' their targets of every training image
    const distiller =
      cfg.distill && startEpoch <= cfg.epochs
        ? await Distiller.create(
            cfg.distill,
            opts.teacherDirs ?? cfg.distill.teacher.map((r) => resolveModelRef(r)),
            ds.pixels,
            labels.train,
            labels.classes,
            input,
            cfg.batchSize,
            cfg.evalBatchSize,
          )
        : undefined;
    owned.push(() => distiller?.dispose());
    if (distiller) ctx.distill = { temperature: distiller.cfg.temperature, alpha: distiller.cfg.alpha, targets: (b, x) => distiller.targets(b, x) };
    const dp =
      replicas > 1 && startEpoch <= cfg.epochs
        ? await DataParallel.start({
            replicas,
            backend: backendName as BackendChoice,
            model: cfg.model,
            ...(opts.replicaModules ? { modules: opts.replicaModules } : {}),
            seed: cfg.seed,
            batchSize: cfg.batchSize,
            vars,
            mainModel: model,
            loss: labels.loss,
            labelSmoothing: cfg.labelSmoothing,
            ...(classWeights ? { classWeights: classWeights.dataSync() as Float32Array } : {}),
          })
        : undefined;
    owned.push(() => dp?.dispose());
    for (let epoch = startEpoch; epoch <= cfg.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let lr = cfg.lr;
      let s = 0;
      const acc = new StepAccounting();
      epochAcc = acc;
      // what the run allocated is released where the error is caught below
      const diverged = (lossValue: number, atStep: string) =>
        new TrainError(`training diverged: loss ${lossValue} at epoch ${epoch}, ${atStep} (lr ${lr}); lower the learning rate`, epoch);
      for (const b of batches.epoch()) {
        lr = learningRate(
          cfg.schedule,
          cfg.lr,
          step,
          totalSteps,
          batches.steps,
          history.map((h) => h.valAccuracy),
        );
        if (dp) dp.step(ctx, b, lr, acc);
        else trainingStep(ctx, b, lr, acc);
        seen += b.n;
        step++;
        s++;
        ema?.update(step);
        if (s % READ_EVERY === 0 || s === batches.steps) {
          const r = await acc.read();
          const first = s - r.losses.length;
          for (let i = 0; i < r.losses.length; i++) {
            if (!Number.isFinite(r.losses[i])) throw diverged(r.losses[i], `step ${first + i + 1}`);
            lossSum += r.losses[i];
          }
          correct += r.correct;
        }
        if (opts.onStep) {
          const elapsed = (performance.now() - t0) / 1000;
          // the mean loss of the steps read so far
          const done = s - acc.pending;
          opts.onStep({ epoch, epochs: cfg.epochs, step: s, steps: batches.steps, loss: lossSum / Math.max(1, done), imagesPerSec: seen / elapsed });
        }
        if (s % 50 === 0) await new Promise((r) => setImmediate(r)); // let progress messages out
      }
      acc.dispose();
      epochAcc = undefined;
      const epochSeconds = (performance.now() - t0) / 1000;
      trainSeconds += epochSeconds;
      images += seen;
      const v0 = performance.now();
      // webgpu: validation and checkpoint read tensors synchronously, which tfjs' webgpu backend cannot do in Node
      const endSync = onDevice ? await beginSyncReads() : undefined;
      const val = ema ? ema.withAveraged(() => opts.validate(model)) : opts.validate(model);
      const valSeconds = (performance.now() - v0) / 1000;
      const rec: EpochRecord = {
        epoch,
        trainLoss: lossSum / Math.max(1, s),
        trainAccuracy: correct / Math.max(1, seen),
        valLoss: val.loss,
        valAccuracy: val.metrics.accuracy,
        valMacroF1: val.metrics.macroF1,
        lr,
        trainSeconds: epochSeconds,
        valSeconds,
        imagesPerSec: seen / epochSeconds,
      };
      history.push(rec);
      if (!best || val.metrics.accuracy > best.acc) {
        best?.weights.forEach((w) => w.dispose());
        const weights = ema ? ema.weights.map((w) => tf.keep(w.clone())) : model.getWeights().map((w) => tf.keep(w.clone()));
        best = { epoch, acc: val.metrics.accuracy, weights, metrics: val.metrics };
      } else if (cfg.patience > 0 && epoch - best.epoch >= cfg.patience) {
        stoppedEarly = epoch < cfg.epochs;
      }
      if (opts.checkpoint) {
        const ck: TrainCheckpoint<M, EpochRecord> = {
          fingerprint: print,
          epoch,
          step,
          stopped: stoppedEarly,
          trainSeconds,
          images,
          history,
          weights: readLayerWeights(model),
          optimizer: optimizer.getState(vars),
          batches: batches.getState(),
          dropout: dropoutCallCounts(model),
          best: { epoch: best.epoch, accuracy: best.acc, metrics: best.metrics, weights: bestLayerWeights(model, best.weights) },
          ...(replicas > 1 ? { replicas } : {}),
          ...(ema ? { ema: bestLayerWeights(model, [...ema.weights]) } : {}),
        };
        saveCheckpoint(opts.checkpoint, ck);
      }
      await endSync?.();
      opts.onEpoch?.(rec, history);
      if (stoppedEarly) break;
    }
    await dp?.dispose();
    optimizer.dispose();
    classWeights?.dispose();
    ema?.dispose();
    distiller?.dispose();
    model.setWeights(best!.weights);
    best!.weights.forEach((w) => w.dispose());
    unfreezeLayers(model, frozen); // after setWeights: getWeights() order depends on what is frozen
    // webgpu: the caller evaluates and saves the model with synchronous reads; they run on wasm (the next train() switches back)
    if (onDevice) await beginSyncReads();
    owned.length = 0; // the model goes to the caller; the rest was released above
    return {
      model,
      history,
      bestEpoch: best!.epoch,
      bestVal: best!.metrics,
      stoppedEarly,
      trainSeconds,
      imagesPerSec: images / trainSeconds,
      resumedFrom,
      init,
      frozen,
      replicas,
      ...(cfg.ema ? { ema: { decay: cfg.ema.decay, warmup: cfg.ema.warmup, updates: step } } : {}),
      ...(distiller ? { distill: distiller.info } : {}),
    };
  } catch (e) {
    for (const release of owned.reverse()) {
      try {
        await release();
      } catch {
        // released already, or a thread that is gone: nothing more to free
      }
    }
    throw e;
  }
}
