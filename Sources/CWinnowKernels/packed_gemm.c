// Dense GEMM on pre-packed weights, AVX-512: the fp32 Linear layers of transformer
// inference. Weights are packed once into 32-feature panels (see packed_gemm.h); each call
// walks blocks of rows of x (kept in L2), and inside a block every panel against 12-row
// tiles. The 12×32 tile is 24 zmm accumulators; per step of k it loads two zmm of the panel
// and broadcasts 12 values of x, 24 FMAs (the FMA ports, not loads, are the limit).
#include "CWinnowKernels.h"
#include "packed_gemm.h"
#include <stdint.h>
#include <string.h>

#define PANEL 32
#define TILE_ROWS 12

size_t winnow_packed_weights_count(size_t n, size_t k) { return (n + PANEL - 1) / PANEL * PANEL * k; }

void winnow_pack_weights_f32(const float *w, size_t n, size_t k, size_t ldw, float *packed) {
  size_t panels = (n + PANEL - 1) / PANEL;
  for (size_t p = 0; p < panels; p++)
    for (size_t kk = 0; kk < k; kk++)
      for (size_t j = 0; j < PANEL; j++) {
        size_t row = p * PANEL + j;
        packed[(p * k + kk) * PANEL + j] = row < n ? w[row * ldw + kk] : 0.0f;
      }
}

void winnow_pack_transposed_f32(const float *v, size_t k, size_t n, size_t ldv, float *packed) {
  size_t panels = (n + PANEL - 1) / PANEL;
  for (size_t p = 0; p < panels; p++)
    for (size_t kk = 0; kk < k; kk++) {
      float *dst = packed + (p * k + kk) * PANEL;
      const float *src = v + kk * ldv + p * PANEL;
      size_t valid = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;
      memcpy(dst, src, valid * sizeof(float));
      for (size_t j = valid; j < PANEL; j++) dst[j] = 0.0f;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

int winnow_packed_gemm_available(void) { return (winnow_cpu_features() & WINNOW_CPU_AVX512F) != 0; }

#define TARGET __attribute__((target("avx512f")))

// One tile: rows [0, rows) of x (rows ≤ 12; the missing rows repeat the last one and are not
// stored) times one panel; columns past `columns` (≤ 32) are not stored.
TARGET static void tile_12x32(const float *x, size_t k, size_t lda, size_t rows, const float *panel,
                              const float *bias, float *y, size_t ldy, size_t columns) {
  const float *a[TILE_ROWS];
  for (size_t i = 0; i < TILE_ROWS; i++) a[i] = x + (i < rows ? i : rows - 1) * lda;
  __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
  if (bias) {
    __mmask16 m0 = (__mmask16)(columns >= 16 ? 0xFFFF : (1u << columns) - 1);
    __mmask16 m1 = (__mmask16)(columns >= 32 ? 0xFFFF : columns > 16 ? (1u << (columns - 16)) - 1 : 0);
    b0 = _mm512_maskz_loadu_ps(m0, bias);
    b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  }
#define DECLARE(i) __m512 c##i##a = b0, c##i##b = b1;
  DECLARE(0) DECLARE(1) DECLARE(2) DECLARE(3) DECLARE(4) DECLARE(5)
  DECLARE(6) DECLARE(7) DECLARE(8) DECLARE(9) DECLARE(10) DECLARE(11)
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
  const float *a6 = a[6], *a7 = a[7], *a8 = a[8], *a9 = a[9], *a10 = a[10], *a11 = a[11];
  for (size_t p = 0; p < k; p++) {
    __m512 w0 = _mm512_loadu_ps(panel + p * PANEL), w1 = _mm512_loadu_ps(panel + p * PANEL + 16);
#define STEP(i)                                  \
  {                                              \
    __m512 v = _mm512_set1_ps(a##i[p]);          \
    c##i##a = _mm512_fmadd_ps(v, w0, c##i##a);   \
    c##i##b = _mm512_fmadd_ps(v, w1, c##i##b);   \
  }
    STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
    STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
  }
  __mmask16 m0 = (__mmask16)(columns >= 16 ? 0xFFFF : (1u << columns) - 1);
  __mmask16 m1 = (__mmask16)(columns >= 32 ? 0xFFFF : columns > 16 ? (1u << (columns - 16)) - 1 : 0);
#define STORE(i)                                               \
  if (i < rows) {                                              \
    _mm512_mask_storeu_ps(y + (i) * ldy, m0, c##i##a);         \
    _mm512_mask_storeu_ps(y + (i) * ldy + 16, m1, c##i##b);    \
  }
  STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
  STORE(6) STORE(7) STORE(8) STORE(9) STORE(10) STORE(11)
}

TARGET void winnow_packed_gemm_f32(const float *x, size_t m, size_t k, size_t lda, const float *packed, size_t n,
                                   const float *bias, float *y, size_t ldy, size_t panel_begin, size_t panel_end) {
  if (m == 0 || k == 0) {
    for (size_t i = 0; i < m; i++)
      for (size_t j = panel_begin * PANEL; j < n && j < panel_end * PANEL; j++) y[i * ldy + j] = bias ? bias[j] : 0;
    return;
  }
  // Rows per block: about 256 KB of x, a multiple of the tile height, so a block stays in
  // L2 while every panel of the range passes over it.
  size_t block = (256 * 1024 / 4) / k / TILE_ROWS * TILE_ROWS;
  if (block < TILE_ROWS) block = TILE_ROWS;
  for (size_t r0 = 0; r0 < m; r0 += block) {
    size_t r1 = r0 + block < m ? r0 + block : m;
    for (size_t p = panel_begin; p < panel_end; p++) {
      size_t column = p * PANEL;
      size_t columns = n - column < PANEL ? n - column : PANEL;
      const float *panel = packed + p * k * PANEL;
      for (size_t r = r0; r < r1; r += TILE_ROWS) {
        size_t rows = r1 - r < TILE_ROWS ? r1 - r : TILE_ROWS;
        tile_12x32(x + r * lda, k, lda, rows, panel, bias ? bias + column : NULL, y + r * ldy + column, ldy, columns);
      }
    }
  }
}
#else
int winnow_packed_gemm_available(void) { return 0; }
void winnow_packed_gemm_f32(const float *x, size_t m, size_t k, size_t lda, const float *packed, size_t n,
                            const float *bias, float *y, size_t ldy, size_t panel_begin, size_t panel_end) {
  (void)x; (void)m; (void)k; (void)lda; (void)packed; (void)n; (void)bias; (void)y; (void)ldy;
  (void)panel_begin; (void)panel_end;
}
#endif
