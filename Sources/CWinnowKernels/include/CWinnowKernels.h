#pragma once
#include <stdint.h>

/// CPU features Winnow's kernels can use, detected once at run time (bit flags).
enum {
  WINNOW_CPU_AVX2 = 1u << 0,
  WINNOW_CPU_FMA = 1u << 1,
  WINNOW_CPU_AVX512F = 1u << 2,
  WINNOW_CPU_AVX512BW = 1u << 3,
  WINNOW_CPU_AVX512VNNI = 1u << 4,
  WINNOW_CPU_AMX_INT8 = 1u << 5,
  WINNOW_CPU_AMX_BF16 = 1u << 6,
  WINNOW_CPU_NEON = 1u << 7,
};

/// Returns the WINNOW_CPU_* bits this processor and operating system support.
/// AVX/AVX-512 bits require the OS to save the wide registers (XGETBV), not only CPUID.
uint32_t winnow_cpu_features(void);

/// Fills `buffer` with the processor brand string (NUL-terminated, at most `size` bytes).
void winnow_cpu_brand(char *buffer, int size);
