import type { Schedule } from './settings';

/**
 * Learning-rate schedules (settings: ScheduleSchema in settings.ts), as a function of the optimizer step. `lr` in the
 * configs is the peak learning rate.
 * - `constant`: lr at every step.
 * - `onecycle`: PyTorch's OneCycleLR (Smith & Topin, arXiv 1708.07120) with cosine annealing: from lr / divFactor up
 *   to lr over the first pctStart of the steps, then down to lr / (divFactor * finalDivFactor). (Only the learning
 *   rate cycles; Adam's beta1 stays fixed.)
 * - `cosine`: linear warm-up over warmupEpochs, then cosine decay to 0 (Loshchilov & Hutter, arXiv 1608.03983).
 * - `step`: lr multiplied by gamma at each milestone epoch (microsoft/FERPlus `train.py`: x0.5 at epoch 20, x0.1 at
 *   40 with lr 0.05 SGD).
 */
const cosAnneal = (start: number, end: number, pct: number) => end + ((start - end) / 2) * (1 + Math.cos(Math.PI * pct));

/**
 * Learning rate at optimizer step `step` (0-based) of `totalSteps`, with `stepsPerEpoch` steps an epoch.
 * @param lr peak learning rate (> 0).
 */
export function learningRate(schedule: Schedule, lr: number, step: number, totalSteps: number, stepsPerEpoch: number): number {
  switch (schedule.name) {
    case 'constant':
      return lr;
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
      return lr * Math.pow(schedule.gamma, schedule.milestones.filter((m) => epoch >= m).length);
    }
  }
}
