/**
 * Names of the evaluators a run calls after training (src/exp/evaluators/index.ts EVALUATORS), in the order it calls
 * them. Kept apart from the evaluators themselves (no imports) so that the run-config schema (src/exp/config.ts
 * `evaluators`) reads the list without loading tfjs.
 *
 * - `test`: plain PrivateTest metrics of the best-epoch model (metrics.json `test`; always on).
 * - `bootstrap`: 95% percentile-bootstrap interval of that accuracy (`testInterval`).
 * - `calibration`: temperature scaling fitted on PublicTest, reported on PrivateTest (`calibration`; the saved model's
 *   `temperature`).
 * - `tta`: test-time augmentation of the PublicTest and PrivateTest scores, when the run sets `tta` (`tta`).
 * - `cross`: the same PrivateTest images scored against the other label set, with FER+ votes (`cross`).
 * - `predictions`: per-image PrivateTest predictions (predictions.json).
 */
export const EVALUATOR_NAMES = ['test', 'bootstrap', 'calibration', 'tta', 'cross', 'predictions'] as const;
/** One of {@link EVALUATOR_NAMES}. */
export type EvaluatorName = (typeof EVALUATOR_NAMES)[number];
