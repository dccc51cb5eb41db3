/**
 * The percentile-bootstrap interval of an accuracy that model cards quote. It lives in src/eval/stats.ts (evaluation
 * owns the statistics; the export layer may import evaluation, not the other way round); re-exported here so that
 * existing imports keep working.
 */
export { bootstrapAccuracy, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, type AccuracyInterval } from '../eval/stats';
