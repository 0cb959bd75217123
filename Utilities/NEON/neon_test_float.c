// NEON test driver, float kernels: int4 GEMV (and its bit-exact dequantization), CSR/BSR and
// N:M sparse × dense, and the transformer row kernels (on arm64 these are the portable bodies,
// vectorised by the compiler for the NEON baseline), each over tile edges.
#include "CWinnowKernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "neon_test.h"

// MARK: - Int4: GEMV within tolerance of the portable kernel; dequantization bit for bit

static int q4_code(const uint8_t *packed, int bytes, int row, int c) {
  return (packed[(size_t)row * bytes + c / 2] >> (4 * (c % 2))) & 15;
}

static void q4_case(int n, int k, int group, int shifted, int with_bias, int relu) {
  const int bytes = (k + 1) / 2, groups = (k + group - 1) / group, blocks = (n + 15) / 16;
  const size_t lanes = (size_t)blocks * groups * 16, words = (size_t)blocks * (groups * group / 8) * 16;
  uint8_t *packed = allocate((size_t)n * bytes);
  uint32_t *blocked = allocate(sizeof(uint32_t) * words);
  float *scales = allocate(sizeof(float) * lanes), *shifts = shifted ? allocate(sizeof(float) * lanes) : NULL;
  float *x = allocate(sizeof(float) * k), *x_padded = allocate(sizeof(float) * groups * group);
  float *sums = allocate(sizeof(float) * groups), *bias = with_bias ? allocate(sizeof(float) * n) : NULL;
  float *expected = allocate(sizeof(float) * n), *actual = allocate(sizeof(float) * n);
  double *magnitude = allocate(sizeof(double) * n);
  for (size_t i = 0; i < (size_t)n * bytes; i++) packed[i] = (uint8_t)next_random();
  for (size_t i = 0; i < lanes; i++) {
    scales[i] = uniform(0.001f, 0.1f);
    if (shifts) shifts[i] = (float)((int)(next_random() % 16) - 8);
  }
  for (int c = 0; c < k; c++) x[c] = uniform(-2, 2);
  for (int j = 0; bias && j < n; j++) bias[j] = uniform(-1, 1);
  winnow_q4_pack_blocks(packed, n, k, group, blocked);
  winnow_q4_prepare_token(x, k, group, x_padded, shifts ? sums : NULL);
  for (int row = 0; row < n; row++) {
    double total = bias ? fabs(bias[row]) : 0;
    for (int g = 0; g < groups; g++) {
      size_t lane = ((size_t)(row / 16) * groups + g) * 16 + row % 16;
      double part = 0, absolute_x = 0;
      for (int c = g * group; c < (g + 1) * group && c < k; c++) {
        part += fabs((double)(q4_code(packed, bytes, row, c) - 8) * x[c]);
        absolute_x += fabs(x[c]);
      }
      total += scales[lane] * (part + (shifts ? fabs(shifts[lane]) * absolute_x : 0));
    }
    magnitude[row] = total;
  }
  winnow_q4_gemv_portable(n, k, group, blocked, scales, shifts, x_padded, sums, bias, relu, expected, 0, blocks);
  winnow_q4_gemv_neon(n, k, group, blocked, scales, shifts, x_padded, sums, bias, relu, actual, 0, blocks / 2);
  winnow_q4_gemv_neon(n, k, group, blocked, scales, shifts, x_padded, sums, bias, relu, actual, blocks / 2, blocks);
  char shape[96];
  snprintf(shape, sizeof shape, "n=%d k=%d group=%d shifted=%d bias=%d relu=%d", n, k, group, shifted, with_bias, relu);
  check(close_enough(expected, actual, magnitude, (size_t)n), "q4_gemv_neon", shape);
  const int b0 = blocks > 1 ? 1 : 0, width = 16 * (blocks - b0);  // a block range not starting at 0
  float *dense_expected = allocate(sizeof(float) * k * width), *dense_actual = allocate(sizeof(float) * k * width);
  winnow_q4_dequantize_blocks_portable(blocked, k, group, scales, shifts, b0, blocks, dense_expected);
  winnow_q4_dequantize_blocks_neon(blocked, k, group, scales, shifts, b0, blocks, dense_actual);
  check(same_bits(dense_expected, dense_actual, (size_t)k * width), "q4_dequantize_blocks_neon", shape);
  free(packed); free(blocked); free(scales); free(shifts); free(x); free(x_padded); free(sums); free(bias);
  free(expected); free(actual); free(magnitude); free(dense_expected); free(dense_actual);
}

void test_q4(void) {
  const int ns[] = {1, 15, 16, 17, 33}, ks[] = {1, 7, 8, 31, 32, 33, 64, 100, 257}, group_sizes[] = {32, 64, 128};
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 9; b++)
      for (int g = 0; g < 3; g++) q4_case(ns[a], ks[b], group_sizes[g], (a + b) % 2, (b + g) % 2, (a + g) % 2);
}

// MARK: - CSR / BSR: NEON within tolerance of a double-precision reference

static void sparse_case(int n, int k, int m, int R, int cb, float density) {
  const int block_rows = (n + R - 1) / R, block_columns = (k + cb - 1) / cb, size = R * cb;
  int32_t *offsets = allocate(sizeof(int32_t) * (block_rows + 1));
  int32_t *columns = allocate(sizeof(int32_t) * block_rows * block_columns);
  int count = 0;
  for (int br = 0; br < block_rows; br++) {
    offsets[br] = count;
    for (int bc = 0; bc < block_columns; bc++)
      if (uniform(0, 1) < density) columns[count++] = bc;
  }
  offsets[block_rows] = count;
  float *values = allocate(sizeof(float) * count * size), *x = allocate(sizeof(float) * m * k);
  float *bias = allocate(sizeof(float) * n), *actual = allocate(sizeof(float) * m * n);
  float *expected = allocate(sizeof(float) * m * n);
  double *magnitude = allocate(sizeof(double) * m * n);
  for (int i = 0; i < count * size; i++) values[i] = uniform(-1, 1);
  for (int i = 0; i < m * k; i++) x[i] = uniform(-1, 1);
  for (int j = 0; j < n; j++) bias[j] = uniform(-1, 1);
  const int relu = (n + k) % 2, with_bias = m % 2;
  for (int i = 0; i < m; i++)
    for (int row = 0; row < n; row++) {
      const int br = row / R, r = row % R;
      double sum = with_bias ? bias[row] : 0, total = fabs(sum);
      for (int b = offsets[br]; b < offsets[br + 1]; b++)
        for (int c = 0; c < cb && columns[b] * cb + c < k; c++) {
          double term = (double)values[(size_t)b * size + r * cb + c] * x[(size_t)i * k + columns[b] * cb + c];
          sum += term;
          total += fabs(term);
        }
      expected[(size_t)i * n + row] = relu && !(sum > 0) ? 0.0f : (float)sum;
      magnitude[(size_t)i * n + row] = total;
    }
  winnow_sparse_matrix w = {n, k, R, cb, offsets, columns, values};
  float *workspace = allocate(sizeof(float) * winnow_spmm_f32_neon_workspace_floats(&w));
  const float *b = with_bias ? bias : NULL;
  winnow_spmm_f32_neon(&w, x, m, b, relu, actual, 0, block_rows / 2, workspace);
  winnow_spmm_f32_neon(&w, x, m, b, relu, actual, block_rows / 2, block_rows, workspace);
  char shape[96];
  snprintf(shape, sizeof shape, "n=%d k=%d m=%d block=%dx%d density=%.2f", n, k, m, R, cb, density);
  check(close_enough(expected, actual, magnitude, (size_t)m * n), "spmm_f32_neon", shape);
  free(offsets); free(columns); free(values); free(x); free(bias); free(actual); free(expected); free(magnitude);
  free(workspace);
}

void test_sparse(void) {
  const int blocks[][2] = {{1, 1}, {4, 1}, {8, 1}, {1, 4}, {2, 2}, {3, 5}, {16, 1}};
  const int ns[] = {1, 7, 9, 17}, ks[] = {1, 5, 8, 33}, ms[] = {1, 3, 4, 8, 9, 17};
  const float densities[] = {0, 0.3f, 1};
  for (int s = 0; s < 7; s++)
    for (int a = 0; a < 4; a++)
      for (int b = 0; b < 4; b++)
        for (int c = 0; c < 6; c++) sparse_case(ns[a], ks[b], ms[c], blocks[s][0], blocks[s][1], densities[(a + b + c + s) % 3]);
}

// MARK: - N:M: NEON within tolerance of the portable kernel

static void nm_case(int rows, int k, int tokens, int n, int m, int with_bias, int relu) {
  const int groups = (k + m - 1) / m;
  const size_t slots = (size_t)rows * groups * n;
  uint8_t *indices = allocate(slots);
  float *values = allocate(sizeof(float) * slots), *x = allocate(sizeof(float) * tokens * k);
  float *bias = with_bias ? allocate(sizeof(float) * rows) : NULL, *expected = allocate(sizeof(float) * tokens * rows);
  float *actual = allocate(sizeof(float) * tokens * rows);
  double *magnitude = allocate(sizeof(double) * tokens * rows);
  for (int row = 0; row < rows; row++)
    for (int g = 0; g < groups; g++) {  // n increasing indices below the group's width
      int width = k - g * m < m ? k - g * m : m, chosen = 0;
      size_t t = ((size_t)row * groups + g) * n;
      for (int position = 0; position < width && chosen < n; position++)
        if ((int)(next_random() % (uint64_t)(width - position)) < n - chosen) {
          indices[t + chosen] = (uint8_t)position;
          values[t + chosen++] = uniform(-1, 1);
        }
    }
  for (int i = 0; i < tokens * k; i++) x[i] = uniform(-1, 1);
  for (int j = 0; bias && j < rows; j++) bias[j] = uniform(-1, 1);
  for (int i = 0; i < tokens; i++)
    for (int row = 0; row < rows; row++) {
      double total = bias ? fabs(bias[row]) : 0;
      for (int g = 0; g < groups; g++)
        for (int s = 0; s < n; s++) {
          size_t t = ((size_t)row * groups + g) * n + s;
          total += fabs((double)values[t] * x[(size_t)i * k + g * m + indices[t]]);
        }
      magnitude[(size_t)i * rows + row] = total;
    }
  winnow_nm_matrix w = {rows, k, n, m, indices, values};
  float *workspace = allocate(sizeof(float) * winnow_nm_spmm_neon_workspace_floats(&w));
  winnow_nm_spmm_f32_portable(&w, x, tokens, bias, relu, expected, 0, rows);
  winnow_nm_spmm_f32_neon(&w, x, tokens, bias, relu, actual, 0, rows / 2, workspace);
  winnow_nm_spmm_f32_neon(&w, x, tokens, bias, relu, actual, rows / 2, rows, workspace);
  char shape[96];
  snprintf(shape, sizeof shape, "rows=%d k=%d tokens=%d %d:%d bias=%d relu=%d", rows, k, tokens, n, m, with_bias, relu);
  check(close_enough(expected, actual, magnitude, (size_t)tokens * rows), "nm_spmm_f32_neon", shape);
  free(indices); free(values); free(x); free(bias); free(expected); free(actual); free(magnitude); free(workspace);
}

void test_nm(void) {
  const int patterns[][2] = {{2, 4}, {1, 4}, {4, 8}, {1, 2}, {3, 7}, {16, 16}};
  const int rows[] = {1, 3, 4, 5, 9}, ks[] = {16, 17, 48, 100}, tokens[] = {1, 3, 4, 8, 9, 20};
  for (int p = 0; p < 6; p++)
    for (int a = 0; a < 5; a++)
      for (int b = 0; b < 4; b++)
        for (int c = 0; c < 6; c++) {
          const int n = patterns[p][0], m = patterns[p][1], tail = ks[b] % m;
          if (tail != 0 && tail < n) continue;  // the tail group must hold n inputs
          nm_case(rows[a], ks[b], tokens[c], n, m, (a + c) % 2, (b + c) % 2);
        }
}

// MARK: - Transformer rows (the portable bodies as compiled for arm64) against double precision

void test_transformer_rows(void) {
  const int lengths[] = {1, 15, 16, 17, 100, 384};
  for (int l = 0; l < 6; l++) {
    const int length = lengths[l], stride = length + 3, rows = 3;
    float *x = allocate(sizeof(float) * rows * stride), *y = allocate(sizeof(float) * length);
    float *gamma = allocate(sizeof(float) * length), *beta = allocate(sizeof(float) * length);
    double *copy = allocate(sizeof(double) * rows * stride);
    char shape[32];
    snprintf(shape, sizeof shape, "length=%d", length);
    int ok = 1;
    for (int i = 0; i < length; i++) x[i] = uniform(-6, 6);
    winnow_gelu_erf_f32(x, y, (size_t)length);
    for (int i = 0; i < length; i++) {
      double v = x[i], exact = 0.5 * v * (1 + erf(v / sqrt(2.0)));
      ok &= fabs(y[i] - exact) <= 1e-6 * (1 + fabs(v));
    }
    check(ok, "gelu_erf_f32", shape);
    ok = 1;
    for (int i = 0; i < rows * stride; i++) copy[i] = x[i] = uniform(-10, 10);
    winnow_softmax_rows_f32(x, (size_t)rows, (size_t)length, (size_t)stride, 0.125f);
    for (int r = 0; r < rows; r++) {
      double maximum = -INFINITY, sum = 0;
      for (int i = 0; i < length; i++) maximum = fmax(maximum, copy[r * stride + i]);
      for (int i = 0; i < length; i++) sum += exp(0.125 * (copy[r * stride + i] - maximum));
      for (int i = 0; i < length; i++) {
        double exact = exp(0.125 * (copy[r * stride + i] - maximum)) / sum;
        ok &= fabs(x[r * stride + i] - exact) <= 1e-5 * exact + 1e-7;
      }
    }
    check(ok, "softmax_rows_f32", shape);
    ok = 1;
    float *residual = allocate(sizeof(float) * rows * length);
    for (int i = 0; i < rows * length; i++) {
      x[i] = uniform(-3, 3);
      residual[i] = uniform(-1, 1);
      copy[i] = (double)x[i] + residual[i];
    }
    for (int i = 0; i < length; i++) { gamma[i] = uniform(0.5f, 1.5f); beta[i] = uniform(-0.5f, 0.5f); }
    winnow_add_layer_norm_f32(x, residual, gamma, beta, (size_t)rows, (size_t)length, 1e-5f);
    for (int r = 0; r < rows; r++) {
      double mean = 0, variance = 0;
      for (int i = 0; i < length; i++) mean += copy[r * length + i] / length;
      for (int i = 0; i < length; i++) variance += (copy[r * length + i] - mean) * (copy[r * length + i] - mean) / length;
      for (int i = 0; i < length; i++) {
        double z = (copy[r * length + i] - mean) / sqrt(variance + 1e-5), exact = z * gamma[i] + beta[i];
        ok &= fabs(x[r * length + i] - exact) <= 1e-5 * (fabs(z) * gamma[i] + fabs(beta[i])) + 1e-5;
      }
    }
    check(ok, "add_layer_norm_f32", shape);
    free(x); free(y); free(gamma); free(beta); free(copy); free(residual);
  }
}
