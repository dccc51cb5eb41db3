import cliProgress from 'cli-progress';
import type { StepProgress } from '../train/loop';
import { formatSeconds } from '../util/format';

/**
 * Progress display of an experiment: one cli-progress bar per running training (epoch, steps, loss, images/s and
 * ETA of the run) when stdout is a terminal; otherwise (CI, logs) one plain line per finished epoch.
 */
export class ProgressView {
  private readonly multi?: cliProgress.MultiBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly started = new Map<string, number>();

  /**
   * @param enabled progress bars (default: when stdout is a terminal).
   * @param sink where lines go without bars (default console.log).
   */
  constructor(
    enabled = process.stdout.isTTY === true,
    private readonly sink: (line: string) => void = (l) => console.log(l),
  ) {
    if (enabled) {
      this.multi = new cliProgress.MultiBar(
        {
          format: '{run} |{bar}| ep {epoch}/{epochs} step {value}/{total} | loss {loss} | {ips} img/s | run ETA {runEta}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          fps: 4,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  /** A run's training step `p`. */
  update(run: string, p: StepProgress): void {
    if (!this.started.has(run)) this.started.set(run, Date.now());
    if (!this.multi) return;
    let bar = this.bars.get(run);
    if (!bar) {
      bar = this.multi.create(p.steps, 0, { run: run.padEnd(16), epoch: p.epoch, epochs: p.epochs, loss: '-', ips: '-', runEta: '-' });
      this.bars.set(run, bar);
    }
    const done = (p.epoch - 1) * p.steps + p.step;
    const total = p.epochs * p.steps;
    const elapsed = (Date.now() - this.started.get(run)!) / 1000;
    const eta = done > 0 ? (elapsed / done) * (total - done) : 0;
    bar.setTotal(p.steps);
    bar.update(p.step, { epoch: p.epoch, epochs: p.epochs, loss: p.loss.toFixed(3), ips: p.imagesPerSec.toFixed(0), runEta: formatSeconds(eta) });
  }

  /** A message line (kept above the bars). */
  log(line: string): void {
    if (this.multi) this.multi.log(line + '\n');
    else this.sink(line);
  }

  /** Removes the bars. */
  stop(): void {
    this.multi?.stop();
  }
}
