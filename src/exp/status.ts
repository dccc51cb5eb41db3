import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic';

/** File name of a run's per-epoch checkpoint inside its record folder. */
export const CHECKPOINT_FILE = 'checkpoint.bin';

/** The state of a run record (`status.json`). */
export interface RunStatus {
  /**
   * `running` (or interrupted: a killed run stays `running` until resumed), `complete`, `failed`, or `pruned` (stopped
   * early by a sweep's pruner after `epoch`: its record keeps config.json and epochs.jsonl, and has no metrics.json,
   * predictions or model).
   */
  state: 'running' | 'complete' | 'failed' | 'pruned';
  /** Last finished epoch (1-based; for `failed`, the epoch the error happened in; for `pruned`, the last epoch trained), null before the first. */
  epoch: number | null;
  /** For `failed`: the error message. */
  error?: string;
  /** ISO time of this status. */
  updated: string;
}

/** Writes `status.json` of a run record atomically. */
export function writeRunStatus(dir: string, status: Omit<RunStatus, 'updated'>): void {
  writeJsonAtomic(join(dir, 'status.json'), { ...status, updated: new Date().toISOString() });
}

/** A run record's status, or undefined when it has none (never started). */
export function readRunStatus(dir: string): RunStatus | undefined {
  const file = join(dir, 'status.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as RunStatus;
}

/** A run that failed, as the results table and the study report show it. */
export interface FailedRun {
  name: string;
  model: string;
  /** Label set name. */
  labels: string;
  state: 'failed';
  /** Epoch the error happened in (1-based), or null when it failed before or after training. */
  epoch: number | null;
  error: string;
  /** Folder of the run record. */
  dir: string;
}
