/**
 * Worker thread of the experiment runner: one tfjs backend of its own (wasm kernels are single-threaded in Node, so
 * one training per core), loads the dataset from the binary cache once, then trains the runs it is sent, one at a
 * time, posting progress and results to the main thread.
 *
 * Sweeps (src/sweep/coordinator.ts) send runs with `decide: true`: after every epoch the worker posts a `decide` message
 * and waits (Atomics.wait on the SharedArrayBuffer `decisions` of its WorkerInit) until the main thread stores its
 * answer: word 1 = 1 stops the run there (recorded `pruned`, see runOne's `shouldStop`), 0 continues; word 0 is set to
 * 1 when the answer is there. A stopped run posts `stopped`; the main thread then ends this worker (the stopped
 * training's tensors are not freed) and starts a fresh one.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from '../backend/select';
import { loadDataset, type FerDataset } from '../data/dataset';
import '../models';
import { environment } from '../util/env';
import type { RunConfig } from './config';
import { runOne, RunStopped } from './run';
import { readRunStatus } from './status';

/** Messages from the main thread. `decide`: ask the main thread after every epoch whether to go on (sweeps). */
export type ToWorker = { type: 'run'; run: RunConfig; dir: string; decide?: boolean } | { type: 'exit' };
/** Messages to the main thread. */
export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'step'; run: string; epoch: number; epochs: number; step: number; steps: number; loss: number; imagesPerSec: number }
  | { type: 'epoch'; run: string; record: import('../train/loop').EpochRecord }
  /** After an epoch of a `decide` run: the worker waits for the answer in `decisions`. */
  | { type: 'decide'; run: string; record: import('../train/loop').EpochRecord }
  /** A `decide` run was stopped after `epoch` (recorded `pruned`). */
  | { type: 'stopped'; run: string; epoch: number }
  | { type: 'done'; run: string; summary: import('./run').RunSummary }
  /** `name`: the error's class name (e.g. `TrainError` for a diverged training). */
  | { type: 'failed'; run: string; error: string; epoch?: number | null; name?: string };

/** What the main thread passes at start. */
export interface WorkerInit {
  backend: BackendChoice;
  dataDir: string;
  cacheDir: string | false;
  /** Int32Array(2) of the per-epoch decisions of `decide` runs (see the module comment); absent for experiments. */
  decisions?: SharedArrayBuffer;
  /** Data-parallel replicas of each training (src/train/parallel.ts); absent = 1. */
  replicas?: number;
}

/** Longest wait for the main thread's per-epoch decision (ms); then the run goes on. */
const DECISION_TIMEOUT_MS = 10 * 60_000;

/**
 * The worker side of a per-epoch decision: posts `decide` and blocks until the main thread answers in `decisions`
 * (word 1: 1 = stop; word 0 set to 1 when answered). @returns true to stop the run.
 */
function askToStop(decisions: Int32Array, post: (m: FromWorker) => void, run: string, record: import('../train/loop').EpochRecord): boolean {
  Atomics.store(decisions, 0, 0);
  Atomics.store(decisions, 1, 0);
  post({ type: 'decide', run, record });
  const r = Atomics.wait(decisions, 0, 0, DECISION_TIMEOUT_MS);
  return r !== 'timed-out' && Atomics.load(decisions, 1) === 1;
}

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const info = await initBackend(init.backend);
  const ds: FerDataset = await loadDataset({ dataDir: init.dataDir, cacheDir: init.cacheDir });
  const env = environment(info.description);
  const post = (m: FromWorker) => port.postMessage(m);
  const decisions = init.decisions ? new Int32Array(init.decisions) : undefined;
  port.on('message', async (msg: ToWorker) => {
    if (msg.type === 'exit') {
      port.close();
      return;
    }
    const { run, dir, decide } = msg;
    if (process.env.FERLAB_TEST_WORKER_EXIT === run.name) process.exit(3); // fault injection for the tests: a worker that dies
    try {
      let last = 0;
      const summary = await runOne(run, ds, {
        dir,
        env,
        onStep: (p) => {
          const now = Date.now();
          if (now - last > 250 || p.step === p.steps) {
            last = now;
            post({ type: 'step', run: run.name, ...p });
          }
        },
        onEpoch: (record) => post({ type: 'epoch', run: run.name, record }),
        ...(init.replicas ? { replicas: init.replicas } : {}),
        ...(decide && decisions ? { shouldStop: (record) => askToStop(decisions, post, run.name, record) } : {}),
      });
      post({ type: 'done', run: run.name, summary });
    } catch (e) {
      if (e instanceof RunStopped) {
        post({ type: 'stopped', run: run.name, epoch: e.epoch });
        return;
      }
      const err = e as Error;
      post({ type: 'failed', run: run.name, error: err.message ?? String(e), epoch: readRunStatus(dir)?.epoch ?? null, name: err.name });
    }
  });
  post({ type: 'ready', backend: info.description });
}

main().catch((e) => {
  parentPort!.postMessage({ type: 'failed', run: '*', error: (e as Error).stack ?? String(e) } satisfies FromWorker);
});
