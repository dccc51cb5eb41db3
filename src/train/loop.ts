import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE } from '../data/classes';
import type { FerDataset } from '../data/dataset';
import type { LabelSet, SplitLabels } from '../data/labels';
import { computeMetrics, argmaxRows, type Metrics } from '../eval/metrics';
import { predictLogits } from '../eval/predict';
import { createModel } from '../models/registry';
import { installReluGradient } from '../backend/ops';
import { Rng } from '../util/rng';
import { TrainBatches, type Augment } from './batches';
import { lossFn } from './loss';
import { Adam, type AdamConfig } from './optimizer';
import { learningRate, type Schedule } from './schedule';

/** Everything one training run needs (validated and documented in src/exp/config.ts). */
export interface TrainConfig {
  /** Registered model name (listModels()). */
  model: string;
  /** Maximum epochs (full passes over the training split). */
  epochs: number;
  /** Images per optimizer step. */
  batchSize: number;
  /** Peak learning rate of the schedule. */
  lr: number;
  schedule: Schedule;
  optimizer: AdamConfig;
  augment: Augment;
  /** Cross-entropy label smoothing (0 = off; not used by multi_target). */
  labelSmoothing: number;
  /** Stop when validation accuracy has not improved for this many epochs (0 = never stop early). */
  patience: number;
  /** Seed of weights, dropout masks, shuffling and augmentation: same seed + backend = same metrics. */
  seed: number;
  /** Images per forward pass when evaluating. */
  evalBatchSize: number;
}

/** Metrics of one epoch (a line of the run record's epochs.jsonl). */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Training accuracy (argmax vs. the hard label) over the epoch, with dropout and augmentation on. */
  trainAccuracy: number;
  /** Validation (PublicTest) cross-entropy against hard labels. */
  valLoss: number;
  valAccuracy: number;
  valMacroF1: number;
  /** Learning rate at the epoch's last step. */
  lr: number;
  /** Wall time of the epoch's training steps (s) and of its validation (s). */
  trainSeconds: number;
  valSeconds: number;
  /** Training throughput over the epoch (images/s). */
  imagesPerSec: number;
}

/** Progress of the training steps, for progress bars (called after every step). */
export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  imagesPerSec: number;
}

/** Result of {@link train}: the model with its best-validation weights restored, and the history. */
export interface TrainResult {
  model: tf.LayersModel;
  history: EpochRecord[];
  /** Epoch (1-based) whose weights the model holds: best validation accuracy. */
  bestEpoch: number;
  /** Validation metrics of the best epoch. */
  bestVal: Metrics;
  stoppedEarly: boolean;
  /** Total training-step time (s), excluding validation. */
  trainSeconds: number;
  /** Images per second over all training steps. */
  imagesPerSec: number;
}

/** Callbacks of {@link train}. */
export interface TrainCallbacks {
  onStep?: (p: StepProgress) => void;
  onEpoch?: (r: EpochRecord) => void;
}

/**
 * Loss and metrics of a model on a labelled split (inference mode).
 * @returns mean cross-entropy of the hard labels (nats), metrics, `[m, C]` float32 logits and `[m]` uint8 argmax
 * predictions (the ones the metrics count).
 */
export function evaluateSplit(
  model: tf.LayersModel,
  ds: FerDataset,
  split: SplitLabels,
  classes: readonly string[],
  batchSize: number,
): { loss: number; metrics: Metrics; logits: Float32Array; preds: Uint8Array } {
  const logits = predictLogits(model, ds.pixels, split.index, batchSize);
  const C = classes.length;
  let loss = 0;
  for (let i = 0; i < split.label.length; i++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[i * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[i * C + c] - m);
    loss += Math.log(s) + m - logits[i * C + split.label[i]];
  }
  const preds = argmaxRows(logits, C);
  const metrics = computeMetrics(split.label, preds, classes);
  return { loss: split.label.length ? loss / split.label.length : 0, metrics, logits, preds };
}

/**
 * Trains a registered model on a label set: shuffled, augmented batches from the uint8 data; Adam/AdamW with the
 * configured schedule; validation on PublicTest after every epoch; the best-validation-accuracy weights kept and
 * restored at the end; early stopping after `patience` epochs without improvement. Deterministic for a given seed
 * and backend.
 *
 * @throws Error when the model is unknown or the training split has fewer images than one batch.
 */
export async function train(cfg: TrainConfig, ds: FerDataset, labels: LabelSet, cb: TrainCallbacks = {}): Promise<TrainResult> {
  installReluGradient();
  const rng = new Rng(cfg.seed);
  const model = createModel(cfg.model, { numClasses: labels.numClasses, seed: cfg.seed });
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const optimizer = new Adam(cfg.optimizer);
  const batches = new TrainBatches(ds.pixels, labels.train, labels.numClasses, {
    batchSize: cfg.batchSize,
    augment: cfg.augment,
    loss: labels.loss,
    sampleOneHot: labels.sampleOneHot,
    rng: rng.fork(),
  });
  const totalSteps = batches.steps * cfg.epochs;
  const history: EpochRecord[] = [];
  let best: { epoch: number; acc: number; weights: tf.Tensor[]; metrics: Metrics } | undefined;
  let trainSeconds = 0;
  let images = 0;
  let stoppedEarly = false;
  let step = 0;
  const C = labels.numClasses;

  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let lr = cfg.lr;
    let s = 0;
    for (const b of batches.epoch()) {
      lr = learningRate(cfg.schedule, cfg.lr, step, totalSteps, batches.steps);
      const { lossValue, preds } = tf.tidy(() => {
        const x = tf.tensor4d(b.x, [b.n, IMAGE_SIZE, IMAGE_SIZE, 1]);
        const y = tf.tensor2d(b.y, [b.n, C]);
        let logits: tf.Tensor2D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          logits = tf.keep(model.apply(x, { training: true }) as tf.Tensor2D);
          return lossFn(labels.loss, logits, y, cfg.labelSmoothing);
        }, vars);
        optimizer.apply(vars, grads, lr);
        const out = { lossValue: value.dataSync()[0], preds: argmaxRows(logits!.dataSync() as Float32Array, C) };
        logits!.dispose();
        return out;
      });
      if (!Number.isFinite(lossValue))
        throw new Error(`training diverged: loss ${lossValue} at epoch ${epoch}, step ${s + 1} (lr ${lr}); lower the learning rate`);
      lossSum += lossValue;
      for (let i = 0; i < b.n; i++) if (preds[i] === b.label[i]) correct++;
      seen += b.n;
      step++;
      s++;
      if (cb.onStep) {
        const elapsed = (performance.now() - t0) / 1000;
        cb.onStep({ epoch, epochs: cfg.epochs, step: s, steps: batches.steps, loss: lossSum / s, imagesPerSec: seen / elapsed });
      }
      if (s % 50 === 0) await new Promise((r) => setImmediate(r)); // let progress messages out
    }
    const epochSeconds = (performance.now() - t0) / 1000;
    trainSeconds += epochSeconds;
    images += seen;
    const v0 = performance.now();
    const val = evaluateSplit(model, ds, labels.val, labels.classes, cfg.evalBatchSize);
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
    cb.onEpoch?.(rec);
    if (!best || val.metrics.accuracy > best.acc) {
      best?.weights.forEach((w) => w.dispose());
      best = { epoch, acc: val.metrics.accuracy, weights: model.getWeights().map((w) => tf.keep(w.clone())), metrics: val.metrics };
    } else if (cfg.patience > 0 && epoch - best.epoch >= cfg.patience) {
      stoppedEarly = epoch < cfg.epochs;
      break;
    }
  }
  optimizer.dispose();
  model.setWeights(best!.weights);
  best!.weights.forEach((w) => w.dispose());
  return { model, history, bestEpoch: best!.epoch, bestVal: best!.metrics, stoppedEarly, trainSeconds, imagesPerSec: images / trainSeconds };
}
