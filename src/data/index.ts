export * from './classes';
export * from './errors';
export * from './fer2013';
export * from './ferplus';
export * from './votes';
export * from './cache';
export * from './dataset';
export * from './labels';
