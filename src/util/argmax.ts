/**
 * Index of the largest value of each row of `[n, C]` float32 scores (logits or probabilities), first one on ties (as
 * `np.argmax`). The one argmax of the project: training accuracy, metrics, predictions and cross-evaluation all use it.
 *
 * @param logits `[n, C]` row-major float32. @param C columns per row.
 * @param allowed column indices to choose among (default: all), e.g. the 7 FER+ outputs that exist in FER2013.
 * @returns `[n]` uint8 column indices.
 */
export function argmaxRows(logits: Float32Array, C: number, allowed?: readonly number[]): Uint8Array {
  const n = logits.length / C;
  const out = new Uint8Array(n);
  const cols = allowed ?? Array.from({ length: C }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    let best = cols[0];
    for (const c of cols) if (logits[i * C + c] > logits[i * C + best]) best = c;
    out[i] = best;
  }
  return out;
}
