import type { RunSummary } from '../../records/run';
import type { EvalContext } from './context';
import type { EvaluatorName } from './names';

/** The metrics.json fields evaluators write (src/records/run.ts RunSummarySchema). */
export type EvalOutputs = Partial<Pick<RunSummary, 'test' | 'testInterval' | 'calibration' | 'tta' | 'cross'>>;

/**
 * One post-training analysis of a run (in the manner of big_vision's evaluators): a name, the context fields it
 * reads, the metrics.json fields it writes and the record files it writes besides.
 */
export interface Evaluator<N extends keyof EvalContext = keyof EvalContext, K extends keyof EvalOutputs = keyof EvalOutputs> {
  readonly name: EvaluatorName;
  /** The context fields {@link evaluate} reads; it is given only these. */
  readonly needs: readonly N[];
  /** The metrics.json fields it writes (an empty list: none). */
  readonly writes: readonly K[];
  /** Files of the run record it writes itself (e.g. predictions.json). */
  readonly files?: readonly string[];
  /** Runs the analysis; returns its metrics.json fields (a field left out is not written). */
  evaluate(ctx: Pick<EvalContext, N>): Pick<EvalOutputs, K>;
}

/** Types an evaluator literal (infers its needs and fields). */
export function defineEvaluator<N extends keyof EvalContext, K extends keyof EvalOutputs>(e: Evaluator<N, K>): Evaluator<N, K> {
  return e;
}
