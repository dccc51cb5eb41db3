export * from './onnx';
export * from './quantize';
export * from './bootstrap';
export * from './select';
export * from './ort';
export * from './exporter';
export * from './card';
