#include <algorithm>
#include <stdexcept>

#include "import/importer.h"

namespace kiln::onnx_import {

ImporterRegistry& ImporterRegistry::instance() {
  static ImporterRegistry r;
  return r;
}

void ImporterRegistry::add(const std::string& op_type, int since, int until, ImportFn fn) {
  auto& v = by_type_[op_type];
  for (auto& e : v)
    if (since <= e.until && e.since <= until)
      throw std::logic_error("kiln: two importers for ONNX op '" + op_type + "' overlap at opsets " +
                             std::to_string(std::max(since, e.since)) + "-" +
                             std::to_string(std::min(until, e.until)));
  v.push_back({since, until, std::move(fn)});
}

const ImportFn* ImporterRegistry::find(const std::string& op_type, int opset) const {
  auto it = by_type_.find(op_type);
  if (it == by_type_.end()) return nullptr;
  for (auto& e : it->second)
    if (opset >= e.since && opset <= e.until) return &e.fn;
  return nullptr;
}

int ImporterRegistry::since(const std::string& op_type, int opset) const {
  auto it = by_type_.find(op_type);
  if (it == by_type_.end()) return 0;
  for (auto& e : it->second)
    if (opset >= e.since && opset <= e.until) return e.since;
  return 0;
}

bool ImporterRegistry::known(const std::string& op_type) const { return by_type_.count(op_type) != 0; }

std::vector<std::string> ImporterRegistry::op_types() const {
  std::vector<std::string> r;
  for (auto& [k, v] : by_type_) r.push_back(k);
  return r;
}

std::vector<std::pair<int, int>> ImporterRegistry::ranges(const std::string& op_type) const {
  std::vector<std::pair<int, int>> r;
  auto it = by_type_.find(op_type);
  if (it != by_type_.end())
    for (auto& e : it->second) r.emplace_back(e.since, e.until);
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace kiln::onnx_import
