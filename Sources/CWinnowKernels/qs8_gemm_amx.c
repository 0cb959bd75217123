// int8 linear layer on Intel AMX (TMUL): the contract of winnow_qs8_gemm_vnni (qs8_gemm.c),
// 32 tokens × 32 outputs per step with `tdpbusd` (uint8 × int8 → int32, 16×16×64 per
// instruction). The body is qs8_gemm_amx_body.h, compiled twice: on the tile instructions
// (winnow_qs8_gemm_amx, only where winnow_amx_usable()) and on a software model of them
// (winnow_qs8_gemm_amx_model), which follows the Intel SDM pseudo-code of LDTILECFG,
// TILEZERO, TILELOADD, TDPBUSD and TILESTORED. Tests run the model against the reference;
// no AMX hardware was available to run the other.
#include "CWinnowKernels.h"
#include <stdint.h>
#include <string.h>

size_t winnow_qs8_amx_packed_bytes(int n, int k) {
  return (size_t)((n + 31) / 32) * (size_t)((k + 63) / 64 * 16) * 128;
}

void winnow_qs8_pack_amx(const int8_t *codes, int n, int k, int8_t *packed) {
  int groups = (k + 63) / 64 * 16, panels = (n + 31) / 32;
  for (int p = 0; p < panels; p++)
    for (int g = 0; g < groups; g++)
      for (int j = 0; j < 32; j++)
        for (int i = 0; i < 4; i++) {
          int row = 32 * p + j, column = 4 * g + i;
          *packed++ = row < n && column < k ? codes[(size_t)row * k + column] : 0;
        }
}

void winnow_amx_make_config(winnow_amx_tile_config *config, int top, int bottom) {
  memset(config, 0, sizeof *config);
  config->palette_id = 1;
  for (int t = 0; t < 2; t++) {  // C tiles of the top half, then the bottom half
    config->rows[t] = (uint8_t)top;
    config->colsb[t] = 64;
    config->rows[2 + t] = (uint8_t)bottom;
    config->colsb[2 + t] = bottom ? 64 : 0;
  }
  config->rows[4] = (uint8_t)top;
  config->colsb[4] = 64;
  config->rows[5] = (uint8_t)bottom;
  config->colsb[5] = bottom ? 64 : 0;
  for (int t = 6; t < 8; t++) {
    config->rows[t] = 16;
    config->colsb[t] = 64;
  }
}

// MARK: - The software tile model (per thread, like the hardware's tile registers)
//
// Besides computing, the model checks what the hardware checks, so a kernel that would fault
// on AMX (#GP from LDTILECFG, #UD from a tile instruction) fails its tests here instead of
// agreeing with the portable kernel on numbers it could never produce:
//   LDTILECFG  palette 1; start_row and reserved bytes 2–15 zero; tiles 8–15 unset; rows ≤ 16,
//              colsb ≤ 64, and a tile has both or neither. Zeroes every tile.
//   any tile instruction  a configuration is loaded and the tile is set (rows > 0).
//   TDPBUSD    three different tiles; colsb of A and C multiples of 4 (stricter than the
//              manual, harmless); colsb(A)/4 = rows(B) (K), colsb(C) = colsb(B) (N),
//              rows(C) = rows(A) (M).
// The first fault is kept; the faulting operation changes nothing.

enum { AMX_FAULT_CONFIG = 1, AMX_FAULT_UNCONFIGURED = 2, AMX_FAULT_SHAPES = 3 };

typedef struct {
  uint8_t data[8][16][64];
  winnow_amx_tile_config config;
  int configured;
  int fault;  // first fault since the last winnow_amx_model_take_fault, 0 = none
} tile_state;

static _Thread_local tile_state model;

static void model_fault(int code) {
  if (model.fault == 0) model.fault = code;
}

static int config_is_valid(const winnow_amx_tile_config *config) {
  if (config->palette_id != 1 || config->start_row != 0) return 0;
  for (int i = 0; i < 14; i++)
    if (config->reserved[i] != 0) return 0;
  for (int t = 0; t < 16; t++) {
    int rows = config->rows[t], colsb = config->colsb[t];
    if (t >= 8 ? rows != 0 || colsb != 0 : rows > 16 || colsb > 64 || (rows == 0) != (colsb == 0)) return 0;
  }
  return 1;
}

/// LDTILECFG: takes the shapes and zeroes every tile.
static void model_config(const winnow_amx_tile_config *config) {
  memset(model.data, 0, sizeof model.data);
  model.configured = config_is_valid(config);
  if (!model.configured) { model_fault(AMX_FAULT_CONFIG); return; }
  model.config = *config;
}

/// True when tile `t` may be used; records the fault otherwise.
static int model_usable(int t) {
  if (model.configured && t >= 0 && t < 8 && model.config.rows[t] > 0) return 1;
  model_fault(AMX_FAULT_UNCONFIGURED);
  return 0;
}

static void model_zero(int t) {
  if (model_usable(t)) memset(model.data[t], 0, sizeof model.data[t]);
}

/// TILELOADD: `rows` rows of `colsb` bytes from base + r·stride; the rest of the tile zeroed.
static void model_load(int t, const void *base, size_t stride) {
  if (!model_usable(t)) return;
  memset(model.data[t], 0, sizeof model.data[t]);
  for (int r = 0; r < model.config.rows[t]; r++)
    memcpy(model.data[t][r], (const uint8_t *)base + (size_t)r * stride, model.config.colsb[t]);
}

static void model_store(int t, void *base, size_t stride) {
  if (!model_usable(t)) return;
  for (int r = 0; r < model.config.rows[t]; r++)
    memcpy((uint8_t *)base + (size_t)r * stride, model.data[t][r], model.config.colsb[t]);
}

/// TDPBUSD: C[m].dword[n] += Σ_{k < colsb(A)/4} Σ_{i<4} u8(A[m].byte[4k+i]) · s8(B[k].byte[4n+i]),
/// for m < rows(C), n < colsb(C)/4, with 32-bit wrap-around.
static void model_dpbusd(int c, int a, int b) {
  if (!model_usable(c) || !model_usable(a) || !model_usable(b)) return;
  const winnow_amx_tile_config *shape = &model.config;
  if (c == a || c == b || a == b || shape->colsb[a] % 4 != 0 || shape->colsb[c] % 4 != 0 ||
      shape->colsb[a] / 4 != shape->rows[b] || shape->colsb[c] != shape->colsb[b] || shape->rows[c] != shape->rows[a]) {
    model_fault(AMX_FAULT_SHAPES);
    return;
  }
  int rows = shape->rows[c], columns = shape->colsb[c] / 4, depth = shape->colsb[a] / 4;
  for (int m = 0; m < rows; m++)
    for (int n = 0; n < columns; n++) {
      uint32_t sum;
      memcpy(&sum, &model.data[c][m][4 * n], 4);
      for (int k = 0; k < depth; k++)
        for (int i = 0; i < 4; i++)
          sum += (uint32_t)((int32_t)model.data[a][m][4 * k + i] * (int32_t)(int8_t)model.data[b][k][4 * n + i]);
      memcpy(&model.data[c][m][4 * n], &sum, 4);
    }
}

/// TILERELEASE: back to the initial state (no configuration, tiles zero).
static void model_release(void) {
  memset(model.data, 0, sizeof model.data);
  model.configured = 0;
}

int winnow_amx_model_take_fault(void) {
  int fault = model.fault;
  model.fault = 0;
  return fault;
}

#define AMX_FUNCTION winnow_qs8_gemm_amx_model
#define AMX_EPILOGUE amx_model_epilogue
#define AMX_ATTRIBUTES
#define TILE_CONFIG(c) model_config(c)
#define TILE_ZERO(t) model_zero(t)
#define TILE_LOAD(t, base, stride) model_load(t, base, (size_t)(stride))
#define TILE_DPBUSD(c, a, b) model_dpbusd(c, a, b)
#define TILE_STORE(t, base, stride) model_store(t, base, (size_t)(stride))
#define TILE_RELEASE() model_release()
#include "qs8_gemm_amx_body.h"
#undef AMX_FUNCTION
#undef AMX_EPILOGUE
#undef AMX_ATTRIBUTES
#undef TILE_CONFIG
#undef TILE_ZERO
#undef TILE_LOAD
#undef TILE_DPBUSD
#undef TILE_STORE
#undef TILE_RELEASE

int winnow_amx_model_tile_product(int rows, int columns, int depth, const uint8_t *a, int lda, const int8_t *b,
                                  int ldb, int32_t *c, int ldc) {
  winnow_amx_tile_config config;
  memset(&config, 0, sizeof config);
  config.palette_id = 1;
  config.rows[0] = (uint8_t)rows;
  config.colsb[0] = (uint16_t)(4 * columns);
  config.rows[1] = (uint8_t)rows;
  config.colsb[1] = (uint16_t)(4 * depth);
  config.rows[2] = (uint8_t)depth;
  config.colsb[2] = (uint16_t)(4 * columns);
  int earlier = winnow_amx_model_take_fault();
  model_config(&config);
  model_load(0, c, (size_t)ldc * 4);
  model_load(1, a, (size_t)lda);
  model_load(2, b, (size_t)ldb);
  model_dpbusd(0, 1, 2);
  if (model.fault == 0) model_store(0, c, (size_t)ldc * 4);
  model_release();
  int fault = winnow_amx_model_take_fault();
  model.fault = earlier;
  return fault;
}

// MARK: - The hardware path

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define AMX_FUNCTION winnow_qs8_gemm_amx_native
#define AMX_EPILOGUE amx_native_epilogue
#define AMX_ATTRIBUTES __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl")))
#define TILE_CONFIG(c) _tile_loadconfig(c)
#define TILE_ZERO(t) _tile_zero(t)
#define TILE_LOAD(t, base, stride) _tile_loadd(t, base, stride)
#define TILE_DPBUSD(c, a, b) _tile_dpbusd(c, a, b)
#define TILE_STORE(t, base, stride) _tile_stored(t, base, stride)
#define TILE_RELEASE() _tile_release()
#include "qs8_gemm_amx_body.h"

/// winnow_cpu_features() reports AMX-INT8 only with AMX-TILE and AMX-INT8 in CPUID,
/// XTILECFG/XTILEDATA enabled in XCR0, and Linux's permission for this process to use tile
/// data (ARCH_REQ_XCOMP_PERM, requested once during detection; see cpu_features.c).
int winnow_amx_usable(void) { return (winnow_cpu_features() & WINNOW_CPU_AMX_INT8) != 0; }

void winnow_qs8_gemm_amx(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                         const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums, const float *w_scales,
                         const float *bias, int relu, float *y, int panel_begin, int panel_end) {
  if (!winnow_amx_usable()) return;  // callers check first; never execute tile code without permission
  winnow_qs8_gemm_amx_native(m, n, k, q, q_stride, x_scales, x_zeros, packed, row_sums, w_scales, bias, relu, y,
                             panel_begin, panel_end);
}
#else
int winnow_amx_usable(void) { return 0; }
void winnow_qs8_gemm_amx(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                         const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums, const float *w_scales,
                         const float *bias, int relu, float *y, int panel_begin, int panel_end) {
  (void)m; (void)n; (void)k; (void)q; (void)q_stride; (void)x_scales; (void)x_zeros; (void)packed;
  (void)row_sums; (void)w_scales; (void)bias; (void)relu; (void)y; (void)panel_begin; (void)panel_end;
}
#endif
