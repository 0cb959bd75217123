#pragma once
// The baseline of the GEMM benchmark: OpenBLAS' cblas_sgemm, called without Winnow in between.
#include <cblas.h>
