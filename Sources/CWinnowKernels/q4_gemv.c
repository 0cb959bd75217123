// Int4 weight-only linear layer, group-wise along K. Called by Int4LinearWeights.
//
//     W[n, k] = scale[n, g] · (code[n, k] − zero[n, g]),  g = k / group   (zero = 8 when absent)
//
// The codes are kept in a row-block layout (see Int4LinearWeights): 16 output rows form a block,
// and word (b, c, r) holds the 8 codes of row 16b + r for inputs 8c…8c+7, input 8c + j in bits
// 4j…4j+3. One 64-byte vector then holds 8 inputs of 16 rows, and the M = 1 kernel runs with
// the 16 rows as SIMD lanes: for each of the 8 inputs, shift the words by 4j, look the low
// nibble up in a 16-entry float table (code − 8) with one permute, and multiply-add the
// broadcast activation. Per 16 weights: one shift, one permute, one FMA; no horizontal sums.
// Zero points other than 8 are folded per group: Σ (code − zero)·x = Σ (code − 8)·x − (zero − 8)·Σ x.
// The row-major bytes (two codes per byte, low nibble first) are exactly the little-endian
// words of that layout read 4 bytes at a time, so packing is a transpose of 32-bit words.
#include "CWinnowKernels.h"
#include <string.h>

static inline int minimum_int(int a, int b) { return a < b ? a : b; }

void winnow_q4_pack_blocks(const uint8_t *packed, int n, int k, int group, uint32_t *blocked) {
  int bytes = (k + 1) / 2, words = (k + group - 1) / group * group / 8, blocks = (n + 15) / 16;
  for (int b = 0; b < blocks; b++)
    for (int c = 0; c < words; c++)
      for (int r = 0; r < 16; r++) {
        int row = 16 * b + r;
        uint32_t word = 0;
        for (int i = 0; i < 4 && row < n; i++)
          if (4 * c + i < bytes) word |= (uint32_t)packed[(size_t)row * bytes + 4 * c + i] << (8 * i);
        blocked[((size_t)b * words + c) * 16 + r] = word;
      }
}

void winnow_q4_unpack_blocks(const uint32_t *blocked, int n, int k, int group, uint8_t *packed) {
  int bytes = (k + 1) / 2, words = (k + group - 1) / group * group / 8;
  for (int row = 0; row < n; row++)
    for (int j = 0; j < bytes; j++) {
      uint32_t word = blocked[((size_t)(row / 16) * words + j / 4) * 16 + row % 16];
      packed[(size_t)row * bytes + j] = (uint8_t)(word >> (8 * (j % 4)));
    }
}

/// The code of (row, input) in the block layout.
static inline int q4_code(const uint32_t *blocked, int words, int row, int c) {
  return (int)(blocked[((size_t)(row / 16) * words + c / 8) * 16 + row % 16] >> (4 * (c % 8))) & 15;
}

void winnow_q4_dequantize_rows(const uint32_t *blocked, int k, int group, const float *scales,
                               const float *zero_shifts, int row_begin, int row_end, float *out) {
  int groups = (k + group - 1) / group, words = groups * group / 8;
  for (int row = row_begin; row < row_end; row++) {
    float *dst = out + (size_t)(row - row_begin) * k;
    size_t lane = (size_t)(row / 16) * groups * 16 + row % 16;
    for (int c = 0; c < k; c++) {
      size_t g = lane + 16 * (size_t)(c / group);
      dst[c] = scales[g] * ((float)(q4_code(blocked, words, row, c) - 8) - (zero_shifts ? zero_shifts[g] : 0.0f));
    }
  }
}

void winnow_q4_dequantize_blocks_portable(const uint32_t *blocked, int k, int group, const float *scales,
                                          const float *zero_shifts, int block_begin, int block_end, float *out) {
  int groups = (k + group - 1) / group, words = groups * group / 8, width = 16 * (block_end - block_begin);
  for (int b = block_begin; b < block_end; b++)
    for (int c = 0; c < k; c++)
      for (int r = 0; r < 16; r++) {
        size_t lane = ((size_t)b * groups + c / group) * 16 + r;
        float code = (float)(((int)(blocked[((size_t)b * words + c / 8) * 16 + r] >> (4 * (c % 8))) & 15) - 8);
        out[(size_t)c * width + 16 * (b - block_begin) + r] = scales[lane] * (code - (zero_shifts ? zero_shifts[lane] : 0.0f));
      }
}

void winnow_q4_prepare_token(const float *x, int k, int group, float *x_padded, float *group_sums) {
  int groups = (k + group - 1) / group;
  for (int c = 0; c < groups * group; c++) x_padded[c] = c < k ? x[c] : 0.0f;
  for (int g = 0; group_sums && g < groups; g++) {
    float sum = 0;
    for (int c = g * group; c < (g + 1) * group; c++) sum += x_padded[c];
    group_sums[g] = sum;
  }
}

void winnow_q4_gemv_portable(int n, int k, int group, const uint32_t *blocked, const float *scales,
                             const float *zero_shifts, const float *x_padded, const float *group_sums,
                             const float *bias, int relu, float *y, int block_begin, int block_end) {
  int groups = (k + group - 1) / group, words = groups * group / 8;
  for (int row = 16 * block_begin; row < minimum_int(n, 16 * block_end); row++) {
    size_t lane = (size_t)(row / 16) * groups * 16 + row % 16;
    float sum = 0;
    for (int g = 0; g < groups; g++) {
      float partial = 0;
      for (int c = g * group; c < (g + 1) * group; c++) partial += (float)(q4_code(blocked, words, row, c) - 8) * x_padded[c];
      if (zero_shifts) partial -= zero_shifts[lane + 16 * g] * group_sums[g];
      sum += scales[lane + 16 * g] * partial;
    }
    float v = sum + (bias ? bias[row] : 0.0f);
    y[row] = relu && !(v > 0) ? 0.0f : v;
  }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define WINNOW_AVX512F __attribute__((target("avx512f")))

/// 16 rows × 8 inputs: acc[j mod 4] += table[(word >> 4j) & 15] · x[j] (vpermps reads only the
/// low 4 bits of each index, so no mask is needed).
#define Q4_STEP(j, acc) acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4 * (j)), table), \
                                              _mm512_set1_ps(xc[j]), acc)

/// Rows [16·block_begin, min(n, 16·block_end)); `group` a multiple of 32; `x_padded` holds
/// ⌈K/group⌉·group inputs; `zero_shifts`/`group_sums` NULL for symmetric codes. Four
/// accumulators per group hide the FMA latency; two running sums alternate between groups.
WINNOW_AVX512F void winnow_q4_gemv_avx512(int n, int k, int group, const uint32_t *blocked, const float *scales,
                                          const float *zero_shifts, const float *x_padded, const float *group_sums,
                                          const float *bias, int relu, float *y, int block_begin, int block_end) {
  const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  const int groups = (k + group - 1) / group, words = groups * group / 8, words_per_group = group / 8;
  for (int b = block_begin; b < block_end; b++) {
    const uint32_t *codes = blocked + (size_t)b * words * 16;
    const size_t lanes = (size_t)b * groups * 16;
    __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
    for (int g = 0; g < groups; g++) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int c = g * words_per_group; c < (g + 1) * words_per_group; c++) {
        __m512i v = _mm512_loadu_si512(codes + (size_t)c * 16);
        const float *xc = x_padded + 8 * c;
        Q4_STEP(0, a0); Q4_STEP(1, a1); Q4_STEP(2, a2); Q4_STEP(3, a3);
        Q4_STEP(4, a0); Q4_STEP(5, a1); Q4_STEP(6, a2); Q4_STEP(7, a3);
      }
      __m512 partial = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
      if (zero_shifts)
        partial = _mm512_fnmadd_ps(_mm512_loadu_ps(zero_shifts + lanes + 16 * g), _mm512_set1_ps(group_sums[g]), partial);
      __m512 scale = _mm512_loadu_ps(scales + lanes + 16 * g);
      if (g & 1) odd = _mm512_fmadd_ps(scale, partial, odd);
      else even = _mm512_fmadd_ps(scale, partial, even);
    }
    int rows = minimum_int(16, n - 16 * b);
    __mmask16 mask = (__mmask16)((1u << rows) - 1);
    __m512 v = _mm512_add_ps(even, odd);
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias + 16 * b));
    if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(y + 16 * b, mask, v);
  }
}
WINNOW_AVX512F void winnow_q4_dequantize_blocks_avx512(const uint32_t *blocked, int k, int group, const float *scales,
                                                       const float *zero_shifts, int block_begin, int block_end,
                                                       float *out) {
  const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  const int groups = (k + group - 1) / group, words = groups * group / 8, width = 16 * (block_end - block_begin);
  for (int b = block_begin; b < block_end; b++) {
    float *column = out + 16 * (b - block_begin);
    for (int c = 0; 8 * c < k; c++) {
      size_t lane = ((size_t)b * groups + 8 * c / group) * 16;
      __m512 scale = _mm512_loadu_ps(scales + lane);
      __m512 shift = zero_shifts ? _mm512_loadu_ps(zero_shifts + lane) : _mm512_setzero_ps();
      __m512i v = _mm512_loadu_si512(blocked + ((size_t)b * words + c) * 16);
      for (int j = 0; j < 8 && 8 * c + j < k; j++) {
        __m512 code = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4 * j), table);
        _mm512_storeu_ps(column + (size_t)(8 * c + j) * width, _mm512_mul_ps(scale, _mm512_sub_ps(code, shift)));
      }
    }
  }
}

#else
void winnow_q4_dequantize_blocks_avx512(const uint32_t *blocked, int k, int group, const float *scales,
                                        const float *zero_shifts, int block_begin, int block_end, float *out) {
  winnow_q4_dequantize_blocks_portable(blocked, k, group, scales, zero_shifts, block_begin, block_end, out);
}
void winnow_q4_gemv_avx512(int n, int k, int group, const uint32_t *blocked, const float *scales,
                           const float *zero_shifts, const float *x_padded, const float *group_sums, const float *bias,
                           int relu, float *y, int block_begin, int block_end) {
  winnow_q4_gemv_portable(n, k, group, blocked, scales, zero_shifts, x_padded, group_sums, bias, relu, y, block_begin,
                          block_end);
}
#endif
