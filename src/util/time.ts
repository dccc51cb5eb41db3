/**
 * The timestamp that ends a run folder's name (`runs/<name>[-quick]-<timestamp>`: experiments, sweeps, `ferlab evaluate`):
 * local time as `YYYYMMDD-HHMMSS`, e.g. `20261126-140900`. Sorts in time order as text (within one time zone).
 * @param d the time (default: now).
 */
export function runStamp(d: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
