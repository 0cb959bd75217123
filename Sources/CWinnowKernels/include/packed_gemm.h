#pragma once
#include <stddef.h>

/// Dense Float32 GEMM on weights packed once into panels of 32 output features
/// (the inference form of a Linear layer): y[m×n] = x[m×k]·Wᵀ + bias.
///
/// Packed layout: panel p (output features 32p … 32p+31), then k, then the 32 features:
///     packed[(p·k + kk)·32 + j] = W[32p + j][kk]    (0 past n)
/// so the micro-kernel reads one contiguous 32-float row of the panel per step of k.

/// Number of floats `winnow_pack_weights_f32` writes for an n×k weight.
size_t winnow_packed_weights_count(size_t n, size_t k);

/// Packs W (n×k, row r at w + r·ldw) into `packed` (winnow_packed_weights_count floats).
void winnow_pack_weights_f32(const float *w, size_t n, size_t k, size_t ldw, float *packed);

/// Packs W = Vᵀ for V (k×n, row r at v + r·ldv): the right operand of x·V (attention's
/// probabilities times values) in the same layout, without forming Vᵀ.
void winnow_pack_transposed_f32(const float *v, size_t k, size_t n, size_t ldv, float *packed);

/// 1 when the AVX-512 kernel below may run on this CPU.
int winnow_packed_gemm_available(void);

/// y (m×n, row stride ldy ≥ n) = x (m×k, row stride lda ≥ k)·Wᵀ + bias (n values or NULL),
/// for the output panels [panel_begin, panel_end) only (so callers can split panels over threads).
/// 12×32 register tile (24 zmm accumulators), AVX-512F. Call only when
/// winnow_packed_gemm_available() is 1.
void winnow_packed_gemm_f32(const float *x, size_t m, size_t k, size_t lda, const float *packed, size_t n,
                            const float *bias, float *y, size_t ldy, size_t panel_begin, size_t panel_end);
