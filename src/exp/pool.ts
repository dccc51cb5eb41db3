/**
 * The local worker pool of experiments and sweeps: trains runs side by side on worker threads (src/exp/worker.ts), one
 * training per thread, one run at a time per thread.
 *
 * - Threads: {@link runOnWorkers} starts `workers` threads (the caller picks the count: one per core for the
 *   single-threaded wasm and cpu backends); each loads the dataset once, then takes runs from a {@link RunQueue}.
 * - Order: runs are trained in the order the queue gives them out (experiments sort theirs longest first, src/exp/experiment.ts;
 *   sweeps hand out trials as their sampler proposes them, src/sweep/coordinator.ts).
 * - Cancellation: with {@link PoolEvents.decide} (sweeps), a thread asks after every epoch whether to go on and waits
 *   for the answer; a run told to stop is recorded `pruned`, and its thread is ended (told to exit, to reclaim the
 *   memory the stopped training does not free) and replaced by a fresh one while the queue has runs.
 * - Errors: a run that throws is reported through {@link PoolEvents.fail} with the error's class name and its thread
 *   goes on; a thread that dies (uncaught error, out of memory, exit) fails the run it was training (recorded in its
 *   status.json) and is replaced while the queue has runs; a thread that cannot start fails the runs it would have
 *   taken, or hands them to {@link RunQueue.abandon}. {@link runOnWorkers} itself never rejects for a run's error.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EpochRecord, StepProgress } from '../train/loop';
import { workerCode as threadCode } from '../util/threads';
import type { RunConfig } from './config';
import type { RunSummary } from './run';
import { readRunStatus, writeRunStatus } from './status';
import type { FromWorker, ToWorker, WorkerInit } from './worker';

/** Code that starts the pool's worker thread (src/exp/worker.ts; under tsx when running from the TypeScript sources). */
export function workerCode(): string {
  return threadCode(__dirname, 'worker', __filename.endsWith('.ts'));
}

/** Callbacks of {@link runOnWorkers}. */
export interface PoolEvents {
  onStep: (run: string, p: StepProgress) => void;
  onEpoch: (run: string, r: EpochRecord) => void;
  done: (s: RunSummary) => void;
  /**
   * `epoch`: from the run's status.json when the worker recorded it, else undefined. `name`: the error's class name
   * when the run threw (e.g. `TrainError` for a diverged training); undefined when its worker died.
   */
  fail: (run: string, error: string, epoch: number | null | undefined, name?: string) => void;
  /**
   * Per-epoch decision (sweeps): called after each epoch of a run, once its checkpoint and epochs.jsonl are written,
   * while the worker waits for the answer; 'stop' ends the run there (recorded `pruned`, then {@link stopped}). Absent
   * (experiments): workers never wait.
   */
  decide?: (run: string, r: EpochRecord) => 'continue' | 'stop';
  /**
   * A run that `decide` stopped after `epoch` (its status.json says `pruned`). Its worker is ended and a fresh one
   * started while the queue has runs, because a stopped training's tensors are not freed.
   */
  stopped?: (run: string, epoch: number) => void;
}

/** The runs {@link runOnWorkers} trains, taken one at a time by free workers. */
export interface RunQueue {
  /** The next run for a free worker, or undefined when there is none for it (the worker then ends). */
  next(): RunConfig | undefined;
  /** Whether runs may still come: a worker that dies or is recycled is replaced only then. */
  more(): boolean;
  /**
   * No worker could start (`why`): what to do with the runs not yet given out. Absent: every remaining run is taken
   * and failed with `why`.
   */
  abandon?(why: string): void;
}

/** A fixed list of runs as a {@link RunQueue}, taken in order. */
export function arrayQueue(runs: readonly RunConfig[]): RunQueue {
  const queue = [...runs];
  return { next: () => queue.shift(), more: () => queue.length > 0 };
}

/**
 * Trains the runs of `queue` on `workers` worker threads (src/exp/worker.ts), each taking the next run when it
 * finishes one; the record of run `r` goes to `<init.dir>/<r.name>`. A worker that dies (uncaught error, out of
 * memory, exit) fails the run it was training, which is recorded in its status.json, and is replaced by a fresh worker
 * while the queue has runs; a worker that cannot even start fails the runs it would have taken (or hands them to
 * `queue.abandon`). With `ev.decide` (sweeps), workers ask after every epoch whether to go on (see worker.ts).
 * Resolves when every worker has ended.
 */
export async function runOnWorkers(queue: RunQueue, workers: number, init: WorkerInit & { dir: string }, ev: PoolEvents): Promise<void> {
  let healthy = 0; // workers that started and have not ended
  const spawn = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const decisions = ev.decide ? new SharedArrayBuffer(8) : undefined;
      const w = new Worker(workerCode(), {
        eval: true,
        workerData: {
          backend: init.backend,
          dataDir: init.dataDir,
          cacheDir: init.cacheDir,
          ...(decisions ? { decisions } : {}),
          ...(init.replicas ? { replicas: init.replicas } : {}),
        } satisfies WorkerInit,
      });
      let current: RunConfig | undefined;
      let started = false;
      let ended = false;
      let recycled = false; // a stopped run's worker: ended on purpose, replaced by a fresh one
      const next = () => {
        current = queue.next();
        if (!current) {
          w.postMessage({ type: 'exit' } satisfies ToWorker);
          return;
        }
        w.postMessage({ type: 'run', run: current, dir: join(init.dir, current.name), ...(ev.decide ? { decide: true } : {}) } satisfies ToWorker);
      };
      const died = (why: string) => {
        if (ended) return;
        ended = true;
        if (current) {
          const rdir = join(init.dir, current.name);
          const epoch = readRunStatus(rdir)?.epoch ?? null;
          writeRunStatus(rdir, { state: 'failed', epoch, error: why });
          ev.fail(current.name, why, epoch);
          current = undefined;
        }
        if (started) healthy--;
        if (!started) {
          // a worker that cannot start: the healthy ones take the queue; with none, fail what is left rather than
          // spawning forever
          if (healthy === 0) {
            if (queue.abandon) queue.abandon(why);
            else for (let r = queue.next(); r; r = queue.next()) ev.fail(r.name, why, null);
          }
          resolve();
        } else if (queue.more()) spawn().then(resolve);
        else resolve();
      };
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          started = true;
          healthy++;
          next();
        } else if (m.type === 'step') ev.onStep(m.run, m);
        else if (m.type === 'epoch') ev.onEpoch(m.run, m.record);
        else if (m.type === 'decide') {
          let stop = false;
          try {
            stop = ev.decide?.(m.run, m.record) === 'stop';
          } finally {
            const a = new Int32Array(decisions!);
            Atomics.store(a, 1, stop ? 1 : 0);
            Atomics.store(a, 0, 1);
            Atomics.notify(a, 0);
          }
        } else if (m.type === 'stopped') {
          current = undefined;
          recycled = true;
          ev.stopped?.(m.run, m.epoch);
          w.postMessage({ type: 'exit' } satisfies ToWorker);
        } else if (m.type === 'done') {
          current = undefined;
          ev.done(m.summary);
          next();
        } else if (m.type === 'failed') {
          if (m.run === '*') {
            w.terminate();
            died(`worker thread could not start: ${m.error}`);
            return;
          }
          current = undefined;
          ev.fail(m.run, m.error, m.epoch, m.name);
          next();
        }
      });
      w.on('error', (e) => died(`worker thread died: ${e.stack ?? e}`));
      w.on('exit', (code) => {
        if (current || !started) died(`worker thread exited with code ${code}${current ? ' while training' : ' before it was ready'}`);
        else if (!ended) {
          ended = true;
          healthy--;
          if (recycled && queue.more()) spawn().then(resolve);
          else resolve();
        }
      });
    });
  await Promise.all(Array.from({ length: workers }, spawn));
}
