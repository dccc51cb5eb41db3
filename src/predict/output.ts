import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { IMAGE_SIZE } from '../data/classes';
import type { Box } from './geometry';
import type { FaceResult } from './image';

/**
 * What `predict` reports per face: the JSON record (`--json`), table rows, and the `--crops` files (the exact 48x48
 * input each face became).
 */

/** A face as `--json` writes it (no pixels; boxes in pixels of the displayed image, rounded to 0.01 px). */
export interface FaceJson {
  face: number;
  box: Box;
  score: number | null;
  crop: Box;
  label: string;
  /** Softmax probability per class, in the model's class order. */
  probabilities: Record<string, number>;
  /** Path of the crop written with `--crops`. */
  cropFile?: string;
}

const r2 = (v: number) => Math.round(v * 100) / 100;
const roundBox = (b: Box): Box => ({ left: r2(b.left), top: r2(b.top), width: r2(b.width), height: r2(b.height) });

/** The JSON record of a face (probabilities kept at full float32 precision). */
export function faceJson(f: FaceResult, cropFile?: string): FaceJson {
  return {
    face: f.face,
    box: roundBox(f.box),
    score: f.score === null ? null : Math.round(f.score * 1e4) / 1e4,
    crop: f.crop,
    label: f.label,
    probabilities: f.probabilities,
    ...(cropFile ? { cropFile } : {}),
  };
}

/** A row of the printed table for a face. */
export function faceRow(file: string, f: FaceResult): Record<string, string> {
  const b = f.box;
  const top2 = Object.entries(f.probabilities)
    .sort((a, c) => c[1] - a[1])
    .slice(0, 2);
  return {
    file,
    face: String(f.face),
    'box (left,top,w,h px)': `${Math.round(b.left)},${Math.round(b.top)},${Math.round(b.width)},${Math.round(b.height)}`,
    'face score': f.score === null ? '-' : f.score.toFixed(2),
    label: f.label,
    probability: `${(100 * top2[0][1]).toFixed(1)}%`,
    'runner-up': top2[1] ? `${top2[1][0]} ${(100 * top2[1][1]).toFixed(1)}%` : '-',
  };
}

/**
 * Names of output files per input file: `<stem>` of each input, made unique within one run (`photo`, `photo-2`, ...)
 * so that inputs with the same name in different folders do not overwrite each other's outputs.
 */
export class OutputNames {
  private readonly used = new Map<string, number>();
  /** The unique stem for `file`. */
  stem(file: string): string {
    const base = basename(file, extname(file)) || 'image';
    const n = (this.used.get(base) ?? 0) + 1;
    this.used.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  }
}

/**
 * Writes each face's model input as a 48x48 8-bit grayscale PNG, `<dir>/<stem>-face<k>.png`: the exact pixels the
 * model received (before pixel / 255), so a user sees what the model sees.
 * @returns the paths written, in face order.
 */
export async function writeCrops(dir: string, stem: string, faces: readonly FaceResult[]): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (const f of faces) {
    const path = join(dir, `${stem}-face${f.face}.png`);
    await sharp(Buffer.from(f.pixels), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
      .toColourspace('b-w') // an 8-bit grayscale PNG (sharp would otherwise write RGB)
      .png()
      .toFile(path);
    out.push(path);
  }
  return out;
}
