export * from './registry';
export * from './layers';
export * from './cnn';
