// N:M sparse weights × dense activations with output rows as the SIMD lanes (AVX-512).
//
//     Y[M×N] = activation(X[M×K] · Wᵀ + bias)      (W: N×K, n of every m inputs kept)
//
// The CSR-style kernel (spmm_avx512.c) spends one panel load per FMA, which caps it near the
// dense rate at 50 % density. Here 16 output rows share one vector: for every 16 inputs (a
// "quad" of 16/m groups) a row block stores E = 16·n/m value vectors and one index vector whose
// lane r packs, in nibble e, the position (0…15) inside the quad of row r's e-th kept input.
// For each token the 16 inputs X[t, 16q…16q+15] are one vector; `vpermps` by the index
// (shifted right by 4e; it reads only the low 4 bits) hands every row its own input, and one
// FMA with value vector e does 16 multiply-adds. Per entry that is a permute and an FMA per
// token, the shift and the value load being shared by a register block of up to 12 tokens.
// The accumulators are Y[t, 16b…16b+15] themselves (contiguous: no transpose); K is cut into
// tiles of 1024 inputs, Y is reloaded between tiles. One token (decoding) is a GEMV with four
// accumulators, memory-bound on 4.5 bytes per kept weight at 2:4 (dense: 8 per 2 weights).
#include "CWinnowKernels.h"
#include <string.h>

int winnow_nm_blocks_supported(int n, int m) { return m >= 1 && 16 % m == 0 && n >= 1 && n <= m && 16 * n / m <= 8; }

void winnow_nm_pack_blocks(const winnow_nm_matrix *w, uint32_t *indices, float *values) {
  const int n = w->n, m = w->m, groups = (w->columns + m - 1) / m, quads = (w->columns + 15) / 16;
  const int entries = 16 * n / m, blocks = (w->rows + 15) / 16;
  for (int b = 0; b < blocks; b++)
    for (int q = 0; q < quads; q++)
      for (int r = 0; r < 16; r++) {
        int row = 16 * b + r;
        uint32_t word = 0;
        for (int e = 0; e < entries; e++) {
          int in_quad = e / n, slot = e % n, g = q * (16 / m) + in_quad;
          float value = 0;
          if (row < w->rows && g < groups) {
            size_t t = ((size_t)row * groups + g) * n + slot;
            value = w->values[t];
            word |= (uint32_t)(in_quad * m + w->indices[t]) << (4 * e);
          }
          values[(((size_t)b * quads + q) * entries + e) * 16 + r] = value;
        }
        indices[((size_t)b * quads + q) * 16 + r] = word;
      }
}

void winnow_nm_unpack_blocks(const winnow_nm_blocks *w, int n, int m, uint8_t *indices, float *values) {
  const int groups = (w->columns + m - 1) / m, per_quad = 16 / m;
  for (int row = 0; row < w->rows; row++)
    for (int g = 0; g < groups; g++) {
      const int q = g / per_quad, in_quad = g % per_quad;
      const size_t quad = ((size_t)(row / 16) * w->quads + q) * 16 + row % 16;
      for (int slot = 0; slot < n; slot++) {
        const int e = in_quad * n + slot;
        const size_t t = ((size_t)row * groups + g) * n + slot;
        indices[t] = (uint8_t)(((w->indices[quad] >> (4 * e)) & 15) - in_quad * m);
        values[t] = w->values[(quad - row % 16) * w->entries + (size_t)e * 16 + row % 16];
      }
    }
}

// Any CPU: one output at a time. Padding entries point at position 0 of a quad that holds at
// least one real input, so `x` needs no zero padding here (`ldx` may equal `columns`).
void winnow_nm_blocks_spmm_portable(const winnow_nm_blocks *w, const float *x, int ldx, int m_tokens,
                                    const float *bias, int relu, float *y, int block_begin, int block_end) {
  for (int b = block_begin; b < block_end; b++)
    for (int r = 0; r < 16 && 16 * b + r < w->rows; r++) {
      const int row = 16 * b + r;
      for (int t = 0; t < m_tokens; t++) {
        const float *xt = x + (size_t)t * ldx;
        float v = bias ? bias[row] : 0.0f;
        for (int q = 0; q < w->quads; q++) {
          const size_t quad = (size_t)b * w->quads + q;
          const uint32_t word = w->indices[quad * 16 + r];
          const float *values = w->values + quad * w->entries * 16 + r;
          for (int e = 0; e < w->entries; e++) v += values[16 * e] * xt[16 * q + ((word >> (4 * e)) & 15)];
        }
        y[(size_t)t * w->rows + row] = relu && !(v > 0) ? 0.0f : v;
      }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define WINNOW_AVX512 __attribute__((target("avx512f")))
#define NM_MAX_TOKENS 12
#define NM_TILE_QUADS 64

static inline int minimum(int a, int b) { return a < b ? a : b; }

/// T tokens × 16 rows of block `b` over quads [q0, q1). `first`: start from the bias (or 0),
/// else from Y; `last`: apply ReLU. `mask` selects the rows that exist. `E` is the entry count
/// when known at compile time (0: read it), so the entry loop unrolls with constant shifts.
WINNOW_AVX512 static inline __attribute__((always_inline)) void nm_tile(
    const int T, const int E, const winnow_nm_blocks *w, int b, int q0, int q1, const float *x, int ldx,
    const float *bias, int relu, float *y, int ldy, __mmask16 mask, int first, int last) {
  const int entries = E ? E : w->entries;
  __m512 acc[NM_MAX_TOKENS];
  __m512 start = bias ? _mm512_maskz_loadu_ps(mask, bias + 16 * b) : _mm512_setzero_ps();
  for (int t = 0; t < T; t++) acc[t] = first ? start : _mm512_maskz_loadu_ps(mask, y + (size_t)t * ldy + 16 * b);
  for (int q = q0; q < q1; q++) {
    const size_t quad = (size_t)b * w->quads + q;
    const __m512i index = _mm512_loadu_si512(w->indices + quad * 16);
    const float *values = w->values + quad * entries * 16, *xq = x + 16 * q;
#pragma unroll 8
    for (int e = 0; e < entries; e++) {
      __m512i lane_index = _mm512_srli_epi32(index, 4 * e);
      __m512 v = _mm512_loadu_ps(values + 16 * e);
      for (int t = 0; t < T; t++)
        acc[t] = _mm512_fmadd_ps(v, _mm512_permutexvar_ps(lane_index, _mm512_loadu_ps(xq + (size_t)t * ldx)), acc[t]);
    }
  }
  for (int t = 0; t < T; t++) {
    __m512 out = last && relu ? _mm512_max_ps(acc[t], _mm512_setzero_ps()) : acc[t];
    _mm512_mask_storeu_ps(y + (size_t)t * ldy + 16 * b, mask, out);
  }
}

#define NM_TILE_CASE(T, E) case T: nm_tile(T, E, w, b, q0, q1, x, ldx, bias, relu, y, ldy, mask, first, last); break;
#define DEFINE_NM_TILES(E)                                                                                    \
  WINNOW_AVX512 __attribute__((noinline)) static void nm_tile_##E(                                           \
      int T, const winnow_nm_blocks *w, int b, int q0, int q1, const float *x, int ldx, const float *bias,     \
      int relu, float *y, int ldy, __mmask16 mask, int first, int last) {                                     \
    switch (T) {                                                                                              \
      NM_TILE_CASE(1, E) NM_TILE_CASE(2, E) NM_TILE_CASE(3, E) NM_TILE_CASE(4, E) NM_TILE_CASE(5, E)          \
      NM_TILE_CASE(6, E) NM_TILE_CASE(7, E) NM_TILE_CASE(8, E) NM_TILE_CASE(9, E) NM_TILE_CASE(10, E)         \
      NM_TILE_CASE(11, E) NM_TILE_CASE(12, E)                                                                 \
    }                                                                                                         \
  }
// 8 entries: 2:4, 4:8, 1:2, 8:16; 4: 1:4, 2:8, 4:16; 0: the rest, with a run-time entry count.
// Separate (not inlined) functions per entry count: the first version (run-time entry count,
// every tile inlined into one function) was ~20 % slower; the two changes were not timed apart.
DEFINE_NM_TILES(8) DEFINE_NM_TILES(4) DEFINE_NM_TILES(0)

/// One token: four accumulators (entries round-robin) hide the FMA latency; `E` as in nm_tile
/// (the entry loop must unroll, or the accumulator array would live on the stack).
WINNOW_AVX512 static inline __attribute__((always_inline)) void nm_gemv(
    const int E, const winnow_nm_blocks *w, int b, const float *x, const float *bias, int relu, float *y,
    __mmask16 mask) {
  const int entries = E ? E : w->entries;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int q = 0; q < w->quads; q++) {
    const size_t quad = (size_t)b * w->quads + q;
    const __m512i index = _mm512_loadu_si512(w->indices + quad * 16);
    const float *values = w->values + quad * entries * 16;
    const __m512 xq = _mm512_loadu_ps(x + 16 * q);
#pragma unroll 8
    for (int e = 0; e < entries; e++)
      acc[e & 3] = _mm512_fmadd_ps(_mm512_loadu_ps(values + 16 * e),
                                   _mm512_permutexvar_ps(_mm512_srli_epi32(index, 4 * e), xq), acc[e & 3]);
  }
  __m512 out = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
  if (bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, bias + 16 * b));
  if (relu) out = _mm512_max_ps(out, _mm512_setzero_ps());
  _mm512_mask_storeu_ps(y + 16 * b, mask, out);
}

WINNOW_AVX512 void winnow_nm_blocks_spmm_avx512(const winnow_nm_blocks *w, const float *x, int ldx, int m_tokens,
                                                const float *bias, int relu, float *y, int block_begin,
                                                int block_end) {
  const int ldy = w->rows;
  if (m_tokens < 4) {
    for (int t = 0; t < m_tokens; t++)
      for (int b = block_begin; b < block_end; b++) {
        __mmask16 mask = (__mmask16)((1u << minimum(16, w->rows - 16 * b)) - 1);
        const float *xt = x + (size_t)t * ldx;
        float *yt = y + (size_t)t * ldy;
        if (w->entries == 8) nm_gemv(8, w, b, xt, bias, relu, yt, mask);
        else if (w->entries == 4) nm_gemv(4, w, b, xt, bias, relu, yt, mask);
        else nm_gemv(0, w, b, xt, bias, relu, yt, mask);
      }
    return;
  }
  for (int q0 = 0; q0 < w->quads || q0 == 0; q0 += NM_TILE_QUADS) {
    int q1 = minimum(w->quads, q0 + NM_TILE_QUADS), first = q0 == 0, last = q1 == w->quads;
    for (int b = block_begin; b < block_end; b++) {
      __mmask16 mask = (__mmask16)((1u << minimum(16, w->rows - 16 * b)) - 1);
      for (int t0 = 0; t0 < m_tokens; t0 += NM_MAX_TOKENS) {
        int T = minimum(NM_MAX_TOKENS, m_tokens - t0);
        const float *xt = x + (size_t)t0 * ldx;
        float *yt = y + (size_t)t0 * ldy;
        if (w->entries == 8) nm_tile_8(T, w, b, q0, q1, xt, ldx, bias, relu, yt, ldy, mask, first, last);
        else if (w->entries == 4) nm_tile_4(T, w, b, q0, q1, xt, ldx, bias, relu, yt, ldy, mask, first, last);
        else nm_tile_0(T, w, b, q0, q1, xt, ldx, bias, relu, yt, ldy, mask, first, last);
      }
    }
    if (w->quads == 0) break;
  }
}
#else
void winnow_nm_blocks_spmm_avx512(const winnow_nm_blocks *w, const float *x, int ldx, int m_tokens,
                                  const float *bias, int relu, float *y, int block_begin, int block_end) {
  (void)w; (void)x; (void)ldx; (void)m_tokens; (void)bias; (void)relu; (void)y; (void)block_begin; (void)block_end;
}
#endif
