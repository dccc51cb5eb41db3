import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EpochRecord } from '../train/loop';
import { defaultRunsDir } from '../util/paths';
import type { RunSummary, TestPredictions } from './run';
import type { StudyResult } from './study';

/**
 * Readers of what `npm run exp` wrote, for notebooks and scripts: study folders (results.json) and run records
 * (epochs.jsonl, predictions.json).
 */

/** Loads a study folder's results.json. @throws Error naming the folder when it has no results. */
export function loadStudy(dir: string): StudyResult {
  const file = join(dir, 'results.json');
  if (!existsSync(file)) throw new Error(`${dir} has no results.json (not a finished study folder)`);
  return JSON.parse(readFileSync(file, 'utf8')) as StudyResult;
}

/**
 * The newest finished study of an experiment under `runsDir` (default FERLAB_RUNS_DIR or runs/), or undefined.
 * @param quick true: only --quick studies; false: only full ones.
 */
export function latestStudyDir(experiment: string, quick: boolean, runsDir = defaultRunsDir()): string | undefined {
  if (!existsSync(runsDir)) return undefined;
  const prefix = `${experiment}${quick ? '-quick' : ''}-`;
  const dirs = readdirSync(runsDir)
    .filter((d) => d.startsWith(prefix) && /^\d{8}-\d{6}$/.test(d.slice(prefix.length)) && existsSync(join(runsDir, d, 'results.json')))
    .sort();
  return dirs.length ? join(runsDir, dirs[dirs.length - 1]) : undefined;
}

/** Per-epoch records of a run (its epochs.jsonl). */
export function loadHistory(runDir: string): EpochRecord[] {
  return readFileSync(join(runDir, 'epochs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochRecord);
}

/** Per-image PrivateTest predictions of a run (its predictions.json). */
export function loadPredictions(runDir: string): TestPredictions {
  return JSON.parse(readFileSync(join(runDir, 'predictions.json'), 'utf8')) as TestPredictions;
}

/**
 * The run with the best PublicTest (validation) accuracy among the finished runs that pass `filter` (e.g. FER+ runs
 * only); the first one on ties. PrivateTest never selects: it is only reported (the FER2013 protocol).
 * @throws Error when no run passes.
 */
export function bestRun(study: Pick<StudyResult, 'experiment' | 'runs'>, filter: (r: RunSummary) => boolean = () => true): RunSummary {
  const runs = study.runs.filter(filter);
  if (!runs.length) throw new Error(`no run of '${study.experiment}' matches`);
  return runs.reduce((a, b) => (b.val.accuracy > a.val.accuracy ? b : a));
}

/** `FERLAB_QUICK=1`: notebooks use the experiments' --quick slices so they execute in minutes. */
export function notebookQuick(): boolean {
  return /^(1|true|yes)$/i.test(process.env.FERLAB_QUICK ?? '');
}
