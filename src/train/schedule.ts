import type { Schedule } from './settings';

/**
 * Learning-rate schedules (settings: ScheduleSchema in settings.ts), as a function of the optimizer step. `lr` in the
 * configs is the peak learning rate.
 * - `constant`: lr at every step.
 * - `onecycle`: PyTorch's OneCycleLR (Smith & Topin, arXiv 1708.07120) with cosine annealing: from lr / divFactor up
 *   to lr over the first pctStart of the steps, then down to lr / (divFactor * finalDivFactor). (Only the learning
 *   rate cycles; Adam's beta1 stays fixed.)
 * - `cosine`: linear warm-up over warmupEpochs, then cosine decay to 0 (Loshchilov & Hutter, arXiv 1608.03983).
 * - `plateau`: PyTorch's ReduceLROnPlateau on the PublicTest accuracy of the finished epochs (see
 *   {@link plateauLearningRate}).
 * - `step`: lr multiplied by gamma at each milestone epoch (microsoft/FERPlus `train.py`: x0.5 at epoch 20, x0.1 at
 *   40 with lr 0.05 SGD).
 */
const cosAnneal = (start: number, end: number, pct: number) => end + ((start - end) / 2) * (1 + Math.cos(Math.PI * pct));

/**
 * Learning rate at optimizer step `step` (0-based) of `totalSteps`, with `stepsPerEpoch` steps an epoch.
 * @param lr peak learning rate (> 0).
 * @param valAccuracies PublicTest accuracy of each finished epoch, in order (used by `plateau` only).
 */
export function learningRate(
  schedule: Schedule,
  lr: number,
  step: number,
  totalSteps: number,
  stepsPerEpoch: number,
  valAccuracies: readonly number[] = [],
): number {
  switch (schedule.name) {
    case 'constant':
      return lr;
    case 'plateau':
      return plateauLearningRate(schedule, lr, valAccuracies);
    case 'onecycle': {
      const initial = lr / schedule.divFactor;
      const min = initial / schedule.finalDivFactor;
      const up = Math.max(1, Math.floor(schedule.pctStart * totalSteps) - 1);
      if (step <= up) return cosAnneal(initial, lr, step / up);
      const down = Math.max(1, totalSteps - 1 - up);
      return cosAnneal(lr, min, Math.min(1, (step - up) / down));
    }
    case 'cosine': {
      const warm = Math.round(schedule.warmupEpochs * stepsPerEpoch);
      if (step < warm) return (lr * (step + 1)) / warm;
      const pct = Math.min(1, (step - warm) / Math.max(1, totalSteps - warm));
      return cosAnneal(lr, 0, pct);
    }
    case 'step': {
      const epoch = Math.floor(step / stepsPerEpoch);
      const k = schedule.milestones.filter((m) => epoch >= m).length;
      if (schedule.factors) return k === 0 ? lr : lr * schedule.factors[k - 1];
      return lr * Math.pow(schedule.gamma, k);
    }
  }
}

/**
 * ReduceLROnPlateau as PyTorch implements it (torch.optim.lr_scheduler.ReduceLROnPlateau, mode 'max', threshold_mode
 * 'rel'), replayed over the accuracies of the finished epochs, so a resumed run needs no extra state: an accuracy
 * improves when a > best * (1 + threshold); after more than `patience` epochs without improvement the lr is
 * multiplied by `factor` (not below `minLr`), the count restarts and `cooldown` epochs are not counted.
 * @param lr the starting learning rate. @param valAccuracies per finished epoch, in [0, 1].
 * @returns the learning rate for the next epoch.
 */
export function plateauLearningRate(p: Extract<Schedule, { name: 'plateau' }>, lr: number, valAccuracies: readonly number[]): number {
  let best = -Infinity;
  let bad = 0;
  let cooldown = 0;
  let current = lr;
  for (const a of valAccuracies) {
    if (a > best * (1 + p.threshold) || best === -Infinity) {
      best = a;
      bad = 0;
    } else bad++;
    if (cooldown > 0) {
      cooldown--;
      bad = 0;
    }
    if (bad > p.patience) {
      current = Math.max(current * p.factor, p.minLr);
      cooldown = p.cooldown;
      bad = 0;
    }
  }
  return current;
}
