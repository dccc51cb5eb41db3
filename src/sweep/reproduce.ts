import { applyOverrides, defineExperiment, DEFAULT_SETTINGS, resolveRuns, SettingsSchema, type RunConfig, type Settings } from '../exp/config';
import { listExperiments, loadExperiment } from '../exp/experiment';

/**
 * How to train one run of a sweep again outside the sweep: an `npm run exp` command (an existing experiment's run of
 * the same model and label set, with `--set` overrides for every setting that differs) and an experiment file snippet.
 * Both are checked by resolving them again with the experiment config machinery (src/exp/config.ts): they give exactly
 * the run's settings, so the same seed and backend train the same model.
 */

/** How to reproduce a run (see the module comment); results.json `best.reproduce`: schema in src/records/sweep.ts. */
export type { Reproduction } from '../records/sweep';
import type { Reproduction } from '../records/sweep';

const plain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with object keys sorted at every level (equal values give equal text). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (plain(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** The settings of a resolved run (everything but experiment, name, model and labels). */
export function settingsOf(run: RunConfig): Settings {
  const { experiment: _e, name: _n, model: _m, labels: _l, ...settings } = run;
  return settings as Settings;
}

/**
 * `key=value` overrides that turn resolved settings `from` into `to` (applyOverrides syntax): a differing leaf of a
 * group as `group.key=value`; a schedule (an object with a name), an array, or a group whose keys differ as a whole
 * JSON value. Values are JSON (numbers at full precision).
 */
export function overridesBetween(from: Record<string, unknown>, to: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (a: Record<string, unknown>, b: Record<string, unknown>, path: string[]) => {
    for (const k of Object.keys(b)) {
      if (same(a[k], b[k])) continue;
      const av = a[k];
      const bv = b[k];
      const keysMatch = plain(av) && plain(bv) && same(Object.keys(av).sort(), Object.keys(bv).sort());
      if (keysMatch && !('name' in bv)) walk(av, bv, [...path, k]);
      else out.push(`${[...path, k].join('.')}=${JSON.stringify(bv)}`);
    }
  };
  walk(from, to, []);
  return out;
}

/**
 * The settings of `s` that differ from DEFAULT_SETTINGS as a nested, minimal diff (a group lists only its changed
 * keys; a schedule or array is given whole): what an experiment file states.
 */
export function diffFromDefaults(
  s: Record<string, unknown>,
  defaults: Record<string, unknown> = DEFAULT_SETTINGS as unknown as Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(s)) {
    if (same(s[k], defaults[k])) continue;
    const v = s[k];
    const d = defaults[k];
    if (plain(v) && plain(d) && !('name' in v)) out[k] = diffFromDefaults(v, d);
    else out[k] = v;
  }
  return out;
}

/** Quotes a shell word when it needs it (single quotes). */
export function shellQuote(w: string): string {
  return /^[A-Za-z0-9_./:=+,@%-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * How to train `run` again (see the module comment): the experiment run of the same model and label set that needs
 * the fewest overrides (every experiment file is tried; `default` wins ties, then the alphabetical first), and an
 * experiment file named `snippetName`.
 *
 * @param run a resolved run (a sweep trial's config.json `run`).
 * @param snippetName name of the snippet's experiment (default `<run.experiment>-<run.name>`).
 * @param description of the snippet's experiment.
 */
export function reproduceRun(run: RunConfig, snippetName = `${run.experiment}-${run.name}`, description = `${run.name} of ${run.experiment}`): Reproduction {
  const target = JSON.parse(JSON.stringify(settingsOf(run))) as Record<string, unknown>;
  let best: { experiment: string; run: string; overrides: string[] } | undefined;
  const names = listExperiments().sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)));
  for (const name of names) {
    let runs: RunConfig[];
    try {
      runs = resolveRuns(loadExperiment(name));
    } catch {
      continue; // an experiment that does not load here (e.g. its data) is no candidate
    }
    for (const r of runs) {
      if (r.model !== run.model || r.labels !== run.labels) continue;
      const from = settingsOf(r);
      const overrides = overridesBetween(from as unknown as Record<string, unknown>, target);
      try {
        const got = overrides.length ? applyOverrides(from, overrides) : from;
        if (!same(got, target)) continue;
      } catch {
        continue;
      }
      if (!best || overrides.length < best.overrides.length) best = { experiment: name, run: r.name, overrides };
    }
  }
  const command = best
    ? // --replicas 1: trials train on one thread each, and a one-run experiment would otherwise train data-parallel
      [
        'npm run exp --',
        shellQuote(best.experiment),
        '--only',
        shellQuote(best.run),
        ...best.overrides.flatMap((o) => ['--set', shellQuote(o)]),
        '--replicas',
        '1',
      ].join(' ')
    : null;
  return {
    command,
    experiment: best?.experiment ?? null,
    run: best?.run ?? null,
    overrides: best?.overrides ?? [],
    snippet: experimentSnippet(run, snippetName, description),
    snippetName,
  };
}

/**
 * An experiment file that trains `run` as its only run: its settings are the run's diff from the defaults (or every
 * setting, should the diff not resolve to the same settings). Checked with defineExperiment and resolveRuns.
 * @throws Error when even the full settings do not resolve to the run's settings (a bug).
 */
export function experimentSnippet(run: RunConfig, name: string, description: string): string {
  const target = JSON.parse(JSON.stringify(settingsOf(run))) as Record<string, unknown>;
  const build = (settings: Record<string, unknown>) => ({
    name,
    description,
    settings,
    runs: [{ name: run.name, model: run.model, labels: run.labels }],
    replicas: 1,
    quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
  });
  const ok = (settings: Record<string, unknown>) => {
    try {
      return same(settingsOf(resolveRuns(defineExperiment(build(settings)))[0]), target);
    } catch {
      return false;
    }
  };
  let settings = diffFromDefaults(target);
  if (!ok(settings)) settings = SettingsSchema.parse(target) as unknown as Record<string, unknown>;
  if (!ok(settings)) throw new Error(`cannot write an experiment that reproduces run '${run.name}' of '${run.experiment}'`);
  const body = JSON.stringify(build(settings), null, 2).replace(/"([A-Za-z_][A-Za-z0-9_]*)":/g, '$1:');
  return `import { defineExperiment } from '../src/exp/config';\n\nexport default defineExperiment(${body});\n`;
}
