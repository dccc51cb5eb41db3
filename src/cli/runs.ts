/**
 * `npm run ferlab -- runs [--runs-dir runs] [--model m] [--labels l] [--sweep name] [--sort key] [--json]`: the
 * leaderboard of every run record under runs/ (experiments and sweeps), src/sweep/leaderboard.ts.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- modules load lazily, as the other commands */
import type { Command } from 'commander';

/** Options of the runs command. */
export interface RunsCommandOptions {
  runsDir?: string;
  model?: string;
  labels?: string;
  sweep?: string;
  sort?: string;
  json?: boolean;
}

/**
 * Prints the leaderboard (a table, or JSON rows with --json).
 * @throws ConfigError for an unknown label set or sort key.
 */
export function runsCommand(o: RunsCommandOptions): void {
  const { runsTable, runsTableRows } = require('../sweep/leaderboard') as typeof import('../sweep/leaderboard');
  const { ConfigError } = require('../exp/config') as typeof import('../exp/config');
  const { defaultRunsDir } = require('../util/paths') as typeof import('../util/paths');
  const dir = o.runsDir ?? defaultRunsDir();
  let rows: import('../sweep/leaderboard').RunRow[];
  try {
    rows = runsTable(dir, { model: o.model, labels: o.labels, sweep: o.sweep, sort: o.sort as import('../sweep/leaderboard').RunSortKey | undefined });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (o.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const { printTable } = require('./table') as typeof import('./table');
  printTable(runsTableRows(rows));
  console.log(
    `${rows.length} run record${rows.length === 1 ? '' : 's'} under ${dir}; PublicTest acc selects (best epoch), PrivateTest acc and macro-F1 are reported; epochs: selected/trained`,
  );
}

/** Registers `runs` on the ferlab command line (src/cli/main.ts). */
export function registerRunsCommand(program: Command): void {
  program
    .command('runs')
    .description('leaderboard of every run record under runs/ (experiments and sweeps): settings that differ from the defaults, PublicTest / PrivateTest accuracy')
    .option('--runs-dir <dir>', 'folder of experiment and sweep folders (env FERLAB_RUNS_DIR; default runs/)')
    .option('--model <name>', 'only runs of this model')
    .option('--labels <set>', 'only runs of this label set (ferplus: any FER+ set)')
    .option('--sweep <name>', 'only runs of this sweep (spec name or folder name)')
    .option('--sort <key>', 'publicTest (default), privateTest, macroF1 (best first) or time (train time, shortest first)')
    .option('--json', 'print the rows as JSON')
    .action((o: RunsCommandOptions) => runsCommand(o));
}
