// The AMX int8 GEMM body, included twice by qs8_gemm_amx.c: once on the hardware's tile
// instructions, once on the software tile model (so the same code is tested on machines
// without AMX). The includer defines:
//   AMX_FUNCTION, AMX_EPILOGUE   names of the entry point and its epilogue
//   AMX_ATTRIBUTES               function attributes (the target ISA for hardware)
//   TILE_CONFIG(c), TILE_ZERO(t), TILE_LOAD(t, base, stride), TILE_DPBUSD(c, a, b),
//   TILE_STORE(t, base, stride), TILE_RELEASE()
//
// Register use (8 tiles): C tiles 0–3 hold int32 sums of 32 tokens × 32 outputs
// (0: tokens 0–15 × outputs 0–15, 1: tokens 0–15 × outputs 16–31, 2 and 3 the same for
// tokens 16–31); A tiles 4 and 5 hold 16 tokens × 64 bytes of uint8 activations; B tiles
// 6 and 7 hold 16 groups of 4 inputs × 16 outputs of int8 weights. B rows are exactly the
// VNNI panel layout (a group's 128 bytes = outputs 0–15 then 16–31, 4 inputs each), read
// with a stride of 128 bytes; AMX panels only pad K to 64 (see winnow_qs8_pack_amx).

/// y for `mr` tokens × the panel's valid outputs from the stored sums `acc` (32 per row), with
/// the same float operations in the same order as the VNNI kernel's epilogue (no contraction).
AMX_ATTRIBUTES static void AMX_EPILOGUE(int mr, const int32_t *acc, int n, int column0, const float *x_scales,
                                        const int32_t *x_zeros, const int32_t *row_sums, const float *w_scales,
                                        const float *bias, int relu, float *y) {
  int count = n - column0 < 32 ? n - column0 : 32;
  for (int i = 0; i < mr; i++) {
    uint32_t zero = (uint32_t)x_zeros[i];
    float x_scale = x_scales[i];
    for (int j = 0; j < count; j++) {
      int32_t centred = (int32_t)((uint32_t)acc[i * 32 + j] - zero * (uint32_t)row_sums[column0 + j]);
      float scale = x_scale * w_scales[column0 + j];
      float product = (float)centred * scale;
      float v = product + (bias ? bias[column0 + j] : 0.0f);
      y[(size_t)i * n + column0 + j] = relu && !(v > 0) ? 0.0f : v;
    }
  }
}

AMX_ATTRIBUTES void AMX_FUNCTION(int m, int n, int k, const uint8_t *q, int q_stride, const float *x_scales,
                                 const int32_t *x_zeros, const int8_t *packed, const int32_t *row_sums,
                                 const float *w_scales, const float *bias, int relu, float *y, int panel_begin,
                                 int panel_end) {
  int k_blocks = (k + 63) / 64, groups = 16 * k_blocks;
  int32_t acc[32 * 32];
  for (int i0 = 0; i0 < m; i0 += 32) {
    int tokens = m - i0 < 32 ? m - i0 : 32;
    int top = tokens < 16 ? tokens : 16, bottom = tokens - top;
    winnow_amx_tile_config config;
    winnow_amx_make_config(&config, top, bottom);
    TILE_CONFIG(&config);
    const uint8_t *a = q + (size_t)i0 * q_stride;
    for (int p = panel_begin; p < panel_end; p++) {
      const int8_t *panel = packed + (size_t)p * groups * 128;
      TILE_ZERO(0);
      TILE_ZERO(1);
      if (bottom) {
        TILE_ZERO(2);
        TILE_ZERO(3);
      }
      for (int kb = 0; kb < k_blocks; kb++) {
        TILE_LOAD(4, a + kb * 64, q_stride);
        TILE_LOAD(6, panel + (size_t)kb * 16 * 128, 128);
        TILE_LOAD(7, panel + (size_t)kb * 16 * 128 + 64, 128);
        TILE_DPBUSD(0, 4, 6);
        TILE_DPBUSD(1, 4, 7);
        if (bottom) {
          TILE_LOAD(5, a + (size_t)16 * q_stride + kb * 64, q_stride);
          TILE_DPBUSD(2, 5, 6);
          TILE_DPBUSD(3, 5, 7);
        }
      }
      TILE_STORE(0, acc, 128);
      TILE_STORE(1, acc + 16, 128);
      if (bottom) {
        TILE_STORE(2, acc + 16 * 32, 128);
        TILE_STORE(3, acc + 16 * 32 + 16, 128);
      }
      AMX_EPILOGUE(tokens, acc, n, 32 * p, x_scales + i0, x_zeros + i0, row_sums, w_scales, bias, relu,
                   y + (size_t)i0 * n);
    }
  }
  TILE_RELEASE();
}
