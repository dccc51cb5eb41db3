/**
 * The `ferlab` command line (npm scripts: `npm run exp`, `npm run bench`, `npm run ferlab -- <command>`).
 *
 *   exp [experiment]   run an experiment (default: `default`); --quick, --set key=value, --only, --workers, --replicas;
 *                      --resume runs/<experiment> continues an interrupted experiment
 *   bench              training-speed benchmark vs. the PyTorch yardstick (see src/bench)
 *   data               load and check the data; print split sizes of every label set
 *   models             list the registered models
 *   eval <run-dir>     reload a run's saved model and re-score it on its PrivateTest images; eval --model <ref>:
 *                      score any saved model on any dataset (cross-dataset, src/cli/evaluate.ts)
 *   folder-copy <dir>  write FER2013 as an image-folder dataset (Kaggle layout); --skip-bad: folder datasets
 *   export <folder>    export the best run (by PublicTest) as tfjs + ONNX + TFLite with ferlab.json and a model card (src/cli/export.ts)
 *   ensemble <dirs...> an ensemble of saved models (chosen on PublicTest) as one model folder (src/cli/ensemble.ts)
 *   predict <files...> detect faces in photos / videos and classify them with a saved model (src/cli/predict.ts)
 *   demo <model-dir>   local web page: webcam or photo, live labels and emotion over time (src/cli/demo.ts)
 *   sweep <spec>       hyper-parameter sweep from experiments/<spec>.ts (defineSweep) on worker threads; --quick,
 *                      --workers, --trials, --minutes; --resume runs/<sweep> continues one (src/cli/sweep.ts)
 *   runs               leaderboard of every run record under runs/ (experiments and sweeps) (src/cli/runs.ts)
 *   release            the released models under models/: check their SHA256SUMS, rebuild them (src/cli/release.ts)
 */
/* eslint-disable @typescript-eslint/no-require-imports -- commands load their modules lazily (CommonJS require) */
import { Command, InvalidArgumentError } from 'commander';
import { BACKEND_CHOICES, parseBackendChoice, type BackendChoice } from '../backend/select';
import { registerEvalCommand, registerFolderCommands } from './evaluate';
import { registerPredictCommand } from './predict';
import { registerDemoCommand } from './demo';
import { registerSweepCommand } from './sweep';
import { registerRunsCommand } from './runs';
import { registerReleaseCommand } from './release';
import { registerEnsembleCommand } from './ensemble';

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
    .option('--data-dir <dir>', 'fer2013.csv(.gz) + fer2013new.csv folder, an image-folder dataset, or a dataset .json (env FERLAB_DATA_DIR; default data/)')
    .option('--cache-dir <dir>', 'folder of the binary dataset cache (env FERLAB_CACHE_DIR; default .cache/)')
    .option(
      '--backend <name>',
      `tfjs backend: ${BACKEND_CHOICES.join(', ')} (env FERLAB_BACKEND; default auto: a hardware GPU, else native (oneDNN) when built, else wasm)`,
      backendOption,
    )
    .option('--threads <n>', 'oneDNN threads per training on the native backend (env FERLAB_NATIVE_THREADS; default 1)', positiveInt)
    .showHelpAfterError();
  // the native backend reads its thread count from the environment in every worker thread (src/backend/select.ts
  // nativeThreadsFromEnv), and worker threads start with a copy of this process's environment
  program.hook('preAction', () => {
    const threads = program.opts().threads as number | undefined;
    if (threads !== undefined) process.env.FERLAB_NATIVE_THREADS = String(threads);
  });

  program
    .command('exp')
    .description('run an experiment from experiments/<name>.ts and write its experiment folder under runs/')
    .argument('[experiment]', 'experiment name', 'default')
    .option('--quick', "the same code on the experiment's small slice (about a minute)")
    .option('--set <key=value>', 'override a setting of every run (repeatable), e.g. --set epochs=8 --set optimizer.weightDecay=1e-4', collect, [])
    .option('--only <runs>', 'comma-separated run names to run')
    .option('--workers <n>', 'trainings side by side (default: one per core on wasm, cores / --threads on native)', positiveInt)
    .option('--replicas <n>', 'data-parallel replicas per training, one thread each (default: 2 for a one-run experiment on 2+ cores, else 1)', positiveInt)
    .option('--runs-dir <dir>', 'parent folder of experiment folders (env FERLAB_RUNS_DIR; default runs/)')
    .option('--resume <experiment-dir>', 'continue an interrupted experiment: finished runs are kept, unfinished ones continue from their last checkpoint')
    .option('--no-progress', 'no progress bars (one line per epoch)')
    .action(
      async (
        name: string,
        o: { quick?: boolean; set: string[]; only?: string; workers?: number; replicas?: number; runsDir?: string; resume?: string; progress: boolean },
        cmd: Command,
      ) => {
        const g = program.opts();
        const { loadExperiment, runExperiment, resumeExperiment } = require('../exp/experiment') as typeof import('../exp/experiment');
        const { resultRows } = require('../exp/results') as typeof import('../exp/results');
        const { printTable } = require('./table') as typeof import('./table');
        const { ConfigError } = require('../exp/config') as typeof import('../exp/config');
        const { ProgressView } = require('./progress') as typeof import('./progress');
        const view = new ProgressView(o.progress && process.stdout.isTTY === true);
        const common = {
          only: o.only ? o.only.split(',').map((s) => s.trim()) : undefined,
          workers: o.workers,
          replicas: o.replicas,
          dataDir: g.dataDir,
          cacheDir: g.cacheDir,
          backend: g.backend,
          log: (l: string) => view.log(l),
          onStep: (run: string, p: import('../train/loop').StepProgress) => view.update(run, p),
        };
        let result: import('../exp/experiment').ExperimentResult;
        try {
          if (o.resume) {
            if (cmd.args.length) throw new ConfigError(`--resume takes the experiment folder only (its experiment is in experiment.json); drop '${cmd.args[0]}'`);
            result = await resumeExperiment(o.resume, { ...common, quick: o.quick, overrides: o.set });
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
    .description('benchmark training (wasm, 1 and 2 cores, vs PyTorch) and inference of exported models (tfjs vs ONNX Runtime); writes bench/results/')
    .option('--steps <n>', 'timed steps per measurement', positiveInt)
    .option('--models <names>', 'comma-separated models (default: all registered)')
    .option('--out <dir>', 'output folder (default bench/results)')
    .option('--quick', 'few steps, no PyTorch (a smoke run)')
    .option('--inference-only', 'only the inference of exported models (tfjs wasm vs onnxruntime-node); writes bench/results/inference-latest.*')
    .action(async (o: { steps?: number; models?: string; out?: string; quick?: boolean; inferenceOnly?: boolean }) => {
      const { runBench, runInferenceBench } = require('../bench/bench') as typeof import('../bench/bench');
      const opts = {
        steps: o.steps,
        models: o.models?.split(','),
        outDir: o.out,
        quick: o.quick,
        dataDir: program.opts().dataDir,
        backend: program.opts().backend,
      };
      if (o.inferenceOnly) await runInferenceBench(opts);
      else await runBench(opts);
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
          const input = modelEntry(m).input;
          return {
            model: m,
            params: s.params,
            'MMAC/image': +(s.macs / 1e6).toFixed(1),
            input: input ? `${input.size}x${input.size} ${input.resize} ${input.normalize}` : '48x48 none unit',
            description: modelEntry(m).description,
          };
        }),
      );
    });

  registerEvalCommand(program);
  registerFolderCommands(program);

  program
    .command('export')
    .description('export the best run of an experiment or sweep folder (by PublicTest accuracy), or a run record: tfjs, ONNX, TFLite, ferlab.json, card')
    .argument('<folder>', 'a run record, an experiment folder, any folder whose subfolders are run records, or an ensemble folder (ferlab ensemble)')
    .option('--out <dir>', 'output folder (default models/<experiment>-<run>)')
    .option('--formats <list>', 'comma-separated formats: tfjs,onnx,tflite (default all)')
    .option('--quantize <dtype>', 'store the tfjs weights as float16 or uint8 (model.onnx stays float32)')
    .option('--tflite-weights <dtype>', 'store model.tflite weights as float32 (default), float16 (+ DEQUANTIZE) or int8 (dynamic range)')
    .option('--opset <n>', 'ONNX opset, 13-21 (default 13)')
    .option('--labels <set>', 'only runs of this label set compete: fer, ferplus (any FER+ set) or a label set name')
    .action(async (folder: string, o: import('./export').ExportCommandOptions) => {
      const { exportCommand } = require('./export') as typeof import('./export');
      try {
        await exportCommand(folder, o, program.opts(), process.argv.slice(2));
      } catch (e) {
        if (!['ExportError', 'OnnxExportError', 'TfliteExportError', 'EnsembleError'].includes((e as Error).name)) throw e;
        console.error(`ferlab: ${(e as Error).message}`);
        process.exitCode = 1;
      }
    });

  registerPredictCommand(program);
  registerDemoCommand(program);
  registerSweepCommand(program);
  registerRunsCommand(program);
  registerReleaseCommand(program);
  registerEnsembleCommand(program);

  await program.parseAsync(argv);
}

main(process.argv).catch((e: Error) => {
  const known = ['DataError', 'ConfigError', 'SweepSpecError'].includes(e.name);
  // the one redaction of passwords (no ioredis loaded)
  const { redactSecrets } = require('../sweep/redisurl') as typeof import('../sweep/redisurl');
  console.error(redactSecrets(known ? `ferlab: ${e.message}` : (e.stack ?? String(e))));
  process.exit(1);
});
