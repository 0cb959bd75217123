// Shared helpers of the NEON test driver (neon_test.c, neon_test_float.c).
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Counts one check; prints the first failures with the case's shape.
void check(int ok, const char *what, const char *shape);
/// Seeded xorshift64* (the same cases every run).
uint64_t next_random(void);
float uniform(float low, float high);
/// Zeroed memory (at least one byte).
void *allocate(size_t bytes);
int same_bits(const float *a, const float *b, size_t count);
/// |a − b| ≤ 1e-5·magnitude + 1e-6 for every element (magnitude: Σ|terms| of that output).
int close_enough(const float *a, const float *b, const double *magnitude, size_t count);

void test_q4(void);
void test_sparse(void);
void test_nm(void);
void test_transformer_rows(void);
