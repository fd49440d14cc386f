#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "kernels/first_kernel.h"
#include "kernels/kernel.h"
#include "ops/tensor/shape.h"

namespace kiln {

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry r;
  return r;
}

void KernelRegistry::add(std::string op, std::string impl, Factory f) {
  auto& v = by_op_[op];
  for (auto& [name, _] : v)
    if (name == impl) throw std::logic_error("kiln: kernel '" + op + "/" + impl + "' registered twice");
  v.emplace_back(std::move(impl), std::move(f));
}

std::vector<std::string> KernelRegistry::impls(const std::string& op) const {
  std::vector<std::string> r;
  auto it = by_op_.find(op);
  if (it != by_op_.end())
    for (auto& [name, _] : it->second) r.push_back(name);
  return r;
}

std::unique_ptr<Kernel> KernelRegistry::create(const std::string& op, const std::string& impl,
                                               const KernelSpec& spec) const {
  if (impl == "reference") return make_reference_kernel(spec);
  auto it = by_op_.find(op);
  if (it == by_op_.end()) return nullptr;
  for (auto& [name, f] : it->second)
    if (name == impl) return f(spec);
  return nullptr;
}

KernelChoice first_kernel(const std::string& op, const KernelSpec& spec, bool with_reference,
                          const std::function<void(const std::string&, const std::string&)>& declined) {
  auto& reg = KernelRegistry::instance();
  std::vector<std::string> order = reg.impls(op);
  if (with_reference) order.push_back("reference");
  for (const std::string& impl : order) {
    try {
      if (auto k = reg.create(op, impl, spec)) return {impl, std::move(k)};
    } catch (const std::exception& e) {
      if (declined) declined(impl, e.what());
    }
  }
  return {};
}

namespace {

class ReferenceKernel final : public Kernel {
 public:
  explicit ReferenceKernel(const KernelSpec& s) : op_(s.op.clone()) {
    for (auto& t : s.in) {
      in_.push_back({t.dtype, t.shape, const_cast<void*>(t.const_data)});
      in_q_.push_back(t.quant);
    }
    for (auto& t : s.out) {
      out_.push_back({t.dtype, t.shape, nullptr});
      out_q_.push_back(t.quant);
    }
  }
  BoundKernel bind(const KernelBinding& b) const override {
    ops::KernelArgs args{in_, out_};
    for (size_t i = 0; i < args.in.size(); ++i)
      if (!args.in[i].data) args.in[i].data = i < b.in.size() ? b.in[i] : nullptr;
    for (size_t i = 0; i < args.out.size(); ++i) args.out[i].data = b.out.at(i);
    const ops::Op* op = op_.get();
    bool widen = false;
    if (op->type() != "Cast")  // Cast converts between the real types itself
      for (auto* list : {&args.in, &args.out})
        for (auto& t : *list) widen |= t.dtype == DType::BFloat16 || dtype_quantized(t.dtype);
    if (!widen) return [op, args](dnnl::stream&) { op->reference(args); };
    // A layer computing in bf16 or int8 (ops::infer_types): the op's reference reads and writes
    // float32, so reduced-precision tensors go through float32 buffers of this binding, rounded
    // (quantized) back on the way out. This is the oracle the int8 and bf16 kernels are tested by.
    auto wide = std::make_shared<ops::KernelArgs>(args);
    auto bufs = std::make_shared<std::vector<std::vector<float>>>();
    auto narrow = [](DType t) { return t == DType::BFloat16 || dtype_quantized(t); };
    for (auto* list : {&wide->in, &wide->out})
      for (auto& t : *list)
        if (narrow(t.dtype) && t.data) {
          bufs->emplace_back(static_cast<size_t>(std::max<int64_t>(t.elements(), 0)));
          t.dtype = DType::Float32;
          t.data = bufs->back().data();
        }
    return [op, args, wide, bufs, narrow, in_q = in_q_, out_q = out_q_](dnnl::stream&) {
      for (size_t i = 0; i < args.in.size(); ++i)
        if (narrow(args.in[i].dtype) && args.in[i].data)
          widen_to_f32(args.in[i], in_q[i], wide->in[i].as<float>());
      op->reference(*wide);
      for (size_t i = 0; i < args.out.size(); ++i)
        if (narrow(args.out[i].dtype)) narrow_from_f32(wide->out[i].as<float>(), out_q[i], args.out[i]);
    };
  }

 private:
  // The channel of element k along q.axis, for per-channel scales.
  static size_t channel(const TensorView& t, const ops::QuantParams& q, int64_t k) {
    if (q.axis < 0 || q.scale.size() == 1) return 0;
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(q.axis) + 1; d < t.shape.size(); ++d) inner *= t.shape[d];
    return static_cast<size_t>((k / inner) % t.shape[static_cast<size_t>(q.axis)]);
  }
  static void widen_to_f32(const TensorView& t, const ops::QuantParams& q, float* d) {
    const int64_t n = t.elements();
    if (t.dtype == DType::BFloat16) {
      const auto* s = static_cast<const uint16_t*>(t.data);
      for (int64_t k = 0; k < n; ++k) d[k] = ops::bf16_to_float(s[k]);
    } else if (t.dtype == DType::QUInt8) {
      const auto* s = static_cast<const uint8_t*>(t.data);
      for (int64_t k = 0; k < n; ++k) d[k] = q.at(channel(t, q, k)) * static_cast<float>(int(s[k]) - q.zero_point);
    } else {
      const auto* s = static_cast<const int8_t*>(t.data);
      for (int64_t k = 0; k < n; ++k) d[k] = q.at(channel(t, q, k)) * static_cast<float>(int(s[k]) - q.zero_point);
    }
  }
  static void narrow_from_f32(const float* s, const ops::QuantParams& q, const TensorView& t) {
    const int64_t n = t.elements();
    if (t.dtype == DType::BFloat16) {
      auto* d = static_cast<uint16_t*>(t.data);
      for (int64_t k = 0; k < n; ++k) d[k] = ops::float_to_bf16(s[k]);
      return;
    }
    const bool u = t.dtype == DType::QUInt8;
    const float lo = u ? 0.f : -128.f, hi = u ? 255.f : 127.f;
    for (int64_t k = 0; k < n; ++k) {
      // Round half to even, as oneDNN's conversions and ONNX's QuantizeLinear do.
      const float v = std::clamp(std::nearbyint(s[k] / q.at(channel(t, q, k))) + static_cast<float>(q.zero_point), lo, hi);
      if (u) static_cast<uint8_t*>(t.data)[k] = static_cast<uint8_t>(v);
      else static_cast<int8_t*>(t.data)[k] = static_cast<int8_t>(v);
    }
  }

  std::unique_ptr<ops::Op> op_;
  std::vector<TensorView> in_, out_;
  std::vector<ops::QuantParams> in_q_, out_q_;
};

}  // namespace

std::unique_ptr<Kernel> make_reference_kernel(const KernelSpec& spec) {
  for (auto& t : spec.in)
    if (t.present() && !t.layout.empty()) return nullptr;
  for (auto& t : spec.out)
    if (!t.layout.empty()) return nullptr;
  return std::make_unique<ReferenceKernel>(spec);
}

namespace dnn {

using tag = dnnl::memory::format_tag;

dnnl::memory::data_type dtype(DType t) {
  switch (t) {
    case DType::Float32: return dnnl::memory::data_type::f32;
    case DType::BFloat16: return dnnl::memory::data_type::bf16;
    case DType::Float16: return dnnl::memory::data_type::f16;
    case DType::Int32: return dnnl::memory::data_type::s32;
    case DType::Int8: case DType::QInt8: return dnnl::memory::data_type::s8;
    case DType::UInt8: case DType::QUInt8: return dnnl::memory::data_type::u8;
    default: throw Error(std::string("oneDNN has no data type for ") + dtype_name(t));
  }
}

dnnl::memory::dims dims(const Dims& s) {
  if (s.empty()) return {1};
  return dnnl::memory::dims(s.begin(), s.end());
}

static tag plain_tag(size_t rank) {
  switch (rank) {
    case 0: case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    case 6: return tag::abcdef;
    default: throw Error("oneDNN supports tensors of rank 6 at most, got " + std::to_string(rank));
  }
}

static tag named_tag(const std::string& name) {
  static const std::pair<const char*, tag> table[] = {
      {"nchw", tag::nchw},       {"nhwc", tag::nhwc},         {"nChw16c", tag::nChw16c},
      {"nChw8c", tag::nChw8c},   {"ncdhw", tag::ncdhw},       {"ndhwc", tag::ndhwc},
      {"nCdhw16c", tag::nCdhw16c}, {"ncw", tag::ncw},         {"nwc", tag::nwc},
      {"nCw16c", tag::nCw16c},
  };
  for (auto& [n, t] : table)
    if (name == n) return t;
  throw Error("unknown tensor layout '" + name + "'");
}

dnnl::memory::desc plain_md(const Dims& s, DType t) {
  return dnnl::memory::desc(dims(s), dtype(t), plain_tag(s.size()));
}

bool layout_known(const std::string& layout, size_t rank) {
  if (layout.empty()) return true;
  try {
    return dnnl::memory::desc(dnnl::memory::dims(rank, 1), dnnl::memory::data_type::f32, named_tag(layout))
               .dims().size() == rank;
  } catch (const std::exception&) {
    return false;
  }
}

size_t physical_bytes(DType t, const Dims& s, const std::string& layout) {
  if (layout.empty()) return shape_bytes(s, t);
  return md(KernelTensor{t, s, layout, nullptr, {}}).get_size();
}

dnnl::memory::desc md(const KernelTensor& t) {
  if (t.layout.empty()) return plain_md(t.shape, t.dtype);
  return dnnl::memory::desc(dims(t.shape), dtype(t.dtype), named_tag(t.layout));
}

std::string format_name(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return d.format_kind == dnnl_format_kind_any ? "any" : "opaque";
  const int n = d.ndims;
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // Outermost first; equal strides (size-1 dims) keep logical order, as oneDNN's tags do.
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return b.strides[x] > b.strides[y]; });
  std::string r;
  for (int i : order) {
    bool blocked = false;
    for (int k = 0; k < b.inner_nblks; ++k) blocked |= b.inner_idxs[k] == i;
    r += static_cast<char>((blocked ? 'A' : 'a') + i);
  }
  for (int k = 0; k < b.inner_nblks; ++k)
    r += std::to_string(b.inner_blks[k]) + static_cast<char>('a' + b.inner_idxs[k]);
  return r;
}

bool has_vnni() {
  // oneDNN's ISA values are capability bit sets: 0x40 marks avx512_core_vnni (and bf16, amx
  // above it), 0x400 avx2_vnni.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return (isa & 0x40u) || (isa & 0x400u);
}

bool post_ops(const ops::PostOps& p, dnnl::post_ops& out) {
  using A = ops::Act;
  using alg = dnnl::algorithm;
  for (auto& po : p.ops) {
    if (po.kind == ops::PostOp::Kind::Sum) {
      out.append_sum(1.f);
      continue;
    }
    float a = po.alpha, b = po.beta;
    alg k;
    switch (po.act) {
      case A::Relu: k = alg::eltwise_relu; a = 0.f; break;
      case A::LeakyRelu: k = alg::eltwise_relu; break;
      case A::Clip: k = alg::eltwise_clip_v2; break;
      case A::Sigmoid: k = alg::eltwise_logistic; break;
      case A::Tanh: k = alg::eltwise_tanh; break;
      case A::Elu: k = alg::eltwise_elu; break;
      case A::HardSigmoid:  // oneDNN 2.6 has no hardsigmoid: linear then clip to [0, 1]
        out.append_eltwise(1.f, alg::eltwise_linear, a, b);
        k = alg::eltwise_clip_v2, a = 0.f, b = 1.f;
        break;
      case A::HardSwish: k = alg::eltwise_hardswish; break;
      case A::Swish: k = alg::eltwise_swish; break;
      case A::Softplus: k = alg::eltwise_soft_relu; break;
      case A::Gelu: k = alg::eltwise_gelu_erf; break;
      case A::GeluTanh: k = alg::eltwise_gelu_tanh; break;
      case A::Abs: k = alg::eltwise_abs; break;
      case A::Exp: k = alg::eltwise_exp; break;
      case A::Sqrt: k = alg::eltwise_sqrt; break;
      case A::Round: k = alg::eltwise_round; break;
      default: return false;
    }
    out.append_eltwise(1.f, k, a, b);
  }
  return true;
}

bool int8_attr(const ops::PostOps& p, const KernelTensor& x, const KernelTensor& w, const KernelTensor* sum,
               const KernelTensor& y, int channel_mask, dnnl::primitive_attr& attr, std::vector<float>& acc_scale) {
  if (!dtype_quantized(x.dtype) || w.dtype != DType::QInt8 || x.quant.scale.size() != 1 || w.quant.empty() ||
      x.quant.zero_point != 0 || w.quant.zero_point != 0)
    return false;
  const bool per_channel = w.quant.scale.size() > 1;
  if (per_channel && w.quant.axis != 0) return false;
  acc_scale.clear();
  for (float s : w.quant.scale) acc_scale.push_back(x.quant.scale[0] * s);
  const bool y_q = dtype_quantized(y.dtype);
  if (y_q && y.quant.scale.size() != 1) return false;
  // Post-ops that commute with a positive scale (relu, leaky relu) run on the output's integer
  // scale directly: one fewer post-op. Others need the real values, then a final linear step.
  bool homogeneous = true;
  for (auto& po : p.ops)
    if (po.kind != ops::PostOp::Kind::Sum && po.act != ops::Act::Relu && po.act != ops::Act::LeakyRelu) homogeneous = false;
  const float k = y_q && homogeneous ? 1.f / y.quant.scale[0] : 1.f;
  std::vector<float> out_scale(acc_scale);
  for (float& s : out_scale) s *= k;
  attr.set_output_scales(per_channel ? 1 << channel_mask : 0, out_scale);
  dnnl::post_ops po;
  for (auto& op : p.ops) {
    if (op.kind == ops::PostOp::Kind::Sum) {
      // oneDNN adds the operand's stored values: a quantized operand brings its own scale and zero point.
      // (oneDNN 2.6 reads the operand in any type of dst's size.)
      if (!sum || dtype_size(sum->dtype) != dtype_size(y.dtype)) return false;
      const bool s_q = dtype_quantized(sum->dtype);
      if (s_q && sum->quant.scale.size() != 1) return false;
      const float s = (s_q ? sum->quant.scale[0] : 1.f) * k;
      po.append_sum(s, s_q ? sum->quant.zero_point : 0, dnn::dtype(sum->dtype));
      continue;
    }
    ops::PostOps one;
    one.ops.push_back(op);
    if (!post_ops(one, po)) return false;
  }
  if (y_q && (!homogeneous || y.quant.zero_point != 0))
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, homogeneous ? 1.f : 1.f / y.quant.scale[0],
                      static_cast<float>(y.quant.zero_point));
  attr.set_post_ops(po);
  return true;
}

}  // namespace dnn
}  // namespace kiln
