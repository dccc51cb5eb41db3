/**
 * `npx tsx scripts/dp-speed.ts [models]`: training steps of one run on 1 thread and on 2 data-parallel replicas
 * (src/train/parallel.ts), measured with the benchmark's own `timeTrainingSteps` (src/bench/steps.ts: the loop's step,
 * batch 64, median of 20 steps after 3 warm-up steps) in one process, so the ratio compares like with like. The quick
 * check behind the README's data-parallel numbers; `npm run bench` records the same row (`wasmDp2`) in its results.
 * @param models comma-separated registered models (default deep,baseline).
 */
import { initBackend } from '../src/backend/select';
import { timeTrainingSteps } from '../src/bench/steps';

async function main(): Promise<void> {
  await initBackend('wasm');
  for (const model of (process.argv[2] ?? 'deep,baseline').split(',')) {
    const one = await timeTrainingSteps(model, 20, 3);
    const two = await timeTrainingSteps(model, 20, 3, 64, 8, 2);
    console.log(
      `${model}: 1 thread ${one.medianMs.toFixed(1)} ms/step (${one.imagesPerSec.toFixed(0)} img/s); 2 replicas ${two.medianMs.toFixed(1)} ms/step ` +
        `(${two.imagesPerSec.toFixed(0)} img/s): ${(two.imagesPerSec / one.imagesPerSec).toFixed(2)}x`,
    );
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
