export * from './registry';
export * from './layers';
export * from './cnn';
export * from './stats';
export * from './io';
export * from './init';
export * from './weights';
