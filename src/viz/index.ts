export * from './figure';
export * from './images';
export * from './data';
export * from './results';
export * from './render';
export * from './sweep-report';
