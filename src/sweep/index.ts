/**
 * ferlab's hyper-parameter search engine (ask-and-tell): search spaces, sweep specs, grid / random / TPE samplers,
 * median / ASHA pruners, a crash-safe journal and the sweep engine (engine.ts). ferlab's own code: no well-kept hyper-parameter
 * library exists on npm; the algorithms follow Bergstra et al. 2011 (TPE), Li et al. 2020 (ASHA) and Optuna's
 * defaults, as each module documents. Those modules are pure logic; the training integration is in load.ts (sweep
 * spec files), runner.ts (sweeps on the local worker pool, `ferlab sweep`), reproduce.ts and leaderboard.ts (`ferlab
 * runs`).
 */
export * from './space';
export * from './spec';
export * from './journal';
export * from './sampler';
export * from './grid';
export * from './random';
export * from './parzen';
export * from './tpe';
export * from './pruners';
export * from './engine';
export * from './report';
export * from './load';
export * from './runner';
export * from './reproduce';
export * from './leaderboard';
