export * from './figure';
export * from './data';
export * from './results';
export * from './render';
