#pragma once
#include <stddef.h>

/// Row-wise kernels of transformer inference, each with AVX-512 / AVX2+FMA variants chosen
/// at run time (winnow_cpu_features) and a portable fallback. Reference twins live in Swift
/// (WinnowKernels/Transformer) and the tests compare them.

/// y[i] = x[i]·Φ(x[i]) (GELU, exact Gaussian CDF through erf); x may equal y (otherwise
/// the two must not overlap).
/// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7) with a polynomial exp.
void winnow_gelu_erf_f32(const float *x, float *y, size_t count);

/// For each of `rows` rows of `length` values (row r at x + r·stride): softmax in place,
/// after multiplying by `scale` (the 1/√d of attention).
void winnow_softmax_rows_f32(float *x, size_t rows, size_t length, size_t stride, float scale);

/// For each of `rows` rows of `width` values: x = LayerNorm(x + residual)·gamma + beta
/// (biased variance, `epsilon` inside the square root); residual may be NULL.
void winnow_add_layer_norm_f32(float *x, const float *residual, const float *gamma, const float *beta,
                               size_t rows, size_t width, float epsilon);

/// Which variant the dispatchers picked: "avx512f", "avx2" or "portable".
const char *winnow_transformer_kernels_isa(void);

/// Attention of one (sequence, head) with bfloat16 operands and float32 sums
/// (attention_bf16.c): for the n×d matrices Q, K, V (row r at q + r·stride, …),
///
///     out[i, :] = Σ_j softmax_j(scale · Σ_c bf16(Q[i,c])·bf16(K[j,c])) rounded to bf16 · bf16(V[j, :])
///
/// (out row i at out + i·out_stride). `workspace` holds at least
/// winnow_attention_bf16_workspace_floats(n, d) floats (64-byte aligned is best). `native`
/// = 1 takes the AVX512-BF16 variant when the CPU has it (winnow_attention_bf16_has_native),
/// else the portable one; both round identically and differ only in the order of sums.
void winnow_attention_bf16(const float *q, const float *k, const float *v, int stride, int n, int d, float scale,
                           float *out, int out_stride, float *workspace, int native);
void winnow_attention_bf16_portable(const float *q, const float *k, const float *v, int stride, int n, int d,
                                    float scale, float *out, int out_stride, float *workspace);
size_t winnow_attention_bf16_workspace_floats(int n, int d);
int winnow_attention_bf16_has_native(void);
