#include "profile.h"

#include <set>
#include <sstream>
#include <unordered_map>

#include "passes/pass.h"

namespace kiln::profile {

namespace {

// A readable rendering of an op's attributes (for the structure lines and their error messages).
class AttrText final : public ops::AttrVisitor {
 public:
  std::ostringstream os;
  void visit(const char* name, int64_t& v) override { os << " " << name << "=" << v; }
  void visit(const char* name, float& v) override { os << " " << name << "=" << v; }
  void visit(const char* name, std::vector<int64_t>& v) override {
    os << " " << name << "=[";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
    os << "]";
  }
  void visit(const char* name, std::vector<float>& v) override {
    os << " " << name << "=[";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
    os << "]";
  }
  void visit(const char* name, std::string& v) override { os << " " << name << "='" << v << "'"; }
};

uint64_t fnv(const void* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(data)[i]) * 1099511628211ull;
  return h;
}

// One line per node: everything but the shapes of non-constant values. Constants are compared by
// shape and content: a folded Shape -> Reshape target that differs between min and max shows here.
std::vector<std::string> structure(const ir::Graph& g) {
  std::unordered_map<const ir::Value*, size_t> index;
  auto all = value_order(g);
  for (size_t i = 0; i < all.size(); ++i) index[all[i]] = i;
  auto val = [&](const ir::Value* v) -> std::string {
    if (!v) return "<none>";
    std::ostringstream os;
    os << dtype_name(v->type.dtype);
    if (v->is_constant())
      os << " const " << v->name << "[" << shape_str(v->type.shape) << "]#" << std::hex
         << fnv(v->constant->data(), v->constant->size());
    else
      os << " %" << index.at(v) << " rank " << v->type.shape.size() << (v->layout.empty() ? "" : " @" + v->layout);
    return os.str();
  };
  std::vector<std::string> lines;
  for (auto& io : g.inputs) lines.push_back("input " + io.name + ": " + val(io.value));
  for (auto& n : g.nodes()) {
    AttrText at;
    n->op->clone()->attrs(at);
    std::string line = "node '" + n->name + "' (" + std::string(n->type()) + ")" + at.os.str() + " (";
    for (size_t i = 0; i < n->inputs.size(); ++i) line += (i ? ", " : "") + val(n->inputs[i]);
    line += ") -> (";
    for (size_t i = 0; i < n->outputs.size(); ++i) line += (i ? ", " : "") + val(n->outputs[i]);
    lines.push_back(line + ")");
  }
  for (auto& io : g.outputs) lines.push_back("output " + io.name + ": " + val(io.value));
  return lines;
}

std::string dims_text(const Dims& s) { return shape_str(s); }

}  // namespace

bool requested(const CompileOptions& o) {
  return !o.min_shapes.empty() || !o.opt_shapes.empty() || !o.max_shapes.empty();
}

void check_flags(const CompileOptions& o) {
  const std::pair<const char*, const std::map<std::string, std::vector<int64_t>>*> flags[] = {
      {"--minShapes", &o.min_shapes}, {"--optShapes", &o.opt_shapes}, {"--maxShapes", &o.max_shapes}};
  std::set<std::string> names;
  for (auto& [flag, m] : flags)
    for (auto& [name, dims] : *m) names.insert(name);
  for (const std::string& name : names) {
    for (auto& [flag, m] : flags)
      if (!m->count(name))
        throw Error(std::string(flag) + " does not name input '" + name +
                    "', which another profile flag names; give --minShapes, --optShapes and --maxShapes for "
                    "every input with a range");
    if (o.shapes.count(name))
      throw Error("input '" + name + "' is given both a fixed shape (--shapes) and a range (--minShapes/"
                  "--optShapes/--maxShapes); give one of the two");
    const Dims &lo = o.min_shapes.at(name), &opt = o.opt_shapes.at(name), &hi = o.max_shapes.at(name);
    if (lo.size() != opt.size() || hi.size() != opt.size())
      throw Error("input '" + name + "': --minShapes " + dims_text(lo) + ", --optShapes " + dims_text(opt) +
                  " and --maxShapes " + dims_text(hi) + " must have the same rank");
    for (size_t d = 0; d < opt.size(); ++d)
      if (lo[d] > opt[d] || opt[d] > hi[d])
        throw Error("input '" + name + "': dimension " + std::to_string(d) +
                    " must satisfy min <= opt <= max, but " +
                    "--minShapes " + dims_text(lo) + ", --optShapes " + dims_text(opt) + ", --maxShapes " +
                    dims_text(hi));
  }
}

std::vector<const ir::Value*> value_order(const ir::Graph& g) {
  std::vector<const ir::Value*> order;
  std::set<const ir::Value*> seen;
  auto add = [&](const ir::Value* v) {
    if (v && !v->is_constant() && seen.insert(v).second) order.push_back(v);
  };
  for (auto& io : g.inputs) add(io.value);
  for (auto& n : g.nodes()) {
    for (auto* v : n->inputs) add(v);
    for (auto* v : n->outputs) add(v);
  }
  for (auto& io : g.outputs) add(io.value);
  return order;
}

void check_same_structure(const ir::Graph& opt, const ir::Graph& other, const std::string& flag,
                          const std::string& origin) {
  const auto a = structure(opt), b = structure(other);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string x = i < a.size() ? a[i] : "(nothing)", y = i < b.size() ? b[i] : "(nothing)";
    if (x == y) continue;
    throw Error(origin + ": the graph built at the " + flag + " shapes differs from the one built at the "
                "--optShapes shapes, so one plan cannot serve the whole profile. At --optShapes: " + x +
                "; at " + flag + ": " + y + ". This happens when the model computes something from the input "
                "shape that kiln fixes at build time (e.g. Shape -> Reshape targets) or when a rewrite depends "
                "on the shape; narrow the profile or build one plan per shape with --shapes");
  }
}

CompileOptions ends_options(const CompileOptions& opts, const ir::Graph& opt) {
  CompileOptions e = opts;
  e.builder_level = 0;
  PrecisionOptions& p = e.precision;
  if (!p.any()) return e;
  if (p.constraints == "none") p.layer_precisions.clear();  // ignored at opt, ignored here
  p.constraints = "prefer";
  for (auto& n : opt.nodes()) {
    if (!passes::heavy_layer(n->type())) continue;
    const DType d = n->precision;
    p.layer_precisions.emplace_back(passes::literal_pattern(n->name), d == DType::QInt8 ? "int8"
                                                    : d == DType::BFloat16 ? "bf16"
                                                    : d == DType::Float16 ? "fp16"
                                                                          : "fp32");
  }
  return e;
}

}  // namespace kiln::profile
