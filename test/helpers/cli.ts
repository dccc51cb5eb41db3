/**
 * The `ferlab` command line as the tests run it: a separate Node process running src/cli/main.ts through tsx, the
 * way `npm run ferlab` and `npm run exp` do, from the project root. One place for what about fifteen test files
 * wrote out by hand.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../src/util/paths';

/** The project root (the folder of package.json; src/util/paths.ts PROJECT_ROOT). */
export const ROOT = PROJECT_ROOT;

/** The CLI's entry point, src/cli/main.ts. */
export const CLI = join(ROOT, 'src', 'cli', 'main.ts');

/** Node arguments that run the TypeScript file `file` with `args` through tsx (as the npm scripts do). */
export function tsxArgs(file: string, args: readonly string[] = []): string[] {
  return ['--require', 'tsx/cjs', file, ...args];
}

/** Options of {@link runCli} and {@link spawnCli}. */
export interface CliOptions {
  /** Variables added to (or, set to undefined, removed from) this process's environment. */
  env?: Record<string, string | undefined>;
  /** Working directory (default: the project root). */
  cwd?: string;
  /** Bytes of stdout or stderr kept by {@link runCli} / {@link runTsx} (default 64 MiB; more kills the process). */
  maxBuffer?: number;
}

/** What a finished CLI process left: exit status or signal, its two streams, and both joined. */
export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout followed by stderr: for assertion messages and matching text wherever it was printed. */
  out: string;
}

function childEnv(env: CliOptions['env']): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env ?? {})) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

/** Runs `ferlab ARGS` to the end (synchronously, output up to `opts.maxBuffer`, default 64 MiB). */
export function runCli(args: readonly string[], opts: CliOptions = {}): CliResult {
  return runTsx(CLI, args, opts);
}

/** Runs the TypeScript file `file` (e.g. a script under scripts/) with `args` to the end, like {@link runCli}. */
export function runTsx(file: string, args: readonly string[] = [], opts: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, tsxArgs(file, args), {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: childEnv(opts.env),
    maxBuffer: opts.maxBuffer ?? 64 << 20,
  });
  const stdout = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  return { status: r.status, signal: r.signal, stdout, stderr, out: stdout + stderr };
}

/**
 * Starts `ferlab ARGS` without waiting (to kill it mid-run, or to talk to a server it starts): no standard input,
 * stdout and stderr piped (`child.stdout` and `child.stderr` are set).
 */
export function spawnCli(args: readonly string[], opts: CliOptions = {}): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, tsxArgs(CLI, args), { cwd: opts.cwd ?? ROOT, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The one experiment folder in `runsDir` whose name starts with `prefix` (e.g. 'default-quick-').
 * @throws AssertionError (uvu) when there is none or more than one, listing what is there.
 */
export function experimentDir(runsDir: string, prefix: string): string {
  const all = existsSync(runsDir) ? readdirSync(runsDir) : [];
  const dirs = all.filter((d) => d.startsWith(prefix));
  assert.is(dirs.length, 1, `one experiment folder ${prefix}* in ${runsDir}, found ${JSON.stringify(all)}`);
  return join(runsDir, dirs[0]);
}
