/**
 * ferlab's public API: everything `npm run exp` uses, for notebooks and scripts. CommonJS-importable
 * (`require('ferlab')` from dist/, `import ... from '../dist'` in notebooks).
 */
export * from './data';
export * from './backend/select';
export { batchNormTrain, dropoutTrain, installReluGradient, hasFerlabKernel } from './backend/ops';
export { registerWasmKernels, FERLAB_KERNELS } from './backend/wasm/kernels';
export * from './models';
export * from './train/batches';
export * from './train/loss';
export * from './train/optimizer';
export * from './train/schedule';
export * from './train/settings';
export * from './train/checkpoint';
export * from './train/loop';
export * from './eval/metrics';
export * from './eval/predict';
export * from './eval/cross';
export * from './exp/config';
export * from './exp/run';
export * from './exp/experiment';
export type { RunnerOptions } from './exp/setup';
export * from './exp/pool';
export * from './exp/evaluators';
export * from './exp/results';
export * from './exp/reports';
export * from './eval/reload';
export * from './eval/evaluate';
export * from './eval/transfer';
export * from './eval/calibration';
export * from './eval/stats';
export * from './eval/tta';
export * from './exp/status';
export * from './viz';
export * from './export';
export { loadPredictModel, type PredictModel } from './predict/model';
export { predictFiles, type FileResult } from './predict/files';
export { faceRow } from './predict/output';
export type { InferenceBenchResult } from './bench/bench';
export { Rng } from './util/rng';
export { argmaxRows } from './util/argmax';
export { PROJECT_ROOT, projectPath, defaultDataDir, defaultCacheDir, defaultRunsDir, sharedDataDir } from './util/paths';
export { environment, type Environment } from './util/env';
export * from './exp/records';
export * from './sweep';
// names both src/sweep and earlier modules export: the earlier ones keep them (the sweep's parzen.ts has its own
// erfc / normalCdf; its settings diff type is SweepSettingsDiff here)
export { erfc, normalCdf } from './eval/stats';
export type { SettingsDiff } from './exp/config';
export type { SettingsDiff as SweepSettingsDiff } from './sweep/spec';

// The names of the public API before an experiment's execution stopped being called a "study" (Optuna's word for what
// ferlab calls a sweep; 2026-12-07), kept so that existing notebooks and scripts still run.
import { loadExperimentFolder, latestExperimentDir } from './exp/records';
import { resumeExperiment } from './exp/experiment';
import type { ExperimentResult } from './records/experiment';
/** @deprecated renamed {@link loadExperimentFolder}. */
export const loadStudy = loadExperimentFolder;
/** @deprecated renamed {@link latestExperimentDir}. */
export const latestStudyDir = latestExperimentDir;
/** @deprecated renamed {@link resumeExperiment}. */
export const resumeStudy = resumeExperiment;
/** @deprecated renamed {@link ExperimentResult}. */
export type StudyResult = ExperimentResult;
