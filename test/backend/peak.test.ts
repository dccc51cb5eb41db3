/**
 * The multiply-add peak kernel that `npm run bench` times (src/backend/wasm/assembly/peak.ts): it must really run
 * 12 chains of `iters` multiply-adds each, so its sum is checked against the closed form of the recurrence
 * c <- c * b + a (computed here in float64), in both kernel builds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { relaxedSimdSupported, standaloneKernels, type KernelVariant } from '../../src/backend/wasm/module';
import { measureMaddPeak } from '../../src/bench/ceiling';

/** Sum over the 12 accumulators (started at 0..11) and 4 lanes after n rounds of c <- c * b + a. */
function closedForm(n: number, a: number, b = Math.fround(0.999)): number {
  const bn = b ** n;
  let s = 0;
  for (let i = 0; i < 12; i++) s += 4 * (i * bn + (a * (1 - bn)) / (1 - b));
  return s;
}

const variants: KernelVariant[] = relaxedSimdSupported() ? ['relaxed', 'simd'] : ['simd'];

for (const v of variants) {
  test(`maddPeak (${v}): the sum after n rounds is the recurrence's closed form`, () => {
    const k = standaloneKernels(v);
    for (const [n, a] of [
      [0, 1],
      [1, 1],
      [10, 0.5],
      [1000, 2],
    ]) {
      const got = k.maddPeak(n, a);
      const want = closedForm(n, a);
      assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)), `n=${n} a=${a}: expected ${want}, got ${got}`);
    }
  });
}

test('measureMaddPeak reports the best of its runs', () => {
  const p = measureMaddPeak('simd', 3);
  assert.is(p.runs.length, 3);
  assert.is(p.gflops, Math.max(...p.runs));
  assert.ok(
    p.runs.every((r) => r > 0 && Number.isFinite(r)),
    `positive finite rates: ${p.runs}`,
  );
});

test.run();
