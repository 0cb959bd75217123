// int8 linear layer: dynamic (or static) uint8 activations × int8 weights, int32 accumulation,
// float epilogue. Called by Int8LinearWeights (Sources/WinnowKernels/Packed).
//
//     q[m, k] = clamp(round(x[m, k] / s_x[m]), −z[m], 255 − z[m]) + z[m]        (uint8)
//     acc[m, n] = Σ_k q[m, k] · w[n, k]                                          (int32)
//     y[m, n] = act(s_x[m] · s_w[n] · (acc[m, n] − z[m] · Σ_k w[n, k]) + bias[n])
//
// The VNNI kernel reads weights packed in panels of 32 outputs: panel p, group k4 of 4 inputs
// holds 32 × 4 bytes, output-major (`w[32p + j, 4·k4 + i]` at `(p·K4 + k4)·128 + 4j + i`), so
// one `vpdpbusd` multiplies 4 consecutive activations of a token (broadcast) with 16 outputs.
// Register tile: up to 12 tokens × 32 outputs (24 int32 accumulators).
#include "CWinnowKernels.h"
#include <math.h>
#include <string.h>

size_t winnow_qs8_packed_bytes(int n, int k) {
  return (size_t)((n + 31) / 32) * (size_t)((k + 3) / 4) * 128;
}

void winnow_qs8_pack_vnni(const int8_t *codes, int n, int k, int8_t *packed) {
  int k4n = (k + 3) / 4, panels = (n + 31) / 32;
  for (int p = 0; p < panels; p++)
    for (int k4 = 0; k4 < k4n; k4++)
      for (int j = 0; j < 32; j++)
        for (int i = 0; i < 4; i++) {
          int row = 32 * p + j, column = 4 * k4 + i;
          *packed++ = row < n && column < k ? codes[(size_t)row * k + column] : 0;
        }
}

/// One value: the same float operations, in the same order, as the Swift reference.
static inline uint8_t quantize_value(float x, float inverse, int32_t zero) {
  float t = x * inverse;
  float low = (float)(-zero), high = (float)(255 - zero);
  t = t < low ? low : t;
  t = t > high ? high : t;
  return (uint8_t)((int32_t)nearbyintf(t) + zero);
}

/// Per-token asymmetric uint8 parameters: range [min(0, min x), max(0, max x)] over 255 steps.
void winnow_qu8_row_parameters(float minimum, float maximum, float *scale, int32_t *zero) {
  if (minimum > 0) minimum = 0;
  if (maximum < 0) maximum = 0;
  float range = maximum - minimum;
  if (!(range > 0)) { *scale = 1; *zero = 0; return; }
  *scale = range / 255.0f;
  float z = nearbyintf(-minimum / *scale);
  *zero = z < 0 ? 0 : z > 255 ? 255 : (int32_t)z;
}

void winnow_qu8_quantize_rows(const float *x, int m, int k, int row_stride, int dynamic,
                              float static_scale, int32_t static_zero, uint8_t *q,
                              float *scales, int32_t *zeros) {
  for (int i = 0; i < m; i++) {
    const float *row = x + (size_t)i * k;
    float scale = static_scale;
    int32_t zero = static_zero;
    if (dynamic) {
      float lo = 0, hi = 0;
      for (int p = 0; p < k; p++) { lo = row[p] < lo ? row[p] : lo; hi = row[p] > hi ? row[p] : hi; }
      winnow_qu8_row_parameters(lo, hi, &scale, &zero);
    }
    float inverse = 1.0f / scale;
    uint8_t *out = q + (size_t)i * row_stride;
    for (int p = 0; p < k; p++) out[p] = quantize_value(row[p], inverse, zero);
    for (int p = k; p < row_stride; p++) out[p] = (uint8_t)zero;  // padding meets zero weights
    scales[i] = scale;
    zeros[i] = zero;
  }
}

void winnow_qs8_gemm_portable(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                              const int32_t *x_zeros, const int8_t *codes, const int32_t *row_sums,
                              const float *w_scales, const float *bias, int relu, float *y,
                              int row_begin, int row_end) {
  for (int i = 0; i < m; i++) {
    const uint8_t *qi = q + (size_t)i * q_stride;
    for (int j = row_begin; j < row_end; j++) {
      const int8_t *w = codes + (size_t)j * k;
      int32_t acc = 0;
      for (int p = 0; p < k; p++) acc += (int32_t)qi[p] * (int32_t)w[p];
      float scale = x_scales[i] * w_scales[j];
      float v = (float)(acc - x_zeros[i] * row_sums[j]) * scale;
      v += bias ? bias[j] : 0.0f;
      y[(size_t)i * n + j] = relu && !(v > 0) ? 0.0f : v;
    }
  }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define WINNOW_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define TOKEN_TILE 12
#ifndef QS8_GROUP_BYTES
#define QS8_GROUP_BYTES (512 * 1024)
#endif

static inline int minimum_int(int a, int b) { return a < b ? a : b; }

/// MR tokens × 32 outputs over all of K, then the float epilogue into Y.
WINNOW_VNNI static inline __attribute__((always_inline)) void qs8_tile(
    const int MR, int k4n, const uint8_t *q, int q_stride, const int8_t *panel, int n, int column0,
    const float *x_scales, const int32_t *x_zeros, const int32_t *row_sums, const float *w_scales,
    const float *bias, int relu, float *y) {
  __m512i acc[TOKEN_TILE][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
  for (int k4 = 0; k4 < k4n; k4++) {
    __m512i w0 = _mm512_loadu_si512((const void *)(panel + (size_t)k4 * 128));
    __m512i w1 = _mm512_loadu_si512((const void *)(panel + (size_t)k4 * 128 + 64));
    for (int i = 0; i < MR; i++) {
      int32_t four;
      memcpy(&four, q + (size_t)i * q_stride + 4 * k4, 4);
      __m512i a = _mm512_set1_epi32(four);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], a, w0);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], a, w1);
    }
  }
  for (int h = 0; h < 2; h++) {
    int c0 = column0 + 16 * h, count = n - c0;
    if (count <= 0) break;
    __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    __m512i sums = _mm512_maskz_loadu_epi32(mask, row_sums + c0);
    __m512 ws = _mm512_maskz_loadu_ps(mask, w_scales + c0);
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + c0) : _mm512_setzero_ps();
    for (int i = 0; i < MR; i++) {
      __m512i centred = _mm512_sub_epi32(acc[i][h], _mm512_mullo_epi32(_mm512_set1_epi32(x_zeros[i]), sums));
      __m512 scale = _mm512_mul_ps(_mm512_set1_ps(x_scales[i]), ws);
      __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(centred), scale), b);
      if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
      _mm512_mask_storeu_ps(y + (size_t)i * n + c0, mask, v);
    }
  }
}

#define TILE_CASE(MR) \
  case MR: qs8_tile(MR, k4n, q, q_stride, panel, n, column0, x_scales, x_zeros, row_sums, w_scales, bias, relu, y); break;

WINNOW_VNNI static void qs8_tile_any(int MR, int k4n, const uint8_t *q, int q_stride, const int8_t *panel, int n,
                                     int column0, const float *x_scales, const int32_t *x_zeros,
                                     const int32_t *row_sums, const float *w_scales, const float *bias, int relu,
                                     float *y) {
  switch (MR) {
    TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
    TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
  }
}

WINNOW_VNNI void winnow_qs8_gemm_vnni(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                                      const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                                      const float *w_scales, const float *bias, int relu, float *y,
                                      int panel_begin, int panel_end) {
  int k4n = (k + 3) / 4;
  // Panels are taken in groups of about QS8_GROUP_BYTES of weights (balanced), and each group
  // meets every 12-token tile in turn: the group stays in L2 while the tiles pass, and a tile's
  // activations stay in L1 while it meets the group's panels. (Panel-major order over blocks of
  // tokens, as before, re-read each tile's activations from L2 once per panel: 20–25 % slower on
  // MiniLM's projections at M = 4096.)
  int panels = panel_end - panel_begin;
  if (panels <= 0) return;
  size_t panel_bytes = (size_t)k4n * 128;
  int groups = (int)(((size_t)panels * panel_bytes + QS8_GROUP_BYTES - 1) / QS8_GROUP_BYTES);
  if (groups < 1) groups = 1;
  if (groups > panels) groups = panels;
  for (int g = 0; g < groups; g++) {
    int p0 = panel_begin + panels * g / groups, p1 = panel_begin + panels * (g + 1) / groups;
    for (int i0 = 0; i0 < m; i0 += TOKEN_TILE) {
      int mr = minimum_int(TOKEN_TILE, m - i0);
      for (int p = p0; p < p1; p++)
        qs8_tile_any(mr, k4n, q + (size_t)i0 * q_stride, q_stride, packed + (size_t)p * panel_bytes, n, 32 * p,
                     x_scales + i0, x_zeros + i0, row_sums, w_scales, bias, relu, y + (size_t)i0 * n);
    }
  }
}

WINNOW_VNNI void winnow_qu8_quantize_rows_avx512(const float *x, int m, int k, int row_stride, int dynamic,
                                                 float static_scale, int32_t static_zero, uint8_t *q,
                                                 float *scales, int32_t *zeros) {
  for (int i = 0; i < m; i++) {
    const float *row = x + (size_t)i * k;
    float scale = static_scale;
    int32_t zero = static_zero;
    if (dynamic) {
      __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
      for (int p = 0; p < k; p += 16) {
        __mmask16 mask = k - p >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - p)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(mask, row + p);  // masked lanes read 0, inside the range
        lo = _mm512_min_ps(lo, v);
        hi = _mm512_max_ps(hi, v);
      }
      winnow_qu8_row_parameters(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), &scale, &zero);
    }
    __m512 inverse = _mm512_set1_ps(1.0f / scale);
    __m512 low = _mm512_set1_ps((float)(-zero)), high = _mm512_set1_ps((float)(255 - zero));
    __m512i z = _mm512_set1_epi32(zero);
    uint8_t *out = q + (size_t)i * row_stride;
    for (int p = 0; p < row_stride; p += 16) {
      int count = minimum_int(16, row_stride - p), real = k - p;
      __mmask16 store = (__mmask16)((1u << count) - 1);
      __mmask16 load = real >= 16 ? (__mmask16)0xFFFF : real <= 0 ? 0 : (__mmask16)((1u << real) - 1);
      __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(load, row + p), inverse);  // padding: 0 → zero point
      t = _mm512_min_ps(_mm512_max_ps(t, low), high);
      __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(t), z);
      _mm_mask_storeu_epi8(out + p, store, _mm512_cvtepi32_epi8(v));
    }
    scales[i] = scale;
    zeros[i] = zero;
  }
}
#else
void winnow_qs8_gemm_vnni(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                          const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                          const float *w_scales, const float *bias, int relu, float *y, int panel_begin,
                          int panel_end) {
  (void)m; (void)n; (void)k; (void)q; (void)q_stride; (void)x_scales; (void)x_zeros; (void)packed;
  (void)row_sums; (void)w_scales; (void)bias; (void)relu; (void)y; (void)panel_begin; (void)panel_end;
}
void winnow_qu8_quantize_rows_avx512(const float *x, int m, int k, int row_stride, int dynamic, float static_scale,
                                     int32_t static_zero, uint8_t *q, float *scales, int32_t *zeros) {
  winnow_qu8_quantize_rows(x, m, k, row_stride, dynamic, static_scale, static_zero, q, scales, zeros);
}
#endif
