// Per-ISA inner loops of the in-house kernels. The library is compiled for a portable baseline
// (x86-64-v3: AVX2 and FMA; see KILN_NATIVE in the top CMakeLists.txt); the loops that gain from
// AVX-512 are compiled once more in their own translation units (*_avx512.cpp, the only files
// built with AVX-512 flags) and one version is chosen at run time. The choice follows oneDNN's
// effective ISA, so ONEDNN_MAX_CPU_ISA=AVX2 caps kiln's own kernels as it caps oneDNN's.
//
// The AVX-512 files hold intrinsics over raw pointers behind one entry per loop: no inline
// function, template or standard-library code, whose weak copies the linker could pick for the
// whole library (tests: runtime.baseline_isa_only).
#pragma once

#include <cstdint>

namespace kiln::simd {

// dst[k] += a * row[k] for k < n, element by element (no reassociation). The AVX-512 build
// multiplies and adds separately; the baseline's compiler may fuse them, so the last bit of a
// result can differ between CPUs, as it does between oneDNN's ISA paths.
using AxpyFn = void (*)(float* dst, const float* row, float a, int64_t n);

// One row of LayerNormalization writing its output quantized (kernels/nn/layernorm_quant.cpp):
// y (float, skipped when null) and q (uint8, or int8 when is_signed) over n values.
using LayerNormQ8RowFn = void (*)(const float* x, int64_t n, const float* gamma, const float* beta, float eps,
                                  float rscale, int32_t zp, int is_signed, float* y, void* q);

// GELU (erf form) of n floats written quantized: q = saturate(round_half_even(gelu(x) * rscale) + zp),
// uint8 or int8 when is_signed. gelu is a cubic Hermite interpolant on 32 segments of [-4, 4)
// (coefficients in `table`, gelu_table()), x from 4 on and gelu(-4) below -4: within 2e-5 of
// erf-GELU (1.3e-4 at |x| >= 4), far below any int8 step. For the int8 MatMul whose GELU runs after
// oneDNN's matmul instead of as its post-op (kernels/math/gemm.cpp).
using GeluQ8Fn = void (*)(const float* x, int64_t n, const float* table, float rscale, int32_t zp, int is_signed,
                          void* q);

// One row of softmax(x + mask) over n floats (mask: n floats, or null for none). With q null,
// y receives the probabilities; otherwise y is n floats of scratch and q the probabilities
// quantized: saturate(round_half_even(p * rscale) + zp), uint8 or int8 when is_signed. exp is a
// polynomial within 2e-7 of std::exp, and exactly 0 for x - max < -64 (no denormals: Intel cores
// run those through slow microcode assists). For the in-house Softmax (kernels/math/softmax.cpp).
using SoftmaxRowFn = void (*)(const float* x, const float* mask, int64_t n, float* y, float rscale, int32_t zp,
                              int is_signed, void* q);
// Where SoftmaxRowFn's exp becomes exactly 0 (and any portable row's with it): x - max below this.
constexpr float kSoftmaxExpFloor = -64.f;

// out[i] = lut[in[i]] for n bytes: a 256-entry table applied to 8-bit integers (the int8 MatMul
// whose GELU maps its quantized pre-activations through a table, kernels/math/gemm.cpp).
using LutU8Fn = void (*)(const uint8_t* in, int64_t n, const uint8_t* lut, uint8_t* out);

struct Kernels {
  const char* isa;  // "avx512" or "baseline"
  AxpyFn axpy;
  LayerNormQ8RowFn layernorm_q8_row;  // null on the baseline: the caller's AVX2 loop runs
  GeluQ8Fn gelu_q8;                   // null on the baseline: GELU stays a oneDNN post-op
  SoftmaxRowFn softmax_row;           // null on the baseline: the caller's portable loop runs
  LutU8Fn lut_u8;                     // null without AVX-512 VBMI: GELU stays a float pass
};

// GeluQ8Fn's coefficients: 4 x 32 floats (c0, c1, c2, c3 of each segment, in the segment's local
// coordinate f in [0, 1)).
const float* gelu_table();

// The versions this CPU (as capped by ONEDNN_MAX_CPU_ISA) runs, chosen on first use.
const Kernels& kernels();

}  // namespace kiln::simd
