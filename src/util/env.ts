import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PROJECT_ROOT } from './paths';

/** Where and with what a result was produced; stored in run records, benchmark results and exported models. */
export interface Environment {
  ferlab: string;
  /** `git rev-parse HEAD` of the checkout, with `-dirty` when it has uncommitted changes; null outside git. */
  commit: string | null;
  node: string;
  tfjs: string;
  backend: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Describes this process' environment; `backend` is the description printed at start-up. */
export function environment(backend: string): Environment {
  const head = git(['rev-parse', 'HEAD']);
  const dirty = head ? (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '' : false;
  return {
    ferlab: JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version,
    commit: head ? `${head}${dirty ? '-dirty' : ''}` : null,
    node: process.version,
    tfjs: tf.version.tfjs,
    backend,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
  };
}
