// Test driver of the arm64 NEON kernels (Sources/CWinnowKernels/neon_*.c), cross-compiled and
// run under qemu-aarch64 by run-tests.sh: every NEON kernel against its portable twin (or a
// double-precision reference where the portable kernel is Swift) over tile edges.
//
//     neon_test [--expect-dotprod 0|1]
//
// Integer kernels (int8 GEMM, XNOR, int4 dequantization) must match bit for bit: same integer
// sums, same float epilogue. Float kernels sum in another order: |Δ| ≤ 1e-5·Σ|terms| + 1e-6.
#include "CWinnowKernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon_test.h"

static int failures = 0, checks = 0;

void check(int ok, const char *what, const char *shape) {
  checks++;
  if (!ok && failures++ < 20) fprintf(stderr, "FAIL %s %s\n", what, shape);
}

static uint64_t state = 0x9E3779B97F4A7C15ull;
uint64_t next_random(void) {  // xorshift64*: fixed seed, so every run checks the same cases
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}
float uniform(float low, float high) { return low + (high - low) * (float)(next_random() >> 40) / 16777216.0f; }
void *allocate(size_t bytes) { return calloc(bytes ? bytes : 1, 1); }

int same_bits(const float *a, const float *b, size_t count) { return memcmp(a, b, count * sizeof(float)) == 0; }

int close_enough(const float *a, const float *b, const double *magnitude, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (!(fabs((double)a[i] - (double)b[i]) <= 1e-5 * magnitude[i] + 1e-6)) return 0;
  return 1;
}

// MARK: - int8 GEMM: NEON on the VNNI panels == portable on row-major codes, bit for bit

static void qs8_case(int m, int n, int k, int extreme, int with_bias, int relu) {
  const int stride = (k + 3) / 4 * 4, panels = (n + 31) / 32;
  uint8_t *q = allocate((size_t)m * stride);
  int8_t *codes = allocate((size_t)n * k), *packed = allocate(winnow_qs8_packed_bytes(n, k));
  int32_t *zeros = allocate(sizeof(int32_t) * m), *sums = allocate(sizeof(int32_t) * n);
  float *x_scales = allocate(sizeof(float) * m), *w_scales = allocate(sizeof(float) * n);
  float *bias = with_bias ? allocate(sizeof(float) * n) : NULL;
  float *expected = allocate(sizeof(float) * m * n), *actual = allocate(sizeof(float) * m * n);
  for (int i = 0; i < m; i++) {
    zeros[i] = extreme ? 255 : (int32_t)(next_random() % 256);
    x_scales[i] = uniform(0.001f, 0.1f);
    for (int p = 0; p < stride; p++)  // extreme: q − 128 = −128 meets w = −128 (largest products)
      q[(size_t)i * stride + p] = p < k ? (uint8_t)(extreme ? 0 : next_random()) : (uint8_t)zeros[i];
  }
  for (int j = 0; j < n; j++) {
    int32_t sum = 0;
    for (int p = 0; p < k; p++) sum += codes[(size_t)j * k + p] = (int8_t)(extreme ? -128 : (int)(next_random() % 256) - 128);
    sums[j] = sum;
    w_scales[j] = uniform(0.001f, 0.05f);
    if (bias) bias[j] = uniform(-2, 2);
  }
  winnow_qs8_pack_vnni(codes, n, k, packed);
  winnow_qs8_gemm_portable(m, n, k, q, stride, x_scales, zeros, codes, sums, w_scales, bias, relu, expected, 0, n);
  int split = panels / 2;  // two calls over panel ranges, as threads split the work
  winnow_qs8_gemm_neon(m, n, k, q, stride, x_scales, zeros, packed, sums, w_scales, bias, relu, actual, 0, split);
  winnow_qs8_gemm_neon(m, n, k, q, stride, x_scales, zeros, packed, sums, w_scales, bias, relu, actual, split, panels);
  char shape[96];
  snprintf(shape, sizeof shape, "m=%d n=%d k=%d extreme=%d bias=%d relu=%d", m, n, k, extreme, with_bias, relu);
  check(same_bits(expected, actual, (size_t)m * n), "qs8_gemm_neon", shape);
  free(q); free(codes); free(packed); free(zeros); free(sums); free(x_scales); free(w_scales); free(bias);
  free(expected); free(actual);
}

static void test_qs8(void) {
  const int ms[] = {1, 3, 4, 5, 9}, ns[] = {1, 4, 15, 16, 17, 32, 33, 65}, ks[] = {1, 3, 4, 5, 16, 17, 64, 131};
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 8; b++)
      for (int c = 0; c < 8; c++) qs8_case(ms[a], ns[b], ks[c], 0, (a + b + c) % 2, (a + c) % 2);
  qs8_case(5, 33, 1031, 1, 1, 0);
  qs8_case(2, 16, 4, 1, 0, 1);
}

// MARK: - Activations: uint8 quantization (bytes, scales, zero points) and sign bits identical

static void quantize_case(int m, int k, int stride, int dynamic, int kind) {
  float *x = allocate(sizeof(float) * m * k), *scales[2], *betas[2];
  uint8_t *q[2];
  int32_t *zeros[2];
  uint64_t *bits[2];
  const int words = (k + 63) / 64;
  for (int c = 0; c < 2; c++) {
    scales[c] = allocate(sizeof(float) * m); betas[c] = allocate(sizeof(float) * m);
    q[c] = allocate((size_t)m * stride); zeros[c] = allocate(sizeof(int32_t) * m);
    bits[c] = allocate(sizeof(uint64_t) * m * words);
  }
  for (int i = 0; i < m * k; i++) {  // kind 0: mixed signs, 1: positive, 2: negative, 3: zeros and −0
    float v = uniform(-3, 3);
    x[i] = kind == 1 ? fabsf(v) : kind == 2 ? -fabsf(v) - 0.01f : kind == 3 ? (i % 2 ? -0.0f : 0.0f) : v;
  }
  winnow_qu8_quantize_rows(x, m, k, stride, dynamic, 0.01f, 100, q[0], scales[0], zeros[0]);  // static: clamps
  winnow_qu8_quantize_rows_neon(x, m, k, stride, dynamic, 0.01f, 100, q[1], scales[1], zeros[1]);
  char shape[80];
  snprintf(shape, sizeof shape, "m=%d k=%d stride=%d dynamic=%d kind=%d", m, k, stride, dynamic, kind);
  check(memcmp(q[0], q[1], (size_t)m * stride) == 0 && same_bits(scales[0], scales[1], (size_t)m) &&
            memcmp(zeros[0], zeros[1], sizeof(int32_t) * m) == 0, "qu8_quantize_rows_neon", shape);
  winnow_binarize_rows(x, m, k, bits[0], betas[0]);
  winnow_binarize_rows_neon(x, m, k, bits[1], betas[1]);
  int betas_close = 1;
  for (int i = 0; i < m; i++) betas_close &= fabsf(betas[0][i] - betas[1][i]) <= 1e-6f * betas[0][i] + 1e-7f;
  check(memcmp(bits[0], bits[1], sizeof(uint64_t) * m * words) == 0 && betas_close, "binarize_rows_neon", shape);
  free(x);
  for (int c = 0; c < 2; c++) { free(scales[c]); free(betas[c]); free(q[c]); free(zeros[c]); free(bits[c]); }
}

static void test_activations(void) {
  const int ks[] = {1, 3, 7, 8, 9, 16, 17, 63, 64, 65, 100, 129};
  for (int a = 0; a < 12; a++)
    for (int kind = 0; kind < 4; kind++)
      for (int dynamic = 0; dynamic < 2; dynamic++) {
        quantize_case(3, ks[a], (ks[a] + 3) / 4 * 4, dynamic, kind);
        quantize_case(2, ks[a], ks[a] + 13, dynamic, kind);
      }
}

// MARK: - XNOR: NEON == portable, bit for bit

static void xnor_case(int m, int n, int k, int with_bias, int relu, int extreme) {
  const int words = (k + 63) / 64;
  float *x = allocate(sizeof(float) * m * k), *betas = allocate(sizeof(float) * m);
  float *alphas = allocate(sizeof(float) * n), *bias = with_bias ? allocate(sizeof(float) * n) : NULL;
  uint64_t *bits = allocate(sizeof(uint64_t) * m * words), *signs = allocate(sizeof(uint64_t) * n * words);
  float *expected = allocate(sizeof(float) * m * n), *actual = allocate(sizeof(float) * m * n);
  for (int i = 0; i < m * k; i++) x[i] = extreme ? uniform(0, 1) : uniform(-1, 1);  // extreme: all bits 1
  winnow_binarize_rows(x, m, k, bits, betas);
  const uint64_t last = k % 64 ? (1ull << (k % 64)) - 1 : ~0ull;  // padding bits 0, as packed
  for (int j = 0; j < n; j++) {
    for (int w = 0; w < words; w++) signs[(size_t)j * words + w] = extreme ? 0 : next_random() & (w == words - 1 ? last : ~0ull);
    alphas[j] = uniform(0.01f, 1);
    if (bias) bias[j] = uniform(-1, 1);
  }
  winnow_xnor_gemm_portable(m, n, k, bits, betas, signs, alphas, bias, relu, expected, 0, n);
  winnow_xnor_gemm_neon(m, n, k, bits, betas, signs, alphas, bias, relu, actual, 0, n / 2);
  winnow_xnor_gemm_neon(m, n, k, bits, betas, signs, alphas, bias, relu, actual, n / 2, n);
  char shape[80];
  snprintf(shape, sizeof shape, "m=%d n=%d k=%d bias=%d relu=%d extreme=%d", m, n, k, with_bias, relu, extreme);
  check(same_bits(expected, actual, (size_t)m * n), "xnor_gemm_neon", shape);
  free(x); free(betas); free(alphas); free(bias); free(bits); free(signs); free(expected); free(actual);
}

static void test_xnor(void) {
  const int ms[] = {1, 2, 5}, ns[] = {1, 7, 8, 17}, ks[] = {1, 63, 64, 65, 128, 129, 200, 1000};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 8; c++) xnor_case(ms[a], ns[b], ks[c], (a + c) % 2, (b + c) % 2, 0);
  // Every bit differs (16 per uint16 lane per step) over more than 4096 steps: the partial
  // sums overflow unless flushed in time.
  xnor_case(1, 2, 64 * 8300 + 5, 1, 0, 1);
  xnor_case(2, 3, 64 * 8300 + 5, 0, 1, 0);
}

int main(int argc, char **argv) {
  int expect_dotprod = -1;
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--expect-dotprod") == 0) expect_dotprod = atoi(argv[i + 1]);
  uint32_t features = winnow_cpu_features();
  int dotprod = (features & WINNOW_CPU_NEON_DOTPROD) != 0;
  printf("features 0x%x: neon %d, dotprod %d\n", features, (features & WINNOW_CPU_NEON) != 0, dotprod);
  check((features & WINNOW_CPU_NEON) != 0, "winnow_cpu_features", "NEON bit");
  if (expect_dotprod >= 0) check(dotprod == expect_dotprod, "winnow_cpu_features", "dot product bit");
  test_activations();
  test_qs8();
  test_xnor();
  test_q4();
  test_sparse();
  test_nm();
  test_transformer_rows();
  printf("%d checks, %d failed (int8 GEMM: %s)\n", checks, failures, dotprod ? "SDOT" : "widening multiplies");
  return failures ? 1 : 0;
}
