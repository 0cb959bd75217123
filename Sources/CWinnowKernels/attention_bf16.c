// Scaled dot-product attention of one (sequence, head) with bfloat16 operands and float32
// accumulation (AVX512-BF16 `vdpbf16ps`: 32 multiply–adds per instruction, twice the fp32
// FMA's 16), softmax in float32:
//
//     S = Q·Kᵀ (n×n, fp32 sums of bf16 products),  P = softmax(scale·S),  O = bf16(P)·bf16(V)
//
// Every operand is rounded to bf16 once (round to nearest even, by integer arithmetic so the
// portable and native variants round identically, denormals kept) and packed so one 32-bit
// lane holds a pair of consecutive reduction elements, the layout `vdpbf16ps` multiplies:
//
//     A operands (Q, P): row-major pairs, a[i·lda + p] = (x[i, 2p], x[i, 2p+1])
//     B operands (K, V): panels of 32 outputs, b[(panel·pairs + p)·32 + j] = (w[2p, j], w[2p+1, j])
//
// Register tile: up to 12 rows × 32 outputs (24 zmm accumulators). Called per (sequence,
// head) by BERTInference; Swift's AttentionKernels.bfloat16Reference is the slow twin.
#include "CWinnowKernels.h"
#include <string.h>

#define PANEL 32
#define ROW_TILE 12

static inline int round_up(int x, int multiple) { return (x + multiple - 1) / multiple * multiple; }

/// bf16 bits of x, round to nearest even (finite inputs; the carry of a huge value rounds to inf).
static inline __attribute__((always_inline)) uint32_t bf16_bits(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
}

static inline __attribute__((always_inline)) uint32_t bf16_pair(float low, float high) {
  return bf16_bits(low) | (bf16_bits(high) << 16);
}

static inline __attribute__((always_inline)) float bf16_low(uint32_t pair) {
  uint32_t bits = pair << 16;
  float x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

static inline __attribute__((always_inline)) float bf16_high(uint32_t pair) {
  uint32_t bits = pair & 0xFFFF0000u;
  float x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

/// The workspace carve-up: Qb n×dh, Kp n32×dh, S n×n32 floats, Pb n×nh, Vp d32×nh (32-bit units).
typedef struct {
  int dh, nh, n32, d32;
  uint32_t *q, *k, *p, *v;
  float *s;
} layout;

static layout carve(int n, int d, float *workspace) {
  layout l;
  l.dh = (d + 1) / 2;
  l.nh = (n + 1) / 2;
  l.n32 = round_up(n, PANEL);
  l.d32 = round_up(d, PANEL);
  uint32_t *base = (uint32_t *)workspace;
  l.q = base;
  l.k = l.q + round_up(n * l.dh, 16);
  l.s = (float *)(l.k + round_up(l.n32 * l.dh, 16));
  l.p = (uint32_t *)(l.s + round_up(n * l.n32, 16));
  l.v = l.p + round_up(n * l.nh, 16);
  return l;
}

size_t winnow_attention_bf16_workspace_floats(int n, int d) {
  if (n <= 0 || d <= 0) return 0;
  int dh = (d + 1) / 2, nh = (n + 1) / 2, n32 = round_up(n, PANEL), d32 = round_up(d, PANEL);
  return (size_t)round_up(n * dh, 16) + round_up(n32 * dh, 16) + round_up(n * n32, 16) + round_up(n * nh, 16) +
         (size_t)d32 * nh + 16;
}

/// Rows of x (n×d at stride) as pairs: out[i·dh + p] = (x[i, 2p], x[i, 2p+1]), 0 past d.
static inline __attribute__((always_inline)) void pack_rows(const float *x, int stride, int rows, int d, uint32_t *out) {
  int dh = (d + 1) / 2;
  for (int i = 0; i < rows; i++) {
    const float *row = x + (size_t)i * stride;
    for (int p = 0; p < d / 2; p++) out[(size_t)i * dh + p] = bf16_pair(row[2 * p], row[2 * p + 1]);
    if (d & 1) out[(size_t)i * dh + dh - 1] = bf16_pair(row[d - 1], 0);
  }
}

/// Keys as B panels: out[(P·dh + p)·32 + j] = (k[32P + j, 2p], k[32P + j, 2p + 1]), 0 past n.
static inline __attribute__((always_inline)) void pack_keys(const float *k, int stride, int n, int d, uint32_t *out) {
  int dh = (d + 1) / 2, panels = round_up(n, PANEL) / PANEL;
  for (int panel = 0; panel < panels; panel++)
    for (int j = 0; j < PANEL; j++) {
      int key = panel * PANEL + j;
      uint32_t *column = out + (size_t)panel * dh * PANEL + j;
      if (key >= n) {
        for (int p = 0; p < dh; p++) column[(size_t)p * PANEL] = 0;
        continue;
      }
      const float *row = k + (size_t)key * stride;
      for (int p = 0; p < dh; p++)
        column[(size_t)p * PANEL] = bf16_pair(row[2 * p], 2 * p + 1 < d ? row[2 * p + 1] : 0);
    }
}

/// Values as B panels: out[(C·nh + t)·32 + c] = (v[2t, 32C + c], v[2t + 1, 32C + c]), 0 past n and d.
static inline __attribute__((always_inline)) void pack_values(const float *v, int stride, int n, int d, uint32_t *out) {
  int nh = (n + 1) / 2, panels = round_up(d, PANEL) / PANEL;
  for (int panel = 0; panel < panels; panel++)
    for (int t = 0; t < nh; t++) {
      const float *even = v + (size_t)(2 * t) * stride, *odd = even + stride;
      uint32_t *line = out + ((size_t)panel * nh + t) * PANEL;
      int has_odd = 2 * t + 1 < n;
      for (int c = 0; c < PANEL; c++) {
        int column = panel * PANEL + c;
        line[c] = column < d ? bf16_pair(even[column], has_odd ? odd[column] : 0) : 0;
      }
    }
}

/// C[m×cols] (ldc) = A (m rows of `pairs` pairs, lda) · B panels; portable, same pair order.
static void gemm_portable(int m, int cols, int pairs, const uint32_t *a, int lda, const uint32_t *b, float *c, int ldc) {
  for (int panel = 0; panel * PANEL < cols; panel++) {
    const uint32_t *bp = b + (size_t)panel * pairs * PANEL;
    int width = cols - panel * PANEL < PANEL ? cols - panel * PANEL : PANEL;
    for (int i = 0; i < m; i++)
      for (int j = 0; j < width; j++) {
        float acc = 0;
        for (int p = 0; p < pairs; p++) {
          uint32_t x = a[(size_t)i * lda + p], w = bp[(size_t)p * PANEL + j];
          acc += bf16_low(x) * bf16_low(w);
          acc += bf16_high(x) * bf16_high(w);
        }
        c[(size_t)i * ldc + panel * PANEL + j] = acc;
      }
  }
}

/// P rows (S after softmax, row stride n32) as A pairs, 0 past n.
static void pack_probabilities(const layout *l, int n) {
  for (int i = 0; i < n; i++) pack_rows(l->s + (size_t)i * l->n32, l->n32, 1, n, l->p + (size_t)i * l->nh);
}

void winnow_attention_bf16_portable(const float *q, const float *k, const float *v, int stride, int n, int d,
                                    float scale, float *out, int out_stride, float *workspace) {
  if (n <= 0 || d <= 0) return;
  layout l = carve(n, d, workspace);
  pack_rows(q, stride, n, d, l.q);
  pack_keys(k, stride, n, d, l.k);
  pack_values(v, stride, n, d, l.v);
  gemm_portable(n, n, l.dh, l.q, l.dh, l.k, l.s, l.n32);
  winnow_softmax_rows_f32(l.s, (size_t)n, (size_t)n, (size_t)l.n32, scale);
  pack_probabilities(&l, n);
  gemm_portable(n, d, l.nh, l.p, l.nh, l.v, out, out_stride);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define WINNOW_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/// MR rows × 32 outputs of one B panel over all pairs; stores the valid columns (masks).
WINNOW_BF16 static inline __attribute__((always_inline)) void tile_bf16(
    const int MR, int pairs, const uint32_t *a, int lda, const uint32_t *panel, float *c, int ldc,
    __mmask16 mask0, __mmask16 mask1) {
  __m512 acc[ROW_TILE][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int p = 0; p < pairs; p++) {
    __m512bh w0 = (__m512bh)_mm512_loadu_si512((const void *)(panel + (size_t)p * PANEL));
    __m512bh w1 = (__m512bh)_mm512_loadu_si512((const void *)(panel + (size_t)p * PANEL + 16));
    for (int i = 0; i < MR; i++) {
      __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[(size_t)i * lda + p]);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], x, w0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], x, w1);
    }
  }
  for (int i = 0; i < MR; i++) {
    _mm512_mask_storeu_ps(c + (size_t)i * ldc, mask0, acc[i][0]);
    _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16, mask1, acc[i][1]);
  }
}

#define TILE_CASE(MR) case MR: tile_bf16(MR, pairs, a, lda, panel, c, ldc, mask0, mask1); break;

WINNOW_BF16 static void tile_any(int MR, int pairs, const uint32_t *a, int lda, const uint32_t *panel, float *c,
                                 int ldc, __mmask16 mask0, __mmask16 mask1) {
  switch (MR) {
    TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
    TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
  }
}

static inline __mmask16 lanes(int count) {
  return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

WINNOW_BF16 static void gemm_bf16(int m, int cols, int pairs, const uint32_t *a, int lda, const uint32_t *b, float *c,
                                  int ldc) {
  for (int panel = 0; panel * PANEL < cols; panel++) {
    const uint32_t *bp = b + (size_t)panel * pairs * PANEL;
    int left = cols - panel * PANEL;
    __mmask16 mask0 = lanes(left), mask1 = lanes(left - 16);
    for (int i0 = 0; i0 < m; i0 += ROW_TILE) {
      int mr = m - i0 < ROW_TILE ? m - i0 : ROW_TILE;
      tile_any(mr, pairs, a + (size_t)i0 * lda, lda, bp, c + (size_t)i0 * ldc + panel * PANEL, ldc, mask0, mask1);
    }
  }
}

// The packers below round with the same integer arithmetic as bf16_bits, 16 floats at a time
// (so native and portable operands are bit-identical; `vcvtne2ps2bf16` would flush denormals).
// Scalar packing cost more than the bf16 products saved: 2304 (sequence, head) jobs of a
// 32×128 MiniLM batch spent ~40 ms converting P alone.

/// 16 floats → their bf16 bits (round to nearest even) in the low half of each 32-bit lane.
WINNOW_BF16 static inline __attribute__((always_inline)) __m512i bf16_round16(__m512 x) {
  __m512i bits = _mm512_castps_si512(x);
  __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7FFF)), odd), 16);
}

/// Rows as pairs (see pack_rows): consecutive floats become consecutive bf16 halves, 0 past d.
WINNOW_BF16 static void pack_rows_native(const float *x, int stride, int rows, int d, uint32_t *out) {
  int dh = (d + 1) / 2;
  for (int i = 0; i < rows; i++) {
    const float *row = x + (size_t)i * stride;
    uint16_t *halves = (uint16_t *)(out + (size_t)i * dh);
    for (int c = 0; c < 2 * dh; c += 16) {
      __m512 v = _mm512_maskz_loadu_ps(lanes(d - c), row + c);
      _mm256_mask_storeu_epi16(halves + c, lanes(2 * dh - c), _mm512_cvtepi32_epi16(bf16_round16(v)));
    }
  }
}

/// Keys as B panels (see pack_keys): each key's pairs are scattered down its panel column.
WINNOW_BF16 static void pack_keys_native(const float *k, int stride, int n, int d, uint32_t *out) {
  int dh = (d + 1) / 2, panels = round_up(n, PANEL) / PANEL;
  __m256i step = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(PANEL));
  for (int key = 0; key < panels * PANEL; key++) {
    uint32_t *column = out + (size_t)(key / PANEL) * dh * PANEL + key % PANEL;
    if (key >= n) {
      for (int p = 0; p < dh; p++) column[(size_t)p * PANEL] = 0;
      continue;
    }
    const float *row = k + (size_t)key * stride;
    for (int c = 0; c < 2 * dh; c += 16) {
      __m512 v = _mm512_maskz_loadu_ps(lanes(d - c), row + c);
      __m256i pairs = _mm512_cvtepi32_epi16(bf16_round16(v));  // 8 pairs as 32-bit lanes
      __mmask8 valid = (__mmask8)lanes((2 * dh - c) / 2);
      _mm256_mask_i32scatter_epi32(column + (size_t)(c / 2) * PANEL, valid, step, pairs, 4);
    }
  }
}

/// Values as B panels (see pack_values): rows 2t and 2t + 1 give the low and high halves.
WINNOW_BF16 static void pack_values_native(const float *v, int stride, int n, int d, uint32_t *out) {
  int nh = (n + 1) / 2, panels = round_up(d, PANEL) / PANEL;
  for (int panel = 0; panel < panels; panel++)
    for (int t = 0; t < nh; t++) {
      const float *even = v + (size_t)(2 * t) * stride, *odd = even + stride;
      uint32_t *line = out + ((size_t)panel * nh + t) * PANEL;
      for (int half = 0; half < PANEL; half += 16) {
        int column = panel * PANEL + half;
        __mmask16 valid = lanes(d - column), second = 2 * t + 1 < n ? valid : 0;
        __m512i low = bf16_round16(_mm512_maskz_loadu_ps(valid, even + column));
        __m512i high = _mm512_slli_epi32(bf16_round16(_mm512_maskz_loadu_ps(second, odd + column)), 16);
        _mm512_storeu_si512((void *)(line + half), _mm512_or_si512(low, high));
      }
    }
}

WINNOW_BF16 static void attention_native(const float *q, const float *k, const float *v, int stride, int n, int d,
                                         float scale, float *out, int out_stride, float *workspace) {
  layout l = carve(n, d, workspace);
  pack_rows_native(q, stride, n, d, l.q);
  pack_keys_native(k, stride, n, d, l.k);
  pack_values_native(v, stride, n, d, l.v);
  gemm_bf16(n, n, l.dh, l.q, l.dh, l.k, l.s, l.n32);
  winnow_softmax_rows_f32(l.s, (size_t)n, (size_t)n, (size_t)l.n32, scale);
  for (int i = 0; i < n; i++) pack_rows_native(l.s + (size_t)i * l.n32, l.n32, 1, n, l.p + (size_t)i * l.nh);
  gemm_bf16(n, d, l.nh, l.p, l.nh, l.v, out, out_stride);
}
#endif

int winnow_attention_bf16_has_native(void) {
#if defined(__x86_64__)
  uint32_t need = WINNOW_CPU_AVX512F | WINNOW_CPU_AVX512BW | WINNOW_CPU_AVX512VL | WINNOW_CPU_AVX512BF16;
  return (winnow_cpu_features() & need) == need;
#else
  return 0;
#endif
}

void winnow_attention_bf16(const float *q, const float *k, const float *v, int stride, int n, int d, float scale,
                           float *out, int out_stride, float *workspace, int native) {
  if (n <= 0 || d <= 0) return;
#if defined(__x86_64__)
  if (native && winnow_attention_bf16_has_native()) {
    attention_native(q, k, v, stride, n, d, scale, out, out_stride, workspace);
    return;
  }
#endif
  (void)native;
  winnow_attention_bf16_portable(q, k, v, stride, n, d, scale, out, out_stride, workspace);
}
