import { join } from 'node:path';
import { z } from 'zod';
import { fieldPath, readRecord, writeRecord } from './io';
import { EnvironmentSchema, SliceSchema } from './run';

/**
 * The records of a sweep folder (src/sweep): the journal (journal.jsonl, the sweep's only state: src/sweep/journal.ts
 * appends and replays it), sweep.json (the resolved spec, slice, environment, command and state: src/sweep/runner.ts)
 * and results.json (the leaderboard of trial records, best first). One run record folder per trial beside them
 * (src/records/run.ts).
 */

// --- journal.jsonl -----------------------------------------------------------------------------------------------

/** File name of the journal inside a sweep folder. */
export const JOURNAL_FILE = 'journal.jsonl';

/** Version of the journal format written in the header. */
export const JOURNAL_VERSION = 1;

/** States of a trial. `running` at replay means the coordinator died while the trial ran. */
export const TRIAL_STATES = ['running', 'complete', 'pruned', 'failed'] as const;
export type TrialState = (typeof TRIAL_STATES)[number];

const int = (min = 0) => z.number().int().min(min);
const time = z.number().describe('Unix time in ms');

/** A parameter value of a trial (a `choice` value, or a drawn number). */
export const ParamValueSchema = z.union([z.string(), z.number(), z.boolean()]);
export type ParamValue = z.infer<typeof ParamValueSchema>;
/** A trial's parameters: dotted setting path -> value. */
export const ParamsSchema = z.record(z.string(), ParamValueSchema);

export const HeaderEventSchema = z.strictObject({
  event: z.literal('header'),
  version: z.literal(JOURNAL_VERSION),
  sweep: z.string(),
  specHash: z.string(),
  time,
});
export const CreatedEventSchema = z.strictObject({
  event: z.literal('created'),
  trial: int(0),
  params: ParamsSchema,
  attempt: int(1),
  time,
});
export const IntermediateEventSchema = z.strictObject({ event: z.literal('intermediate'), trial: int(0), epoch: int(1), value: z.number(), time });
export const StateEventSchema = z.strictObject({
  event: z.literal('state'),
  trial: int(0),
  state: z.enum(TRIAL_STATES),
  value: z.number().optional(),
  error: z.string().optional(),
  runDir: z.string().optional(),
  time,
});
/** One journal line: the header or a trial event. */
export const JournalEventSchema = z.discriminatedUnion('event', [HeaderEventSchema, CreatedEventSchema, IntermediateEventSchema, StateEventSchema]);

export type HeaderEvent = z.infer<typeof HeaderEventSchema>;
export type CreatedEvent = z.infer<typeof CreatedEventSchema>;
export type IntermediateEvent = z.infer<typeof IntermediateEventSchema>;
export type StateEvent = z.infer<typeof StateEventSchema>;
/** An event about one trial (every journal line but the header). */
export type TrialEvent = CreatedEvent | IntermediateEvent | StateEvent;
export type JournalEvent = HeaderEvent | TrialEvent;

/**
 * Checks one parsed journal line.
 * @returns the event (the schema's output).
 * @throws Error `<file>:<line>: not a journal event: field <path>: <message>; ...` (the journal's own error format).
 */
export function parseJournalEvent(value: unknown, file: string, line: number): JournalEvent {
  const r = JournalEventSchema.safeParse(value);
  if (!r.success) throw new Error(`${file}:${line}: not a journal event: ${r.error.issues.map((i) => `field ${fieldPath(i.path)}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The journal line of an event: compact JSON and a newline (appended whole, src/sweep/journal.ts appendEvent). */
export function journalLine(event: JournalEvent): string {
  return `${JSON.stringify(event)}\n`;
}

// --- sweep.json --------------------------------------------------------------------------------------------------

/** File name of a sweep folder's sweep.json. */
export const SWEEP_FILE = 'sweep.json';
/** results.json of a sweep folder (the leaderboard, {@link SweepResultRecordSchema}). */
export const SWEEP_RESULTS_FILE = 'results.json';

/** Why a sweep stopped asking for trials (src/sweep/engine.ts). */
export const StopReasonSchema = z.enum(['trials', 'minutes', 'sampler']);

/**
 * sweep.json of a sweep folder. `spec` is checked for what every reader uses (name, objective); its full type
 * (src/sweep/spec.ts SweepSpec) belongs to the sweep layer (src/sweep/runner.ts SweepInfo).
 */
export const SweepRecordSchema = z.object({
  kind: z.literal('sweep'),
  name: z.string(),
  question: z.string().optional(),
  quick: z.boolean(),
  /** The resolved spec (variant and budget overrides applied): the truth for a resumed sweep. */
  spec: z.object({ name: z.string(), objective: z.object({ metric: z.string() }) }),
  /** Images of each split the trials use (null = all). */
  slice: SliceSchema,
  /** The spec file it came from, when it came from one. */
  source: z.string().nullable(),
  command: z.string(),
  workers: z.number(),
  /** The BullMQ queue's Redis URL, password replaced by *** (distributed sweeps). */
  queue: z.string().optional(),
  environment: EnvironmentSchema,
  started: z.string(),
  /** Every resume: its time and command. */
  resumed: z.array(z.object({ time: z.string(), command: z.string() })).optional(),
  /** `complete` only when the sweep finished (every trial finished, the budget or sampler said stop). */
  state: z.enum(['running', 'complete', 'failed']),
  stopReason: StopReasonSchema.optional(),
  finished: z.string().optional(),
  /** Why the sweep failed (state `failed`). */
  error: z.string().optional(),
});
export type SweepRecord = z.infer<typeof SweepRecordSchema>;

/** Writes a sweep folder's sweep.json. */
export function writeSweepRecord(dir: string, info: SweepRecord): void {
  writeRecord(join(dir, SWEEP_FILE), info);
}

/** A sweep folder's sweep.json. @throws RecordError naming the file and field when missing or malformed. */
export function readSweepRecord(dir: string): SweepRecord {
  return readRecord(SweepRecordSchema, join(dir, SWEEP_FILE));
}

// --- results.json: trial records ---------------------------------------------------------------------------------

/** Metrics of a trial on one split. */
export const SplitScoreSchema = z.object({
  /** In [0, 1]. */
  accuracy: z.number(),
  macroF1: z.number(),
});
export type SplitScore = z.infer<typeof SplitScoreSchema>;

/** One trial in the leaderboard of a sweep (results.json `trials`). */
export const TrialRowSchema = z.object({
  trial: z.number().int(),
  /** Run record folder name (`trial-0007`). */
  run: z.string(),
  /** Absolute path of the run record. */
  dir: z.string(),
  params: ParamsSchema,
  state: z.enum(TRIAL_STATES),
  attempts: z.number().int(),
  /** The journal's objective: a complete trial's final value; a pruned one's value when it was pruned. */
  objective: z.number().nullable(),
  /** PublicTest at the run's selected epoch (metrics.json `val`; for unfinished runs, the best-accuracy epoch of epochs.jsonl). */
  publicTest: SplitScoreSchema.nullable(),
  /** PrivateTest of the selected epoch (complete trials only). */
  privateTest: SplitScoreSchema.nullable(),
  /** Epochs trained, and the selected (best PublicTest accuracy) epoch. */
  epochs: z.number(),
  bestEpoch: z.number().nullable(),
  /** Training-step seconds (all epochs), and the whole run's seconds (complete trials). */
  trainSeconds: z.number().nullable(),
  wallSeconds: z.number().nullable(),
  error: z.string().optional(),
});
export type TrialRow = z.infer<typeof TrialRowSchema>;

/** How to train a trial again (src/sweep/reproduce.ts). */
export const ReproductionSchema = z.object({
  /**
   * `npm run exp -- <experiment> --only <run> --set key=value ... --replicas 1` (shell-quoted), or null when no experiment file has
   * a run of the same model and label set.
   */
  command: z.string().nullable(),
  /** The experiment and run the command starts from. */
  experiment: z.string().nullable(),
  run: z.string().nullable(),
  /** The `--set` overrides of the command (unquoted). */
  overrides: z.array(z.string()),
  /** A complete experiment file (save as `experiments/<name>.ts`, run with `npm run exp -- <name>`). */
  snippet: z.string(),
  /** The name of the snippet's experiment. */
  snippetName: z.string(),
});
export type Reproduction = z.infer<typeof ReproductionSchema>;

/** The best trial and how to train it again. */
export const BestTrialSchema = TrialRowSchema.extend({ reproduce: ReproductionSchema });
export type BestTrial = z.infer<typeof BestTrialSchema>;

/** results.json of a sweep folder (also what runSweep returns); `objective` is the spec's (src/sweep/spec.ts). */
export const SweepResultRecordSchema = z.object({
  name: z.string(),
  quick: z.boolean(),
  dir: z.string(),
  state: SweepRecordSchema.shape.state,
  stopReason: StopReasonSchema.nullable(),
  objective: z.object({ metric: z.string() }),
  /** Trials, best first: complete by objective, then pruned by objective, then running, then failed. */
  trials: z.array(TrialRowSchema),
  counts: z.record(z.enum(TRIAL_STATES), z.number()),
  /** The complete trial with the best objective (ties: the lower trial number); null when none is complete. */
  best: BestTrialSchema.nullable(),
  /** Wall time of this invocation (s; a resumed sweep counts from the resume). */
  wallSeconds: z.number(),
  workers: z.number(),
  environment: EnvironmentSchema,
  command: z.string(),
});
export type SweepResultRecord = z.infer<typeof SweepResultRecordSchema>;

/** Writes a sweep folder's results.json. */
export function writeSweepResult(dir: string, result: SweepResultRecord): void {
  writeRecord(join(dir, SWEEP_RESULTS_FILE), result);
}

/** A sweep folder's results.json. @throws RecordError naming the file and field when missing or malformed. */
export function readSweepResult(dir: string): SweepResultRecord {
  return readRecord(SweepResultRecordSchema, join(dir, SWEEP_RESULTS_FILE));
}
