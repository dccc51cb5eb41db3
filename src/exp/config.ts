import { z } from 'zod';
import { LABEL_SETS, type LabelSetName } from '../data/labels';
import type { TrainConfig } from '../train/loop';

/**
 * Typed, validated experiment configs (zod, strict: an unknown key or a wrong type is an error naming the path).
 * An experiment is a list of runs (model x label set) sharing default settings; each run may override settings.
 * Overrides from the command line go through the same schema (see {@link applyOverrides}).
 */

const int = (min = 0) => z.number().int().min(min);

/** Learning-rate schedule of a run: constant, onecycle, cosine or step; the rules and their sources are in src/train/schedule.ts. */
export const ScheduleSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('constant') }),
  z.strictObject({ name: z.literal('onecycle'), pctStart: z.number().gt(0).lt(1), divFactor: z.number().gt(1), finalDivFactor: z.number().gt(1) }),
  z.strictObject({ name: z.literal('cosine'), warmupEpochs: z.number().min(0) }),
  z.strictObject({ name: z.literal('step'), milestones: z.array(int(1)), gamma: z.number().gt(0).max(1) }),
]);

/** Images of each split to use; null = all. For quick runs (first n rows of the split, in file order). */
export const SliceSchema = z.strictObject({ train: int(1).nullable(), val: int(1).nullable(), test: int(1).nullable() });

/** Settings of one training run (everything but its name, model and label set). */
export const SettingsSchema = z.strictObject({
  epochs: int(1),
  batchSize: int(2),
  lr: z.number().positive(),
  schedule: ScheduleSchema,
  optimizer: z.strictObject({ beta1: z.number().min(0).lt(1), beta2: z.number().min(0).lt(1), epsilon: z.number().positive(), weightDecay: z.number().min(0) }),
  augment: z.strictObject({ flip: z.boolean(), shift: int(0).max(12) }),
  labelSmoothing: z.number().min(0).max(0.5),
  patience: int(0),
  seed: int(0),
  evalBatchSize: int(1),
  slice: SliceSchema,
});
export type Settings = z.infer<typeof SettingsSchema>;

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** One run of an experiment: a model on a label set, with optional setting overrides. */
export const RunSpecSchema = z.strictObject({
  name: z.string().regex(NAME, 'lower-case letters, digits, . _ - (a folder name)'),
  model: z.string().min(1),
  labels: z.enum(LABEL_SETS),
  settings: SettingsSchema.partial().optional(),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** An experiment file's default export (see experiments/default.ts). */
export const ExperimentSchema = z.strictObject({
  name: z.string().regex(NAME),
  /** What question the experiment answers. */
  description: z.string().min(1),
  /** Settings of every run unless the run overrides them. */
  defaults: SettingsSchema,
  runs: z.array(RunSpecSchema).min(1),
  /** Trainings run side by side (one worker thread each); default = CPU cores (2 here). */
  workers: int(1).optional(),
  /** Overrides applied with --quick: the same code on a small slice. */
  quick: SettingsSchema.partial(),
});
export type Experiment = z.infer<typeof ExperimentSchema>;

/** A fully resolved run: what is trained, saved in every run record and exported model. */
export interface RunConfig extends Settings {
  experiment: string;
  name: string;
  model: string;
  labels: LabelSetName;
}

/** Error for an invalid config or override: message lists every problem with its path. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(`${what} is invalid:\n${z.prettifyError(r.error)}`);
  return r.data;
}

/**
 * Validates an experiment definition (experiment files call this on their default export).
 * @throws ConfigError listing every invalid or unknown key with its path; also for duplicate run names.
 */
export function defineExperiment(e: Experiment): Experiment {
  const exp = check(ExperimentSchema, e, `experiment '${(e as { name?: string }).name ?? '?'}'`);
  const names = exp.runs.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError(`experiment '${exp.name}': run name '${dup}' appears twice`);
  return exp;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown, full: string): void {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur[path[i]];
    if (typeof next !== 'object' || next === null || Array.isArray(next))
      throw new ConfigError(`override '${full}': '${path.slice(0, i + 1).join('.')}' is not a group of settings`);
    cur = next as Record<string, unknown>;
  }
  if (!(path[path.length - 1] in cur)) {
    const keys = Object.keys(cur).join(', ');
    throw new ConfigError(`override '${full}': unknown key '${path.join('.')}' (valid here: ${keys})`);
  }
  cur[path[path.length - 1]] = value;
}

/** Parses a command-line value: JSON when it parses (numbers, booleans, null, arrays, objects), else a string. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Applies `key=value` overrides (dot paths into the settings, e.g. `epochs=4`, `optimizer.weightDecay=1e-4`,
 * `schedule={"name":"constant"}`, `slice.train=2000`) to resolved settings, then re-validates.
 * @throws ConfigError for a malformed override, an unknown key, or a value of the wrong type or range.
 */
export function applyOverrides(settings: Settings, overrides: string[]): Settings {
  const out = structuredClone(settings) as unknown as Record<string, unknown>;
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ConfigError(`override '${o}' is not of the form key=value`);
    setPath(out, o.slice(0, eq).split('.'), parseValue(o.slice(eq + 1)), o);
  }
  return check(SettingsSchema, out, `settings after overrides ${overrides.join(' ')}`);
}

/** Options of {@link resolveRuns}. */
export interface ResolveOptions {
  quick?: boolean;
  /** `key=value` overrides for every run. */
  overrides?: string[];
  /** Only these run names (all when empty). @throws ConfigError for an unknown name. */
  only?: string[];
}

/**
 * The runs of an experiment with every setting resolved: defaults, then the run's own settings, then the quick
 * overrides (with --quick), then command-line overrides. Each result is a complete, validated RunConfig.
 */
export function resolveRuns(exp: Experiment, opts: ResolveOptions = {}): RunConfig[] {
  const only = opts.only ?? [];
  const unknown = only.filter((n) => !exp.runs.some((r) => r.name === n));
  if (unknown.length)
    throw new ConfigError(`unknown run(s) ${unknown.join(', ')} in experiment '${exp.name}' (runs: ${exp.runs.map((r) => r.name).join(', ')})`);
  return exp.runs
    .filter((r) => only.length === 0 || only.includes(r.name))
    .map((r) => {
      let s: Settings = check(SettingsSchema, { ...exp.defaults, ...(r.settings ?? {}) }, `run '${r.name}'`);
      if (opts.quick) s = check(SettingsSchema, { ...s, ...exp.quick }, `run '${r.name}' with --quick`);
      if (opts.overrides?.length) s = applyOverrides(s, opts.overrides);
      return { experiment: exp.name, name: r.name, model: r.model, labels: r.labels, ...s };
    });
}

/** The TrainConfig part of a RunConfig. */
export function trainConfigOf(run: RunConfig): TrainConfig {
  return {
    model: run.model,
    epochs: run.epochs,
    batchSize: run.batchSize,
    lr: run.lr,
    schedule: run.schedule,
    optimizer: run.optimizer,
    augment: run.augment,
    labelSmoothing: run.labelSmoothing,
    patience: run.patience,
    seed: run.seed,
    evalBatchSize: run.evalBatchSize,
  };
}

/**
 * Runs of a hyper-parameter sweep: the cartesian product of the given setting values, for one model and label set.
 * Run names join the values: `deep-majority-lr0.001-batchSize32`.
 *
 * @example runs: gridRuns('deep', 'majority', { lr: [1e-3, 3e-3], batchSize: [32, 64] })  // 4 runs
 */
export function gridRuns(model: string, labels: LabelSetName, axes: { [K in keyof Settings]?: Array<Settings[K]> }): RunSpec[] {
  let combos: Array<Partial<Settings>> = [{}];
  for (const [key, vals] of Object.entries(axes) as Array<[keyof Settings, unknown[]]>) {
    combos = combos.flatMap((c) => vals.map((v) => ({ ...c, [key]: v })));
  }
  return combos.map((settings) => ({
    name: [
      model,
      labels,
      ...Object.entries(settings).map(([k, v]) => `${k}${typeof v === 'object' ? JSON.stringify(v).replace(/[^a-z0-9.]+/gi, '') : String(v)}`),
    ]
      .join('-')
      .toLowerCase(),
    model,
    labels,
    settings,
  }));
}
