#pragma once
// Debian/Ubuntu: `pkg-config openblas` adds the include path of OpenBLAS' cblas.h.
// On Apple platforms WinnowKernels uses Accelerate instead and never imports this module.
#include <cblas.h>
#include <stddef.h>

// LAPACK, which OpenBLAS ships in the same library (cblas.h does not declare it): the thin
// SVD by divide and conquer, used by WinnowKernels' `LAPACK` for large matrices. Fortran
// calling convention: every argument by reference, column-major matrices, 32-bit integers
// (OpenBLAS' default LP64 interface), and the hidden length of the character argument `jobz`
// passed last, as gfortran compiles it (omitting it is undefined behaviour with gfortran ≥ 9).
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *iwork, int *info, size_t jobz_length);
