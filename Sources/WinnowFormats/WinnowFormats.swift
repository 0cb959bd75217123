/// WinnowFormats reads and writes models in other systems' formats (ONNX import and export)
/// on top of the runtime, so an imported model can be compiled, pruned and quantized.
public enum WinnowFormats {}
