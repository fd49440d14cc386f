// Einsum: equation parsing, shape inference and the reference kernel (one loop nest over the
// output labels and the summed labels; repeated labels simply add their strides).
#include "ops/math/einsum.h"

#include <algorithm>
#include <cctype>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

constexpr int kLetters = 52;

// -1 for "...", else 0..51 for a-z, A-Z (ASCII order: A-Z first).
std::vector<int> tokens(const std::string& term, const char* what) {
  std::vector<int> r;
  for (size_t i = 0; i < term.size();) {
    const char c = term[i];
    if (c == '.') {
      if (term.compare(i, 3, "...") != 0) fail(std::string("Einsum: stray '.' in the ") + what);
      if (std::find(r.begin(), r.end(), -1) != r.end())
        fail(std::string("Einsum: more than one '...' in the ") + what);
      r.push_back(-1);
      i += 3;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(c)))
      fail(std::string("Einsum: invalid character '") + c + "' in the " + what);
    r.push_back(std::isupper(static_cast<unsigned char>(c)) ? c - 'A' : 26 + (c - 'a'));
    ++i;
  }
  return r;
}

}  // namespace

EinsumPlan parse_einsum(const std::string& equation, const std::vector<size_t>& ranks) {
  std::string eq;
  for (char c : equation)
    if (!std::isspace(static_cast<unsigned char>(c))) eq += c;
  const size_t arrow = eq.find("->");
  if (arrow != std::string::npos && eq.find("->", arrow + 2) != std::string::npos)
    fail("Einsum: the equation has more than one '->'");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::vector<int>> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(tokens(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start),
                           "input subscripts"));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ranks.size())
    fail("Einsum: the equation has " + std::to_string(terms.size()) + " operand terms but the node has " +
         std::to_string(ranks.size()) + " inputs");
  EinsumPlan p;
  std::vector<int> ell_dims(terms.size(), 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    const bool has_ell = std::find(terms[i].begin(), terms[i].end(), -1) != terms[i].end();
    const int letters = static_cast<int>(terms[i].size()) - (has_ell ? 1 : 0);
    const int rank = static_cast<int>(ranks[i]);
    if (has_ell ? rank < letters : rank != letters)
      fail("Einsum: operand " + std::to_string(i) + " has rank " + std::to_string(rank) +
           " but its subscripts name " + std::to_string(letters) + " dims" + (has_ell ? " plus '...'" : ""));
    ell_dims[i] = has_ell ? rank - letters : 0;
    p.ellipsis = std::max(p.ellipsis, ell_dims[i]);
  }
  if (p.ellipsis > kMaxRank) fail("Einsum: '...' stands for too many dims");
  p.num_labels = p.ellipsis + kLetters;
  std::vector<int> count(static_cast<size_t>(kLetters), 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    std::vector<int> labels;
    for (int t : terms[i]) {
      if (t == -1) {
        for (int e = p.ellipsis - ell_dims[i]; e < p.ellipsis; ++e) labels.push_back(e);
      } else {
        labels.push_back(p.ellipsis + t);
        ++count[static_cast<size_t>(t)];
      }
    }
    p.operands.push_back(std::move(labels));
  }
  if (arrow == std::string::npos) {
    for (int e = 0; e < p.ellipsis; ++e) p.output.push_back(e);
    for (int t = 0; t < kLetters; ++t)
      if (count[static_cast<size_t>(t)] == 1) p.output.push_back(p.ellipsis + t);
    return p;
  }
  const auto out = tokens(eq.substr(arrow + 2), "output subscripts");
  for (int t : out) {
    if (t == -1) {
      for (int e = 0; e < p.ellipsis; ++e) p.output.push_back(e);
      continue;
    }
    if (count[static_cast<size_t>(t)] == 0) fail("Einsum: an output label does not appear in any input");
    if (std::find(p.output.begin(), p.output.end(), p.ellipsis + t) != p.output.end())
      fail("Einsum: an output label appears twice");
    p.output.push_back(p.ellipsis + t);
  }
  return p;
}

namespace {

// Size of every label (-1 unknown), checking that the operands agree; ellipsis dims of size 1
// broadcast.
std::vector<int64_t> label_sizes(const EinsumPlan& p, const std::vector<Dims>& shapes) {
  std::vector<int64_t> size(static_cast<size_t>(p.num_labels), -2);  // -2: unused
  for (size_t i = 0; i < shapes.size(); ++i)
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      const int l = p.operands[i][d];
      int64_t& s = size[static_cast<size_t>(l)];
      const int64_t n = shapes[i][d];
      const bool bcast = l < p.ellipsis;
      if (s == -2 || n == s) {
        s = n;
      } else if (bcast && n == 1) {
        // broadcast: keep s
      } else if (bcast && s == 1) {
        s = n;
      } else if (s == -1 || n == -1) {
        // One side unknown: a known size other than a broadcastable 1 decides.
        if (s == -1) s = n;
      } else {
        fail("Einsum: operand " + std::to_string(i) + " dim " + std::to_string(d) + " has size " +
             std::to_string(n) + " but the same label has size " + std::to_string(s) + " elsewhere");
      }
    }
  return size;
}

template <class T, class Acc>
void einsum_loop(const EinsumPlan& p, const KernelArgs& a, const std::vector<int64_t>& size) {
  // Loop labels: the output's, then every other used label (summed).
  std::vector<int> loop = p.output;
  for (int l = 0; l < p.num_labels; ++l)
    if (size[static_cast<size_t>(l)] >= 0 && std::find(loop.begin(), loop.end(), l) == loop.end())
      loop.push_back(l);
  const size_t n_out = p.output.size(), n_loop = loop.size(), n_ops = a.in.size();
  // stride[k][j]: element step of operand k along loop label j (repeated labels add up).
  std::vector<std::vector<int64_t>> stride(n_ops, std::vector<int64_t>(n_loop, 0));
  for (size_t k = 0; k < n_ops; ++k) {
    const auto st = shape_strides(a.in[k].shape);
    for (size_t d = 0; d < p.operands[k].size(); ++d) {
      if (a.in[k].shape[d] == 1 && size[static_cast<size_t>(p.operands[k][d])] != 1) continue;  // broadcast
      const size_t j =
          static_cast<size_t>(std::find(loop.begin(), loop.end(), p.operands[k][d]) - loop.begin());
      stride[k][j] += st[d];
    }
  }
  std::vector<int64_t> dims(n_loop);
  for (size_t j = 0; j < n_loop; ++j) dims[j] = size[static_cast<size_t>(loop[j])];
  int64_t outer = 1, inner = 1;
  for (size_t j = 0; j < n_out; ++j) outer *= dims[j];
  for (size_t j = n_out; j < n_loop; ++j) inner *= dims[j];
  T* y = a.out[0].as<T>();
  std::vector<int64_t> idx(n_loop, 0), base(n_ops, 0), off(n_ops, 0);
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < n_ops; ++k) {
      base[k] = 0;
      for (size_t j = 0; j < n_out; ++j) base[k] += idx[j] * stride[k][j];
    }
    Acc acc = 0;
    std::fill(idx.begin() + static_cast<std::ptrdiff_t>(n_out), idx.end(), 0);
    off = base;
    for (int64_t s = 0; s < inner; ++s) {
      Acc prod = 1;
      for (size_t k = 0; k < n_ops; ++k) prod *= static_cast<Acc>(a.in[k].as<const T>()[off[k]]);
      acc += prod;
      for (size_t j = n_loop; j-- > n_out;) {
        for (size_t k = 0; k < n_ops; ++k) off[k] += stride[k][j];
        if (++idx[j] < dims[j]) break;
        for (size_t k = 0; k < n_ops; ++k) off[k] -= stride[k][j] * dims[j];
        idx[j] = 0;
      }
    }
    y[o] = static_cast<T>(acc);
    for (size_t j = n_out; j-- > 0;) {
      if (++idx[j] < dims[j]) break;
      idx[j] = 0;
    }
  }
}

}  // namespace

void Einsum::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 1 && ctx.num_outputs() == 1, "Einsum takes one or more inputs and has one output");
  const DType t = ctx.input(0).dtype;
  check(t == DType::Float32 || t == DType::Float64 || t == DType::Int32 || t == DType::Int64,
        std::string("Einsum supports float32, float64, int32 and int64, got ") + dtype_name(t));
  std::vector<size_t> ranks;
  std::vector<Dims> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const TensorType& x = ctx.input(i);
    check(x.dtype == t, "Einsum: input " + std::to_string(i) + " is " + dtype_name(x.dtype) +
                            " but input 0 is " + dtype_name(t));
    ranks.push_back(x.shape.size());
    shapes.push_back(x.shape);
  }
  const EinsumPlan p = parse_einsum(equation, ranks);
  const auto size = label_sizes(p, shapes);
  Dims out;
  for (int l : p.output) out.push_back(size[static_cast<size_t>(l)] == -2 ? 1 : size[static_cast<size_t>(l)]);
  check_output_shape(out, "Einsum output");
  ctx.set_output(0, t, out);
}

void Einsum::reference(const KernelArgs& a) const {
  std::vector<size_t> ranks;
  std::vector<Dims> shapes;
  for (auto& t : a.in) {
    ranks.push_back(t.shape.size());
    shapes.push_back(t.shape);
  }
  const EinsumPlan p = parse_einsum(equation, ranks);
  const auto size = label_sizes(p, shapes);
  switch (a.in[0].dtype) {
    case DType::Float32: return einsum_loop<float, double>(p, a, size);
    case DType::Float64: return einsum_loop<double, double>(p, a, size);
    case DType::Int32: return einsum_loop<int32_t, int64_t>(p, a, size);
    default: return einsum_loop<int64_t, int64_t>(p, a, size);
  }
}

KILN_REGISTER_OP(Einsum);

}  // namespace kiln::ops
