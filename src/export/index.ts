export * from './onnx';
export * from './quantize';
