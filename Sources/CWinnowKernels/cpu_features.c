// Run-time CPU feature detection. Kernels with ISA-specific code paths ask this once and
// fall back to portable code when a feature is missing, so one binary runs everywhere.
#include "CWinnowKernels.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>

/// Linux (5.16+) keeps the 8 KB AMX tile-data state off for a process until it asks with
/// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); the first tile instruction without
/// that permission raises SIGILL. Asked once, during detection, and only when CPUID and XCR0
/// say AMX is there; the permission covers every thread. A refusal leaves AMX unused.
static int request_amx_permission(void) {
  const long request_component_permission = 0x1023, tile_data_component = 18;
  return syscall(SYS_arch_prctl, request_component_permission, tile_data_component) == 0;
}
#else
static int request_amx_permission(void) { return 0; }  // AMX is only used on Linux
#endif

static uint32_t detect_features(void) {
  uint32_t a, b, c, d, bits = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int osxsave = (c >> 27) & 1;
  int fma = (c >> 12) & 1;
  if (!osxsave) return 0;
  uint64_t xcr0 = read_xcr0();
  int ymm_ok = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0; // opmask + upper ZMM state
  int amx_ok = (xcr0 & 0x60000) == 0x60000;     // XTILECFG + XTILEDATA
  if (__get_cpuid_max(0, 0) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  if (ymm_ok && ((b >> 5) & 1)) bits |= WINNOW_CPU_AVX2;
  if (ymm_ok && fma) bits |= WINNOW_CPU_FMA;
  if (zmm_ok && ((b >> 16) & 1)) bits |= WINNOW_CPU_AVX512F;
  if (zmm_ok && ((b >> 30) & 1)) bits |= WINNOW_CPU_AVX512BW;
  if (zmm_ok && ((c >> 11) & 1)) bits |= WINNOW_CPU_AVX512VNNI;
  if (zmm_ok && ((b >> 31) & 1)) bits |= WINNOW_CPU_AVX512VL;
  if (zmm_ok && ((c >> 14) & 1)) bits |= WINNOW_CPU_AVX512VPOPCNTDQ;
  // AMX: AMX-TILE (leaf 7 EDX bit 24), XTILECFG/XTILEDATA in XCR0, then the OS permission.
  amx_ok = amx_ok && ((d >> 24) & 1) && (((d >> 25) & 1) || ((d >> 22) & 1)) && request_amx_permission();
  if (amx_ok && ((d >> 25) & 1)) bits |= WINNOW_CPU_AMX_INT8;  // AMX-INT8
  if (zmm_ok && a >= 1) {  // leaf 7 sub-leaf 0 EAX: the highest sub-leaf; AVX512_BF16 is 7.1 EAX bit 5
    uint32_t a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    if ((a1 >> 5) & 1) bits |= WINNOW_CPU_AVX512BF16;
  }
  if (amx_ok && ((d >> 22) & 1)) bits |= WINNOW_CPU_AMX_BF16;
  return bits;
}

// Detected once: CPUID traps to the hypervisor in a virtual machine (microseconds), and
// kernels ask on every call (14 % of a MiniLM forward pass before this cache). A benign
// race: every thread stores the same value.
uint32_t winnow_cpu_features(void) {
  static volatile int64_t cached = -1;
  int64_t value = cached;
  if (value < 0) {
    value = detect_features();
    cached = value;
  }
  return (uint32_t)value;
}

void winnow_cpu_brand(char *buffer, int size) {
  if (size <= 0) return;
  uint32_t regs[12];
  if (__get_cpuid_max(0x80000000, 0) < 0x80000004) { buffer[0] = 0; return; }
  for (uint32_t i = 0; i < 3; i++)
    __cpuid(0x80000002 + i, regs[4 * i], regs[4 * i + 1], regs[4 * i + 2], regs[4 * i + 3]);
  char brand[49];
  memcpy(brand, regs, 48);
  brand[48] = 0;
  const char *start = brand;
  while (*start == ' ') start++;
  strncpy(buffer, start, (size_t)size - 1);
  buffer[size - 1] = 0;
}

#elif defined(__aarch64__)
// Advanced SIMD (NEON) is part of the ARMv8-A base, so every arm64 CPU has it; the dot
// product instructions (SDOT/UDOT, FEAT_DotProd, optional from ARMv8.2) are asked of the
// operating system: the HWCAP bits the kernel exports on Linux, sysctl on Apple systems.
#if defined(__APPLE__)
#include <sys/sysctl.h>

static int has_dot_product(void) {
  int value = 0;
  size_t size = sizeof value;
  if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, NULL, 0) != 0) return 0;
  return value != 0;
}
#elif defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)  // arch/arm64/include/uapi/asm/hwcap.h
#endif

static int has_dot_product(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#else
static int has_dot_product(void) { return 0; }
#endif

uint32_t winnow_cpu_features(void) {
  static volatile int64_t cached = -1;  // as on x86: detected once, a benign race
  int64_t value = cached;
  if (value < 0) {
    value = WINNOW_CPU_NEON | (has_dot_product() ? WINNOW_CPU_NEON_DOTPROD : 0);
    cached = value;
  }
  return (uint32_t)value;
}

void winnow_cpu_brand(char *buffer, int size) {
  if (size > 0) { strncpy(buffer, "arm64", (size_t)size - 1); buffer[size - 1] = 0; }
}
#else
uint32_t winnow_cpu_features(void) { return 0; }
void winnow_cpu_brand(char *buffer, int size) { if (size > 0) buffer[0] = 0; }
#endif
