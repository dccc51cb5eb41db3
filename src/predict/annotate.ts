import { mkdirSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import sharp from 'sharp';
import { DECODE_OPTIONS } from '../data/image';
import { COLORS } from '../viz/figure';
import type { FaceResult } from './image';

/**
 * `predict --annotate`: the image with every face's box and label drawn on it. Drawing is an SVG overlay composited
 * by sharp (librsvg renders it), not ferlab's own rasteriser.
 */

/** Box and label colour of class `k` (COLORS of src/viz/figure.ts, Okabe-Ito, cycled). */
export function classColor(k: number): string {
  return COLORS[k % COLORS.length];
}

/** Stroke width of face boxes for an image of this size: 1/300 of the longer side, even, at least 2 pixels. */
export function boxStrokeWidth(width: number, height: number): number {
  return Math.max(2, 2 * Math.round(Math.max(width, height) / 600));
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The SVG overlay for an image: per face a rectangle on the detected box (rounded to whole pixels; an even stroke
 * centred on the box edge, so the pixels from `edge - stroke/2` to `edge + stroke/2 - 1` are fully painted in the
 * class colour) and a filled label `<face> <label> <probability %>` above the box (inside it at the image's top edge).
 * @param classes the model's classes (colour = index in this list).
 */
export function annotationSvg(width: number, height: number, faces: readonly FaceResult[], classes: readonly string[]): string {
  const stroke = boxStrokeWidth(width, height);
  const font = Math.max(12, Math.round(Math.max(width, height) / 60));
  const parts = faces.map((f) => {
    const color = classColor(Math.max(0, classes.indexOf(f.label)));
    const x = Math.round(f.box.left);
    const y = Math.round(f.box.top);
    const w = Math.round(f.box.left + f.box.width) - x;
    const h = Math.round(f.box.top + f.box.height) - y;
    const text = `${f.face} ${f.label} ${Math.round(100 * f.probabilities[f.label])}%`;
    const labelH = Math.round(font * 1.4);
    const labelW = Math.round(font * 0.62 * text.length + font * 0.6);
    const labelY = y - stroke / 2 - labelH >= 0 ? y - stroke / 2 - labelH : y + stroke / 2;
    const labelX = Math.min(Math.max(0, x - stroke / 2), Math.max(0, width - labelW));
    return (
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${color}" stroke-width="${stroke}"/>` +
      `<rect x="${labelX}" y="${labelY}" width="${labelW}" height="${labelH}" fill="${color}"/>` +
      `<text x="${labelX + font * 0.3}" y="${labelY + labelH * 0.75}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="${font}" fill="#ffffff">${esc(text)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" shape-rendering="crispEdges">${parts.join('')}</svg>`;
}

/**
 * Writes the displayed image (EXIF orientation applied, full size) with boxes and labels drawn on it.
 * @param input encoded image bytes or a path. @param out output file; its extension picks the format (.png, .jpg,
 *   .jpeg, .webp). Parent folders are created.
 * @throws Error naming `out` for an unsupported extension; sharp's error when the image cannot be decoded.
 */
export async function writeAnnotated(input: string | Buffer, faces: readonly FaceResult[], classes: readonly string[], out: string): Promise<string> {
  const ext = extname(out).toLowerCase();
  if (!['.png', '.jpg', '.jpeg', '.webp'].includes(ext)) throw new Error(`--annotate ${out}: expected a .png, .jpg or .webp file name`);
  // decoded once to raw pixels (a re-encoded intermediate would be lossy for JPEG)
  const rotated = await sharp(input, DECODE_OPTIONS).rotate().raw().toBuffer({ resolveWithObject: true }); // at most MAX_INPUT_PIXELS
  const { width, height, channels } = rotated.info;
  let img = sharp(rotated.data, { raw: { width, height, channels } }).composite([
    { input: Buffer.from(annotationSvg(width, height, faces, classes)), left: 0, top: 0 },
  ]);
  img = ext === '.png' ? img.png() : ext === '.webp' ? img.webp({ quality: 90 }) : img.jpeg({ quality: 90 });
  mkdirSync(dirname(out), { recursive: true });
  await img.toFile(out);
  return out;
}
