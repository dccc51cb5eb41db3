// Entry of ferlab's wasm kernel module (built by `npm run build:kernels`, see scripts/build-kernels.ts).
import './simd';
export { packWeights, im2col, igemm, gatherTap, wgrad, wgradC1, wgradScratchBytes } from './conv';
export { winoFilter, winoInput, winoOutput, winoDy, winoWgradOutput } from './winograd';
export { winoFilter4, winoInput4, winoOutput4 } from './winograd4';
export { sumRows, bnStats, affineRows, bnGradSums, bnGradApply, reluGrad, maxPoolGrad, maxPoolGradTiled, dropout, biasAct, adamStep } from './ops';
export { dwInputGrad, dwInputGradScratchBytes, dwFilterGrad, dwFilterGradScratchBytes } from './depthwise';
export { maddPeak } from './peak';
