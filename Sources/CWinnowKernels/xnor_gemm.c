// Binary (XNOR-Net) linear layer: sign bits of W and of each token, popcount of their XOR.
// Called by BinaryLinearWeights (Sources/WinnowKernels/Packed).
//
//     s_w[n, k] = +1 if bit k of row n is set, else −1;  s_x[m, k] = +1 if x[m, k] ≥ 0, else −1
//     Σ_k s_w·s_x = K − 2·popcount(w_bits[n] XOR x_bits[m])        (padding bits are 0 in both)
//     y[m, n] = act(α[n] · β[m] · (K − 2·popcount) + bias[n]),   β[m] = mean_k |x[m, k]|
//
// The AVX-512 kernel reads rows interleaved in panels of 8: word w of rows 8p…8p+7 are 8
// consecutive UInt64 (`panel[(p·W + w)·8 + r]`), so one VPOPCNTQ counts 8 rows for one
// broadcast token word and the counts stay in lanes (no horizontal sums). Tile: 4 tokens × 16 rows.
// Per word and tile that is 8 × (XOR, VPOPCNTQ, add): the loop is bound by those vector ops
// (measured ~4.3 token-word × row-word pairs per cycle at 128×4096×4096, taking 3.7 GHz; four
// 256-bit pipes allow ~5.3 if a 512-bit VPOPCNTQ takes two), so larger tiles (6 or 8 tokens,
// tried) gained nothing. The tokens are binarised with AVX-512 compares (16 inputs per mask): the
// first version binarised one float at a time and that took 60–80 % of the time at K = 1536 or
// N = 384 (MiniLM FFN down, attention projection).
#include "CWinnowKernels.h"
#include <string.h>

static inline int minimum_int(int a, int b) { return a < b ? a : b; }

void winnow_xnor_pack_panels(const uint64_t *signs, int n, int words, uint64_t *panels) {
  int count = (n + 7) / 8;
  for (int p = 0; p < count; p++)
    for (int w = 0; w < words; w++)
      for (int r = 0; r < 8; r++) {
        int row = 8 * p + r;
        *panels++ = row < n ? signs[(size_t)row * words + w] : 0;
      }
}

void winnow_binarize_rows(const float *x, int m, int k, uint64_t *bits, float *betas) {
  int words = (k + 63) / 64;
  for (int i = 0; i < m; i++) {
    const float *row = x + (size_t)i * k;
    float sums[4] = {0, 0, 0, 0};  // four chains: one running sum would wait on every add
    for (int w = 0; w < words; w++) {
      uint64_t word = 0;  // built in a register, not by read-modify-write of memory
      int count = minimum_int(64, k - 64 * w);
      for (int b = 0; b < count; b++) {
        float v = row[64 * w + b];
        word |= (uint64_t)(v >= 0) << b;
        sums[b & 3] += v < 0 ? -v : v;
      }
      bits[(size_t)i * words + w] = word;
    }
    betas[i] = k > 0 ? ((sums[0] + sums[1]) + (sums[2] + sums[3])) / (float)k : 0;
  }
}

static inline int popcount64(uint64_t v) {
  v = v - ((v >> 1) & 0x5555555555555555ull);
  v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
  v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return (int)((v * 0x0101010101010101ull) >> 56);
}

/// Word w of row j: row-major (`interleaved` 0) or in 8-row panels (1, winnow_xnor_pack_panels).
static inline uint64_t sign_word(const uint64_t *signs, int interleaved, int words, int j, int w) {
  return interleaved ? signs[((size_t)(j / 8) * words + w) * 8 + j % 8] : signs[(size_t)j * words + w];
}

static void xnor_gemm_scalar(int m, int n, int k, const uint64_t *x_bits, const float *betas, const uint64_t *signs,
                             int interleaved, const float *alphas, const float *bias, int relu, float *y,
                             int row_begin, int row_end) {
  int words = (k + 63) / 64;
  for (int i = 0; i < m; i++)
    for (int j = row_begin; j < row_end; j++) {
      int count = 0;
      for (int w = 0; w < words; w++)
        count += popcount64(x_bits[(size_t)i * words + w] ^ sign_word(signs, interleaved, words, j, w));
      float v = alphas[j] * betas[i];
      v = v * (float)(k - 2 * count);
      v += bias ? bias[j] : 0.0f;
      y[(size_t)i * n + j] = relu && !(v > 0) ? 0.0f : v;
    }
}

void winnow_xnor_gemm_portable(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                               const uint64_t *signs, const float *alphas, const float *bias, int relu,
                               float *y, int row_begin, int row_end) {
  xnor_gemm_scalar(m, n, k, x_bits, betas, signs, 0, alphas, bias, relu, y, row_begin, row_end);
}

void winnow_xnor_gemm_portable_panels(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                                      const uint64_t *panels, const float *alphas, const float *bias, int relu,
                                      float *y, int row_begin, int row_end) {
  xnor_gemm_scalar(m, n, k, x_bits, betas, panels, 1, alphas, bias, relu, y, row_begin, row_end);
}

void winnow_xnor_unpack_panels(const uint64_t *panels, int n, int words, uint64_t *signs) {
  for (int j = 0; j < n; j++)
    for (int w = 0; w < words; w++) signs[(size_t)j * words + w] = sign_word(panels, 1, words, j, w);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define WINNOW_POPCNT __attribute__((target("avx512f,avx512vl,avx512vpopcntdq")))
#define TOKENS 4

/// MR tokens × 16 rows (two panels of 8) over all words, then the epilogue.
WINNOW_POPCNT static inline __attribute__((always_inline)) void xnor_tile(
    const int MR, int words, int k, const uint64_t *x_bits, const float *betas, const uint64_t *panel0,
    const uint64_t *panel1, int n, int row0, const float *alphas, const float *bias, int relu, float *y) {
  __m512i count[TOKENS][2];
  for (int i = 0; i < MR; i++) count[i][0] = count[i][1] = _mm512_setzero_si512();
  for (int w = 0; w < words; w++) {
    __m512i s0 = _mm512_loadu_si512((const void *)(panel0 + (size_t)w * 8));
    __m512i s1 = _mm512_loadu_si512((const void *)(panel1 + (size_t)w * 8));
    for (int i = 0; i < MR; i++) {
      __m512i xw = _mm512_set1_epi64((long long)x_bits[(size_t)i * words + w]);
      count[i][0] = _mm512_add_epi64(count[i][0], _mm512_popcnt_epi64(_mm512_xor_si512(xw, s0)));
      count[i][1] = _mm512_add_epi64(count[i][1], _mm512_popcnt_epi64(_mm512_xor_si512(xw, s1)));
    }
  }
  // Epilogue on all 16 rows at once: y = α·(K − 2c)·β + bias = fma(fma(c, −2α, K·α), β, bias),
  // with −2α and K·α formed once per tile (the counts fit 32 bits: K < 2³⁰).
  int rows = minimum_int(16, n - row0);
  __mmask16 mask = (__mmask16)((1u << rows) - 1);
  __m512 a = _mm512_maskz_loadu_ps(mask, alphas + row0);
  __m512 a_minus2 = _mm512_mul_ps(a, _mm512_set1_ps(-2.0f)), a_k = _mm512_mul_ps(a, _mm512_set1_ps((float)k));
  __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + row0) : _mm512_setzero_ps();
  for (int i = 0; i < MR; i++) {
    __m512i c = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(count[i][0])),
                                   _mm512_cvtepi64_epi32(count[i][1]), 1);
    __m512 scaled = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c), a_minus2, a_k);
    __m512 v = _mm512_fmadd_ps(scaled, _mm512_set1_ps(betas[i]), b);
    if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(y + (size_t)i * n + row0, mask, v);
  }
}

/// Sign bits and β of M tokens, 16 inputs per compare: `x ≥ 0` (ordered, so NaN gives 0 as
/// in the portable loop) is one mask per vector, four masks make a word; |x| is summed in 16
/// lanes. The tail of a row is a masked load whose mask also clears the padding bits.
WINNOW_POPCNT void winnow_binarize_rows_avx512(const float *x, int m, int k, uint64_t *bits, float *betas) {
  const int words = (k + 63) / 64;
  for (int i = 0; i < m; i++) {
    const float *row = x + (size_t)i * k;
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    for (int w = 0; w < words; w++) {
      uint64_t word = 0;
      for (int v = 0; v < 4; v++) {
        int begin = 64 * w + 16 * v, count = minimum_int(16, k - begin);
        if (count <= 0) break;
        __mmask16 valid = count == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
        __m512 values = _mm512_maskz_loadu_ps(valid, row + begin);
        __mmask16 sign = _mm512_mask_cmp_ps_mask(valid, values, _mm512_setzero_ps(), _CMP_GE_OQ);
        word |= (uint64_t)sign << (16 * v);
        if (v & 1) sum1 = _mm512_add_ps(sum1, _mm512_abs_ps(values));
        else sum0 = _mm512_add_ps(sum0, _mm512_abs_ps(values));
      }
      bits[(size_t)i * words + w] = word;
    }
    betas[i] = k > 0 ? _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1)) / (float)k : 0;
  }
}

WINNOW_POPCNT void winnow_xnor_gemm_avx512(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                                           const uint64_t *panels, const float *alphas, const float *bias,
                                           int relu, float *y, int pair_begin, int pair_end) {
  int words = (k + 63) / 64, panel_count = (n + 7) / 8;
  for (int pair = pair_begin; pair < pair_end; pair++) {
    int row0 = 16 * pair;
    const uint64_t *panel0 = panels + (size_t)(2 * pair) * words * 8;
    // An odd last panel pairs with itself; its second half is past N and never stored.
    const uint64_t *panel1 = 2 * pair + 1 < panel_count ? panel0 + (size_t)words * 8 : panel0;
    for (int i0 = 0; i0 < m; i0 += TOKENS) {
      const uint64_t *xb = x_bits + (size_t)i0 * words;
      float *yt = y + (size_t)i0 * n;
      const float *bt = betas + i0;
      switch (minimum_int(TOKENS, m - i0)) {
#define XNOR_TILE_CASE(T) case T: xnor_tile(T, words, k, xb, bt, panel0, panel1, n, row0, alphas, bias, relu, yt); break;
        XNOR_TILE_CASE(1) XNOR_TILE_CASE(2) XNOR_TILE_CASE(3) XNOR_TILE_CASE(4)
#undef XNOR_TILE_CASE
      }
    }
  }
}
#else
void winnow_binarize_rows_avx512(const float *x, int m, int k, uint64_t *bits, float *betas) {
  winnow_binarize_rows(x, m, k, bits, betas);
}
void winnow_xnor_gemm_avx512(int m, int n, int k, const uint64_t *x_bits, const float *betas,
                             const uint64_t *panels, const float *alphas, const float *bias, int relu, float *y,
                             int pair_begin, int pair_end) {
  (void)m; (void)n; (void)k; (void)x_bits; (void)betas; (void)panels; (void)alphas; (void)bias; (void)relu;
  (void)y; (void)pair_begin; (void)pair_end;
}
#endif
