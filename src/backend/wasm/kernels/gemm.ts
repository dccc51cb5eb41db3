import type { WasmKernels } from '../module';

/**
 * The convolution geometry and the weight-gradient GEMM shared by the convolution and matmul kernels (a 2-D
 * transposed matmul A^T B is a 1x1 "convolution" weight gradient).
 */

/** Geometry of an NHWC convolution: batch, input map and channels, filter taps, output map, strides, dilations, padding. */
export interface ConvGeom {
  N: number;
  H: number;
  W: number;
  CI: number;
  KH: number;
  KW: number;
  CO: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pl: number;
}

/**
 * dW = sum over output pixels of x patches (x) dy, via the chunked wgrad kernel; chunks of about 256 output pixels
 * (whole rows of a conv; 256 rows of a matrix) keep the repacked chunk in L1/L2.
 */
export function weightGrad(k: WasmKernels, x: number, dy: number, g: ConvGeom, out: number): void {
  const CW = Math.min(g.OW, 256);
  const R = Math.max(1, Math.min(g.OH, Math.floor(256 / CW)));
  const bytes = k.exports.wgradScratchBytes(g.CI, g.CO, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, R, CW);
  const work = k.scratch('wgrad', bytes);
  k.exports.wgrad(x, g.N, g.H, g.W, g.CI, dy, g.OH, g.OW, g.CO, g.CO, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, R, CW, work, out);
}

/**
 * dW [C, J] = sum over `rows` rows r of x[r, :] (x) dy[r, :], for x [rows, C] and dy [rows, J] float32 (row-major,
 * byte pointers): weightGrad as a 1x1 "convolution" over a 1 x rows map. Rows are summed in order, one FMA per row
 * and output. Serves A^T B matmuls, explicit patches, gathered tap rows and Winograd's transformed tiles.
 */
export function weightGradRows(k: WasmKernels, x: number, dy: number, rows: number, C: number, J: number, out: number): void {
  const g: ConvGeom = { N: 1, H: 1, W: rows, CI: C, KH: 1, KW: 1, CO: J, OH: 1, OW: rows, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 };
  weightGrad(k, x, dy, g, out);
}
