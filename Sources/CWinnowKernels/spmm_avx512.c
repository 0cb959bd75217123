// Sparse (CSR / BSR) weights × dense activations with AVX-512, the fast path of
// Sources/WinnowKernels/Sparse (the Swift SIMD8 kernels there are the portable fallback).
//
//     Y[M×N] = activation(X[M×K] · Wᵀ + bias)      (W: N×K in BSR; CSR is BSR with 1×1 blocks)
//
// Up to 64 tokens of X are packed transposed into a panel (K×64, one 256-byte line per input
// feature), so a stored weight w[n, k] becomes an axpy over 64 contiguous tokens: no gathers.
// A group of G ∈ {1, 2, 4, 8} rows of one block row keeps G×V accumulators (V ≤ 4 vectors of
// 16 tokens) and reuses each panel load across the G rows, which is what blocks over output
// rows (4×1, 8×1) buy. Accumulators go to a 16-row tile; the tile is transposed 16×16 at a
// time and stored to Y as contiguous 16-wide rows with bias and ReLU (fused epilogue).
// The last 1–3 tokens take sparse dot products straight from X (M = 1 is not padded).
#include "CWinnowKernels.h"
#include <string.h>

/// Portable N:M kernel: one sparse dot product per token and output row.
void winnow_nm_spmm_f32_portable(const winnow_nm_matrix *w, const float *x, int m_tokens, const float *bias,
                                 int relu, float *y, int begin, int end) {
  const int n = w->n, m = w->m, k = w->columns, groups = (k + m - 1) / m;
  for (int i = 0; i < m_tokens; i++) {
    const float *xi = x + (size_t)i * k;
    for (int row = begin; row < end; row++) {
      const uint8_t *indices = w->indices + (size_t)row * groups * n;
      const float *values = w->values + (size_t)row * groups * n;
      float s0 = 0, s1 = 0;
      for (int g = 0; g < groups; g++)
        for (int s = 0; s < n; s++) {
          float product = values[g * n + s] * xi[g * m + indices[g * n + s]];
          if (s & 1) s1 += product; else s0 += product;
        }
      float v = s0 + s1 + (bias ? bias[row] : 0.0f);
      y[(size_t)i * w->rows + row] = relu && !(v > 0) ? 0.0f : v;
    }
  }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define WINNOW_AVX512 __attribute__((target("avx512f")))
#define PANEL_TOKENS 64
#define TILE_ROWS 16
/// Below this many remaining tokens a padded panel does more work than dot products.
#define MINIMUM_PANEL_TOKENS 4

static inline int minimum(int a, int b) { return a < b ? a : b; }

/// Transposes the 16×16 block held in r[0..16) in place (r[i] lane j ↔ r[j] lane i):
/// 2×2 interleave, 4×4 within each 128-bit lane, then 4×4 across lanes.
WINNOW_AVX512 static inline void transpose16x16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // Group g (rows 4g..4g+3): u[4g + q] holds column 4L + q of the 4 rows in lane L.
  for (int g = 0; g < 4; g++) {
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int q = 0; q < 4; q++) {
    __m512 even01 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88);      // g0.L0 g0.L2 g1.L0 g1.L2
    __m512 odd01 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xDD);       // g0.L1 g0.L3 g1.L1 g1.L3
    __m512 even23 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);
    __m512 odd23 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xDD);
    r[q] = _mm512_shuffle_f32x4(even01, even23, 0x88);       // column q      (lane 0)
    r[4 + q] = _mm512_shuffle_f32x4(odd01, odd23, 0x88);     // column 4 + q  (lane 1)
    r[8 + q] = _mm512_shuffle_f32x4(even01, even23, 0xDD);   // column 8 + q  (lane 2)
    r[12 + q] = _mm512_shuffle_f32x4(odd01, odd23, 0xDD);    // column 12 + q (lane 3)
  }
}

static inline __mmask16 first_lanes(int count) {
  return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? 0 : (__mmask16)((1u << count) - 1);
}

/// panel[p·64 + j] = x[(m0 + j)·K + p] for j < count, p < K; zero for K ≤ p < rows.
WINNOW_AVX512 void winnow_pack_token_panel_avx512(
    const float *x, int k, int m0, int count, int rows, float *panel) {
  __m512 r[16];
  for (int j0 = 0; j0 < count; j0 += 16) {
    for (int p0 = 0; p0 < rows; p0 += 16) {
      __mmask16 kmask = first_lanes(k - p0);
      for (int j = 0; j < 16; j++)
        r[j] = j0 + j < count ? _mm512_maskz_loadu_ps(kmask, x + (size_t)(m0 + j0 + j) * k + p0)
                              : _mm512_setzero_ps();
      transpose16x16(r);
      for (int q = 0; q < 16 && p0 + q < rows; q++)
        _mm512_store_ps(panel + (size_t)(p0 + q) * PANEL_TOKENS + j0, r[q]);
    }
  }
}

/// Accumulates G rows (stride `cb` in each block, blocks `block_stride` apart) over the
/// blocks of one block row, for V·16 tokens of the panel; writes the G×V tile rows.
/// `CB` is the block width when known at compile time (0: use `cb`).
WINNOW_AVX512 static inline __attribute__((always_inline)) void block_row_group(
    const int G, const int V, const int CB, int cb, const int32_t *columns, int blocks,
    const float *values, int block_stride, const float *panel, float *tile) {
  if (CB) cb = CB;
  __m512 acc[8][4];
  for (int g = 0; g < G; g++)
    for (int v = 0; v < V; v++) acc[g][v] = _mm512_setzero_ps();
  for (int b = 0; b < blocks; b++) {
    const float *p = panel + (size_t)columns[b] * cb * PANEL_TOKENS;
    const float *w = values + (size_t)b * block_stride;
    for (int c = 0; c < cb; c++) {
      __m512 xv[4];
      for (int v = 0; v < V; v++) xv[v] = _mm512_load_ps(p + c * PANEL_TOKENS + 16 * v);
      for (int g = 0; g < G; g++) {
        __m512 wv = _mm512_set1_ps(w[g * cb + c]);
        for (int v = 0; v < V; v++) acc[g][v] = _mm512_fmadd_ps(wv, xv[v], acc[g][v]);
      }
    }
  }
  for (int g = 0; g < G; g++)
    for (int v = 0; v < V; v++) _mm512_store_ps(tile + g * PANEL_TOKENS + 16 * v, acc[g][v]);
}

/// One instantiation per (G, V, CB) so the accumulators live in registers.
#define GROUP_CASE(G, V, CB) \
  case V: block_row_group(G, V, CB, cb, columns, blocks, values, block_stride, panel, tile); break;
#define DEFINE_GROUP(G, CB)                                                                     \
  WINNOW_AVX512 static void group_##G##_##CB(int V, int cb, const int32_t *columns, int blocks, \
      const float *values, int block_stride, const float *panel, float *tile) {                \
    switch (V) { GROUP_CASE(G, 1, CB) GROUP_CASE(G, 2, CB) GROUP_CASE(G, 3, CB)                \
                 GROUP_CASE(G, 4, CB) }                                                         \
  }
DEFINE_GROUP(1, 1) DEFINE_GROUP(1, 4) DEFINE_GROUP(1, 0)
DEFINE_GROUP(2, 1) DEFINE_GROUP(2, 4) DEFINE_GROUP(2, 0)
DEFINE_GROUP(4, 1) DEFINE_GROUP(4, 4) DEFINE_GROUP(4, 0)
DEFINE_GROUP(8, 1) DEFINE_GROUP(8, 4) DEFINE_GROUP(8, 0)

typedef void (*group_function)(int, int, const int32_t *, int, const float *, int, const float *, float *);

static group_function pick_group(int G, int cb) {
  int which = cb == 1 ? 0 : cb == 4 ? 1 : 2;
  static const group_function table[4][3] = {
      {group_1_1, group_1_4, group_1_0}, {group_2_1, group_2_4, group_2_0},
      {group_4_1, group_4_4, group_4_0}, {group_8_1, group_8_4, group_8_0}};
  return table[G == 1 ? 0 : G == 2 ? 1 : G == 4 ? 2 : 3][which];
}

/// Stores `rows` rows × `tokens` tokens of the tile (row stride 64) into Y (row stride n) at
/// Y[m0.., row0..], adding bias and applying ReLU, 16×16 transposes at a time.
WINNOW_AVX512 static void store_tile(const float *tile, int rows, int tokens, const float *bias,
                                     int relu, float *y, int n, int m0, int row0) {
  __mmask16 row_mask = first_lanes(rows);
  __m512 b = bias ? _mm512_maskz_loadu_ps(row_mask, bias + row0) : _mm512_setzero_ps();
  __m512 r[16];
  for (int j0 = 0; j0 < tokens; j0 += 16) {
    for (int i = 0; i < 16; i++) r[i] = _mm512_load_ps(tile + i * PANEL_TOKENS + j0);
    transpose16x16(r);
    for (int j = 0; j < 16 && j0 + j < tokens; j++) {
      __m512 v = _mm512_add_ps(r[j], b);
      if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());  // max(NaN, 0) = 0, as the reference
      _mm512_mask_storeu_ps(y + (size_t)(m0 + j0 + j) * n + row0, row_mask, v);
    }
  }
}

/// Sparse dot products for one token (`x`: K values) and block rows [begin, end).
WINNOW_AVX512 static void dot_token(const winnow_sparse_matrix *w, const float *x, const float *bias,
                                    int relu, float *y, int begin, int end) {
  const int R = w->block_rows, cb = w->block_columns, size = R * cb, k = w->columns;
  for (int br = begin; br < end; br++) {
    int b0 = w->block_offsets[br], b1 = w->block_offsets[br + 1];
    for (int r = 0; r < R && br * R + r < w->rows; r++) {
      __m512 acc = _mm512_setzero_ps();
      if (size == 1) {  // CSR: gather 16 activations at a time
        int t = b0;
        for (; t < b1; t += 16) {
          __mmask16 mask = first_lanes(b1 - t);
          __m512i index = _mm512_maskz_loadu_epi32(mask, w->column_indices + t);
          __m512 xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, index, x, 4);
          acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w->values + t), xv, acc);
        }
      } else {
        for (int b = b0; b < b1; b++) {
          int c0 = w->column_indices[b] * cb, width = minimum(cb, k - c0);
          const float *wv = w->values + (size_t)b * size + r * cb;
          for (int c = 0; c < width; c += 16) {
            __mmask16 mask = first_lanes(width - c);
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, wv + c), _mm512_maskz_loadu_ps(mask, x + c0 + c), acc);
          }
        }
      }
      float s = _mm512_reduce_add_ps(acc) + (bias ? bias[br * R + r] : 0.0f);
      y[br * R + r] = relu && !(s > 0) ? 0.0f : s;
    }
  }
}

/// Largest of 8, 4, 2, 1 that divides the block height: rows computed together.
static int group_rows(int block_rows) {
  return block_rows % 8 == 0 ? 8 : block_rows % 4 == 0 ? 4 : block_rows % 2 == 0 ? 2 : 1;
}

/// One token panel (`tokens` ≤ 64 packed in `panel`) × block rows [begin, end).
WINNOW_AVX512 static void panel_rows(const winnow_sparse_matrix *w, const float *panel, int tokens,
                                     const float *bias, int relu, float *y, int m0, int begin, int end,
                                     float *tile) {
  const int R = w->block_rows, cb = w->block_columns, size = R * cb;
  const int G = group_rows(R), tile_block_rows = TILE_ROWS / R;
  group_function group = pick_group(G, cb);
  for (int t0 = begin; t0 < end; t0 += tile_block_rows) {
    int t1 = minimum(end, t0 + tile_block_rows);
    for (int br = t0; br < t1; br++) {
      int b0 = w->block_offsets[br], blocks = w->block_offsets[br + 1] - b0;
      for (int g0 = 0; g0 < R; g0 += G) {
        float *tile_rows = tile + ((br - t0) * R + g0) * PANEL_TOKENS;
        const float *values = w->values + (size_t)b0 * size + g0 * cb;
        if (G == 8) {  // 8 rows × 2 vectors = 16 accumulators; two halves of the panel
          group(minimum(2, (tokens + 15) / 16), cb, w->column_indices + b0, blocks, values, size, panel, tile_rows);
          if (tokens > 32)
            group((tokens - 32 + 15) / 16, cb, w->column_indices + b0, blocks, values, size, panel + 32, tile_rows + 32);
        } else {
          group((tokens + 15) / 16, cb, w->column_indices + b0, blocks, values, size, panel, tile_rows);
        }
      }
    }
    int row0 = t0 * R, rows = minimum(w->rows, t1 * R) - row0;
    store_tile(tile, rows, tokens, bias, relu, y, w->rows, m0, row0);
  }
}

size_t winnow_spmm_f32_workspace_floats(const winnow_sparse_matrix *w) {
  size_t padded = (size_t)(w->columns + w->block_columns - 1) / w->block_columns * w->block_columns;
  return ((padded + 15) / 16 * 16) * PANEL_TOKENS + TILE_ROWS * PANEL_TOKENS + 16;
}

WINNOW_AVX512 void winnow_spmm_f32_avx512(const winnow_sparse_matrix *w, const float *x, int m,
                                          const float *bias, int relu, float *y, int begin, int end,
                                          float *workspace) {
  const int k = w->columns, n = w->rows;
  const int padded = (k + w->block_columns - 1) / w->block_columns * w->block_columns;
  float *panel = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
  float *tile = panel + (size_t)(padded + 15) / 16 * 16 * PANEL_TOKENS;
  memset(tile, 0, sizeof(float) * TILE_ROWS * PANEL_TOKENS);  // rows past N are read, never stored
  int m0 = 0;
  while (m - m0 >= MINIMUM_PANEL_TOKENS) {
    int tokens = minimum(PANEL_TOKENS, m - m0);
    winnow_pack_token_panel_avx512(x, k, m0, tokens, padded, panel);
    panel_rows(w, panel, tokens, bias, relu, y, m0, begin, end, tile);
    m0 += tokens;
  }
  for (; m0 < m; m0++) dot_token(w, x + (size_t)m0 * k, bias, relu, y + (size_t)m0 * n, begin, end);
}

// MARK: - N:M sparse weights (see NMSparseMatrix): CSR-like rows with implied group offsets

/// Input blocks of 64 activations (a 16 KB slice of the panel, L1-resident) per pass over rows.
#define NM_BLOCK_INPUTS 64

/// Accumulates groups [g0, g1) of one row into `acc` (V·16 tokens, row of the accumulator
/// buffer). `N` is the group's kept count when known at compile time (0: use `n`).
WINNOW_AVX512 static inline __attribute__((always_inline)) void nm_row_block(
    const int V, const int N, int n, int m, const uint8_t *indices, const float *values, int g0, int g1,
    const float *panel, float *acc_row) {
  if (N) n = N;
  __m512 acc[4];
  for (int v = 0; v < V; v++) acc[v] = _mm512_load_ps(acc_row + 16 * v);
  for (int g = g0; g < g1; g++) {
    const float *group = panel + (size_t)g * m * PANEL_TOKENS;
    for (int s = 0; s < n; s++) {
      const float *p = group + (size_t)indices[g * n + s] * PANEL_TOKENS;
      __m512 wv = _mm512_set1_ps(values[g * n + s]);
      for (int v = 0; v < V; v++) acc[v] = _mm512_fmadd_ps(wv, _mm512_load_ps(p + 16 * v), acc[v]);
    }
  }
  for (int v = 0; v < V; v++) _mm512_store_ps(acc_row + 16 * v, acc[v]);
}

#define NM_CASE(V, N) case V: nm_row_block(V, N, n, m, indices, values, g0, g1, panel, acc_row); break;
#define DEFINE_NM(N)                                                                                  \
  WINNOW_AVX512 static void nm_row_block_##N(int V, int n, int m, const uint8_t *indices,            \
      const float *values, int g0, int g1, const float *panel, float *acc_row) {                     \
    switch (V) { NM_CASE(1, N) NM_CASE(2, N) NM_CASE(3, N) NM_CASE(4, N) }                          \
  }
DEFINE_NM(2) DEFINE_NM(0)

size_t winnow_nm_spmm_workspace_floats(const winnow_nm_matrix *w, int rows) {
  size_t padded = (size_t)(w->columns + 15) / 16 * 16;
  return padded * PANEL_TOKENS + (size_t)(rows + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS * PANEL_TOKENS + 16;
}

WINNOW_AVX512 static void nm_dot_token(const winnow_nm_matrix *w, const float *x, const float *bias, int relu,
                                       float *y, int begin, int end) {
  const int n = w->n, m = w->m, groups = (w->columns + m - 1) / m;
  for (int row = begin; row < end; row++) {
    const uint8_t *indices = w->indices + (size_t)row * groups * n;
    const float *values = w->values + (size_t)row * groups * n;
    float s0 = 0, s1 = 0;
    for (int g = 0; g < groups; g++)
      for (int s = 0; s < n; s++) {
        float product = values[g * n + s] * x[g * m + indices[g * n + s]];
        if (s & 1) s1 += product; else s0 += product;
      }
    float v = s0 + s1 + (bias ? bias[row] : 0.0f);
    y[row] = relu && !(v > 0) ? 0.0f : v;
  }
}

WINNOW_AVX512 void winnow_nm_spmm_f32_avx512(const winnow_nm_matrix *w, const float *x, int m_tokens,
                                             const float *bias, int relu, float *y, int begin, int end,
                                             float *workspace) {
  const int k = w->columns, n = w->n, m = w->m, groups = (k + m - 1) / m;
  const int padded = (k + 15) / 16 * 16, rows = end - begin;
  const int block_groups = NM_BLOCK_INPUTS / m > 0 ? NM_BLOCK_INPUTS / m : 1;
  float *panel = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
  float *acc = panel + (size_t)padded * PANEL_TOKENS;
  int m0 = 0;
  while (m_tokens - m0 >= MINIMUM_PANEL_TOKENS) {
    int tokens = minimum(PANEL_TOKENS, m_tokens - m0), V = (tokens + 15) / 16;
    winnow_pack_token_panel_avx512(x, k, m0, tokens, padded, panel);
    size_t accumulators = (size_t)((rows + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS) * PANEL_TOKENS;
    memset(acc, 0, sizeof(float) * accumulators);
    for (int g0 = 0; g0 < groups; g0 += block_groups) {
      int g1 = minimum(groups, g0 + block_groups);
      for (int row = begin; row < end; row++) {
        const uint8_t *indices = w->indices + (size_t)row * groups * n;
        const float *values = w->values + (size_t)row * groups * n;
        float *acc_row = acc + (size_t)(row - begin) * PANEL_TOKENS;
        if (n == 2) nm_row_block_2(V, n, m, indices, values, g0, g1, panel, acc_row);
        else nm_row_block_0(V, n, m, indices, values, g0, g1, panel, acc_row);
      }
    }
    for (int r0 = 0; r0 < rows; r0 += TILE_ROWS)
      store_tile(acc + (size_t)r0 * PANEL_TOKENS, minimum(TILE_ROWS, rows - r0), tokens, bias, relu, y, w->rows, m0,
                 begin + r0);
    m0 += tokens;
  }
  for (; m0 < m_tokens; m0++)
    nm_dot_token(w, x + (size_t)m0 * k, bias, relu, y + (size_t)m0 * w->rows, begin, end);
}

#else
size_t winnow_spmm_f32_workspace_floats(const winnow_sparse_matrix *w) { (void)w; return 0; }
void winnow_spmm_f32_avx512(const winnow_sparse_matrix *w, const float *x, int m, const float *bias, int relu,
                            float *y, int begin, int end, float *workspace) {
  (void)w; (void)x; (void)m; (void)bias; (void)relu; (void)y; (void)begin; (void)end; (void)workspace;
}
size_t winnow_nm_spmm_workspace_floats(const winnow_nm_matrix *w, int rows) { (void)w; (void)rows; return 0; }
void winnow_nm_spmm_f32_avx512(const winnow_nm_matrix *w, const float *x, int m_tokens, const float *bias, int relu,
                               float *y, int begin, int end, float *workspace) {
  (void)w; (void)x; (void)m_tokens; (void)bias; (void)relu; (void)y; (void)begin; (void)end; (void)workspace;
}
#endif
