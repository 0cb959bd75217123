// Row-wise transformer kernels (GELU, softmax, residual + layer norm). One body per kernel,
// written so that clang vectorises it (branch-free, fixed-width partial sums instead of a
// serial reduction), inlined into per-ISA wrappers with __attribute__((target)); the
// dispatcher picks the widest the CPU supports, once.
#include "CWinnowKernels.h"
#include "transformer_kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define LANES 16  // partial sums per reduction: one AVX-512 register, two AVX2 ones

// e^x for x in [-87.3, 88.7] (clamped outside): x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in
// a high part exact in float and a low correction, Cody & Waite), e^r by its degree-6 Taylor
// polynomial (relative error < 2e-7 on that interval), then 2^n built in the exponent bits.
static inline __attribute__((always_inline)) float exp_approx(float x) {
  x = fminf(fmaxf(x, -87.3f), 88.7f);
  float n = rintf(x * 1.44269504088896341f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// GELU(x) = x·(1 + erf(x/√2))/2, erf(z) = sign(z)·(1 − (a1·t + … + a5·t⁵)·e^(−z²)),
// t = 1/(1 + p·|z|) (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7).
// Element i reads only x[i] before writing y[i], so x == y is safe; the pragma says so to
// clang, whose run-time overlap check otherwise sends the in-place call (the FFN's) to the
// scalar loop: 10× slower, 16 % of a MiniLM forward pass.
static inline __attribute__((always_inline)) void gelu_body(const float *x, float *y, size_t count) {
#pragma clang loop vectorize(assume_safety)
  for (size_t i = 0; i < count; i++) {
    float v = x[i];
    float z = fabsf(v) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.3275911f * z);
    float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float erf_abs = 1.0f - poly * exp_approx(-z * z);
    float erf = copysignf(erf_abs, v);
    y[i] = 0.5f * v * (1.0f + erf);
  }
}

static inline __attribute__((always_inline)) void softmax_body(float *x, size_t rows, size_t length, size_t stride,
                                                                float scale) {
  for (size_t row = 0; row < rows; row++) {
    float *p = x + row * stride;
    float partial[LANES];
    for (int j = 0; j < LANES; j++) partial[j] = -INFINITY;
    size_t i = 0;
    for (; i + LANES <= length; i += LANES)
      for (int j = 0; j < LANES; j++) partial[j] = fmaxf(partial[j], p[i + j]);
    float maximum = -INFINITY;
    for (int j = 0; j < LANES; j++) maximum = fmaxf(maximum, partial[j]);
    for (; i < length; i++) maximum = fmaxf(maximum, p[i]);
    float shift = maximum * scale;
    for (size_t k = 0; k < length; k++) p[k] = exp_approx(p[k] * scale - shift);
    for (int j = 0; j < LANES; j++) partial[j] = 0;
    for (i = 0; i + LANES <= length; i += LANES)
      for (int j = 0; j < LANES; j++) partial[j] += p[i + j];
    float sum = 0;
    for (int j = 0; j < LANES; j++) sum += partial[j];
    for (; i < length; i++) sum += p[i];
    float inverse = 1.0f / sum;
    for (size_t k = 0; k < length; k++) p[k] *= inverse;
  }
}

static inline __attribute__((always_inline)) float row_sum(const float *p, size_t width) {
  float partial[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= width; i += LANES)
    for (int j = 0; j < LANES; j++) partial[j] += p[i + j];
  float sum = 0;
  for (int j = 0; j < LANES; j++) sum += partial[j];
  for (; i < width; i++) sum += p[i];
  return sum;
}

static inline __attribute__((always_inline)) void layer_norm_body(float *x, const float *residual, const float *gamma,
                                                                   const float *beta, size_t rows, size_t width,
                                                                   float epsilon) {
  for (size_t row = 0; row < rows; row++) {
    float *p = x + row * width;
    if (residual) {
      const float *q = residual + row * width;
      for (size_t i = 0; i < width; i++) p[i] += q[i];
    }
    float mean = row_sum(p, width) / (float)width;
    float partial[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= width; i += LANES)
      for (int j = 0; j < LANES; j++) partial[j] += (p[i + j] - mean) * (p[i + j] - mean);
    float variance = 0;
    for (int j = 0; j < LANES; j++) variance += partial[j];
    for (; i < width; i++) variance += (p[i] - mean) * (p[i] - mean);
    variance /= (float)width;
    float inverse = 1.0f / sqrtf(variance + epsilon);
    for (size_t k = 0; k < width; k++) p[k] = (p[k] - mean) * inverse * gamma[k] + beta[k];
  }
}

#if defined(__x86_64__)
#define VARIANTS(name, params, args)                                                   \
  __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) static void name##_avx512 params { \
    name##_body args;                                                                  \
  }                                                                                    \
  __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_body args; } \
  static void name##_portable params { name##_body args; }
#else
#define VARIANTS(name, params, args) static void name##_portable params { name##_body args; }
#endif

VARIANTS(gelu, (const float *x, float *y, size_t count), (x, y, count))
VARIANTS(softmax, (float *x, size_t rows, size_t length, size_t stride, float scale), (x, rows, length, stride, scale))
VARIANTS(layer_norm,
         (float *x, const float *residual, const float *gamma, const float *beta, size_t rows, size_t width, float eps),
         (x, residual, gamma, beta, rows, width, eps))

#if defined(__x86_64__)
// 2 = AVX-512, 1 = AVX2 + FMA, 0 = portable; decided on first use (a benign race: every
// thread computes the same value).
static int isa_level(void) {
  static int level = -1;
  if (level < 0) {
    uint32_t features = winnow_cpu_features();
    int avx512 = (features & WINNOW_CPU_AVX512F) && (features & WINNOW_CPU_AVX512BW);
    int avx2 = (features & WINNOW_CPU_AVX2) && (features & WINNOW_CPU_FMA);
    level = avx512 ? 2 : (avx2 ? 1 : 0);
  }
  return level;
}

#define DISPATCH(name, args)                 \
  switch (isa_level()) {                     \
  case 2: name##_avx512 args; return;        \
  case 1: name##_avx2 args; return;          \
  default: name##_portable args; return;     \
  }
#else
#define DISPATCH(name, args) name##_portable args;
#endif

void winnow_gelu_erf_f32(const float *x, float *y, size_t count) { DISPATCH(gelu, (x, y, count)) }

void winnow_softmax_rows_f32(float *x, size_t rows, size_t length, size_t stride, float scale) {
  DISPATCH(softmax, (x, rows, length, stride, scale))
}

void winnow_add_layer_norm_f32(float *x, const float *residual, const float *gamma, const float *beta,
                               size_t rows, size_t width, float epsilon) {
  DISPATCH(layer_norm, (x, residual, gamma, beta, rows, width, epsilon))
}

const char *winnow_transformer_kernels_isa(void) {
#if defined(__x86_64__)
  switch (isa_level()) {
  case 2: return "avx512f";
  case 1: return "avx2";
  default: return "portable";
  }
#else
  return "portable";
#endif
}
