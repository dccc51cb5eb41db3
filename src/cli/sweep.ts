/**
 * `npm run ferlab -- sweep <spec> [--quick] [--workers n] [--runs-dir dir] [--trials n] [--minutes m]` and
 * `npm run ferlab -- sweep --resume <sweep-dir>`: runs a hyper-parameter sweep (src/sweep/runner.ts) from a sweep spec
 * file in experiments/ (or a path), prints its leaderboard and the best trial with the command that reproduces it.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- modules load lazily, as the other commands */
import { InvalidArgumentError, type Command } from 'commander';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError('expected a positive number of minutes');
  return n;
}

/** Options of the sweep command. */
export interface SweepCommandOptions {
  quick?: boolean;
  resume?: string;
  workers?: number;
  runsDir?: string;
  trials?: number;
  minutes?: number;
  queue?: string;
  redisPasswordFile?: string;
  progress: boolean;
}

/**
 * The command line as the user typed it, for sweep.json: `npm run ferlab -- sweep ...` (shell-quoted), passwords
 * redacted by src/sweep/redis.ts redactCommandLine (the `--queue` URL whole, in any form; any password parsed).
 */
export function commandLine(argv: string[]): string {
  const { shellQuote } = require('../sweep/reproduce') as typeof import('../sweep/reproduce');
  const { redactCommandLine } = require('../sweep/redis') as typeof import('../sweep/redis');
  return `npm run ferlab -- ${redactCommandLine(argv).map(shellQuote).join(' ')}`;
}

/**
 * `--redis-password-file <file>`: the Redis password is read from the file (src/sweep/redis.ts parseRedisUrl), so it
 * is neither in the URL nor on the command line. The option sets FERLAB_REDIS_PASSWORD_FILE for this process.
 */
function usePasswordFile(file: string | undefined): void {
  if (file !== undefined) process.env.FERLAB_REDIS_PASSWORD_FILE = file;
}

/**
 * Runs the sweep command: a new sweep from `spec`, or `--resume`. Sets process.exitCode 1 when no trial is complete.
 * @throws ConfigError / SweepSpecError (printed as `ferlab: <message>` by main) for a bad spec or option; DataError for
 *   bad data; the runner's errors.
 */
export async function sweepCommand(
  spec: string | undefined,
  o: SweepCommandOptions,
  global: { dataDir?: string; cacheDir?: string; backend?: string },
  argv: string[],
): Promise<void> {
  const { ConfigError } = require('../exp/config') as typeof import('../exp/config');
  const { loadSweep } = require('../sweep/load') as typeof import('../sweep/load');
  const { runSweep, resumeSweep, sweepTableRows } = require('../sweep/runner') as typeof import('../sweep/runner');
  const { printTable } = require('./table') as typeof import('./table');
  const { ProgressView } = require('./progress') as typeof import('./progress');
  if (o.resume && spec) throw new ConfigError(`--resume takes the sweep folder only (its spec is in sweep.json); drop '${spec}'`);
  if (!o.resume && !spec) throw new ConfigError('sweep needs a sweep spec (a name in experiments/ or a path), or --resume <sweep-dir>');
  usePasswordFile(o.redisPasswordFile);
  // the spec is checked before anything starts (no folder is written for a bad one)
  const def = spec ? loadSweep(spec) : undefined;
  const view = new ProgressView(o.progress && process.stdout.isTTY === true);
  const common = {
    trials: o.trials,
    minutes: o.minutes,
    workers: o.workers,
    queue: o.queue,
    dataDir: global.dataDir,
    cacheDir: global.cacheDir,
    backend: global.backend as import('../backend/select').BackendChoice | undefined,
    command: commandLine(argv),
    log: (l: string) => view.log(l),
    onStep: (run: string, p: import('../train/loop').StepProgress) => view.update(run, p),
  };
  let result: import('../sweep/runner').SweepResult;
  try {
    result = o.resume ? await resumeSweep(o.resume, { ...common, quick: o.quick }) : await runSweep(def!, { ...common, quick: o.quick, runsDir: o.runsDir });
  } finally {
    view.stop();
  }
  const c = result.counts;
  console.log(
    `\nsweep ${result.name}${result.quick ? ' (quick)' : ''}: ${result.trials.length} trials (${c.complete} complete, ${c.pruned} pruned, ${c.failed} failed) in ${(result.wallSeconds / 60).toFixed(1)} min on ${result.workers} workers; stopped by ${result.stopReason === 'sampler' ? 'the sampler' : `the ${result.stopReason} budget`}`,
  );
  printTable(sweepTableRows(result));
  if (result.best) {
    const b = result.best;
    console.log(`best: ${b.run} objective ${b.objective?.toFixed(4)} (PublicTest ${result.objective.metric}), params ${JSON.stringify(b.params)}`);
    if (b.reproduce.command) console.log(`reproduce: ${b.reproduce.command}`);
  } else {
    console.error('ferlab: no trial is complete');
    process.exitCode = 1;
  }
  console.log(`sweep folder (results.md, journal.jsonl, one run record per trial): ${result.dir}`);
}

/** Registers `sweep` on the ferlab command line (src/cli/main.ts). */
export function registerSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description('run a hyper-parameter sweep from a sweep spec (experiments/<name>.ts exporting defineSweep) on worker threads; --resume continues one')
    .argument('[spec]', 'sweep spec: a name in experiments/ (e.g. sweep-recipe) or a path to a .ts file')
    .option('--quick', "the spec's quick variant: the same code on a small slice with a small budget")
    .option('--resume <sweep-dir>', 'continue an interrupted sweep: finished trials are kept, running ones continue from their last checkpoint')
    .option('--workers <n>', 'trainings side by side (default: one per core on wasm, cores / --threads on native)', positiveInt)
    .option('--runs-dir <dir>', 'parent folder of sweep folders (env FERLAB_RUNS_DIR; default runs/)')
    .option('--trials <n>', "budget: at most n trials (replaces the spec's trial budget)", positiveInt)
    .option('--minutes <m>', "budget: no new trial after m minutes since the sweep started (replaces the spec's time budget)", positiveNumber)
    .option(
      '--queue <redis-url>',
      'train the trials on remote workers through BullMQ on this Redis (redis://[:password@]host:port, rediss:// for TLS); start them with `ferlab worker --queue <url>`; --workers = trials in flight (default 2)',
    )
    .option(
      '--redis-password-file <file>',
      'read the Redis password from this file (one line) instead of the URL: kept off the command line (same as env FERLAB_REDIS_PASSWORD_FILE; or set FERLAB_REDIS_PASSWORD)',
    )
    .option('--no-progress', 'no progress bars (one line per epoch)')
    .action(async (spec: string | undefined, o: SweepCommandOptions) => {
      await sweepCommand(spec, o, program.opts(), process.argv.slice(2));
    });
  program
    .command('worker')
    .description('train sweep trials from a BullMQ queue on Redis (any machine with the data: --data-dir) until stopped (Ctrl-C)')
    .requiredOption('--queue <redis-url>', 'the Redis of the coordinator: redis://[:password@]host:port, rediss:// for TLS')
    .option('--concurrency <n>', 'trials trained at the same time by this process (default 1; at most one per core)', positiveInt)
    .option(
      '--redis-password-file <file>',
      'read the Redis password from this file (one line) instead of the URL: kept off the command line (same as env FERLAB_REDIS_PASSWORD_FILE; or set FERLAB_REDIS_PASSWORD)',
    )
    .action(async (o: { queue: string; concurrency?: number; redisPasswordFile?: string }) => {
      usePasswordFile(o.redisPasswordFile);
      const { runQueueWorker } = require('../sweep/queue') as typeof import('../sweep/queue');
      const { defaultCacheDir, defaultDataDir } = require('../util/paths') as typeof import('../util/paths');
      const { backendFromEnv, parseBackendChoice } = require('../backend/select') as typeof import('../backend/select');
      const g = program.opts() as { dataDir?: string; cacheDir?: string; backend?: string };
      const w = await runQueueWorker({
        url: o.queue,
        dataDir: g.dataDir ?? defaultDataDir(),
        cacheDir: g.cacheDir ?? defaultCacheDir(),
        backend: g.backend !== undefined ? parseBackendChoice(g.backend, '--backend') : backendFromEnv(),
        concurrency: o.concurrency,
      });
      const stop = () => void w.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await w.done;
    });
}
