/**
 * Image-folder dataset fixtures for the folder tests: encoded images (PNG, JPEG, colour, any size) written with sharp
 * into a temporary folder tree, and the expected per-class split sizes of ferlab's stratified carving, written out
 * here independently of src/data/folder.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { rng } from '../helpers/fixtures';

/** `[side * side]` deterministic pseudo-random gray pixels. */
export function grayPixels(seed: number, side = 48): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: side * side }, () => Math.floor(r() * 256));
}

/** Raw pixels of an image to encode: `[height, width, channels]` uint8. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** Encodes raw pixels (PNG, lossless; or JPEG at `quality`). */
export async function encode(img: RawImage, format: 'png' | 'jpeg' = 'png', quality = 95): Promise<Buffer> {
  const s = sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: img.channels } });
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality }).toBuffer();
}

/** A 48x48 gray image (PNG by default). */
export const gray48 = (seed: number): RawImage => ({ data: grayPixels(seed), width: 48, height: 48, channels: 1 });

/** Writes files (relative path -> bytes or text) under `root`, creating folders. */
export function writeTree(root: string, files: Record<string, Buffer | string>): void {
  for (const [rel, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), bytes);
  }
}

/** Writes 48x48 gray PNGs: `images` maps a relative path to the seed of its pixels. @returns seed -> pixels. */
export async function writePngs(root: string, images: Record<string, number>): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const files: Record<string, Buffer> = {};
  for (const [rel, seed] of Object.entries(images)) {
    const img = gray48(seed);
    out.set(rel, img.data);
    files[rel] = await encode(img);
  }
  writeTree(root, files);
  return out;
}

/**
 * Expected size of a stratified hold-out of one class with n images: round(fraction * n), keeping at least one image
 * in the remaining split when n >= 2 (Math.round rounds .5 up, as the rule in docs/data.md's folder section says).
 */
export function heldOut(n: number, fraction: number): number {
  if (n <= 1) return 0;
  return Math.min(n - 1, Math.round(fraction * n));
}
