/**
 * Rounds to the nearest integer, ties to even: NumPy's `np.round` / `rint` and Python's `round()` (what torchvision's
 * `center_crop` and the float16/uint8 converters use). The one copy for ferlab (centre crops, equalisation LUT,
 * quantisation).
 */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // ties towards +infinity
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
