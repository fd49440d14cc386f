// Shape and data-movement ops: reshaping views (Reshape, Flatten, Squeeze, Unsqueeze), shape
// queries (Shape, Size), permutations and copies (Transpose, Concat, Split, Slice, Expand, Tile,
// Pad, Gather, GatherElements, DepthToSpace, SpaceToDepth) and Cast. These are the glue around
// heavy layers and the ops constant folding evaluates on shape sub-graphs, so every reference
// kernel works for every dtype by moving bytes through one strided-copy helper. The tensor
// generators ConstantOfShape and Range are in generator/constant_of_shape_range.h; the
// definitions are in shape.cpp, concat_split_slice_pad.cpp, gather.cpp and cast.cpp.
//
// Parameters that ONNX passes as inputs (Reshape's shape, Slice's starts...) are attributes once
// the importer knows them. When they are not compile-time constants the op keeps them as extra
// inputs: infer() uses their values if they become known (after folding), else leaves the
// dependent dims unknown.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// ---- helpers shared by the ops, their importers and fast kernels ----

// Copies the box `dims` (any rank, incl. 0) element by element of `elem_size` bytes:
// dst[sum i_k*dst_strides[k]] = src[sum i_k*src_strides[k]]. Strides are in elements and may be
// zero (broadcast) or negative (reversed slices); pointers address element (0, ..., 0).
// Adjacent dims are coalesced and contiguous runs copied with memcpy; large copies use threads.
void strided_copy(void* dst, const std::vector<int64_t>& dst_strides, const void* src,
                  const std::vector<int64_t>& src_strides, const Dims& dims, size_t elem_size);

// Normalises axis into [0, rank) (or [0, rank] with allow_end), failing with a message naming
// `what` when out of range.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* what, bool allow_end = false);

// Product of a static shape's dims; fails when it overflows or exceeds kMaxElements, so shapes
// computed from attributes can never lead to absurd allocations.
int64_t checked_elements(const Dims& s, const char* what);

// Reshape's target resolution: 0 copies the input dim (unless allowzero), one -1 is inferred
// from the element count. Unknown input dims give unknown output dims where they matter.
Dims resolve_reshape(const Dims& in, const std::vector<int64_t>& target, bool allowzero);

// IEEE half and bfloat16 conversions (round to nearest even, NaN and Inf preserved).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t h);
uint16_t float_to_bf16(float f);

// One element of `dtype` packed into the low bytes of an int64 (its raw bit pattern), so fill
// values of any dtype survive serialisation exactly.
int64_t pack_element(DType dtype, double value);
int64_t pack_element_bits(const TensorView& t, int64_t i);

// An int-list parameter (Reshape's shape, Slice's starts...): the attribute when input i is
// absent, else the input's value when it is a compile-time constant, else nullopt (known only at
// run time). Validates the input's dtype (int32/int64) and rank (1-D).
std::optional<std::vector<int64_t>> param_ints(const InferContext& ctx, size_t i,
                                               const std::vector<int64_t>& attr, const char* what);
// The same parameter at run time, read from the kernel's input i when present.
std::vector<int64_t> param_ints(const KernelArgs& args, size_t i, const std::vector<int64_t>& attr);

// Ranks beyond this come only from hostile or broken models.
constexpr int64_t kMaxRank = 64;

// Element count, or -1 when a dim is unknown; fails like checked_elements on overflow.
int64_t elements_or_unknown(const Dims& s, const char* what);
// d * k, -1 if either is unknown; fails on overflow.
int64_t mul_or_unknown(int64_t d, int64_t k, const char* what);
// Fails unless every dim is >= -1, the rank is at most kMaxRank and the known dims multiply to at
// most kMaxElements.
void check_output_shape(const Dims& s, const char* what);
// Input/output counts of a node and a valid dtype for input 0, with a message naming op.
void check_io(const InferContext& ctx, size_t min_in, size_t max_in, size_t outs, const char* op);

// ---- reshaping views: the reference kernel is a copy ----

// Inputs: data, [shape (int64, 1-D) when not a compile-time constant]. shape may hold 0 and one
// -1 with ONNX semantics (allowzero as in opset 14); the importer resolves them when it can.
struct Reshape : OpBase<Reshape> {
  static constexpr const char* kType = "Reshape";
  std::vector<int64_t> shape;
  int64_t allowzero = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  int inplace_input() const override { return 0; }  // a view: same bytes, no copy
};

// [d0..dk-1, dk..dn-1] -> [prod(d0..dk-1), prod(dk..dn-1)], k = axis in [-rank, rank].
struct Flatten : OpBase<Flatten> {
  static constexpr const char* kType = "Flatten";
  int64_t axis = 1;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  int inplace_input() const override { return 0; }  // a view: same bytes, no copy
};

// Removes the listed size-1 axes, or every size-1 axis when axes is empty.
struct Squeeze : OpBase<Squeeze> {
  static constexpr const char* kType = "Squeeze";
  std::vector<int64_t> axes;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  int inplace_input() const override { return 0; }  // a view: same bytes, no copy
};

// Inserts size-1 axes at the listed positions of the output.
struct Unsqueeze : OpBase<Unsqueeze> {
  static constexpr const char* kType = "Unsqueeze";
  std::vector<int64_t> axes;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  int inplace_input() const override { return 0; }  // a view: same bytes, no copy
};

// ---- shape queries (the dims type is kiln::Dims, so this op can be named Shape) ----

// int64 [end - start]: the input's dims [start, end) with Python-style clamping (opset 15).
struct Shape : OpBase<Shape> {
  static constexpr const char* kType = "Shape";
  int64_t start = 0;
  int64_t end = INT64_MAX;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// int64 scalar: the input's element count.
struct Size : OpBase<Size> {
  static constexpr const char* kType = "Size";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// ---- permutations and copies ----

// out.shape[i] = in.shape[perm[i]]; empty perm reverses the axes.
struct Transpose : OpBase<Transpose> {
  static constexpr const char* kType = "Transpose";
  std::vector<int64_t> perm;
  std::vector<int64_t> effective_perm(size_t rank) const;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Any number (>= 1) of inputs of equal dtype and rank, equal dims except along axis.
struct Concat : OpBase<Concat> {
  static constexpr const char* kType = "Concat";
  int64_t axis = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// One output per part along axis; split lists the part sizes (empty = equal parts).
struct Split : OpBase<Split> {
  static constexpr const char* kType = "Split";
  int64_t axis = 0;
  std::vector<int64_t> split;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data, [starts, ends, axes, steps when not compile-time constants]. ONNX Slice-10+
// semantics: clamping of out-of-range starts/ends, negative steps, INT_MAX ends.
struct Slice : OpBase<Slice> {
  static constexpr const char* kType = "Slice";
  std::vector<int64_t> starts, ends, axes, steps;  // axes empty = 0..n-1, steps empty = 1s
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data, [shape when not a compile-time constant]. Bidirectional (numpy) broadcast of
// data against shape.
struct Expand : OpBase<Expand> {
  static constexpr const char* kType = "Expand";
  std::vector<int64_t> shape;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data, [repeats when not a compile-time constant]. out.shape[i] = in.shape[i]*repeats[i].
struct Tile : OpBase<Tile> {
  static constexpr const char* kType = "Tile";
  std::vector<int64_t> repeats;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data, [pads], [value] (each only when not a compile-time constant). pads =
// [begin..., end...] (negative crops); mode "constant" | "reflect" | "edge" | "wrap"; value_bits is the
// fill element (pack_element).
struct Pad : OpBase<Pad> {
  static constexpr const char* kType = "Pad";
  std::string mode = "constant";
  std::vector<int64_t> pads;
  int64_t value_bits = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data, indices (int32/int64; negative counts from the end). Output: data.shape with
// axis replaced by indices.shape.
struct Gather : OpBase<Gather> {
  static constexpr const char* kType = "Gather";
  int64_t axis = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data, indices of the same rank; out[i..] = data[.. indices[i..] at axis ..].
struct GatherElements : OpBase<GatherElements> {
  static constexpr const char* kType = "GatherElements";
  int64_t axis = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// [N, C, H, W] -> [N, C/b^2, H*b, W*b]; mode "DCR" (default) or "CRD".
struct DepthToSpace : OpBase<DepthToSpace> {
  static constexpr const char* kType = "DepthToSpace";
  int64_t blocksize = 1;
  std::string mode = "DCR";
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// [N, C, H, W] -> [N, C*b^2, H/b, W/b].
struct SpaceToDepth : OpBase<SpaceToDepth> {
  static constexpr const char* kType = "SpaceToDepth";
  int64_t blocksize = 1;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// ---- dtype conversion (the generators: generator/constant_of_shape_range.h) ----

// Element-wise conversion to `to` (a DType code). Floats to integers truncate toward zero (NaN
// gives 0, values beyond int64 saturate, then wrap to narrower types as numpy does on x86);
// anything to bool is x != 0.
struct Cast : OpBase<Cast> {
  static constexpr const char* kType = "Cast";
  int64_t to = static_cast<int64_t>(DType::Float32);
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
