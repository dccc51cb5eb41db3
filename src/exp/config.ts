import { z } from 'zod';
import { LABEL_SETS, type LabelSetName } from '../data/labels';
import { TrainSettingsSchema, type TrainConfig } from '../train/settings';
import { EVALUATOR_NAMES } from './evaluators/names';

/**
 * Typed, validated experiment configs (zod, strict: an unknown key or a wrong type is an error naming the path).
 * An experiment is a list of runs (model x label set) sharing default settings; each run may override settings.
 * Overrides from the command line go through the same schema (see {@link applyOverrides}).
 */

const int = (min = 0) => z.number().int().min(min);

export { ScheduleSchema } from '../train/settings';

/** Images of each split to use; null = all. For quick runs (first n rows of the split, in file order). */
export const SliceSchema = z
  .strictObject({
    train: int(1).nullable().default(null).describe('training images (first n of the split, in file order); null = all'),
    val: int(1).nullable().default(null).describe('PublicTest images; null = all'),
    test: int(1).nullable().default(null).describe('PrivateTest images; null = all'),
  })
  .prefault({});

/**
 * Settings of one run (everything but its name, model and label set): the training settings (src/train/settings.ts,
 * with their defaults, units and sources) plus the data slice. Parsing `{}` gives the defaults, which are those of
 * the default experiment.
 */
export const SettingsSchema = TrainSettingsSchema.extend({
  slice: SliceSchema,
  evaluators: z
    .array(z.enum(EVALUATOR_NAMES))
    .min(1)
    .superRefine((names, ctx) => {
      if (!names.includes('test')) ctx.addIssue({ code: 'custom', message: "must include 'test' (metrics.json needs the PrivateTest metrics)" });
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup) ctx.addIssue({ code: 'custom', message: `'${dup}' appears twice` });
    })
    .optional()
    .describe(
      `evaluation only: the analyses run after training (src/exp/evaluators), called in the order ${EVALUATOR_NAMES.join(', ')} whatever the order given: 'test' (PrivateTest metrics, required), 'bootstrap' (testInterval), 'calibration' (temperature scaling), 'tta' (with the tta setting), 'cross' (cross-evaluation; null when left out), 'predictions' (predictions.json); absent = all`,
    ),
});
/** Resolved settings (every field present). */
export type Settings = z.infer<typeof SettingsSchema>;
/** A diff from the defaults: any subset of the settings (nested groups may be partial too, schedules are whole). */
export type SettingsDiff = z.input<typeof SettingsSchema>;

/** The settings every run starts from (the default experiment's). */
export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * What a run name (and any other name ferlab makes a folder of: experiment, run group) may be: a letter or digit, then
 * at most 127 letters, digits, `.`, `_` or `-`, and no `..`. So a name is always one plain folder name inside its
 * parent: never empty, `.`, `..`, an absolute path, a path with `/` or `\`, or a hidden file. Names in experiment
 * files are stricter still (lower-case, {@link RunSpecSchema}); this is the check of every name that reaches the disk,
 * including those read back from experiment.json and those a distributed sweep's workers take from Redis.
 */
export const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether `name` is a safe run (folder) name ({@link RUN_NAME}, no `..`). */
export function isSafeRunName(name: unknown): name is string {
  return typeof name === 'string' && RUN_NAME.test(name) && !name.includes('..');
}

/**
 * Checks a name before a folder is made of it.
 * @param what names the setting or file in the error, e.g. `run name in runs/x/experiment.json`.
 * @throws ConfigError `<what> '<name>' is not a safe folder name (...)` when it is not {@link isSafeRunName}.
 */
export function checkRunName(name: unknown, what = 'run name'): string {
  if (!isSafeRunName(name))
    throw new ConfigError(`${what} ${JSON.stringify(name)} is not a safe folder name (1-128 letters, digits, . _ -, starting with a letter or digit, no '..')`);
  return name;
}

/** zod schema of a safe run (folder) name ({@link RUN_NAME}, no `..`). */
export const RunNameSchema = z
  .string()
  .regex(RUN_NAME, '1-128 letters, digits, . _ -, starting with a letter or digit (a folder name)')
  .refine((n) => !n.includes('..'), "no '..' (a folder name)");

/** A diff from the defaults, validated field by field (unknown keys are errors) but with nothing filled in. */
const DiffSchema = z.custom<SettingsDiff>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object of settings');

/** One run of an experiment: a model on a label set, with optional setting overrides. */
export const RunSpecSchema = z.strictObject({
  name: z.string().regex(NAME, 'lower-case letters, digits, . _ - (a folder name)').pipe(RunNameSchema),
  model: z.string().min(1),
  labels: z.enum(LABEL_SETS),
  settings: DiffSchema.optional(),
  /**
   * Repeat the run once per seed (the `seed` setting): runs `<name>-seed<s>`, reported one by one and as mean +- std
   * (results tables, experiment report). Overrides the experiment's `seeds`.
   */
  seeds: z.array(int(0)).min(1).optional(),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** An experiment file's default export (see experiments/default.ts): a diff of the defaults plus its runs. */
export const ExperimentSchema = z.strictObject({
  name: z.string().regex(NAME).pipe(RunNameSchema),
  /** What question the experiment answers. */
  description: z.string().min(1),
  /** Settings of every run that differ from the defaults (DEFAULT_SETTINGS), unless a run overrides them. */
  settings: DiffSchema.optional(),
  runs: z.array(RunSpecSchema).min(1),
  /** Repeat every run once per seed (see RunSpec.seeds). */
  seeds: z.array(int(0)).min(1).optional(),
  /** Trainings run side by side (one worker thread each); default: one per CPU core. */
  workers: int(1).optional(),
  /**
   * Data-parallel replicas per training (src/train/parallel.ts); default: 2 for a one-run experiment on 2+ cores, else
   * 1 (src/exp/experiment.ts AUTO_REPLICAS). The count changes the numbers a little, so reproductions pin it.
   */
  replicas: int(1).optional(),
  /** Settings changed by --quick: the same code on a small slice. */
  quick: DiffSchema,
});
export type Experiment = z.infer<typeof ExperimentSchema>;

/** A fully resolved run: what is trained, saved in every run record and exported model. */
export interface RunConfig extends Settings {
  experiment: string;
  name: string;
  model: string;
  labels: LabelSetName;
  /** The run spec's name when it is one of several seeds (`seeds`): runs of a group are summarised as mean +- std. */
  group?: string;
}

/**
 * The schema of a resolved run ({@link RunConfig}), strict: what a run record's config.json holds under `run`, and what
 * a distributed sweep's worker checks every job it takes from Redis against before anything touches its disk
 * (src/sweep/queue.ts). Names are safe folder names ({@link RunNameSchema}); the settings are {@link SettingsSchema}
 * (parsing resolved settings again gives the same settings, key order included).
 */
export const RunConfigSchema = z.strictObject({
  experiment: RunNameSchema,
  name: RunNameSchema,
  model: z.string().min(1).max(128),
  labels: z.enum(LABEL_SETS),
  ...SettingsSchema.shape,
  group: RunNameSchema.optional(),
});

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
 * Merges setting diffs, later ones winning: groups of settings (optimizer, augment, slice) merge key by key; a
 * schedule (an object with a `name`) and arrays are replaced whole.
 */
export function mergeSettings(...diffs: Array<SettingsDiff | undefined>): SettingsDiff {
  const merge = (a: unknown, b: unknown): unknown => {
    const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!obj(a) || !obj(b) || 'name' in a || 'name' in b) return structuredClone(b);
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in a ? merge(a[k], v) : structuredClone(v);
    return out;
  };
  return diffs.reduce<SettingsDiff>((acc, d) => (d === undefined ? acc : (merge(acc, d) as SettingsDiff)), {});
}

/**
 * Validates an experiment definition (experiment files call this on their default export): the experiment's
 * settings, every run's and the quick ones are each checked against the settings schema.
 * @throws ConfigError listing every invalid or unknown key with its path; also for duplicate run names.
 */
export function defineExperiment(e: z.input<typeof ExperimentSchema>): Experiment {
  const exp = check(ExperimentSchema, e, `experiment '${(e as { name?: string }).name ?? '?'}'`);
  check(SettingsSchema, exp.settings ?? {}, `experiment '${exp.name}' settings`);
  check(SettingsSchema, exp.quick, `experiment '${exp.name}' quick settings`);
  for (const r of exp.runs) check(SettingsSchema, mergeSettings(exp.settings, r.settings), `experiment '${exp.name}' run '${r.name}'`);
  const names = exp.runs.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError(`experiment '${exp.name}': run name '${dup}' appears twice`);
  return exp;
}

/**
 * The keys the settings schema accepts in the group at `path` (e.g. `['augment']` -> flip, shift, rotation, ...),
 * including optional ones absent from resolved settings; undefined when the path is not a plain group (a union such
 * as the schedule). Walks zod's wrappers (default, prefault, optional, nullable, pipe).
 */
function schemaKeysAt(path: string[]): string[] | undefined {
  type Def = { type?: string; innerType?: unknown; in?: unknown; shape?: Record<string, unknown> };
  const unwrap = (t: unknown): Def | undefined => {
    let def = (t as { _zod?: { def?: Def } })?._zod?.def;
    while (def && (def.innerType || (def.type === 'pipe' && def.in))) def = ((def.innerType ?? def.in) as { _zod?: { def?: Def } })._zod?.def;
    return def;
  };
  let def = unwrap(SettingsSchema);
  for (const k of path) {
    if (def?.type !== 'object' || !def.shape || !(k in def.shape)) return undefined;
    def = unwrap(def.shape[k]);
  }
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown, full: string): void {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    // an optional group absent from the resolved settings (e.g. `input`) starts empty
    if (cur[path[i]] === undefined && schemaKeysAt(path.slice(0, i + 1))) cur[path[i]] = {};
    const next = cur[path[i]];
    if (typeof next !== 'object' || next === null || Array.isArray(next))
      throw new ConfigError(`override '${full}': '${path.slice(0, i + 1).join('.')}' is not a group of settings`);
    cur = next as Record<string, unknown>;
  }
  const known = schemaKeysAt(path.slice(0, -1));
  if (!(path[path.length - 1] in cur) && !known?.includes(path[path.length - 1])) {
    const keys = [...new Set([...Object.keys(cur), ...(known ?? [])])].join(', ');
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
  /** Only these runs (all when empty): run names (every seed of a run) or seed names `<run>-seed<k>`. @throws ConfigError for an unknown name. */
  only?: string[];
}

/**
 * The runs of an experiment with every setting resolved: the defaults (DEFAULT_SETTINGS), then the experiment's
 * settings, the run's own, the quick ones (with --quick), then command-line overrides. Each result is a complete,
 * validated RunConfig.
 */
export function resolveRuns(exp: Experiment, opts: ResolveOptions = {}): RunConfig[] {
  const only = opts.only ?? [];
  // a name in --only is a run of the experiment (all its seeds) or one seed of it (`<run>-seed<k>`, its folder's name)
  const seedNames = exp.runs.flatMap((r) => (r.seeds ?? exp.seeds ?? []).map((seed) => `${r.name}-seed${seed}`));
  const unknown = only.filter((n) => !exp.runs.some((r) => r.name === n) && !seedNames.includes(n));
  if (unknown.length)
    throw new ConfigError(
      `unknown run(s) ${unknown.join(', ')} in experiment '${exp.name}' (runs: ${exp.runs.map((r) => r.name).join(', ')}${seedNames.length ? `; seeds: ${seedNames.join(', ')}` : ''})`,
    );
  const picked = (r: Experiment['runs'][number]) =>
    only.length === 0 || only.includes(r.name) || (r.seeds ?? exp.seeds ?? []).some((seed) => only.includes(`${r.name}-seed${seed}`));
  return exp.runs
    .filter(picked)
    .map((r): RunConfig[] => {
      const diff = mergeSettings(exp.settings, r.settings, opts.quick ? exp.quick : undefined);
      let s: Settings = check(SettingsSchema, diff, `run '${r.name}'${opts.quick ? ' with --quick' : ''}`);
      if (opts.overrides?.length) s = applyOverrides(s, opts.overrides);
      checkRunInput(r.name, r.model, s);
      const seeds = r.seeds ?? exp.seeds;
      for (const seed of seeds ?? []) checkRunName(`${r.name}-seed${seed}`, `experiment '${exp.name}': run name`);
      if (!seeds) return [{ experiment: exp.name, name: r.name, model: r.model, labels: r.labels, ...s }];
      if (new Set(seeds).size !== seeds.length) throw new ConfigError(`run '${r.name}': seeds ${JSON.stringify(seeds)} repeat a seed`);
      const all = only.length === 0 || only.includes(r.name);
      return seeds
        .filter((seed) => all || only.includes(`${r.name}-seed${seed}`))
        .map((seed) => ({ experiment: exp.name, name: `${r.name}-seed${seed}`, model: r.model, labels: r.labels, ...s, seed, group: r.name }));
    })
    .flat();
}

/**
 * Checks a run's `input` setting against its model's default input (src/models/registry.ts resolveInputSpec) and
 * `tta=tencrop` against the resolved input (tencrop cuts size x size crops: resize 'crop'), before any run starts.
 * Runs that set neither are not checked (and need no model registry).
 * @throws ConfigError naming the run, the field, the expected and the actual value.
 */
export function checkRunInput(run: string, model: string, s: Pick<Settings, 'input' | 'tta'>): void {
  if (s.input === undefined && s.tta !== 'tencrop') return;
  // loaded here: the registry (and tfjs) only for runs that set an input or tencrop
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../models');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { resolveInputSpec } = require('../models/registry') as typeof import('../models/registry');
  let spec;
  try {
    spec = resolveInputSpec(model, s.input);
  } catch (e) {
    throw new ConfigError(`run '${run}': ${(e as Error).message}`);
  }
  if (s.tta === 'tencrop' && spec.resize !== 'crop')
    throw new ConfigError(
      `run '${run}': tta 'tencrop' feeds size x size crops of the 48x48 image and needs input.resize 'crop' (e.g. input={"size":40,"resize":"crop"}), but the input is ${JSON.stringify(spec)}`,
    );
}

/** The TrainConfig part of a RunConfig (every training setting and the model; not the slice, the evaluators or the names). */
export function trainConfigOf(run: RunConfig): TrainConfig {
  const { experiment: _e, name: _n, labels: _l, slice: _s, group: _g, evaluators: _v, ...cfg } = run;
  return cfg;
}

/**
 * Runs of a hyper-parameter sweep: the cartesian product of the given setting values, for one model and label set.
 * Run names join the values: `deep-majority-lr0.001-batchSize32`.
 *
 * @example runs: gridRuns('deep', 'majority', { lr: [1e-3, 3e-3], batchSize: [32, 64] })  // 4 runs
 */
export function gridRuns(model: string, labels: LabelSetName, axes: { [K in keyof Settings]?: Array<SettingsDiff[K]> }): RunSpec[] {
  let combos: SettingsDiff[] = [{}];
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
