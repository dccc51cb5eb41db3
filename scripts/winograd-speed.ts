/**
 * `npx tsx scripts/winograd-speed.ts [models] [rounds]`: training steps on one thread with the default Winograd
 * F(2x2, 3x3) against F(4x4, 3x3) (`FERLAB_WINOGRAD=4`, src/backend/wasm/kernels/conv.ts), measured with the
 * benchmark's own `timeTrainingSteps` (src/bench/steps.ts: the loop's step, batch 64, median of 20 steps after 3
 * warm-up steps), alternating the two `rounds` times in one process so that both see the same machine state.
 * The command behind the README's F(4x4) numbers.
 * @param models comma-separated registered models (default deep,baseline,vgg-cpu).
 * @param rounds alternations per model (default 3).
 */
import { initBackend } from '../src/backend/select';
import { timeTrainingSteps } from '../src/bench/steps';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  await initBackend('wasm');
  const rounds = Number(process.argv[3] ?? 3);
  for (const model of (process.argv[2] ?? 'deep,baseline,vgg-cpu').split(',')) {
    const ms: Record<'f2' | 'f4', number[]> = { f2: [], f4: [] };
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['f2', 'f4'] as const) {
        if (mode === 'f4') process.env.FERLAB_WINOGRAD = '4';
        else delete process.env.FERLAB_WINOGRAD;
        ms[mode].push((await timeTrainingSteps(model, 20, 3)).medianMs);
      }
    }
    delete process.env.FERLAB_WINOGRAD;
    const [f2, f4] = [median(ms.f2), median(ms.f4)];
    console.log(
      `${model}: F(2x2) ${f2.toFixed(1)} ms/step [${ms.f2.map((x) => x.toFixed(1)).join(', ')}]; F(4x4) ${f4.toFixed(1)} ms/step ` +
        `[${ms.f4.map((x) => x.toFixed(1)).join(', ')}]: ${(f2 / f4).toFixed(2)}x`,
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
