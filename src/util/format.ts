/** `93 s` -> `1m33s`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '-';
  const m = Math.floor(s / 60);
  const r = Math.round(s - m * 60);
  return m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}
