import { IMAGE_PIXELS, IMAGE_SIZE } from '../data/classes';
import { baseLayout, type Figure } from './figure';

/**
 * Dataset images in figures: a grayscale mosaic drawn as one plotly heatmap (one trace however many images), and a
 * gallery of images with a caption under each.
 */

/** The images a figure draws: `pixels` is `[n, 48, 48]` uint8 grayscale 0-255, row-major (a FerDataset satisfies it). */
export interface ImageSource {
  pixels: ArrayLike<number>;
}

/**
 * Pixel grid of a mosaic: tile (r, c) holds dataset row `tiles[r][c]` (-1 = empty) at (r * pitchY, c * pitchX);
 * gaps are null (transparent). Values 0-255.
 */
export function imageMosaic(ds: ImageSource, tiles: number[][], pitchX: number, pitchY: number): (number | null)[][] {
  const rows = tiles.length;
  const cols = Math.max(1, ...tiles.map((t) => t.length));
  const z: (number | null)[][] = Array.from({ length: Math.max(1, rows) * pitchY }, () => new Array<number | null>(cols * pitchX).fill(null));
  tiles.forEach((row, r) =>
    row.forEach((idx, c) => {
      if (idx < 0) return;
      for (let y = 0; y < IMAGE_SIZE; y++)
        for (let x = 0; x < IMAGE_SIZE; x++) z[r * pitchY + y][c * pitchX + x] = ds.pixels[idx * IMAGE_PIXELS + y * IMAGE_SIZE + x];
    }),
  );
  return z;
}

/** Heatmap trace that draws a mosaic in gray levels (0 black, 255 white), without hover or colour bar. */
export function grayImageTrace(z: (number | null)[][]): Record<string, unknown> {
  return {
    type: 'heatmap',
    z,
    colorscale: [
      [0, '#000000'],
      [1, '#ffffff'],
    ],
    zmin: 0,
    zmax: 255,
    showscale: false,
    hoverinfo: 'skip',
  };
}

/** One image of a {@link captionedGallery}: a dataset row and its caption (plotly HTML subset: <br>, <b>, <span>). */
export interface GalleryItem {
  row: number;
  caption: string;
  hover?: string;
}

/** Images in rows of `perRow`, each with its caption underneath. */
export function captionedGallery(ds: ImageSource, items: GalleryItem[], title: string, perRow = 6): Figure {
  const pitchX = IMAGE_SIZE + 34;
  const pitchY = IMAGE_SIZE + 46;
  const cols = Math.max(1, Math.min(perRow, items.length));
  const tiles: number[][] = [];
  items.forEach((it, k) => (tiles[Math.floor(k / cols)] ??= []).push(it.row));
  const annotations = items.map((it, k) => ({
    x: (k % cols) * pitchX + IMAGE_SIZE / 2,
    y: Math.floor(k / cols) * pitchY + IMAGE_SIZE + 2,
    xref: 'x',
    yref: 'y',
    yanchor: 'top',
    showarrow: false,
    align: 'center',
    font: { size: 9 },
    text: it.caption,
    ...(it.hover ? { hovertext: it.hover } : {}),
  }));
  const rows = Math.max(1, tiles.length);
  return {
    data: [grayImageTrace(imageMosaic(ds, tiles, pitchX, pitchY))],
    layout: baseLayout(title, {
      annotations,
      xaxis: { visible: false, constrain: 'domain' },
      yaxis: { visible: false, autorange: 'reversed', scaleanchor: 'x' },
      height: 80 + rows * 150,
      width: 60 + cols * 150,
      margin: { l: 10, r: 10, t: 50, b: 10 },
    }),
  };
}
