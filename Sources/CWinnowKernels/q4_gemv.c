// Int4 weight-only linear layer, group-wise along K. Called by Int4LinearWeights.
//
//     W[n, k] = scale[n, g] · (code[n, k] − zero[n, g]),  g = k / group   (zero = 8 when absent)
//
// Row n holds ⌈K/2⌉ bytes; byte j packs k = 2j in its low nibble and k = 2j + 1 in its high
// nibble. The M = 1 kernel splits the token into even and odd inputs once, so the low and high
// nibbles of 16 bytes multiply 16 contiguous even and 16 contiguous odd activations: no nibble
// interleaving in the loop. For M > 1 the caller dequantizes panels of rows and uses SGEMM.
#include "CWinnowKernels.h"
#include <string.h>

static inline int minimum_int(int a, int b) { return a < b ? a : b; }

void winnow_q4_dequantize_rows(const uint8_t *packed, int k, int group, const float *scales, const uint8_t *zeros,
                               int row_begin, int row_end, float *out) {
  int bytes = (k + 1) / 2, groups = (k + group - 1) / group;
  for (int row = row_begin; row < row_end; row++) {
    const uint8_t *codes = packed + (size_t)row * bytes;
    float *dst = out + (size_t)(row - row_begin) * k;
    for (int g = 0; g < groups; g++) {
      float scale = scales[(size_t)row * groups + g];
      int zero = zeros ? zeros[(size_t)row * groups + g] : 8;
      // Groups are a multiple of 32 wide, so they start on a byte; whole bytes first.
      int first = g * group / 2, last = minimum_int(k, (g + 1) * group) / 2;
      for (int j = first; j < last; j++) {
        dst[2 * j] = scale * (float)((codes[j] & 15) - zero);
        dst[2 * j + 1] = scale * (float)((codes[j] >> 4) - zero);
      }
      if (k % 2 == 1 && (g + 1) * group >= k) dst[k - 1] = scale * (float)((codes[k / 2] & 15) - zero);
    }
  }
}

void winnow_q4_gemv_portable(int n, int k, const float *x, int group, const uint8_t *packed, const float *scales,
                             const uint8_t *zeros, const float *bias, int relu, float *y, int row_begin,
                             int row_end) {
  int bytes = (k + 1) / 2, groups = (k + group - 1) / group;
  (void)n;
  for (int row = row_begin; row < row_end; row++) {
    const uint8_t *codes = packed + (size_t)row * bytes;
    float sum = 0;
    for (int g = 0; g < groups; g++) {
      int zero = zeros ? zeros[(size_t)row * groups + g] : 8;
      int end = minimum_int(k, (g + 1) * group);
      float partial = 0;
      for (int c = g * group; c < end; c++) {
        int code = c % 2 == 0 ? codes[c / 2] & 15 : codes[c / 2] >> 4;
        partial += (float)(code - zero) * x[c];
      }
      sum += scales[(size_t)row * groups + g] * partial;
    }
    float v = sum + (bias ? bias[row] : 0.0f);
    y[row] = relu && !(v > 0) ? 0.0f : v;
  }
}

/// even[j] = x[2j], odd[j] = x[2j + 1], zero padded to `half_padded` entries each.
void winnow_q4_split_token(const float *x, int k, int half_padded, float *even, float *odd) {
  for (int j = 0; j < half_padded; j++) {
    even[j] = 2 * j < k ? x[2 * j] : 0.0f;
    odd[j] = 2 * j + 1 < k ? x[2 * j + 1] : 0.0f;
  }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define WINNOW_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))

/// Adds 16 bytes of codes (32 weights) at `offset` to the low/high nibble sums; bytes at or past
/// `bytes` read as 0 (their activations are 0 too).
WINNOW_AVX512BW static inline __attribute__((always_inline)) void q4_chunk(
    const uint8_t *codes, int offset, int bytes, __m512i zero, const float *even, const float *odd, __m512 *lo_sum,
    __m512 *hi_sum) {
  int remaining = bytes - offset;
  __mmask16 mask = remaining >= 16 ? (__mmask16)0xFFFF : remaining <= 0 ? 0 : (__mmask16)((1u << remaining) - 1);
  __m512i b = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, codes + offset));
  __m512i lo = _mm512_sub_epi32(_mm512_and_si512(b, _mm512_set1_epi32(15)), zero);
  __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(b, 4), zero);
  *lo_sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), _mm512_loadu_ps(even + offset), *lo_sum);
  *hi_sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), _mm512_loadu_ps(odd + offset), *hi_sum);
}

/// `group` must be a multiple of 32; `even`/`odd` from winnow_q4_split_token, padded to whole
/// groups. Rows [row_begin, row_end). Accumulators are plain variables (an array indexed at run
/// time would live on the stack and chain every FMA through store forwarding).
WINNOW_AVX512BW void winnow_q4_gemv_avx512(int n, int k, const float *even, const float *odd, int group,
                                           const uint8_t *packed, const float *scales, const uint8_t *zeros,
                                           const float *bias, int relu, float *y, int row_begin, int row_end) {
  int bytes = (k + 1) / 2, groups = (k + group - 1) / group, half = group / 2;
  (void)n;
  for (int row = row_begin; row < row_end; row++) {
    const uint8_t *codes = packed + (size_t)row * bytes;
    __m512 acc_even = _mm512_setzero_ps(), acc_odd = _mm512_setzero_ps();
    for (int g = 0; g < groups; g++) {
      __m512i zero = _mm512_set1_epi32(zeros ? zeros[(size_t)row * groups + g] : 8);
      __m512 lo0 = _mm512_setzero_ps(), hi0 = _mm512_setzero_ps(), lo1 = _mm512_setzero_ps(), hi1 = _mm512_setzero_ps();
      int c = 0, base = g * half;
      for (; c + 32 <= half; c += 32) {
        q4_chunk(codes, base + c, bytes, zero, even, odd, &lo0, &hi0);
        q4_chunk(codes, base + c + 16, bytes, zero, even, odd, &lo1, &hi1);
      }
      if (c < half) q4_chunk(codes, base + c, bytes, zero, even, odd, &lo0, &hi0);
      __m512 sum = _mm512_add_ps(_mm512_add_ps(lo0, lo1), _mm512_add_ps(hi0, hi1));
      __m512 scale = _mm512_set1_ps(scales[(size_t)row * groups + g]);
      if (g & 1) acc_odd = _mm512_fmadd_ps(scale, sum, acc_odd);
      else acc_even = _mm512_fmadd_ps(scale, sum, acc_even);
    }
    float v = _mm512_reduce_add_ps(_mm512_add_ps(acc_even, acc_odd)) + (bias ? bias[row] : 0.0f);
    y[row] = relu && !(v > 0) ? 0.0f : v;
  }
}
#else
void winnow_q4_gemv_avx512(int n, int k, const float *even, const float *odd, int group, const uint8_t *packed,
                           const float *scales, const uint8_t *zeros, const float *bias, int relu, float *y,
                           int row_begin, int row_end) {
  (void)n; (void)k; (void)even; (void)odd; (void)group; (void)packed; (void)scales; (void)zeros; (void)bias;
  (void)relu; (void)y; (void)row_begin; (void)row_end;
}
#endif
