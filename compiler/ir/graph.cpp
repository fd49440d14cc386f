#include "ir/graph.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>
#include <unordered_set>
#include <sys/mman.h>
#include <unistd.h>

#include "ops/infer_layer.h"

namespace kiln::ir {

// Large constants are mapped pages of their own: freeing one returns its memory to the system at
// once. From malloc, glibc would serve weights from its heap once its adaptive mmap threshold has
// risen past their size (it does after the first large free), and keep that memory after free.
constexpr size_t kMappedConstant = size_t(1) << 20;

bool Constant::mapped() const { return rounded() >= kMappedConstant; }

Constant::Constant(size_t bytes, bool zeroed) : size_(bytes) {
  if (mapped()) {
    void* p = mmap(nullptr, rounded(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = p;  // zero-filled by the kernel, page by page as it is written
    return;
  }
  const size_t n = rounded() ? rounded() : 64;
  data_ = std::aligned_alloc(64, n);
  if (!data_) throw std::bad_alloc();
  if (zeroed) std::memset(data_, 0, n);
  else if (n > bytes) std::memset(static_cast<char*>(data_) + bytes, 0, n - bytes);  // the tail only
}

Constant::~Constant() { release(); }

void Constant::move_to(void* dst) {
  if (!mapped()) {
    std::memcpy(dst, data_, size_);
    release();
    return;
  }
  // Chunks start on page boundaries (the mapping does, and a chunk is a whole number of pages);
  // each chunk's pages go back once copied, whole pages only.
  constexpr size_t kChunk = size_t(16) << 20;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (size_t at = 0; at < size_; at += kChunk) {
    const size_t n = std::min(kChunk, size_ - at);
    std::memcpy(static_cast<char*>(dst) + at, static_cast<const char*>(data_) + at, n);
    if (n >= page) madvise(static_cast<char*>(data_) + at, n / page * page, MADV_DONTNEED);
  }
  release();
}

void Constant::release() {
  if (!data_) return;
  if (mapped()) munmap(data_, rounded());
  else std::free(data_);
  data_ = nullptr;
}

TensorView Value::view() const {
  return TensorView{type.dtype, type.shape, constant ? constant->data() : nullptr};
}

bool params_constant(const std::vector<Value*>& inputs) {
  return std::all_of(inputs.begin() + std::min<size_t>(1, inputs.size()), inputs.end(),
                     [](const Value* v) { return !v || v->is_constant(); });
}

TensorView Value::known_view() const {
  if (constant) return view();
  return TensorView{type.dtype, type.shape, known.empty() ? nullptr : const_cast<uint8_t*>(known.data())};
}

std::string node_label(const Node& n) {
  return "node '" + n.name + "' (" + std::string(n.type()) + ")";
}

std::string Graph::unique_name(const std::string& base) {
  int& c = name_counts_[base];
  std::string n = c == 0 ? base : base + "_" + std::to_string(c);
  ++c;
  return n;
}

Value* Graph::add_value(const std::string& name, ops::TensorType type) {
  auto v = std::make_unique<Value>();
  v->name = name;
  v->type = std::move(type);
  v->dim_params.assign(v->type.shape.size(), "");
  values_.push_back(std::move(v));
  return values_.back().get();
}

Value* Graph::add_constant(const std::string& name, DType dtype, Dims shape, bool zeroed) {
  Value* v = add_value(name, {dtype, std::move(shape)});
  int64_t n = shape_elements(v->type.shape);
  if (n < 0) ops::fail("constant '" + name + "' must have a static shape");
  v->constant = std::make_shared<Constant>(static_cast<size_t>(n) * dtype_size(dtype), zeroed);
  return v;
}

Value* Graph::add_constant(const std::string& name, const TensorView& data) {
  Value* v = add_constant(name, data.dtype, data.shape, false);
  if (data.bytes()) std::memcpy(v->constant->data(), data.data, data.bytes());
  return v;
}

Node* Graph::add_node(const std::string& name, std::unique_ptr<ops::Op> op,
                      std::vector<Value*> inputs, std::vector<Value*> outputs) {
  auto n = std::make_unique<Node>();
  n->name = name;
  n->op = std::move(op);
  n->inputs = std::move(inputs);
  n->outputs = std::move(outputs);
  for (Value* v : n->outputs) v->producer = n.get();
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

Node* Graph::add_node(const std::string& name, std::unique_ptr<ops::Op> op,
                      std::vector<Value*> inputs, size_t num_outputs) {
  std::vector<Value*> outs;
  for (size_t i = 0; i < num_outputs; ++i)
    outs.push_back(add_value(unique_name(num_outputs == 1 ? name : name + ":" + std::to_string(i))));
  return add_node(name, std::move(op), std::move(inputs), std::move(outs));
}

std::unordered_map<const Value*, std::vector<Node*>> Graph::uses() const {
  std::unordered_map<const Value*, std::vector<Node*>> u;
  for (auto& n : nodes_)
    for (Value* v : n->inputs)
      if (v) u[v].push_back(n.get());
  return u;
}

bool Graph::is_graph_output(const Value* v) const {
  for (auto& o : outputs)
    if (o.value == v) return true;
  return false;
}

bool Graph::is_graph_input(const Value* v) const {
  for (auto& i : inputs)
    if (i.value == v) return true;
  return false;
}

void Graph::replace_uses(Value* from, Value* to) {
  for (auto& n : nodes_) {
    for (Value*& v : n->inputs)
      if (v == from) v = to;
    if (n->when == from) n->when = to;
  }
  for (auto& o : outputs)
    if (o.value == from) o.value = to;
}

void Graph::remove_node(Node* n) {
  for (Value* v : n->outputs)
    if (v->producer == n) v->producer = nullptr;
  n->op.reset();  // marks it dead for compact()
}

void Graph::compact() {
  std::erase_if(nodes_, [](const std::unique_ptr<Node>& n) { return !n->op; });
  std::unordered_set<const Value*> live;
  for (auto& n : nodes_) {
    for (Value* v : n->inputs) live.insert(v);
    for (Value* v : n->outputs) live.insert(v);
    if (n->when) live.insert(n->when);
  }
  for (auto& io : inputs) live.insert(io.value);
  for (auto& io : outputs) live.insert(io.value);
  std::erase_if(values_, [&](const std::unique_ptr<Value>& v) { return !live.count(v.get()); });
}

void Graph::topo_sort() {
  std::unordered_map<const Value*, Node*> producer;
  for (auto& n : nodes_)
    for (Value* v : n->outputs) producer[v] = n.get();
  std::unordered_map<const Node*, int> state;  // 1 = visiting, 2 = done
  std::vector<std::unique_ptr<Node>> order;
  std::unordered_map<const Node*, std::unique_ptr<Node>*> slot;
  for (auto& n : nodes_) slot[n.get()] = &n;
  // Iterative DFS so deep graphs cannot overflow the stack.
  for (auto& root : nodes_) {
    if (!root || state[root.get()] == 2) continue;
    std::vector<std::pair<Node*, size_t>> stack{{root.get(), 0}};
    state[root.get()] = 1;
    while (!stack.empty()) {
      auto& [n, i] = stack.back();
      if (i <= n->inputs.size()) {  // the inputs, then the predicate
        Value* v = i < n->inputs.size() ? n->inputs[i] : n->when;
        ++i;
        auto it = v ? producer.find(v) : producer.end();
        if (it == producer.end()) continue;
        Node* p = it->second;
        if (state[p] == 1)
          ops::fail("graph has a cycle through " + node_label(*p) + " and " + node_label(*n));
        if (state[p] == 0) {
          state[p] = 1;
          stack.push_back({p, 0});
        }
      } else {
        state[n] = 2;
        order.push_back(std::move(*slot[n]));
        stack.pop_back();
      }
    }
  }
  nodes_ = std::move(order);
}

// Runs a node's op inference on its current input types; returns the inferred output types.
static std::vector<ops::TensorType> run_infer(const Node& n) {
  std::vector<ops::TensorType> in;
  std::vector<TensorView> views(n.inputs.size());
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value* v = n.inputs[i];
    in.push_back(v ? v->type : ops::TensorType{});
    if (v) views[i] = v->known_view();
  }
  return ops::infer_layer(*n.op, std::move(in), views, n.outputs.size(), node_label(n));
}

// Under a profile, the node's outputs' values when it is part of a shape program, else none.
static void evaluate_known(Node& n) {
  std::vector<ops::TensorType> in, out;
  std::vector<TensorView> views;
  for (const Value* v : n.inputs) {
    in.push_back(v ? v->type : ops::TensorType{});
    views.push_back(v ? v->known_view() : TensorView{});
  }
  for (const Value* v : n.outputs) out.push_back(v->type);
  auto values = ops::evaluate_shape_layer(*n.op, in, views, out, node_label(n));
  for (size_t i = 0; i < n.outputs.size(); ++i)
    n.outputs[i]->known = values.empty() ? std::vector<uint8_t>{} : std::move(values[i]);
}

void Graph::infer(Node* n) {
  auto types = run_infer(*n);
  for (size_t i = 0; i < n->outputs.size(); ++i) {
    Value* v = n->outputs[i];
    const auto& t = types[i];
    if (t.dtype == DType::Undefined)
      throw Error(node_label(*n) + ": op did not infer output " + std::to_string(i));
    // Keep symbolic names that still line up with unknown dims.
    if (v->dim_params.size() != t.shape.size()) v->dim_params.assign(t.shape.size(), "");
    // A reduced-precision result the precision pass chose stays so (ops::stored_type_ok).
    const DType keep = ops::stored_type_ok(t.dtype, v->type.dtype) ? v->type.dtype : t.dtype;
    v->type = t;
    v->type.dtype = keep;
  }
  if (shapes_vary) evaluate_known(*n);
}

void Graph::infer_all() {
  for (auto& n : nodes_) infer(n.get());
}

void verify(const Graph& g) {
  std::unordered_set<const Value*> defined;
  std::unordered_set<const Value*> produced;
  for (auto& io : g.inputs) defined.insert(io.value);
  for (auto& v : g.values())
    if (v->is_constant()) defined.insert(v.get());
  for (auto& n : g.nodes()) {
    if (!n->op) throw Error(node_label(*n) + ": removed node still in the graph");
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Value* v = n->inputs[i];
      if (v && !defined.count(v))
        throw Error(node_label(*n) + ": input " + std::to_string(i) + " ('" + v->name +
                    "') is used before it is produced");
    }
    for (const Value* v : n->outputs) {
      if (!produced.insert(v).second || v->is_constant() || g.is_graph_input(v))
        throw Error(node_label(*n) + ": output '" + v->name + "' has more than one producer");
      if (v->producer != n.get())
        throw Error(node_label(*n) + ": output '" + v->name + "' does not point back at its node");
      defined.insert(v);
    }
    // Stored types must equal what the op infers now: catches rewrites that forgot to re-infer.
    auto types = run_infer(*n);
    for (size_t i = 0; i < n->outputs.size(); ++i) {
      const auto& want = types[i];
      const auto& have = n->outputs[i]->type;
      if (!ops::stored_type_ok(want.dtype, have.dtype) || want.shape != have.shape)
        throw Error(node_label(*n) + ": output '" + n->outputs[i]->name + "' is stored as " +
                    dtype_name(have.dtype) + "[" + shape_str(have.shape) + "] but infers to " +
                    dtype_name(want.dtype) + "[" + shape_str(want.shape) + "]");
    }
  }
  for (auto& o : g.outputs)
    if (!o.value || !defined.count(o.value))
      throw Error("graph output '" + o.name + "' is not produced by any node");
}

std::string dump(const Graph& g) {
  std::ostringstream os;
  auto ty = [](const Value* v) {
    return v ? v->name + ":" + dtype_name(v->type.dtype) + "[" + shape_str(v->type.shape) + "]" +
                   (v->layout.empty() ? "" : "@" + v->layout)
             : std::string("<none>");
  };
  for (auto& io : g.inputs) os << "input " << io.name << " = " << ty(io.value) << "\n";
  for (auto& n : g.nodes()) {
    os << n->name << " = " << n->type() << "(";
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      if (i) os << ", ";
      Value* v = n->inputs[i];
      os << (v && v->is_constant() ? "const " : "") << ty(v);
    }
    os << ") -> ";
    for (size_t i = 0; i < n->outputs.size(); ++i) os << (i ? ", " : "") << ty(n->outputs[i]);
    if (!n->fused.empty()) {
      os << "  fused:";
      for (auto& f : n->fused) os << " " << f;
    }
    os << "\n";
  }
  for (auto& io : g.outputs) os << "output " << io.name << " = " << ty(io.value) << "\n";
  return os.str();
}

}  // namespace kiln::ir
