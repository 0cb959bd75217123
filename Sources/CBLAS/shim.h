#pragma once
// Debian/Ubuntu: `pkg-config openblas` adds the include path of OpenBLAS' cblas.h.
// On Apple platforms WinnowKernels uses Accelerate instead and never imports this module.
#include <cblas.h>
