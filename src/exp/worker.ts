/**
 * Worker thread of the experiment runner: one tfjs backend of its own (wasm kernels are single-threaded in Node, so
 * one training per core), loads the dataset from the binary cache once, then trains the runs it is sent, one at a
 * time, posting progress and results to the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from '../backend/select';
import { loadDataset, type FerDataset } from '../data/dataset';
import '../models';
import { environment } from '../util/env';
import type { RunConfig } from './config';
import { runOne } from './run';
import { readRunStatus } from './status';

/** Messages from the main thread. */
export type ToWorker = { type: 'run'; run: RunConfig; dir: string } | { type: 'exit' };
/** Messages to the main thread. */
export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'step'; run: string; epoch: number; epochs: number; step: number; steps: number; loss: number; imagesPerSec: number }
  | { type: 'epoch'; run: string; record: import('../train/loop').EpochRecord }
  | { type: 'done'; run: string; summary: import('./run').RunSummary }
  | { type: 'failed'; run: string; error: string; epoch?: number | null };

/** What the main thread passes at start. */
export interface WorkerInit {
  backend: BackendChoice;
  dataDir: string;
  cacheDir: string | false;
}

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const info = await initBackend(init.backend);
  const ds: FerDataset = await loadDataset({ dataDir: init.dataDir, cacheDir: init.cacheDir });
  const env = environment(info.description);
  const post = (m: FromWorker) => port.postMessage(m);
  port.on('message', async (msg: ToWorker) => {
    if (msg.type === 'exit') {
      port.close();
      return;
    }
    const { run, dir } = msg;
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
      });
      post({ type: 'done', run: run.name, summary });
    } catch (e) {
      post({ type: 'failed', run: run.name, error: (e as Error).message ?? String(e), epoch: readRunStatus(dir)?.epoch ?? null });
    }
  });
  post({ type: 'ready', backend: info.description });
}

main().catch((e) => {
  parentPort!.postMessage({ type: 'failed', run: '*', error: (e as Error).stack ?? String(e) } satisfies FromWorker);
});
