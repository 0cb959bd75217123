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
      int end = minimum_int(k, (g + 1) * group);
      for (int c = g * group; c < end; c++) {
        int code = c % 2 == 0 ? codes[c / 2] & 15 : codes[c / 2] >> 4;
        dst[c] = scale * (float)(code - zero);
      }
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

/// `group` must be a multiple of 32; `even`/`odd` from winnow_q4_split_token, padded to whole
/// groups. Rows [row_begin, row_end).
WINNOW_AVX512BW void winnow_q4_gemv_avx512(int n, int k, const float *even, const float *odd, int group,
                                           const uint8_t *packed, const float *scales, const uint8_t *zeros,
                                           const float *bias, int relu, float *y, int row_begin, int row_end) {
  int bytes = (k + 1) / 2, groups = (k + group - 1) / group;
  const __m512i low_nibble = _mm512_set1_epi32(15);
  (void)n;
  for (int row = row_begin; row < row_end; row++) {
    const uint8_t *codes = packed + (size_t)row * bytes;
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int g = 0; g < groups; g++) {
      __m512i zero = _mm512_set1_epi32(zeros ? zeros[(size_t)row * groups + g] : 8);
      __m512 partial = _mm512_setzero_ps();
      for (int c = 0; c < group / 2; c += 16) {
        int offset = g * group / 2 + c, remaining = bytes - offset;
        if (remaining <= 0) break;
        __mmask16 mask = remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
        __m512i b = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, codes + offset));
        __m512i lo = _mm512_sub_epi32(_mm512_and_si512(b, low_nibble), zero);
        __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(b, 4), zero);
        partial = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), _mm512_loadu_ps(even + offset), partial);
        partial = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), _mm512_loadu_ps(odd + offset), partial);
      }
      acc[g & 1] = _mm512_fmadd_ps(_mm512_set1_ps(scales[(size_t)row * groups + g]), partial, acc[g & 1]);
    }
    float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) + (bias ? bias[row] : 0.0f);
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
