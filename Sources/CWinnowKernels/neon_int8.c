// arm64 Advanced SIMD (NEON) kernels of the integer formats: int8 GEMM and activation
// quantization, XNOR-popcount and binarisation, int4 GEMV.
// NEON is part of the ARMv8-A base (no target attribute needed); the dot-product instructions
// (FEAT_DotProd, optional from ARMv8.2) live only in functions with a target attribute, called
// when winnow_cpu_features() reports WINNOW_CPU_NEON_DOTPROD. Verified against the portable
// kernels under qemu-aarch64 (Utilities/NEON/run-tests.sh), so correctness only: no timings.
//
// int8, on the layout of winnow_qs8_pack_vnni (per 4 inputs, 32 outputs × 4 bytes): 16 bytes
// hold 4 outputs × 4 consecutive inputs, the operand shape of SDOT, which adds to each int32
// lane the dot product of 4 signed bytes. Activations are uint8 and SDOT is signed × signed
// (the mixed-sign USDOT needs FEAT_I8MM), so the bytes are flipped to q − 128 (XOR 0x80) and
// the sum corrected with the weight row sums: Σ q·w − z·Σ w = Σ (q − 128)·w + (128 − z)·Σ w.
// Without SDOT the same vectors go through widening multiplies (|product| ≤ 2^14 fits int16)
// and pairwise widening adds. Tile: up to 4 tokens × 16 outputs (16 int32x4 accumulators).
#include "CWinnowKernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#if defined(__clang__)
#define WINNOW_DOTPROD __attribute__((target("dotprod")))
#else
#define WINNOW_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#define WINNOW_INLINE static inline __attribute__((always_inline))
#define QS8_TOKENS 4

static inline int minimum_int(int a, int b) { return a < b ? a : b; }

/// Inputs 4·k4 … 4·k4+3 of one token in every 32-bit lane, as signed q − 128.
WINNOW_INLINE int8x16_t token_quad(const uint8_t *q) {
  uint32_t four;
  memcpy(&four, q, 4);
  return vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_u32(vdupq_n_u32(four)), vdupq_n_u8(0x80)));
}

/// acc[o] += Σ_i w[o, i]·x[i] for the 4 outputs o of `w` (4 outputs × 4 inputs), without SDOT.
WINNOW_INLINE int32x4_t widened_dot(int32x4_t acc, int8x16_t w, int8x16_t x) {
  int16x8_t low = vmull_s8(vget_low_s8(w), vget_low_s8(x));  // outputs 0, 1: 4 products each
  int16x8_t high = vmull_high_s8(w, x);                       // outputs 2, 3
  return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(low), vpaddlq_s16(high)));
}

/// Dequantize + bias + ReLU of 4 outputs [c, c + 4) of one token; `sum` = Σ (q − 128)·w.
/// The same float operations in the same order as winnow_qs8_gemm_portable (bit-identical).
WINNOW_INLINE void qs8_store(int32x4_t sum, int c, int n, float x_scale, int32_t zero, const int32_t *row_sums,
                             const float *w_scales, const float *bias, int relu, float *y_row) {
  if (c + 4 <= n) {
    int32x4_t centred = vmlaq_n_s32(sum, vld1q_s32(row_sums + c), 128 - zero);
    float32x4_t v = vmulq_f32(vcvtq_f32_s32(centred), vmulq_n_f32(vld1q_f32(w_scales + c), x_scale));
    v = vaddq_f32(v, bias ? vld1q_f32(bias + c) : vdupq_n_f32(0));
    if (relu) v = vbslq_f32(vcgtq_f32(v, vdupq_n_f32(0)), v, vdupq_n_f32(0));  // NaN → 0, as portable
    vst1q_f32(y_row + c, v);
    return;
  }
  int32_t sums[4];
  vst1q_s32(sums, sum);
  for (int j = 0; c + j < n; j++) {
    float v = (float)(sums[j] + (128 - zero) * row_sums[c + j]) * (x_scale * w_scales[c + j]);
    v += bias ? bias[c + j] : 0.0f;
    y_row[c + j] = relu && !(v > 0) ? 0.0f : v;
  }
}

/// T tokens × 16 outputs from column c0 (`half`: the first of the 16-output halves of a
/// panel, 128 bytes per 4 inputs) over all of K, then the epilogue. DOT: SDOT or widening.
#define QS8_TILE_BODY(DOT)                                                                          \
  int32x4_t acc[QS8_TOKENS][4];                                                                   \
  for (int t = 0; t < T; t++)                                                                     \
    for (int v = 0; v < 4; v++) acc[t][v] = vdupq_n_s32(0);                                       \
  for (int k4 = 0; k4 < k4n; k4++) {                                                             \
    const int8_t *w = half + (size_t)k4 * 128;                                                    \
    int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48); \
    for (int t = 0; t < T; t++) {                                                                 \
      int8x16_t x = token_quad(q + (size_t)t * q_stride + 4 * k4);                                \
      acc[t][0] = DOT(acc[t][0], w0, x);                                                          \
      acc[t][1] = DOT(acc[t][1], w1, x);                                                          \
      acc[t][2] = DOT(acc[t][2], w2, x);                                                          \
      acc[t][3] = DOT(acc[t][3], w3, x);                                                          \
    }                                                                                             \
  }                                                                                               \
  for (int t = 0; t < T; t++)                                                                     \
    for (int v = 0; v < 4; v++)                                                                   \
      qs8_store(acc[t][v], c0 + 4 * v, n, x_scales[t], x_zeros[t], row_sums, w_scales, bias, relu,  \
                y + (size_t)t * n);

#define QS8_TILE_PARAMETERS                                                                         \
  int k4n, const uint8_t *q, int q_stride, const int8_t *half, int n, int c0, const float *x_scales, \
      const int32_t *x_zeros, const int32_t *row_sums, const float *w_scales, const float *bias, int relu, float *y
#define QS8_TILE_ARGUMENTS k4n, q, q_stride, half, n, c0, x_scales, x_zeros, row_sums, w_scales, bias, relu, y

WINNOW_DOTPROD WINNOW_INLINE void qs8_tile_dot_body(const int T, QS8_TILE_PARAMETERS) { QS8_TILE_BODY(vdotq_s32) }
WINNOW_INLINE void qs8_tile_widen_body(const int T, QS8_TILE_PARAMETERS) { QS8_TILE_BODY(widened_dot) }

/// One instantiation per tile height, so the accumulators stay in registers.
WINNOW_DOTPROD static void qs8_tile_dot(int T, QS8_TILE_PARAMETERS) {
  switch (T) {
  case 1: qs8_tile_dot_body(1, QS8_TILE_ARGUMENTS); break;
  case 2: qs8_tile_dot_body(2, QS8_TILE_ARGUMENTS); break;
  case 3: qs8_tile_dot_body(3, QS8_TILE_ARGUMENTS); break;
  default: qs8_tile_dot_body(4, QS8_TILE_ARGUMENTS); break;
  }
}
static void qs8_tile_widen(int T, QS8_TILE_PARAMETERS) {
  switch (T) {
  case 1: qs8_tile_widen_body(1, QS8_TILE_ARGUMENTS); break;
  case 2: qs8_tile_widen_body(2, QS8_TILE_ARGUMENTS); break;
  case 3: qs8_tile_widen_body(3, QS8_TILE_ARGUMENTS); break;
  default: qs8_tile_widen_body(4, QS8_TILE_ARGUMENTS); break;
  }
}

void winnow_qs8_gemm_neon(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                          const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                          const float *w_scales, const float *bias, int relu, float *y, int panel_begin,
                          int panel_end) {
  const int k4n = (k + 3) / 4;
  void (*tile)(int, QS8_TILE_PARAMETERS) =
      (winnow_cpu_features() & WINNOW_CPU_NEON_DOTPROD) ? qs8_tile_dot : qs8_tile_widen;
  for (int p = panel_begin; p < panel_end; p++)
    for (int h = 0; h < 2 && 32 * p + 16 * h < n; h++) {
      const int8_t *half = packed + (size_t)p * k4n * 128 + 64 * h;
      for (int i0 = 0; i0 < m; i0 += QS8_TOKENS)
        tile(minimum_int(QS8_TOKENS, m - i0), k4n, q + (size_t)i0 * q_stride, q_stride, half, n, 32 * p + 16 * h,
             x_scales + i0, x_zeros + i0, row_sums, w_scales, bias, relu, y + (size_t)i0 * n);
    }
}

// MARK: - Activations: uint8 quantization and sign bits

/// Per token as winnow_qu8_quantize_rows, 8 values per step: the range by FMINNM/FMAXNM (which,
/// like the portable comparisons, skip NaN), then multiply, clamp, FCVTNS (round to nearest
/// even, as nearbyintf in the default mode) and saturating narrows: the same bytes.
void winnow_qu8_quantize_rows_neon(const float *x, int m, int k, int row_stride, int dynamic, float static_scale,
                                   int32_t static_zero, uint8_t *q, float *scales, int32_t *zeros) {
  for (int i = 0; i < m; i++) {
    const float *row = x + (size_t)i * k;
    float scale = static_scale;
    int32_t zero = static_zero;
    if (dynamic) {
      float32x4_t lo = vdupq_n_f32(0), hi = vdupq_n_f32(0);
      int p = 0;
      for (; p + 4 <= k; p += 4) {
        float32x4_t v = vld1q_f32(row + p);
        lo = vminnmq_f32(lo, v);
        hi = vmaxnmq_f32(hi, v);
      }
      float low = vminnmvq_f32(lo), high = vmaxnmvq_f32(hi);
      for (; p < k; p++) { low = row[p] < low ? row[p] : low; high = row[p] > high ? row[p] : high; }
      winnow_qu8_row_parameters(low, high, &scale, &zero);
    }
    const float inverse = 1.0f / scale, low = (float)(-zero), high = (float)(255 - zero);
    const float32x4_t low4 = vdupq_n_f32(low), high4 = vdupq_n_f32(high);
    const int32x4_t zero4 = vdupq_n_s32(zero);
    uint8_t *out = q + (size_t)i * row_stride;
    int p = 0;
    for (; p + 8 <= k; p += 8) {
      float32x4_t t0 = vminq_f32(vmaxq_f32(vmulq_n_f32(vld1q_f32(row + p), inverse), low4), high4);
      float32x4_t t1 = vminq_f32(vmaxq_f32(vmulq_n_f32(vld1q_f32(row + p + 4), inverse), low4), high4);
      int16x8_t codes = vcombine_s16(vqmovn_s32(vaddq_s32(vcvtnq_s32_f32(t0), zero4)),
                                     vqmovn_s32(vaddq_s32(vcvtnq_s32_f32(t1), zero4)));
      vst1_u8(out + p, vqmovun_s16(codes));
    }
    for (; p < k; p++) {  // the portable quantize_value
      float t = row[p] * inverse;
      t = t < low ? low : t;
      t = t > high ? high : t;
      out[p] = (uint8_t)((int32_t)nearbyintf(t) + zero);
    }
    if (row_stride > k) memset(out + k, zero, (size_t)(row_stride - k));  // padding meets zero weights
    scales[i] = scale;
    zeros[i] = zero;
  }
}

/// Sign bits as winnow_binarize_rows (identical words; NaN compares false, as there), 4 inputs
/// per compare: the lane masks AND {1, 2, 4, 8} summed across the vector give 4 bits. β sums
/// |x| in vector lanes (another order than the portable loop: float tolerance).
void winnow_binarize_rows_neon(const float *x, int m, int k, uint64_t *bits, float *betas) {
  const int words = (k + 63) / 64;
  const uint32_t weight_values[4] = {1, 2, 4, 8};
  const uint32x4_t weights = vld1q_u32(weight_values);
  for (int i = 0; i < m; i++) {
    const float *row = x + (size_t)i * k;
    float32x4_t sum0 = vdupq_n_f32(0), sum1 = vdupq_n_f32(0);
    float tail = 0;
    for (int w = 0; w < words; w++) {
      const float *part = row + 64 * w;
      const int count = minimum_int(64, k - 64 * w);
      uint64_t word = 0;
      int b = 0;
      for (; b + 8 <= count; b += 8) {
        float32x4_t v0 = vld1q_f32(part + b), v1 = vld1q_f32(part + b + 4);
        uint32_t low = vaddvq_u32(vandq_u32(vcgeq_f32(v0, vdupq_n_f32(0)), weights));
        uint32_t high = vaddvq_u32(vandq_u32(vcgeq_f32(v1, vdupq_n_f32(0)), weights));
        word |= (uint64_t)(low | high << 4) << b;
        sum0 = vaddq_f32(sum0, vabsq_f32(v0));
        sum1 = vaddq_f32(sum1, vabsq_f32(v1));
      }
      for (; b < count; b++) {
        word |= (uint64_t)(part[b] >= 0) << b;
        tail += part[b] < 0 ? -part[b] : part[b];
      }
      bits[(size_t)i * words + w] = word;
    }
    betas[i] = k > 0 ? (vaddvq_f32(vaddq_f32(sum0, sum1)) + tail) / (float)k : 0;
  }
}

// MARK: - XNOR-popcount

/// popcount(a XOR b) over `words` words: CNT counts bits per byte, pairwise widening adds
/// collect them (a uint16 lane gains ≤ 16 per 16 bytes, so it is flushed every 2048 steps).
static int xor_popcount(const uint64_t *a, const uint64_t *b, int words) {
  uint32x4_t total = vdupq_n_u32(0);
  int w = 0;
  while (words - w >= 2) {
    uint16x8_t partial = vdupq_n_u16(0);
    const int stop = w + 2 * minimum_int(2048, (words - w) / 2);
    for (; w < stop; w += 2) {
      uint8x16_t x = veorq_u8(vld1q_u8((const uint8_t *)(a + w)), vld1q_u8((const uint8_t *)(b + w)));
      partial = vpadalq_u8(partial, vcntq_u8(x));
    }
    total = vpadalq_u16(total, partial);
  }
  int count = (int)vaddvq_u32(total);
  if (w < words) count += vaddv_u8(vcnt_u8(veor_u8(vld1_u8((const uint8_t *)(a + w)), vld1_u8((const uint8_t *)(b + w)))));
  return count;
}

void winnow_xnor_gemm_neon(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                           const uint64_t *signs, const float *alphas, const float *bias, int relu,
                           float *y, int row_begin, int row_end) {
  const int words = (k + 63) / 64;
  for (int i = 0; i < m; i++)
    for (int j = row_begin; j < row_end; j++) {
      int count = xor_popcount(x_bits + (size_t)i * words, signs + (size_t)j * words, words);
      float v = alphas[j] * betas[i];  // the portable epilogue, operation for operation
      v = v * (float)(k - 2 * count);
      v += bias ? bias[j] : 0.0f;
      y[(size_t)i * n + j] = relu && !(v > 0) ? 0.0f : v;
    }
}

// MARK: - Int4 weight-only, 16 rows of a block as 4 float vectors

/// (word >> 4j) & 15, minus 8, as floats: the code of input 8c + j of 4 rows.
WINNOW_INLINE float32x4_t q4_codes(uint32x4_t words, int j) {
  uint32x4_t code = vandq_u32(vshlq_u32(words, vdupq_n_s32(-4 * j)), vdupq_n_u32(15));
  return vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(code), vdupq_n_s32(8)));
}

/// Per group: two accumulators per 4 rows (even and odd inputs) hide the FMA latency; the
/// zero-point fold and the group scale as in the portable kernel (different summation order:
/// float tolerance, not bit equality).
void winnow_q4_gemv_neon(int n, int k, int group, const uint32_t *blocked, const float *scales,
                         const float *zero_shifts, const float *x_padded, const float *group_sums,
                         const float *bias, int relu, float *y, int block_begin, int block_end) {
  const int groups = (k + group - 1) / group, words = groups * group / 8, words_per_group = group / 8;
  for (int b = block_begin; b < block_end; b++) {
    const uint32_t *codes = blocked + (size_t)b * words * 16;
    const size_t lanes = (size_t)b * groups * 16;
    float32x4_t sum[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    for (int g = 0; g < groups; g++) {
      float32x4_t even[4], odd[4];
      for (int r = 0; r < 4; r++) even[r] = odd[r] = vdupq_n_f32(0);
      for (int c = g * words_per_group; c < (g + 1) * words_per_group; c++) {
        const float *xc = x_padded + 8 * c;
        for (int r = 0; r < 4; r++) {
          uint32x4_t v = vld1q_u32(codes + (size_t)c * 16 + 4 * r);
          for (int j = 0; j < 8; j += 2) {
            even[r] = vfmaq_n_f32(even[r], q4_codes(v, j), xc[j]);
            odd[r] = vfmaq_n_f32(odd[r], q4_codes(v, j + 1), xc[j + 1]);
          }
        }
      }
      for (int r = 0; r < 4; r++) {
        float32x4_t partial = vaddq_f32(even[r], odd[r]);
        size_t lane = lanes + 16 * (size_t)g + 4 * r;
        if (zero_shifts) partial = vmlsq_n_f32(partial, vld1q_f32(zero_shifts + lane), group_sums[g]);
        sum[r] = vfmaq_f32(sum[r], vld1q_f32(scales + lane), partial);
      }
    }
    float out[16];
    for (int r = 0; r < 4; r++) vst1q_f32(out + 4 * r, sum[r]);
    for (int r = 0; r < 16 && 16 * b + r < n; r++) {
      float v = out[r] + (bias ? bias[16 * b + r] : 0.0f);
      y[16 * b + r] = relu && !(v > 0) ? 0.0f : v;
    }
  }
}

void winnow_q4_dequantize_blocks_neon(const uint32_t *blocked, int k, int group, const float *scales,
                                      const float *zero_shifts, int block_begin, int block_end, float *out) {
  const int groups = (k + group - 1) / group, words = groups * group / 8, width = 16 * (block_end - block_begin);
  for (int b = block_begin; b < block_end; b++)
    for (int c = 0; 8 * c < k; c++)
      for (int r = 0; r < 4; r++) {
        size_t lane = ((size_t)b * groups + 8 * c / group) * 16 + 4 * r;  // group a multiple of 8
        float32x4_t scale = vld1q_f32(scales + lane);
        float32x4_t shift = zero_shifts ? vld1q_f32(zero_shifts + lane) : vdupq_n_f32(0);
        uint32x4_t v = vld1q_u32(blocked + ((size_t)b * words + c) * 16 + 4 * r);
        float *column = out + 16 * (b - block_begin) + 4 * r;
        for (int j = 0; j < 8 && 8 * c + j < k; j++)  // scale·(code − shift): the portable operations
          vst1q_f32(column + (size_t)(8 * c + j) * width, vmulq_f32(scale, vsubq_f32(q4_codes(v, j), shift)));
      }
}

#else
void winnow_qu8_quantize_rows_neon(const float *x, int m, int k, int row_stride, int dynamic, float static_scale,
                                   int32_t static_zero, uint8_t *q, float *scales, int32_t *zeros) {
  winnow_qu8_quantize_rows(x, m, k, row_stride, dynamic, static_scale, static_zero, q, scales, zeros);
}
void winnow_binarize_rows_neon(const float *x, int m, int k, uint64_t *bits, float *betas) {
  winnow_binarize_rows(x, m, k, bits, betas);
}
void winnow_qs8_gemm_neon(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                          const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                          const float *w_scales, const float *bias, int relu, float *y, int panel_begin,
                          int panel_end) {
  (void)m; (void)n; (void)k; (void)q; (void)q_stride; (void)x_scales; (void)x_zeros; (void)packed;
  (void)row_sums; (void)w_scales; (void)bias; (void)relu; (void)y; (void)panel_begin; (void)panel_end;
}
void winnow_xnor_gemm_neon(int m, int n, int k, const uint64_t *x_bits, const float *betas, const uint64_t *signs,
                           const float *alphas, const float *bias, int relu, float *y, int row_begin, int row_end) {
  winnow_xnor_gemm_portable(m, n, k, x_bits, betas, signs, alphas, bias, relu, y, row_begin, row_end);
}
void winnow_q4_gemv_neon(int n, int k, int group, const uint32_t *blocked, const float *scales,
                         const float *zero_shifts, const float *x_padded, const float *group_sums, const float *bias,
                         int relu, float *y, int block_begin, int block_end) {
  winnow_q4_gemv_portable(n, k, group, blocked, scales, zero_shifts, x_padded, group_sums, bias, relu, y,
                          block_begin, block_end);
}
void winnow_q4_dequantize_blocks_neon(const uint32_t *blocked, int k, int group, const float *scales,
                                      const float *zero_shifts, int block_begin, int block_end, float *out) {
  winnow_q4_dequantize_blocks_portable(blocked, k, group, scales, zero_shifts, block_begin, block_end, out);
}
#endif
