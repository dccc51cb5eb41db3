import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readEpochs, readPredictions, type EpochRecord, type RunSummary, type TestPredictions } from '../records/run';
import { readExperimentResult, RESULTS_FILE, type ExperimentResult } from '../records/experiment';
import { defaultRunsDir } from '../util/paths';

/**
 * Readers of what `npm run exp` wrote, for notebooks and scripts: experiment folders (results.json) and run records
 * (epochs.jsonl, predictions.json).
 */

/**
 * Loads an experiment folder's results.json.
 * @throws Error naming the folder when it has no results; RecordError naming the file and field when it is malformed.
 */
export function loadExperimentFolder(dir: string): ExperimentResult {
  if (!existsSync(join(dir, RESULTS_FILE))) throw new Error(`${dir} has no results.json (not a finished experiment folder)`);
  return readExperimentResult(dir);
}

/**
 * The newest finished folder of an experiment under `runsDir` (default FERLAB_RUNS_DIR or runs/), or undefined.
 * @param quick true: only --quick experiments; false: only full ones.
 */
export function latestExperimentDir(experiment: string, quick: boolean, runsDir = defaultRunsDir()): string | undefined {
  if (!existsSync(runsDir)) return undefined;
  const prefix = `${experiment}${quick ? '-quick' : ''}-`;
  const dirs = readdirSync(runsDir)
    .filter((d) => d.startsWith(prefix) && /^\d{8}-\d{6}$/.test(d.slice(prefix.length)) && existsSync(join(runsDir, d, RESULTS_FILE)))
    .sort();
  return dirs.length ? join(runsDir, dirs[dirs.length - 1]) : undefined;
}

/** Per-epoch records of a run (its epochs.jsonl). @throws RecordError naming file:line and field for a bad line. */
export function loadHistory(runDir: string): EpochRecord[] {
  return readEpochs(runDir);
}

/** Per-image PrivateTest predictions of a run (its predictions.json). @throws RecordError naming file and field. */
export function loadPredictions(runDir: string): TestPredictions {
  return readPredictions(runDir);
}

/**
 * The run with the best PublicTest (validation) accuracy among the finished runs that pass `filter` (e.g. FER+ runs
 * only); the first one on ties. PrivateTest never selects: it is only reported (the FER2013 protocol).
 * @throws Error when no run passes.
 */
export function bestRun(experiment: Pick<ExperimentResult, 'experiment' | 'runs'>, filter: (r: RunSummary) => boolean = () => true): RunSummary {
  const runs = experiment.runs.filter(filter);
  if (!runs.length) throw new Error(`no run of '${experiment.experiment}' matches`);
  return runs.reduce((a, b) => (b.val.accuracy > a.val.accuracy ? b : a));
}

/** `FERLAB_QUICK=1`: notebooks use the experiments' --quick slices so they execute in minutes. */
export function notebookQuick(): boolean {
  return /^(1|true|yes)$/i.test(process.env.FERLAB_QUICK ?? '');
}
