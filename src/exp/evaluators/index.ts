import { bootstrapEvaluator } from './bootstrap';
import type { EvalContext } from './context';
import { calibrationEvaluator } from './calibration';
import { crossEvaluator } from './cross';
import type { EvalOutputs, Evaluator } from './evaluator';
import type { EvaluatorName } from './names';
import { predictionsEvaluator } from './predictions';
import { testEvaluator } from './test';
import { ttaEvaluator } from './tta';

export { evalContext, type EvalContext } from './context';
export { defineEvaluator, type EvalOutputs, type Evaluator } from './evaluator';
export { EVALUATOR_NAMES, type EvaluatorName } from './names';

/**
 * Every evaluator a run calls after training, in the order it calls them (src/exp/evaluators/names.ts
 * EVALUATOR_NAMES): test metrics, bootstrap interval, temperature scaling, TTA, cross-evaluation, predictions.
 */
export const EVALUATORS: readonly Evaluator[] = [testEvaluator, bootstrapEvaluator, calibrationEvaluator, ttaEvaluator, crossEvaluator, predictionsEvaluator];

/**
 * The evaluators a run's `evaluators` setting names, in the order of {@link EVALUATORS} (not of the list); absent =
 * all of them.
 * @throws Error for an unknown name, or when the list leaves out `test` (metrics.json `test` is required).
 */
export function selectEvaluators(names?: readonly EvaluatorName[]): readonly Evaluator[] {
  if (!names) return EVALUATORS;
  const unknown = names.filter((n) => !EVALUATORS.some((e) => e.name === n));
  if (unknown.length) throw new Error(`unknown evaluator(s) ${unknown.join(', ')} (known: ${EVALUATORS.map((e) => e.name).join(', ')})`);
  if (!names.includes('test')) throw new Error(`evaluators ${JSON.stringify(names)} leave out 'test' (metrics.json needs the PrivateTest metrics)`);
  return EVALUATORS.filter((e) => names.includes(e.name));
}

/**
 * Calls `evaluators` one after the other on `ctx`, each given only the context fields it `needs`, and collects the
 * metrics.json fields they write (a later evaluator writing a field an earlier one wrote is an error).
 * @throws Error when an evaluator returns a field it does not declare in `writes`; any evaluator's error.
 */
export function runEvaluators(evaluators: readonly Evaluator[], ctx: EvalContext): EvalOutputs {
  const out: EvalOutputs = {};
  for (const e of evaluators) {
    const view = Object.fromEntries(e.needs.map((k) => [k, ctx[k]])) as unknown as EvalContext;
    const fields = e.evaluate(view);
    for (const k of Object.keys(fields) as Array<keyof EvalOutputs>) {
      if (!e.writes.includes(k)) throw new Error(`evaluator '${e.name}' wrote '${k}', which it does not declare (writes: ${e.writes.join(', ') || 'none'})`);
      if (k in out) throw new Error(`evaluator '${e.name}' wrote '${k}', already written by an earlier evaluator`);
    }
    Object.assign(out, fields);
  }
  return out;
}
