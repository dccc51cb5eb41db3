/**
 * `ferlab eval`: re-score a run's saved model on its PrivateTest images (`eval <run-dir>`), or score any saved or
 * exported model on any dataset (`eval --model <ref> --data-dir <dataset>`: cross-dataset evaluation over the classes
 * both share, src/eval/transfer.ts) and write metrics, predictions, the confusion matrix and a report. Also
 * `folder-copy` (FER2013 as a Kaggle-layout image folder) and the global `--skip-bad` option (folder datasets).
 * Registered in src/cli/main.ts; the heavy modules load when a command runs.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- commands load their modules lazily (CommonJS require) */
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { BackendChoice } from '../backend/select';
import type { FerDataset } from '../data/dataset';
import type { LabelSetName } from '../data/labels';
import type { EvalSplit, SavedModelEvaluation } from '../eval/transfer';
import type { TtaMode } from '../eval/tta';
import { pct } from '../util/format';
import { runStamp } from '../util/time';

const SPLITS: readonly EvalSplit[] = ['test', 'val', 'train', 'all'];

function splitOption(v: string): EvalSplit {
  if (!(SPLITS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${SPLITS.join(', ')}`);
  return v as EvalSplit;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Options of {@link evaluateModelCommand}. */
export interface ModelEvalOptions {
  /** Model reference: run folder, model folder, models/<name>, or <experiment>/<run> (src/models/init.ts resolveModelRef). */
  model: string;
  dataDir?: string;
  cacheDir?: string | false;
  backend?: BackendChoice;
  /** Label set of the data (default: FER+ majority for a FER+ model on data with votes, else fer). */
  labels?: LabelSetName;
  /** Split scored (default test: PrivateTest, or a folder dataset's test split). */
  split?: EvalSplit;
  /** First n images of the split only. */
  limit?: number;
  /** Output folder (default runs/eval/<model>-on-<dataset>-<split>-<time>). */
  out?: string;
  /** Status lines (default console.log); the mapping and metrics tables are printed with it too. */
  log?: (line: string) => void;
}

/** What {@link evaluateModelCommand} wrote. */
export interface ModelEvalRecord {
  dir: string;
  evaluation: SavedModelEvaluation;
}

/** Short name of a model folder: the run name for `<run>/model`, else the folder name. */
function modelName(dir: string): string {
  return basename(dir) === 'model' ? basename(dirname(dir)) : basename(dir);
}

/** Short name of a dataset: its folder name (the CSV data: `fer2013`). */
function datasetName(ds: FerDataset): string {
  return ds.source.folder ? basename(ds.source.folder.root) : 'fer2013';
}

/**
 * Cross-dataset evaluation: loads the dataset (`dataDir`: CSV, image folder or settings file) and a saved model, scores
 * the model on the chosen split through the class mapping, and writes `<out>/metrics.json` (metrics with the confusion
 * matrix, mapping, excluded images, model and dataset provenance), `predictions.json` (per image: row, file, true,
 * predicted, probabilities) and `report.html` (mapping, results, confusion matrices, per-class metrics, most
 * confident mistakes).
 * @throws Error / DataError when the model or the data cannot be read, or they share no class.
 */
export async function evaluateModelCommand(o: ModelEvalOptions): Promise<ModelEvalRecord> {
  const log = o.log ?? ((l: string) => console.log(l));
  const { backendFromEnv, initBackend } = require('../backend/select') as typeof import('../backend/select');
  const { loadDataset } = require('../data/dataset') as typeof import('../data/dataset');
  const { evaluateSavedModel } = require('../eval/transfer') as typeof import('../eval/transfer');
  const { defaultRunsDir } = require('../util/paths') as typeof import('../util/paths');
  const { writeEvalRecords } = require('../records/evaluation') as typeof import('../records/evaluation');
  const { resolveModelRef } = require('../models/init') as typeof import('../models/init');
  const modelDir = resolveModelRef(o.model); // before the data: a wrong reference fails fast
  await initBackend(o.backend ?? backendFromEnv());
  const ds = await loadDataset({ dataDir: o.dataDir, cacheDir: o.cacheDir, log });
  const ev = await evaluateSavedModel(modelDir, ds, { labels: o.labels, split: o.split, limit: o.limit ?? null });
  const name = `${modelName(ev.model.dir)}-on-${datasetName(ds)}-${ev.split}`;
  const dir = resolve(o.out ?? join(defaultRunsDir(), 'eval', `${name}-${runStamp()}`));

  const mappingRows = ev.mapping.rows.map((r) => ({
    'dataset class': r.datasetClass,
    'model output': r.modelClass === null ? '- (not predicted: images left out)' : `${r.modelIndex}: ${r.modelClass}`,
  }));
  for (const u of ev.mapping.unusedOutputs)
    mappingRows.push({ 'dataset class': '-', 'model output': `${ev.modelClasses.indexOf(u)}: ${u} (no counterpart: masked)` });
  // the CLI prints tables; a caller with its own `log` gets them as lines
  const printTable = o.log
    ? (rows: Array<Record<string, string | number>>) =>
        rows.forEach((r) =>
          log(
            Object.entries(r)
              .map(([k, v]) => `${k}: ${v}`)
              .join(' | '),
          ),
        )
    : (require('./table') as typeof import('./table')).printTable;
  log(
    `model ${ev.model.dir}${ev.classesAssumed ? ` (classes assumed from its ${ev.modelClasses.length} outputs)` : ''}; data ${datasetName(ds)}, label set ${ev.labels}, split ${ev.split}`,
  );
  log(ev.mapping.identity ? 'class mapping: identity (same classes, same order)' : 'class mapping (by emotion name):');
  if (!ev.mapping.identity) printTable(mappingRows);
  const rows = [
    { images: ev.n, excluded: ev.excluded, accuracy: pct(ev.metrics.accuracy), 'macro-F1': ev.metrics.macroF1.toFixed(3), classes: ev.mapping.shared.length },
  ];
  printTable(rows);

  const files = ds.files;
  const predictions = {
    classes: ev.mapping.shared,
    index: Array.from(ev.index),
    ...(files ? { file: Array.from(ev.index, (r) => files[r]) } : {}),
    label: Array.from(ev.label),
    pred: Array.from(ev.pred),
    prob: Array.from({ length: ev.n }, (_, i) =>
      Array.from(ev.prob.subarray(i * ev.mapping.shared.length, (i + 1) * ev.mapping.shared.length), (p) => Math.round(p * 1e4) / 1e4),
    ),
  };
  const f = ds.source.folder;
  const data = f
    ? {
        kind: 'folder',
        root: f.root,
        layout: f.layout,
        splits: f.splits,
        classMap: f.classMap,
        perSplit: f.perSplit,
        skippedImages: f.skipped.length,
        listSha1: f.listSha1,
      }
    : { kind: 'csv', dataDir: ds.source.dataDir, fer2013Md5: ds.source.fer2013Md5, official: ds.source.fer2013Official };
  const record = {
    model: ev.model,
    modelClasses: ev.modelClasses,
    classesAssumed: ev.classesAssumed,
    data,
    labels: ev.labels,
    split: ev.split,
    limit: o.limit ?? null,
    mapping: ev.mapping,
    n: ev.n,
    excluded: ev.excluded,
    metrics: ev.metrics,
  };
  writeEvalRecords(dir, record, predictions);
  writeEvalReport(dir, name, ev, ds, mappingRows, data);
  log(`metrics, predictions and report: ${dir}`);
  return { dir, evaluation: ev };
}

/** report.html of a cross-dataset evaluation (figures from src/viz). */
function writeEvalReport(
  dir: string,
  name: string,
  ev: SavedModelEvaluation,
  ds: FerDataset,
  mappingRows: Array<Record<string, string>>,
  data: Record<string, unknown>,
): string {
  const { writeReport } = require('../viz/render') as typeof import('../viz/render');
  const v = require('../viz/results') as typeof import('../viz/results');
  const preds = {
    classes: ev.mapping.shared,
    index: Array.from(ev.index),
    label: Array.from(ev.label),
    pred: Array.from(ev.pred),
    prob: Array.from({ length: ev.n }, (_, i) => Array.from(ev.prob.subarray(i * ev.mapping.shared.length, (i + 1) * ev.mapping.shared.length))),
  };
  return writeReport(join(dir, 'report.html'), {
    title: `${modelName(ev.model.dir)} on ${datasetName(ds)} (${ev.split})`,
    subtitle: `label set ${ev.labels} · ${ev.n} images scored, ${ev.excluded} left out (true class not among the model's) · accuracy ${pct(ev.metrics.accuracy)} · macro-F1 ${ev.metrics.macroF1.toFixed(3)}`,
    sections: [
      {
        title: 'Results',
        text: 'Over the classes the model and the dataset share (matched by emotion name); model outputs without a counterpart are left out of the argmax.',
        table: [{ images: ev.n, excluded: ev.excluded, accuracy: pct(ev.metrics.accuracy), 'macro-F1': ev.metrics.macroF1.toFixed(3) }],
      },
      { title: 'Class mapping', table: mappingRows },
      {
        title: 'Confusion matrix (rows = true class, columns = predicted)',
        figures: [v.confusionFigure(ev.metrics, name), v.confusionFigure(ev.metrics, name, true)],
        grid: true,
      },
      { title: 'Per-class metrics', figures: [v.perClassFigure(ev.metrics, name), v.confusedPairsFigure(ev.metrics, name)] },
      { title: 'Misclassified images', figures: [v.misclassifiedGalleryFigure(ds, preds, name, { limit: 24 })] },
      { title: 'Model and data', text: JSON.stringify({ model: ev.model, modelClasses: ev.modelClasses, data }, null, 1) },
    ],
  });
}

/**
 * Adds `eval` to the program: `eval <run-dir>` re-scores a run's saved model on its PrivateTest images (as before);
 * `eval --model <ref>` scores any saved or exported model on the dataset of the global `--data-dir`.
 */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      "re-score a run's saved model on its PrivateTest images (eval <run-dir>), or score any saved model on any dataset (eval --model <ref> --data-dir <dataset>)",
    )
    .argument('[run-dir]', 'a run record folder (with model/ and config.json), or an ensemble folder (ferlab ensemble)')
    .option('--model <ref>', 'cross-dataset evaluation of this model: a run folder, a model folder (model.json), models/<name>, or <experiment>/<run>')
    .option('--split <split>', `split of the data to score: ${SPLITS.join(', ')} (all = every labelled image)`, splitOption)
    .option('--labels <set>', 'label set of the data (fer, or a FER+ set such as majority when the data has FER+ votes)')
    .option('--limit <n>', 'score only the first n images of the split', positiveInt)
    .option('--out <dir>', 'output folder (default runs/eval/<model>-on-<dataset>-<split>-<time>)')
    .option(
      '--ferplus-test-labels <file>',
      "FER+ models: also score PrivateTest on the FER+ paper's test labels (microsoft/FERPlus data/FER2013Test/label.csv, joined by image name) beside fer2013new.csv's; default: <data-dir>/FER2013Test/label.csv or <data-dir>/ferplus-label-csv/FER2013Test-label.csv when present",
    )
    .option('--tta <mode>', "TTA of those FER+ label-file scores: flip, tencrop or none (default: the run's recorded TTA, else flip)", ttaOption)
    .action(
      async (
        runDir: string | undefined,
        o: { model?: string; split?: EvalSplit; labels?: string; limit?: number; out?: string; ferplusTestLabels?: string; tta?: TtaMode },
      ) => {
        const g = program.opts();
        const labelFiles = async (modelRef: string, run?: string) => {
          if ((o.split ?? 'test') !== 'test' || o.limit) return;
          await ferplusTestLabelReport({
            modelRef,
            runDir: run,
            labelCsv: o.ferplusTestLabels,
            tta: o.tta,
            dataDir: g.dataDir,
            cacheDir: g.cacheDir,
            backend: g.backend,
          });
        };
        if (!o.model && runDir && isModelFolder(runDir)) {
          // a model folder (exported, released, an ensemble) given as the folder: scored as a saved model
          o.model = runDir;
          runDir = undefined;
        }
        if (o.model) {
          if (runDir) program.error(`error: give either a run folder or --model, not both ('${runDir}')`);
          const { LABEL_SETS } = require('../data/labels') as typeof import('../data/labels');
          if (o.labels && !(LABEL_SETS as readonly string[]).includes(o.labels))
            program.error(`error: --labels '${o.labels}': expected one of ${LABEL_SETS.join(', ')}`);
          try {
            await evaluateModelCommand({
              model: o.model,
              dataDir: g.dataDir,
              cacheDir: g.cacheDir,
              backend: g.backend,
              labels: o.labels as LabelSetName | undefined,
              split: o.split,
              limit: o.limit,
              out: o.out,
            });
            await labelFiles(o.model);
          } catch (e) {
            // a model or dataset that cannot be used: the message names it; the stack would only hide it
            console.error(`ferlab: ${(e as Error).message}`);
            process.exitCode = 1;
          }
          return;
        }
        if (!runDir) program.error('error: give a run folder (eval runs/<experiment>/<run>) or --model <ref>');
        const { isEnsembleFolder } = require('../export/ensemble-make') as typeof import('../export/ensemble-make');
        if (isEnsembleFolder(runDir)) {
          // an ensemble (ferlab ensemble) has no run record: scored as a saved model on its label set's PrivateTest
          await evaluateModelCommand({
            model: runDir,
            dataDir: g.dataDir,
            cacheDir: g.cacheDir,
            backend: g.backend,
            split: o.split,
            limit: o.limit,
            out: o.out,
          });
          await labelFiles(runDir);
          return;
        }
        const { evaluateRunDir } = require('../eval/reload') as typeof import('../eval/reload');
        const r = await evaluateRunDir(runDir, { dataDir: g.dataDir, cacheDir: g.cacheDir, backend: g.backend });
        console.log(`${runDir}: test accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.n} images (record says ${(100 * r.recorded).toFixed(2)}%)`);
        await labelFiles(runDir, runDir);
      },
    );
}

function ttaOption(v: string): TtaMode {
  const modes = ['none', 'flip', 'tencrop'];
  if (!modes.includes(v)) throw new InvalidArgumentError(`expected one of ${modes.join(', ')}`);
  return v as TtaMode;
}

/** Whether a folder is a saved model's own folder (exported, released, an ensemble) rather than a run record (config.json). */
function isModelFolder(dir: string): boolean {
  const { CONFIG_FILE } = require('../records/run') as typeof import('../records/run');
  if (existsSync(join(dir, CONFIG_FILE))) return false;
  const { resolveModelRef } = require('../models/init') as typeof import('../models/init');
  try {
    return resolveModelRef(dir) === resolve(dir);
  } catch {
    return false;
  }
}

/** Options of {@link ferplusTestLabelReport}. */
export interface FerPlusTestLabelReportOptions {
  /** The model: a run folder, a model folder, models/<name>, <experiment>/<run> (src/models/init.ts resolveModelRef). */
  modelRef: string;
  /** The run record, when the model is a run's: its recorded TTA mode is the default and its predictions.json is compared. */
  runDir?: string;
  /** label.csv of the test split; default: the data directory's (src/eval/ferplus-test.ts defaultFerPlusTestLabelFile). */
  labelCsv?: string;
  tta?: TtaMode;
  dataDir?: string;
  cacheDir?: string | false;
  backend?: BackendChoice;
  log?: (line: string) => void;
}

/**
 * FER+ PrivateTest accuracy of a FER+ model on both test label files (fer2013new.csv's majority labels and the FER+
 * paper's label.csv), plain and with TTA, printed with the file each number uses (src/eval/ferplus-test.ts). Does
 * nothing for a model that is not a FER+ model, or when no label.csv is named and the data directory has none.
 * For a run, says how many plain predictions equal the run's recorded predictions.json.
 * @returns the scores, or undefined when nothing was scored. @throws Error / DataError for unreadable files.
 */
export async function ferplusTestLabelReport(o: FerPlusTestLabelReportOptions): Promise<import('../eval/ferplus-test').FerPlusModelScores | undefined> {
  const log = o.log ?? ((l: string) => console.log(l));
  const { resolveModelRef, readSavedModelInfo } = require('../models/init') as typeof import('../models/init');
  const { FERPLUS_CLASSES } = require('../data/classes') as typeof import('../data/classes');
  const modelDir = resolveModelRef(o.modelRef);
  if (readSavedModelInfo(modelDir).classes?.join() !== FERPLUS_CLASSES.join()) return undefined;
  const fp = require('../eval/ferplus-test') as typeof import('../eval/ferplus-test');
  const { loadDataset } = require('../data/dataset') as typeof import('../data/dataset');
  const { defaultDataDir } = require('../util/paths') as typeof import('../util/paths');
  const labelCsv = o.labelCsv ?? fp.defaultFerPlusTestLabelFile(o.dataDir ?? defaultDataDir());
  if (!labelCsv) return undefined;
  const { backendFromEnv, initBackend } = require('../backend/select') as typeof import('../backend/select');
  await initBackend(o.backend ?? backendFromEnv());
  const ds = await loadDataset({ dataDir: o.dataDir, cacheDir: o.cacheDir });
  const labels = await fp.loadFerPlusTestLabels(ds, labelCsv);
  let tta = o.tta;
  let recorded: import('../records/run').TestPredictions | undefined;
  if (o.runDir) {
    const rec = require('../records/run') as typeof import('../records/run');
    tta ??= rec.readRunSummary(o.runDir).tta?.tta;
    recorded = rec.readPredictions(o.runDir);
  }
  const s = await fp.scoreFerPlusModel(modelDir, ds, labels.files, { tta: tta ?? 'flip' });
  fp.describeFerPlusScores(s, labels).forEach((l) => log(l));
  if (recorded) {
    const rp = recorded;
    const at = new Map<number, number>();
    s.plain.index.forEach((r, k) => at.set(r, s.plain.pred[k]));
    const same = rp.index.filter((r, k) => at.get(r) === rp.pred[k]).length;
    log(`  plain predictions equal to the run's recorded predictions: ${same} of ${rp.index.length}`);
  }
  return s;
}

/**
 * Adds the global `--skip-bad` option (folder datasets: skip unreadable images, counted in run records; passed on to
 * worker threads through FERLAB_SKIP_BAD), the `folder-copy` command (the loaded dataset, FER2013 from the CSV,
 * written as an image folder in the Kaggle FER2013 layout), and to an already registered `exp` command the options
 * `--init-from <ref>` and `--freeze <mode>`: short forms of `--set initFrom=<ref>` and `--set freeze=<mode>` (the
 * fine-tuning settings of src/train/settings.ts), so they are validated and recorded like any setting.
 */
export function registerFolderCommands(program: Command): void {
  program.option('--skip-bad', 'folder datasets: skip unreadable or truncated images (counted in the run record) instead of stopping');
  program.hook('preAction', () => {
    if (program.opts().skipBad) process.env.FERLAB_SKIP_BAD = '1';
  });
  const exp = program.commands.find((c) => c.name() === 'exp');
  if (exp) {
    exp
      .option(
        '--init-from <ref>',
        'fine-tune every run from a saved model: a run folder, models/<name>, a model folder, or <experiment>/<run> (= --set initFrom=<ref>)',
      )
      .option('--freeze <mode>', "with --init-from: 'conv' keeps the convolutional blocks fixed, 'none' trains all (= --set freeze=<mode>)");
    exp.hook('preAction', (cmd) => {
      const o = cmd.opts() as { set?: string[]; initFrom?: string; freeze?: string };
      const extra = [...(o.initFrom ? [`initFrom=${o.initFrom}`] : []), ...(o.freeze ? [`freeze=${o.freeze}`] : [])];
      if (extra.length) cmd.setOptionValue('set', [...(o.set ?? []), ...extra]);
    });
  }
  program
    .command('folder-copy')
    .description(
      'write the dataset of --data-dir (FER2013 from the CSV) as an image-folder dataset in the Kaggle layout: train/<class>/Training_<row>.png, test/<class>/PublicTest_<row>.png, ...',
    )
    .argument('<out-dir>', 'new (or empty) folder')
    .option('--format <fmt>', 'png (lossless: reads back pixel-exact) or jpeg (as the Kaggle copy)', 'png')
    .option('--quality <q>', 'JPEG quality 1-100', positiveInt, 90)
    .action(async (out: string, o: { format: string; quality: number }) => {
      if (o.format !== 'png' && o.format !== 'jpeg') program.error(`error: --format: expected png or jpeg, got '${o.format}'`);
      const g = program.opts();
      const { loadDataset } = require('../data/dataset') as typeof import('../data/dataset');
      const { writeFolderCopy } = require('../data/folder') as typeof import('../data/folder');
      const ds = await loadDataset({ dataDir: g.dataDir, cacheDir: g.cacheDir, log: (m) => console.log(m) });
      const n = await writeFolderCopy(ds, out, { format: o.format, quality: o.quality, log: (m) => console.log(m) });
      console.log(`${n} images written to ${resolve(out)} (train/ and test/, one folder per class); use it with --data-dir ${out}`);
    });
}
