/**
 * The `ferlab` command line (npm scripts: `npm run exp`, `npm run bench`, `npm run ferlab -- <command>`).
 *
 *   exp [experiment]   run an experiment (default: `default`); --quick, --set key=value, --only, --workers;
 *                      --resume runs/<study> continues an interrupted study
 *   bench              training-speed benchmark vs. the PyTorch yardstick (see src/bench)
 *   data               load and check the data; print split sizes of every label set
 *   models             list the registered models
 *   eval <run-dir>     reload a run's saved model and re-score it on its PrivateTest images
 */
/* eslint-disable @typescript-eslint/no-require-imports -- commands load their modules lazily (CommonJS require) */
import { Command, InvalidArgumentError } from 'commander';
import { BACKENDS, parseBackendChoice, type BackendChoice } from '../backend/select';

function backendOption(v: string): BackendChoice {
  try {
    return parseBackendChoice(v, '--backend');
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const collect = (v: string, prev: string[]) => [...prev, v];

async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('ferlab')
    .description('Facial-expression recognition workspace: FER2013 / FER+ experiments on TensorFlow.js')
    .option('--data-dir <dir>', 'folder with fer2013.csv(.gz) and fer2013new.csv (env FERLAB_DATA_DIR; default data/)')
    .option('--cache-dir <dir>', 'folder of the binary dataset cache (env FERLAB_CACHE_DIR; default .cache/)')
    .option('--backend <name>', `tfjs backend: auto, ${BACKENDS.join(', ')} (env FERLAB_BACKEND)`, backendOption)
    .showHelpAfterError();

  program
    .command('exp')
    .description('run an experiment from experiments/<name>.ts and write its study folder under runs/')
    .argument('[experiment]', 'experiment name', 'default')
    .option('--quick', "the same code on the experiment's small slice (about a minute)")
    .option('--set <key=value>', 'override a setting of every run (repeatable), e.g. --set epochs=8 --set optimizer.weightDecay=1e-4', collect, [])
    .option('--only <runs>', 'comma-separated run names to run')
    .option('--workers <n>', 'trainings side by side (default: one per core on wasm)', positiveInt)
    .option('--runs-dir <dir>', 'parent folder of study folders (env FERLAB_RUNS_DIR; default runs/)')
    .option('--resume <study-dir>', 'continue an interrupted study: finished runs are kept, unfinished ones continue from their last checkpoint')
    .option('--no-progress', 'no progress bars (one line per epoch)')
    .action(
      async (
        name: string,
        o: { quick?: boolean; set: string[]; only?: string; workers?: number; runsDir?: string; resume?: string; progress: boolean },
        cmd: Command,
      ) => {
        const g = program.opts();
        const { loadExperiment, runExperiment, resumeStudy } = require('../exp/study') as typeof import('../exp/study');
        const { resultRows } = require('../exp/results') as typeof import('../exp/results');
        const { printTable } = require('./table') as typeof import('./table');
        const { ConfigError } = require('../exp/config') as typeof import('../exp/config');
        const { ProgressView } = require('./progress') as typeof import('./progress');
        const view = new ProgressView(o.progress && process.stdout.isTTY === true);
        const common = {
          only: o.only ? o.only.split(',').map((s) => s.trim()) : undefined,
          workers: o.workers,
          dataDir: g.dataDir,
          cacheDir: g.cacheDir,
          backend: g.backend,
          log: (l: string) => view.log(l),
          onStep: (run: string, p: import('../train/loop').StepProgress) => view.update(run, p),
        };
        let result: import('../exp/study').StudyResult;
        try {
          if (o.resume) {
            if (cmd.args.length) throw new ConfigError(`--resume takes the study folder only (its experiment is in study.json); drop '${cmd.args[0]}'`);
            result = await resumeStudy(o.resume, { ...common, quick: o.quick, overrides: o.set });
          } else {
            result = await runExperiment(loadExperiment(name), { ...common, quick: o.quick, overrides: o.set, runsDir: o.runsDir });
          }
        } finally {
          view.stop();
        }
        console.log(
          `\n${result.experiment}${result.quick ? ' (quick)' : ''}: ${result.runs.length} runs finished in ${(result.wallSeconds / 60).toFixed(1)} min on ${result.workers} workers`,
        );
        printTable(resultRows(result));
        console.log(`records, models and reports: ${result.dir}`);
        if (result.failed.length) {
          console.error(`ferlab: ${result.failed.length} run(s) FAILED: ${result.failed.map((f) => `${f.name} (${f.error.split('\n')[0]})`).join('; ')}`);
          console.error(`their records say why (status.json); after a fix: npm run exp -- --resume ${result.dir}`);
          process.exitCode = 1;
        }
      },
    );

  program
    .command('bench')
    .description('benchmark training steps of every registered model on wasm (1 and 2 cores) against PyTorch; writes bench/results/')
    .option('--steps <n>', 'timed steps per measurement', positiveInt)
    .option('--models <names>', 'comma-separated models (default: all registered)')
    .option('--out <dir>', 'output folder (default bench/results)')
    .option('--quick', 'few steps, no PyTorch (a smoke run)')
    .action(async (o: { steps?: number; models?: string; out?: string; quick?: boolean }) => {
      const { runBench } = require('../bench/bench') as typeof import('../bench/bench');
      await runBench({ steps: o.steps, models: o.models?.split(','), outDir: o.out, quick: o.quick, dataDir: program.opts().dataDir });
    });

  program
    .command('data')
    .description('load and validate the data (building the cache) and print the split sizes of every label set')
    .action(async () => {
      const g = program.opts();
      const { dataSummary } = require('./data') as typeof import('./data');
      await dataSummary(g.dataDir, g.cacheDir);
    });

  program
    .command('models')
    .description('list registered models with parameters and multiply-adds per image')
    .action(async () => {
      require('../models');
      const { listModels, modelEntry } = require('../models/registry') as typeof import('../models/registry');
      const { registeredModelStats } = require('../models/stats') as typeof import('../models/stats');
      const { initBackend } = require('../backend/select') as typeof import('../backend/select');
      await initBackend('cpu');
      const { printTable } = require('./table') as typeof import('./table');
      printTable(
        listModels().map((m) => {
          const s = registeredModelStats(m, 8);
          return { model: m, params: s.params, 'MMAC/image': +(s.macs / 1e6).toFixed(1), description: modelEntry(m).description };
        }),
      );
    });

  program
    .command('eval')
    .description("reload the model saved in a run record and re-score it on the run's PrivateTest images")
    .argument('<run-dir>', 'a run record folder (with model/ and config.json)')
    .action(async (dir: string) => {
      const g = program.opts();
      const { evaluateRunDir } = require('../eval/reload') as typeof import('../eval/reload');
      const r = await evaluateRunDir(dir, { dataDir: g.dataDir, cacheDir: g.cacheDir, backend: g.backend });
      console.log(`${dir}: test accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.n} images (record says ${(100 * r.recorded).toFixed(2)}%)`);
    });

  await program.parseAsync(argv);
}

main(process.argv).catch((e: Error) => {
  const known = ['DataError', 'ConfigError'].includes(e.name);
  console.error(known ? `ferlab: ${e.message}` : (e.stack ?? String(e)));
  process.exit(1);
});
