// Importer behaviour on good and malformed models: every failure is a kiln::Error whose message
// names the file and the node or tensor at fault.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "import/importer.h"
#include "onnx_builder_util.h"

namespace kiln::test {
namespace {

using onnx_import::import_onnx;

std::string import_error(const std::string& path, onnx_import::ImportOptions opts = {}) {
  try {
    import_onnx(path, opts);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

OnnxBuilder conv_relu_model() {
  OnnxBuilder b;
  b.input("x", {1, 3, 8, 8});
  b.init_random("w", {4, 3, 3, 3}, 7);
  b.init_random("b", {4}, 8);
  auto& c = b.node("Conv", {"x", "w", "b"}, {"c"}, "conv1");
  OnnxBuilder::attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"y"}, "relu1");
  b.output("y", {1, 4, 8, 8});
  return b;
}

TEST(Import, ConvReluInfersShapes) {
  auto g = import_onnx(conv_relu_model().save("conv_relu.onnx"), {});
  ASSERT_EQ(g->outputs.size(), 1u);
  EXPECT_EQ(g->outputs[0].value->type.shape, (Dims{1, 4, 8, 8}));
  EXPECT_EQ(g->nodes().size(), 2u);
}

TEST(Import, UnknownOpNamesNodeAndOp) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("FrobnicateV2", {"x"}, {"y"}, "frob");
  b.output("y", {1, 4});
  std::string path = b.save("unknown_op.onnx");
  std::string err = import_error(path);
  EXPECT_NE(err.find(path + ": node 'frob' (FrobnicateV2): kiln has no importer"), std::string::npos) << err;
}

TEST(Import, DanglingInputIsReported) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Relu", {"nowhere"}, {"y"}, "r");
  b.output("y", {1, 4});
  std::string err = import_error(b.save("dangling.onnx"));
  EXPECT_NE(err.find("nowhere"), std::string::npos) << err;
}

TEST(Import, TruncatedProtobufIsReported) {
  std::string bytes = conv_relu_model().bytes();
  std::string path = temp_dir() + "/truncated.onnx";
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string err = import_error(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_FALSE(err.empty());
}

TEST(Import, EmptyAndMissingFiles) {
  std::string path = temp_dir() + "/empty.onnx";
  std::ofstream(path, std::ios::binary).flush();
  EXPECT_NE(import_error(path).find("empty"), std::string::npos);
  EXPECT_NE(import_error(temp_dir() + "/does_not_exist.onnx").find("cannot open"), std::string::npos);
}

TEST(Import, OpsetAboveRangeIsRefusedWithAdvice) {
  OnnxBuilder b(22);
  b.input("x", {1, 4});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {1, 4});
  std::string err = import_error(b.save("opset22.onnx"));
  EXPECT_NE(err.find("opset 22"), std::string::npos) << err;
  EXPECT_NE(err.find("7-21"), std::string::npos) << err;
  EXPECT_NE(err.find("opset_version"), std::string::npos) << err;
}

// Opsets 18-21 are newer than Debian's onnx 1.12: its checker would reject ReduceMean-18's axes
// input, so such nodes are checked by kiln's importer, which must still refuse what is wrong.
OnnxBuilder reduce_mean_18(bool bad_attr, int inputs = 2) {
  OnnxBuilder b(18);
  b.input("x", {2, 3});
  b.init_i64("axes", {1}, {1});
  std::vector<std::string> ins{"x", "axes", "axes"};
  ins.resize(static_cast<size_t>(inputs));
  auto& n = b.node("ReduceMean", ins, {"y"});
  OnnxBuilder::attr(n, "keepdims", int64_t{0});
  if (bad_attr) OnnxBuilder::attr(n, "axis", int64_t{1});
  b.output("y", {2});
  return b;
}

TEST(Import, Opset18NodesAreCheckedByKilnsImporters) {
  auto g = import_onnx(reduce_mean_18(false).save("reduce18.onnx"), {});
  ASSERT_EQ(g->outputs.size(), 1u);
  EXPECT_EQ(g->outputs[0].value->type.shape, (Dims{2}));  // axis 1 reduced, as the input says
  std::string err = import_error(reduce_mean_18(true).save("reduce18_attr.onnx"));
  EXPECT_NE(err.find("unknown attribute 'axis' at opset 18"), std::string::npos) << err;
  EXPECT_NE(err.find("keepdims"), std::string::npos) << err;  // what it does take
  err = import_error(reduce_mean_18(false, 3).save("reduce18_inputs.onnx"));
  EXPECT_NE(err.find("has 3 inputs; it takes 1-2 at opset 18"), std::string::npos) << err;
}

TEST(Import, Opset18UnchangedNodesStillMeetOnnxsChecker) {
  OnnxBuilder b(18);  // Relu did not change after 17: libonnx checks it as it always did
  b.input("x", {1, 4});
  auto& n = b.node("Relu", {"x"}, {"y"});
  OnnxBuilder::attr(n, "alpha", 1.f);
  b.output("y", {1, 4});
  std::string err = import_error(b.save("relu18_attr.onnx"));
  EXPECT_NE(err.find("checker"), std::string::npos) << err;
  EXPECT_NE(err.find("alpha"), std::string::npos) << err;
}

TEST(Import, ShortInitializerIsReported) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.init("w", {4, 4}, std::vector<float>(5, 1.f));
  b.node("MatMul", {"x", "w"}, {"y"});
  b.output("y", {1, 4});
  std::string err = import_error(b.save("short_init.onnx"));
  EXPECT_NE(err.find("'w'"), std::string::npos) << err;
}

// x[1,4] @ w[4,4], with w stored as external data at `location`.
OnnxBuilder external_matmul(const std::string& location) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(4);
  t->add_dims(4);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = t->add_external_data();
  kv->set_key("location");
  kv->set_value(location);
  b.node("MatMul", {"x", "w"}, {"y"});
  b.output("y", {1, 4});
  return b;
}

TEST(Import, ExternalDataOutsideModelFolderIsRefused) {
  OnnxBuilder b = external_matmul("../../../etc/passwd");
  std::string err = import_error(b.save("traversal.onnx"));
  EXPECT_NE(err.find("outside"), std::string::npos) << err;
}

TEST(Import, ExternalDataInsideFolderLoads) {
  std::vector<float> w(16);
  for (int i = 0; i < 16; ++i) w[i] = static_cast<float>(i);
  std::string data_path = temp_dir() + "/weights.bin";
  std::ofstream(data_path, std::ios::binary).write(reinterpret_cast<const char*>(w.data()), 64);
  OnnxBuilder b = external_matmul("weights.bin");
  auto g = import_onnx(b.save("external_ok.onnx"), {});
  const ir::Value* wv = g->nodes()[0]->inputs[1];
  ASSERT_TRUE(wv->is_constant());
  EXPECT_EQ(static_cast<const float*>(wv->constant->data())[15], 15.f);
}

// A huge stated shape over a small external file is refused by its size check before anything
// is allocated: 2^20 x 2^20 floats would be 4 TiB.
TEST(Import, ExternalDataSizeIsCheckedBeforeAllocating) {
  std::vector<float> w(16, 1.f);
  std::ofstream(temp_dir() + "/small.bin", std::ios::binary).write(reinterpret_cast<const char*>(w.data()), 64);
  OnnxBuilder b = external_matmul("small.bin");
  auto* t = b.model().mutable_graph()->mutable_initializer(0);
  t->set_dims(0, int64_t(1) << 20);
  t->set_dims(1, int64_t(1) << 20);
  std::string err = import_error(b.save("external_huge.onnx"));
  EXPECT_NE(err.find("has 64 bytes but the tensor needs 4398046511104"), std::string::npos) << err;
}

TEST(Import, SymbolicBatchNeedsShapesAndAcceptsThem) {
  OnnxBuilder b;
  b.input("x", {-1, 4});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {-1, 4});
  std::string path = b.save("symbolic.onnx");
  onnx_import::ImportOptions o;
  o.shapes["x"] = {3, 4};
  auto g = import_onnx(path, o);
  EXPECT_EQ(g->outputs[0].value->type.shape, (Dims{3, 4}));
  o.shapes["x"] = {3, 4, 5};
  EXPECT_NE(import_error(path, o).find("rank"), std::string::npos);
  onnx_import::ImportOptions bad;
  bad.shapes["nope"] = {1};
  EXPECT_NE(import_error(path, bad).find("'nope'"), std::string::npos);
}

TEST(Import, SymbolicDimsDefaultToOneWithAWarningAsTrtexec) {
  OnnxBuilder b;
  b.input("x", {-1, 4, -1});
  b.input("z", {-1, 4, 2});
  b.node("Relu", {"x"}, {"y"});
  b.node("Relu", {"z"}, {"w"});
  b.output("y", {-1, 4, -1});
  b.output("w", {-1, 4, 2});
  std::string path = b.save("symbolic_default.onnx");
  std::vector<std::string> warnings;
  onnx_import::ImportOptions o;
  o.dynamic_dims_to_one = true;
  o.warnings = &warnings;
  o.shapes["z"] = {5, 4, 2};  // given: not defaulted, not warned about
  auto g = import_onnx(path, o);
  EXPECT_EQ(g->outputs[0].value->type.shape, (Dims{1, 4, 1}));
  EXPECT_EQ(g->outputs[1].value->type.shape, (Dims{5, 4, 2}));
  std::string all;
  for (auto& w : warnings) all += w + "\n";
  EXPECT_NE(all.find("input 'x' has dynamic dimension(s) 0 ('N'), 2 ('N')"), std::string::npos) << all;
  EXPECT_NE(all.find("--shapes=x:1x4x1"), std::string::npos) << all;
  EXPECT_EQ(all.find("'z'"), std::string::npos) << all;
  o.dynamic_dims_to_one = false;  // the importer's default keeps them unknown
  o.shapes.clear();
  EXPECT_EQ(import_onnx(path, o)->outputs[0].value->type.shape, (Dims{-1, 4, -1}));
}

TEST(Import, NegativeInitializerDimIsReported) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(-4);
  b.node("Add", {"x", "w"}, {"y"});
  b.output("y", {1, 4});
  EXPECT_FALSE(import_error(b.save("negdim.onnx")).empty());
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(Import, OldOpsetIsUpgradedWithAWarning) {
  OnnxBuilder b(6);
  b.input("x", {1, 4});
  b.input("y", {1, 4});
  b.node("Add", {"x", "y"}, {"s"});
  b.node("Relu", {"s"}, {"z"});
  b.output("z", {1, 4});
  std::vector<std::string> warnings;
  onnx_import::ImportOptions o;
  o.warnings = &warnings;
  auto g = import_onnx(b.save("opset6.onnx"), o);
  EXPECT_EQ(g->outputs[0].value->type.shape, (Dims{1, 4}));
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("upgraded the model from opset 6"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace kiln::test
