/** Benchmark worker: times training steps of one model on its own backend instance and posts the timing back. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from '../backend/select';
import { timeTrainingSteps } from './steps';

/** What the benchmark passes to a worker. */
export interface BenchWorkerInit {
  backend: BackendChoice;
  model: string;
  steps: number;
  warmup: number;
  /** Start timing only when the main thread says so (so that side-by-side workers overlap). */
  waitForGo: boolean;
}

async function main(): Promise<void> {
  const init = workerData as BenchWorkerInit;
  const info = await initBackend(init.backend);
  const go = async () => {
    try {
      const timing = await timeTrainingSteps(init.model, init.steps, init.warmup);
      parentPort!.postMessage({ type: 'done', backend: info.description, kernels: info.kernels, timing });
    } catch (e) {
      parentPort!.postMessage({ type: 'failed', error: (e as Error).stack ?? String(e) });
    }
  };
  if (init.waitForGo) {
    parentPort!.once('message', () => void go());
    parentPort!.postMessage({ type: 'ready' });
  } else await go();
}

main().catch((e) => parentPort!.postMessage({ type: 'failed', error: (e as Error).stack ?? String(e) }));
