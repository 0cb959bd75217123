#pragma once
#include <stdint.h>
#include "transformer_kernels.h"

/// CPU features Winnow's kernels can use, detected once at run time (bit flags).
enum {
  WINNOW_CPU_AVX2 = 1u << 0,
  WINNOW_CPU_FMA = 1u << 1,
  WINNOW_CPU_AVX512F = 1u << 2,
  WINNOW_CPU_AVX512BW = 1u << 3,
  WINNOW_CPU_AVX512VNNI = 1u << 4,
  WINNOW_CPU_AMX_INT8 = 1u << 5,
  WINNOW_CPU_AMX_BF16 = 1u << 6,
  WINNOW_CPU_NEON = 1u << 7,
  WINNOW_CPU_AVX512VL = 1u << 8,
  WINNOW_CPU_AVX512VPOPCNTDQ = 1u << 9,
};

/// Returns the WINNOW_CPU_* bits this processor and operating system support.
/// AVX/AVX-512 bits require the OS to save the wide registers (XGETBV), not only CPUID.
uint32_t winnow_cpu_features(void);

/// Fills `buffer` with the processor brand string (NUL-terminated, at most `size` bytes).
void winnow_cpu_brand(char *buffer, int size);

#include <stddef.h>

// MARK: - Sparse weights × dense activations (spmm_avx512.c)

/// A BSR matrix as the C kernels read it (CSR is BSR with 1×1 blocks). W is `rows × columns`
/// (N×K); block row `i` owns blocks `block_offsets[i] ..< block_offsets[i + 1]`; block `b`
/// covers columns `column_indices[b]·block_columns ..<` and holds `block_rows·block_columns`
/// values row-major. The caller has validated it (WinnowKernels' `validate()`).
typedef struct {
  int32_t rows, columns, block_rows, block_columns;
  const int32_t *block_offsets;
  const int32_t *column_indices;
  const float *values;
} winnow_sparse_matrix;

/// Floats of workspace `winnow_spmm_f32_avx512` needs (one per calling thread).
size_t winnow_spmm_f32_workspace_floats(const winnow_sparse_matrix *w);

/// `Y[m, n] = act(Σ_k X[m, k]·W[n, k] + bias[n])` for all `m` tokens and the output rows of block
/// rows `[begin, end)`; `x` is M×K row-major, `y` M×N row-major, `bias` N values or NULL,
/// `relu` 0/1. Requires AVX-512F and `block_rows ≤ 16`.
void winnow_spmm_f32_avx512(const winnow_sparse_matrix *w, const float *x, int m, const float *bias, int relu,
                            float *y, int begin, int end, float *workspace);
