import { IMAGE_PIXELS, IMAGE_SIZE } from './classes';

/**
 * The input transform of every ferlab model: uint8 48x48 grayscale pixels -> float32 in [0, 1]. Training batches,
 * evaluation, re-scoring a saved run and every saved model's metadata use these definitions, so a model always sees
 * its inputs exactly as it was trained.
 */

/** Input preprocessing of every ferlab model: x = pixel / 255, float32 `[batch, 48, 48, 1]` in [0, 1]. */
export const PREPROCESSING = 'x = pixel / 255 (float32 [batch, 48, 48, 1] in [0, 1]); no mean/std normalisation' as const;

const TO_FLOAT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Writes image `row` of `pixels` (`[n, 48, 48]` uint8) into `out` at `offset` as float32 pixel / 255 in [0, 1],
 * optionally mirrored left-right and shifted by (dx, dy) pixels (positive = right / down) with edge replication.
 */
export function writeImage(pixels: Uint8Array, row: number, out: Float32Array, offset: number, flip = false, dx = 0, dy = 0): void {
  const src = row * IMAGE_PIXELS;
  const S = IMAGE_SIZE;
  if (!flip && dx === 0 && dy === 0) {
    for (let i = 0; i < IMAGE_PIXELS; i++) out[offset + i] = TO_FLOAT[pixels[src + i]];
    return;
  }
  for (let r = 0; r < S; r++) {
    const sr = Math.min(S - 1, Math.max(0, r - dy)) * S;
    const o = offset + r * S;
    for (let c = 0; c < S; c++) {
      let sc = Math.min(S - 1, Math.max(0, c - dx));
      if (flip) sc = S - 1 - sc;
      out[o + c] = TO_FLOAT[pixels[src + sr + sc]];
    }
  }
}

/**
 * Images of a split in file order, for evaluation: `[n, 48, 48, 1]` float32 batches in [0, 1], no augmentation.
 * @param pixels `[N, 48, 48]` uint8 dataset images. @param index `[m]` rows, in order.
 * @param batchSize images per batch (the last one may be smaller). The yielded buffer is reused between batches.
 */
export function* evalBatches(pixels: Uint8Array, index: Int32Array, batchSize: number): Generator<{ x: Float32Array; start: number; n: number }> {
  const buf = new Float32Array(batchSize * IMAGE_PIXELS);
  for (let start = 0; start < index.length; start += batchSize) {
    const n = Math.min(batchSize, index.length - start);
    for (let b = 0; b < n; b++) writeImage(pixels, index[start + b], buf, b * IMAGE_PIXELS);
    yield { x: n === batchSize ? buf : buf.subarray(0, n * IMAGE_PIXELS), start, n };
  }
}
