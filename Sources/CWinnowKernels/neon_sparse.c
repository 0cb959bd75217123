// arm64 Advanced SIMD (NEON) kernels of the fp32 sparse formats: CSR/BSR and N:M weights ×
// dense activations, the design of spmm_avx512.c scaled to 128-bit vectors:
//
//     Y[M×N] = activation(X[M×K] · Wᵀ + bias)
//
// 8 tokens of X are packed transposed into a panel (one 32-byte line per input feature), so
// a stored weight w[n, k] is a multiply-add over two contiguous vectors of tokens: no gathers,
// which NEON lacks. Rows of one block row (BSR 4×1, 8×1, …) are computed together so every
// panel load serves all of them; N:M rows four at a time for independent accumulator chains.
// Fewer than 4 remaining tokens take sparse dot products straight from X (decoding, M = 1).
// Sums are in a different order than the Swift reference: float tolerance, checked under
// qemu-aarch64 by Utilities/NEON/run-tests.sh (correctness only, no timings there).
#include "CWinnowKernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#define PANEL_TOKENS 8
#define MINIMUM_PANEL_TOKENS 4  // below this a padded panel does more work than dot products
#define WINNOW_INLINE static inline __attribute__((always_inline))

static inline int minimum(int a, int b) { return a < b ? a : b; }

/// panel[p·8 + j] = x[(m0 + j)·K + p] for j < count, p < K; zero elsewhere up to `rows`.
static void pack_token_panel(const float *x, int k, int m0, int count, int rows, float *panel) {
  memset(panel, 0, sizeof(float) * (size_t)rows * PANEL_TOKENS);
  for (int j = 0; j < count; j++) {
    const float *row = x + (size_t)(m0 + j) * k;
    for (int p = 0; p < k; p++) panel[(size_t)p * PANEL_TOKENS + j] = row[p];
  }
}

/// Writes `tokens` results of output row `row` (tile line of 8) with bias and ReLU into Y.
WINNOW_INLINE void store_row(const float *line, int tokens, const float *bias, int relu, float *y, int n, int m0,
                             int row) {
  for (int j = 0; j < tokens; j++) {
    float v = line[j] + (bias ? bias[row] : 0.0f);
    y[(size_t)(m0 + j) * n + row] = relu && !(v > 0) ? 0.0f : v;
  }
}

// MARK: - CSR / BSR

/// G rows of one block row (row g of every block at `values + b·block_stride + g·cb`) times
/// the panel; writes G tile lines of 8 tokens.
WINNOW_INLINE void block_rows(const int G, int cb, const int32_t *columns, int blocks, const float *values,
                              int block_stride, const float *panel, float *tile) {
  float32x4_t acc[8][2];
  for (int g = 0; g < G; g++) acc[g][0] = acc[g][1] = vdupq_n_f32(0);
  for (int b = 0; b < blocks; b++) {
    const float *p = panel + (size_t)columns[b] * cb * PANEL_TOKENS;
    const float *w = values + (size_t)b * block_stride;
    for (int c = 0; c < cb; c++) {
      float32x4_t x0 = vld1q_f32(p + c * PANEL_TOKENS), x1 = vld1q_f32(p + c * PANEL_TOKENS + 4);
      for (int g = 0; g < G; g++) {
        acc[g][0] = vfmaq_n_f32(acc[g][0], x0, w[g * cb + c]);
        acc[g][1] = vfmaq_n_f32(acc[g][1], x1, w[g * cb + c]);
      }
    }
  }
  for (int g = 0; g < G; g++) {
    vst1q_f32(tile + g * PANEL_TOKENS, acc[g][0]);
    vst1q_f32(tile + g * PANEL_TOKENS + 4, acc[g][1]);
  }
}

/// One instantiation per group height (8 rows × 2 vectors = 16 accumulators at most).
static void block_rows_any(int G, int cb, const int32_t *columns, int blocks, const float *values, int block_stride,
                           const float *panel, float *tile) {
  switch (G) {
  case 8: block_rows(8, cb, columns, blocks, values, block_stride, panel, tile); break;
  case 4: block_rows(4, cb, columns, blocks, values, block_stride, panel, tile); break;
  case 2: block_rows(2, cb, columns, blocks, values, block_stride, panel, tile); break;
  default: block_rows(1, cb, columns, blocks, values, block_stride, panel, tile); break;
  }
}

/// Largest of 8, 4, 2, 1 that divides the block height: rows computed together.
static int group_rows(int block_rows) {
  return block_rows % 8 == 0 ? 8 : block_rows % 4 == 0 ? 4 : block_rows % 2 == 0 ? 2 : 1;
}

/// Sparse dot products for one token (`x`: K values, `y`: its N outputs), block rows [begin, end).
static void dot_token(const winnow_sparse_matrix *w, const float *x, const float *bias, int relu, float *y, int begin,
                      int end) {
  const int R = w->block_rows, cb = w->block_columns, size = R * cb, k = w->columns;
  for (int br = begin; br < end; br++) {
    const int b0 = w->block_offsets[br], b1 = w->block_offsets[br + 1];
    for (int r = 0; r < R && br * R + r < w->rows; r++) {
      float32x4_t acc = vdupq_n_f32(0);
      float sum = 0;
      for (int b = b0; b < b1; b++) {
        const int c0 = w->column_indices[b] * cb, width = minimum(cb, k - c0);
        const float *wv = w->values + (size_t)b * size + r * cb;
        int c = 0;
        for (; c + 4 <= width; c += 4) acc = vfmaq_f32(acc, vld1q_f32(wv + c), vld1q_f32(x + c0 + c));
        for (; c < width; c++) sum += wv[c] * x[c0 + c];
      }
      float v = vaddvq_f32(acc) + sum + (bias ? bias[br * R + r] : 0.0f);
      y[br * R + r] = relu && !(v > 0) ? 0.0f : v;
    }
  }
}

size_t winnow_spmm_f32_neon_workspace_floats(const winnow_sparse_matrix *w) {
  size_t padded = (size_t)(w->columns + w->block_columns - 1) / w->block_columns * w->block_columns;
  return padded * PANEL_TOKENS + 8 * PANEL_TOKENS;
}

void winnow_spmm_f32_neon(const winnow_sparse_matrix *w, const float *x, int m, const float *bias, int relu,
                          float *y, int begin, int end, float *workspace) {
  const int k = w->columns, n = w->rows, R = w->block_rows, cb = w->block_columns, size = R * cb;
  const int padded = (k + cb - 1) / cb * cb, G = group_rows(R);
  float *panel = workspace, *tile = workspace + (size_t)padded * PANEL_TOKENS;
  int m0 = 0;
  for (; m - m0 >= MINIMUM_PANEL_TOKENS; m0 += PANEL_TOKENS) {
    const int tokens = minimum(PANEL_TOKENS, m - m0);
    pack_token_panel(x, k, m0, tokens, padded, panel);
    for (int br = begin; br < end; br++) {
      const int b0 = w->block_offsets[br], blocks = w->block_offsets[br + 1] - b0;
      for (int g0 = 0; g0 < R; g0 += G) {
        block_rows_any(G, cb, w->column_indices + b0, blocks, w->values + (size_t)b0 * size + g0 * cb, size, panel,
                       tile);
        for (int g = 0; g < G && br * R + g0 + g < n; g++)
          store_row(tile + g * PANEL_TOKENS, tokens, bias, relu, y, n, m0, br * R + g0 + g);
      }
    }
  }
  for (; m0 < m; m0++) dot_token(w, x + (size_t)m0 * k, bias, relu, y + (size_t)m0 * n, begin, end);
}

// MARK: - N:M

/// R rows (`indices`/`values` of row r at `+ r·stride`) × the panel over all groups; writes
/// R tile lines. Group g's slot s reads panel line g·m + index.
WINNOW_INLINE void nm_rows(const int R, int n, int m, int groups, const uint8_t *indices, const float *values,
                           size_t stride, const float *panel, float *tile) {
  float32x4_t acc[4][2];
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = vdupq_n_f32(0);
  for (int g = 0; g < groups; g++)
    for (int s = 0; s < n; s++)
      for (int r = 0; r < R; r++) {
        const size_t t = r * stride + (size_t)g * n + s;
        const float *p = panel + (size_t)(g * m + indices[t]) * PANEL_TOKENS;
        acc[r][0] = vfmaq_n_f32(acc[r][0], vld1q_f32(p), values[t]);
        acc[r][1] = vfmaq_n_f32(acc[r][1], vld1q_f32(p + 4), values[t]);
      }
  for (int r = 0; r < R; r++) {
    vst1q_f32(tile + r * PANEL_TOKENS, acc[r][0]);
    vst1q_f32(tile + r * PANEL_TOKENS + 4, acc[r][1]);
  }
}

size_t winnow_nm_spmm_neon_workspace_floats(const winnow_nm_matrix *w) {
  size_t padded = (size_t)(w->columns + w->m - 1) / w->m * w->m;
  return padded * PANEL_TOKENS + 4 * PANEL_TOKENS;
}

void winnow_nm_spmm_f32_neon(const winnow_nm_matrix *w, const float *x, int m_tokens, const float *bias, int relu,
                             float *y, int begin, int end, float *workspace) {
  const int k = w->columns, n = w->n, m = w->m, groups = (k + m - 1) / m;
  const size_t stride = (size_t)groups * n;
  float *panel = workspace, *tile = workspace + (size_t)groups * m * PANEL_TOKENS;
  int m0 = 0;
  for (; m_tokens - m0 >= MINIMUM_PANEL_TOKENS; m0 += PANEL_TOKENS) {
    const int tokens = minimum(PANEL_TOKENS, m_tokens - m0);
    pack_token_panel(x, k, m0, tokens, groups * m, panel);
    for (int row = begin; row < end;) {
      const int R = end - row >= 4 ? 4 : 1;
      const uint8_t *indices = w->indices + (size_t)row * stride;
      const float *values = w->values + (size_t)row * stride;
      if (R == 4) nm_rows(4, n, m, groups, indices, values, stride, panel, tile);
      else nm_rows(1, n, m, groups, indices, values, stride, panel, tile);
      for (int r = 0; r < R; r++) store_row(tile + r * PANEL_TOKENS, tokens, bias, relu, y, w->rows, m0, row + r);
      row += R;
    }
  }
  // No gathers on NEON: the last few tokens take the portable sparse dot products.
  if (m0 < m_tokens)
    winnow_nm_spmm_f32_portable(w, x + (size_t)m0 * k, m_tokens - m0, bias, relu, y + (size_t)m0 * w->rows, begin,
                                end);
}

#else
size_t winnow_spmm_f32_neon_workspace_floats(const winnow_sparse_matrix *w) { (void)w; return 0; }
void winnow_spmm_f32_neon(const winnow_sparse_matrix *w, const float *x, int m, const float *bias, int relu,
                          float *y, int begin, int end, float *workspace) {
  (void)w; (void)x; (void)m; (void)bias; (void)relu; (void)y; (void)begin; (void)end; (void)workspace;
}
size_t winnow_nm_spmm_neon_workspace_floats(const winnow_nm_matrix *w) { (void)w; return 0; }
void winnow_nm_spmm_f32_neon(const winnow_nm_matrix *w, const float *x, int m_tokens, const float *bias, int relu,
                             float *y, int begin, int end, float *workspace) {
  (void)workspace;
  winnow_nm_spmm_f32_portable(w, x, m_tokens, bias, relu, y, begin, end);
}
#endif
