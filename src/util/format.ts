/** `93 s` -> `1m33s`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '-';
  const m = Math.floor(s / 60);
  const r = Math.round(s - m * 60);
  return m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/**
 * A fraction as a percentage text with `digits` decimals (Number.prototype.toFixed rounding): `pct(0.79163)` ->
 * `79.16%`, `pct(0.5, 0)` -> `50%`. `null` / `undefined` (a value not measured) give `missing` (default `-`).
 * The one percentage formatter of ferlab's reports, tables and pages.
 * @param v a fraction (1 = 100%). @param digits decimals, integer in [0, 100] (toFixed throws a RangeError otherwise).
 */
export function pct(v: number | null | undefined, digits = 2, missing = '-'): string {
  return v === null || v === undefined ? missing : `${(100 * v).toFixed(digits)}%`;
}
