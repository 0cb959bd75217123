/// WinnowRuntime compiles a trained (and compressed) model into an inference program whose
/// layers run on packed kernels: dense BLAS, CSR/BSR, N:M, int8, int4 and binary weights.
/// It sits above WinnowCompression, whose masks and quantization schemes say how to pack.
public enum WinnowRuntime {}
