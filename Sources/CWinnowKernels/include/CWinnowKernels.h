#pragma once
#include <stdint.h>
#include "transformer_kernels.h"
#include "packed_gemm.h"
#include "thread_pool.h"

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
  WINNOW_CPU_NEON_DOTPROD = 1u << 10,  // arm64 SDOT/UDOT (FEAT_DotProd)
  WINNOW_CPU_AVX512BF16 = 1u << 11,  // x86 VDPBF16PS (CPUID 7.1 EAX bit 5)
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

/// N:M sparse weights as the C kernel reads them (validated by NMSparseMatrix): every row has
/// `G = ⌈columns / m⌉` groups of `n` (value, in-group index) slots, row-major.
typedef struct {
  int32_t rows, columns, n, m;
  const uint8_t *indices;
  const float *values;
} winnow_nm_matrix;

/// Floats of workspace `winnow_nm_spmm_f32_avx512` needs for a chunk of `rows` output rows.
size_t winnow_nm_spmm_workspace_floats(const winnow_nm_matrix *w, int rows);
/// `Y = act(X·Wᵀ + bias)` for output rows [begin, end), all tokens. Requires AVX-512F.
void winnow_nm_spmm_f32_avx512(const winnow_nm_matrix *w, const float *x, int m_tokens, const float *bias, int relu,
                               float *y, int begin, int end, float *workspace);
/// The portable N:M kernel (same contract, any CPU).
void winnow_nm_spmm_f32_portable(const winnow_nm_matrix *w, const float *x, int m_tokens, const float *bias,
                                 int relu, float *y, int begin, int end);

/// N:M weights in 16-row blocks (NMRowBlocks in WinnowKernels; nm_spmm_blocks.c): `quads` =
/// ⌈columns/16⌉, `entries` = 16·n/m; per (block, quad) 16 index words (nibble e of word r =
/// position in the quad of row r's e-th kept input) and `entries` vectors of 16 values.
typedef struct {
  int32_t rows, columns, entries, quads;
  const uint32_t *indices;
  const float *values;
} winnow_nm_blocks;

/// 1 when n:m has the row-block layout (m divides 16 and 16·n/m ≤ 8), else 0.
int winnow_nm_blocks_supported(int n, int m);
/// Packs a validated N:M matrix into row blocks: ⌈rows/16⌉·quads·16 index words and
/// `entries` times as many values (padding: value 0).
void winnow_nm_pack_blocks(const winnow_nm_matrix *w, uint32_t *indices, float *values);
/// `Y = act(X·Wᵀ + bias)` for the rows of blocks [block_begin, block_end), all tokens; `x` has
/// rows of `ldx` ≥ 16·quads floats (zero past `columns`), `y` is M × rows. Requires AVX-512F.
void winnow_nm_blocks_spmm_avx512(const winnow_nm_blocks *w, const float *x, int ldx, int m_tokens,
                                  const float *bias, int relu, float *y, int block_begin, int block_end);
/// The exchange arrays (winnow_nm_matrix layout, rows·⌈columns/m⌉·n slots) from row blocks:
/// the inverse of winnow_nm_pack_blocks.
void winnow_nm_unpack_blocks(const winnow_nm_blocks *w, int n, int m, uint8_t *indices, float *values);
/// Portable twin of winnow_nm_blocks_spmm_avx512 (any CPU); `x` needs no padding (ldx ≥ columns).
void winnow_nm_blocks_spmm_portable(const winnow_nm_blocks *w, const float *x, int ldx, int m_tokens,
                                    const float *bias, int relu, float *y, int block_begin, int block_end);

// MARK: - int8 weights × uint8 activations (qs8_gemm.c)

/// Bytes of the VNNI weight layout for N×K int8 codes (panels of 32 outputs × 4 inputs).
size_t winnow_qs8_packed_bytes(int n, int k);
/// Repacks row-major N×K codes into the VNNI layout (zero padded to 32 outputs, 4 inputs).
void winnow_qs8_pack_vnni(const int8_t *codes, int n, int k, int8_t *packed);
/// Per-token uint8 scale and zero point for a token whose values span [minimum, maximum].
void winnow_qu8_row_parameters(float minimum, float maximum, float *scale, int32_t *zero);
/// Quantizes M rows of K floats to uint8 rows of `row_stride ≥ K` bytes (padding = zero point),
/// per token (`dynamic` = 1) or with one static scale and zero point. Portable C.
void winnow_qu8_quantize_rows(const float *x, int m, int k, int row_stride, int dynamic, float static_scale,
                              int32_t static_zero, uint8_t *q, float *scales, int32_t *zeros);
/// The same with AVX-512 (bit-identical results). Requires AVX-512F/BW/VL.
void winnow_qu8_quantize_rows_avx512(const float *x, int m, int k, int row_stride, int dynamic,
                                     float static_scale, int32_t static_zero, uint8_t *q, float *scales,
                                     int32_t *zeros);
/// Portable int8 GEMM with the float epilogue for output features [row_begin, row_end), on
/// row-major codes.
void winnow_qs8_gemm_portable(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                              const int32_t *x_zeros, const int8_t *codes, const int32_t *row_sums,
                              const float *w_scales, const float *bias, int relu, float *y, int row_begin,
                              int row_end);
/// VNNI int8 GEMM for output panels [panel_begin, panel_end) of 32 features, on the packed
/// layout. Requires AVX-512F/BW/VL/VNNI.
void winnow_qs8_gemm_vnni(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                          const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                          const float *w_scales, const float *bias, int relu, float *y, int panel_begin,
                          int panel_end);

// MARK: - int8 GEMM on Intel AMX (qs8_gemm_amx.c)

/// The 64-byte LDTILECFG operand (palette 1): bytes per row and rows of each of 8 tiles.
typedef struct {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} winnow_amx_tile_config;

/// 1 when AMX-INT8 runs here: CPUID, XCR0 and (Linux) the per-process tile-data permission,
/// requested on the first call. 0 elsewhere; then winnow_qs8_gemm_amx does nothing.
int winnow_amx_usable(void);
/// Bytes of the AMX layout: the VNNI layout (panels of 32 outputs × groups of 4 inputs) with
/// K padded to a multiple of 64 (16 groups, one B tile).
size_t winnow_qs8_amx_packed_bytes(int n, int k);
/// Repacks row-major N×K codes into the AMX layout (zero padded to 32 outputs, 64 inputs).
void winnow_qs8_pack_amx(const int8_t *codes, int n, int k, int8_t *packed);
/// The tile shapes of the AMX kernel for a block of `top` + `bottom` tokens (≤ 16 each).
void winnow_amx_make_config(winnow_amx_tile_config *config, int top, int bottom);
/// The contract of winnow_qs8_gemm_vnni on the AMX layout; `q` rows hold ⌈K/64⌉·64 bytes
/// (`q_stride` ≥ that, padding = zero point). Only where winnow_amx_usable().
void winnow_qs8_gemm_amx(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                         const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums, const float *w_scales,
                         const float *bias, int relu, float *y, int panel_begin, int panel_end);
/// The same code on the software tile model (any CPU; slow): what tests check.
void winnow_qs8_gemm_amx_model(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                               const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                               const float *w_scales, const float *bias, int relu, float *y, int panel_begin,
                               int panel_end);
/// One TDPBUSD on the model: C[rows×columns] (int32, ldc) += A[rows×4·depth] (uint8, lda) ·
/// B[depth × 4·columns] (int8 groups of 4, ldb); rows ≤ 16, columns ≤ 16, depth ≤ 16. Returns
/// 0, or the fault the hardware would raise for these shapes (1: LDTILECFG #GP, 2: unset tile
/// #UD, 3: TDPBUSD shapes #UD), in which case `c` is untouched.
int winnow_amx_model_tile_product(int rows, int columns, int depth, const uint8_t *a, int lda, const int8_t *b,
                                  int ldb, int32_t *c, int ldc);
/// The first fault the calling thread's tile model recorded since the last call (0 = none),
/// then clears it: tests call it after winnow_qs8_gemm_amx_model.
int winnow_amx_model_take_fault(void);

// MARK: - Binary (XNOR-popcount) weights (xnor_gemm.c)

/// Interleaves row-major sign words (N rows × `words`) into panels of 8 rows (zero padded).
void winnow_xnor_pack_panels(const uint64_t *signs, int n, int words, uint64_t *panels);
/// Sign bits (x ≥ 0 → 1) of M tokens, ⌈K/64⌉ words each (padding bits 0), and β = mean |x|.
void winnow_binarize_rows(const float *x, int m, int k, uint64_t *bits, float *betas);
/// The same with AVX-512 compares (identical bits; β summed in another order). Requires AVX-512F.
void winnow_binarize_rows_avx512(const float *x, int m, int k, uint64_t *bits, float *betas);
/// Portable XNOR GEMM for output features [row_begin, row_end) on row-major sign words.
void winnow_xnor_gemm_portable(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                               const uint64_t *signs, const float *alphas, const float *bias, int relu,
                               float *y, int row_begin, int row_end);
/// The portable XNOR GEMM reading the 8-row panels (the layout kept where VPOPCNTDQ exists).
void winnow_xnor_gemm_portable_panels(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                                      const uint64_t *panels, const float *alphas, const float *bias, int relu,
                                      float *y, int row_begin, int row_end);
/// The inverse of winnow_xnor_pack_panels: N rows × `words` row-major sign words.
void winnow_xnor_unpack_panels(const uint64_t *panels, int n, int words, uint64_t *signs);
/// AVX-512 VPOPCNTDQ XNOR GEMM for output rows [16·pair_begin, 16·pair_end) on the panels.
void winnow_xnor_gemm_avx512(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                             const uint64_t *panels, const float *alphas, const float *bias, int relu,
                             float *y, int pair_begin, int pair_end);

// MARK: - Int4 weight-only, group-wise (q4_gemv.c)

/// Row-major codes (⌈K/2⌉ bytes per row, low nibble first) to the block layout of
/// Int4LinearWeights: ⌈N/16⌉ · (G·group/8) · 16 words, word (b, c, r) = codes of row 16b + r,
/// inputs 8c…8c+7 (input 8c + j in bits 4j…4j+3); padding is code 0.
void winnow_q4_pack_blocks(const uint8_t *packed, int n, int k, int group, uint32_t *blocked);
/// The inverse of winnow_q4_pack_blocks (N·⌈K/2⌉ bytes).
void winnow_q4_unpack_blocks(const uint32_t *blocked, int n, int k, int group, uint8_t *packed);
/// Dequantizes rows [row_begin, row_end) to Float (`out`: (row_end − row_begin) × K); `scales`
/// and `zero_shifts` (zero − 8, NULL when symmetric) in block order ((b·G + g)·16 + r).
void winnow_q4_dequantize_rows(const uint32_t *blocked, int k, int group, const float *scales,
                               const float *zero_shifts, int row_begin, int row_end, float *out);
/// Dequantizes the rows of blocks [block_begin, block_end) transposed: `out` is K × W with
/// W = 16·(block_end − block_begin), out[c·W + 16·(b − block_begin) + r] = W[16b + r, c] (rows
/// past N are 0). Same block-order scales and shifts as winnow_q4_dequantize_rows.
void winnow_q4_dequantize_blocks_portable(const uint32_t *blocked, int k, int group, const float *scales,
                                          const float *zero_shifts, int block_begin, int block_end, float *out);
/// The same with AVX-512F (bit-identical: one multiply of exact small integers).
void winnow_q4_dequantize_blocks_avx512(const uint32_t *blocked, int k, int group, const float *scales,
                                        const float *zero_shifts, int block_begin, int block_end, float *out);
/// Copies x to `x_padded` (G·group values, zero padded) and, when `group_sums` is not NULL,
/// writes the sum of each group of inputs.
void winnow_q4_prepare_token(const float *x, int k, int group, float *x_padded, float *group_sums);
/// Portable `y[row] = act(W[row, :]·x + bias[row])` for the rows of blocks [block_begin,
/// block_end). `scales` and `zero_shifts` (zero − 8, NULL when symmetric) in block order
/// ((b·G + g)·16 + r); `x_padded`, `group_sums` from winnow_q4_prepare_token.
void winnow_q4_gemv_portable(int n, int k, int group, const uint32_t *blocked, const float *scales,
                             const float *zero_shifts, const float *x_padded, const float *group_sums,
                             const float *bias, int relu, float *y, int block_begin, int block_end);
/// The same contract with AVX-512F: 16 rows per vector, a permute per 16 weights.
void winnow_q4_gemv_avx512(int n, int k, int group, const uint32_t *blocked, const float *scales,
                           const float *zero_shifts, const float *x_padded, const float *group_sums,
                           const float *bias, int relu, float *y, int block_begin, int block_end);

// MARK: - arm64 Advanced SIMD (neon_int8.c, neon_sparse.c)
// Each has the contract of the x86 or portable kernel named; off arm64 the portable-layout ones
// forward to the portable kernel and the others do nothing (callers check WINNOW_CPU_NEON).

/// int8 GEMM on the VNNI panel layout of winnow_qs8_pack_vnni, contract of winnow_qs8_gemm_vnni:
/// SDOT where the CPU has it (WINNOW_CPU_NEON_DOTPROD), else widening multiplies; both exact.
void winnow_qs8_gemm_neon(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                          const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                          const float *w_scales, const float *bias, int relu, float *y, int panel_begin,
                          int panel_end);
/// Contract of winnow_qu8_quantize_rows (bit-identical bytes, scales and zero points).
void winnow_qu8_quantize_rows_neon(const float *x, int m, int k, int row_stride, int dynamic, float static_scale,
                                   int32_t static_zero, uint8_t *q, float *scales, int32_t *zeros);
/// Contract of winnow_binarize_rows (identical bits; β summed in another order).
void winnow_binarize_rows_neon(const float *x, int m, int k, uint64_t *bits, float *betas);
/// XNOR GEMM with CNT popcounts on row-major sign words; contract of winnow_xnor_gemm_portable.
void winnow_xnor_gemm_neon(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                           const uint64_t *signs, const float *alphas, const float *bias, int relu,
                           float *y, int row_begin, int row_end);
/// Int4 GEMV, 16 rows of a block as four float vectors; contract of winnow_q4_gemv_portable.
void winnow_q4_gemv_neon(int n, int k, int group, const uint32_t *blocked, const float *scales,
                         const float *zero_shifts, const float *x_padded, const float *group_sums,
                         const float *bias, int relu, float *y, int block_begin, int block_end);
/// Contract of winnow_q4_dequantize_blocks_portable (bit-identical).
void winnow_q4_dequantize_blocks_neon(const uint32_t *blocked, int k, int group, const float *scales,
                                      const float *zero_shifts, int block_begin, int block_end, float *out);
/// Floats of workspace `winnow_spmm_f32_neon` needs (one per calling thread).
size_t winnow_spmm_f32_neon_workspace_floats(const winnow_sparse_matrix *w);
/// CSR/BSR × dense with fp32 FMA on 8-token panels; contract of winnow_spmm_f32_avx512 (any
/// block height).
void winnow_spmm_f32_neon(const winnow_sparse_matrix *w, const float *x, int m, const float *bias, int relu,
                          float *y, int begin, int end, float *workspace);
/// Floats of workspace `winnow_nm_spmm_f32_neon` needs (one per calling thread).
size_t winnow_nm_spmm_neon_workspace_floats(const winnow_nm_matrix *w);
/// N:M × dense on 8-token panels; contract of winnow_nm_spmm_f32_portable (plus the workspace).
void winnow_nm_spmm_f32_neon(const winnow_nm_matrix *w, const float *x, int m_tokens, const float *bias, int relu,
                             float *y, int begin, int end, float *workspace);
