/**
 * Which run `npm run ferlab -- export <folder>` exports: the folder itself when it is a run record, else the run with
 * the best PublicTest accuracy among the finished run records directly inside it (an experiment folder of `npm run exp`,
 * finished or not, or any folder whose subfolders are run records, e.g. a sweep's). Selection goes through
 * src/exp/records.ts `bestRun`: PublicTest (validation) accuracy, first run on ties; PrivateTest is never used to
 * select, only reported (the FER2013 protocol: PublicTest for model selection, PrivateTest for the final number).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isFerPlus, LABEL_SETS, type LabelSetName } from '../data/labels';
import { bestRun } from '../exp/records';
import type { RunSummary } from '../exp/run';
import { RecordError } from '../records/io';
import { CONFIG_FILE, METRICS_FILE, MODEL_SUBDIR, PREDICTIONS_FILE, readRunConfigFile, readRunStatus, readRunSummary } from '../records/run';
import { isExperimentFolder, readExperimentRecord, RESULTS_FILE } from '../records/experiment';
import { pct } from '../util/format';

/** A folder or setting `export` cannot use; the message names the folder or setting and what was expected. */
export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

/** Files that make a folder a finished run record that can be exported. */
export const RUN_RECORD_FILES = [METRICS_FILE, CONFIG_FILE, PREDICTIONS_FILE, `${MODEL_SUBDIR}/model.json`] as const;

/** One finished run record considered for export. */
export interface Candidate {
  name: string;
  /** Absolute folder of the run record. */
  dir: string;
  model: string;
  labels: LabelSetName;
  /** Best-epoch PublicTest (validation) accuracy in [0, 1]: the selection criterion. */
  publicTest: number;
  /** PrivateTest (test) accuracy in [0, 1]: reported only. */
  privateTest: number;
  /** Images of each split the accuracies are over. */
  publicTestImages: number;
  privateTestImages: number;
  /** metrics.json of the run. */
  summary: RunSummary;
}

/** What {@link selectRun} found and chose. */
export interface Selection {
  /** The folder given, absolute. */
  source: string;
  /** `run`: a run record; `experiment`: an experiment folder (experiment.json); `folder`: another folder of run records (a sweep). */
  kind: 'run' | 'experiment' | 'folder';
  /** Experiment name and quick flag from experiment.json or the run's config.json, when known. */
  experiment?: string;
  quick?: boolean;
  /** True when an experiment folder has no results.json yet (interrupted or running): only its finished runs compete. */
  unfinished: boolean;
  /** The runs that competed, in folder order, after the label filter. */
  candidates: Candidate[];
  /** The chosen run: the best PublicTest accuracy (bestRun, first on ties). */
  best: Candidate;
  /** Subfolders that were not finished run records, or were filtered out, and why. */
  skipped: Array<{ name: string; why: string }>;
  /** Notes for the user (e.g. candidates measured against different label sets). */
  notes: string[];
  /** One sentence: why `best` was chosen. */
  reason: string;
}

/** Why `dir` is not a finished, exportable run record; undefined when it is one. */
function notARunRecord(dir: string): string | undefined {
  if (isExperimentFolder(dir)) return 'an experiment folder: pass it to export instead';
  const status = readRunStatus(dir);
  if (status && status.state !== 'complete') return `status.json says '${status.state}'${status.error ? ` (${status.error.split('\n')[0]})` : ''}`;
  const missing = RUN_RECORD_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length) return `missing ${missing.join(', ')}`;
  return undefined;
}

/**
 * A record read through src/records, its RecordError (file and field path) rethrown as an ExportError with the same
 * message; other errors pass through.
 */
export function records<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof RecordError) throw new ExportError(e.message);
    throw e;
  }
}

function candidateOf(dir: string): Candidate {
  const summary = records(() => readRunSummary(dir));
  const config = records(() => readRunConfigFile(dir));
  const val = summary.val.accuracy;
  const test = summary.test.accuracy;
  return {
    name: config.run.name,
    dir,
    model: config.run.model,
    labels: config.run.labels,
    publicTest: val,
    privateTest: test,
    publicTestImages: summary.val.n,
    privateTestImages: summary.test.n,
    summary: { ...summary, dir },
  };
}

/**
 * A label filter of `--labels`: a label set name (`fer`, `majority`, `probability`, `crossentropy`, `multi_target`),
 * or `ferplus` for any of the four FER+ sets.
 * @throws ExportError for another value.
 */
export function labelFilter(value: string): (labels: LabelSetName) => boolean {
  if (value === 'ferplus') return (l) => isFerPlus(l);
  if ((LABEL_SETS as readonly string[]).includes(value)) return (l) => l === value;
  throw new ExportError(`--labels '${value}' is not a label set: expected ferplus or one of ${LABEL_SETS.join(', ')}`);
}

/**
 * Finds the run to export in `folder` (see the file comment).
 *
 * @param opts.labels only runs of this label set (see {@link labelFilter}).
 * @throws ExportError when the folder does not exist, is a run record that is not finished, holds no finished run
 *   record (the message lists what its subfolders lack), or no run passes the label filter; when a metrics.json or
 *   config.json cannot be read.
 */
export function selectRun(folder: string, opts: { labels?: string } = {}): Selection {
  const source = resolve(folder);
  if (!existsSync(source) || !statSync(source).isDirectory())
    throw new ExportError(`${folder}: no such folder (expected a run record, an experiment or a sweep folder)`);
  const filter = opts.labels ? labelFilter(opts.labels) : () => true;
  const notes: string[] = [];
  const skipped: Selection['skipped'] = [];

  const experimentFile = (dir: string) => (isExperimentFolder(dir) ? records(() => readExperimentRecord(dir)) : undefined);
  const experimentRecord = experimentFile(source);
  let kind: Selection['kind'];
  let candidates: Candidate[];
  let unfinished = false;
  if (existsSync(join(source, METRICS_FILE)) || existsSync(join(source, MODEL_SUBDIR, 'model.json'))) {
    kind = 'run';
    const why = notARunRecord(source);
    if (why) throw new ExportError(`${folder} is not a finished run record: ${why}`);
    candidates = [candidateOf(source)];
    if (!filter(candidates[0].labels)) throw new ExportError(`run ${folder} has label set '${candidates[0].labels}', not '${opts.labels}'`);
  } else {
    kind = experimentRecord ? 'experiment' : 'folder';
    unfinished = !!experimentRecord && !existsSync(join(source, RESULTS_FILE));
    candidates = [];
    const subs = readdirSync(source, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    for (const name of subs) {
      const dir = join(source, name);
      const why = notARunRecord(dir);
      if (why) {
        skipped.push({ name, why });
        continue;
      }
      const c = candidateOf(dir);
      if (!filter(c.labels)) {
        skipped.push({ name, why: `label set '${c.labels}' (--labels ${opts.labels})` });
        continue;
      }
      candidates.push(c);
    }
    if (!candidates.length) {
      const found = skipped.length ? ` (${skipped.map((s) => `${s.name}: ${s.why}`).join('; ')})` : subs.length ? '' : ' (it has no subfolders)';
      throw new ExportError(
        `${folder} is not a run record, and none of its subfolders is a finished run record${opts.labels ? ` of label set '${opts.labels}'` : ''}${found}: ` +
          `expected a run folder with ${RUN_RECORD_FILES.join(', ')}, or an experiment / sweep folder of such run folders`,
      );
    }
    if (unfinished) notes.push(`${folder} has no results.json (the experiment is unfinished): only its ${candidates.length} finished run(s) compete`);
  }

  const fer = candidates.filter((c) => c.labels === 'fer').length;
  if (fer > 0 && fer < candidates.length)
    notes.push(
      'the candidates mix FER2013 and FER+ label sets, whose PublicTest accuracies are measured against different labels (FER+: majority votes) and are not ' +
        'directly comparable; --labels fer or --labels ferplus chooses within one',
    );

  // a run record inside an experiment folder: the experiment says whether it was --quick
  const parentExperiment = kind === 'run' ? experimentFile(dirname(source)) : experimentRecord;
  const experiment = parentExperiment?.experiment.name ?? records(() => readRunConfigFile(candidates[0].dir)).run.experiment;
  const chosen = bestRun({ experiment: experiment ?? basename(source), runs: candidates.map((c) => c.summary) });
  const best = candidates.find((c) => c.summary === chosen)!;
  const ties = candidates.filter((c) => c.publicTest === best.publicTest).length;
  const reason =
    kind === 'run'
      ? `${folder} is a run record: exporting it as it is`
      : `best PublicTest accuracy ${pct(best.publicTest)} of ${candidates.length} finished run(s)${ties > 1 ? ` (tied with ${ties - 1} other(s): the first in folder order)` : ''}; ` +
        'PrivateTest is reported, never used to select';
  return { source, kind, experiment, quick: parentExperiment?.quick, unfinished, candidates, best, skipped, notes, reason };
}

/** The candidates as table rows (run, model, labels, PublicTest / PrivateTest accuracy, chosen). */
export function candidateRows(sel: Pick<Selection, 'candidates' | 'best'>): Array<Record<string, string>> {
  return sel.candidates.map((c) => ({
    run: c.name,
    model: c.model,
    labels: c.labels,
    'PublicTest acc (selects)': `${pct(c.publicTest)} (${c.publicTestImages})`,
    'PrivateTest acc (reported)': `${pct(c.privateTest)} (${c.privateTestImages})`,
    chosen: c === sel.best ? '<-' : '',
  }));
}
