// Fast kernels of the shape family against the reference kernels: the in-house copies for the
// reshaping views, oneDNN Transpose (reorder) and oneDNN Concat.
#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;

TEST(ShapeKernels, CopyForReshapingViews) {
  Reshape r;
  r.shape = {-1, 7};
  expect_kernel_matches_reference(r, "inhouse", {random_tensor(DType::Float32, {3, 5, 7}, 1)});
  // Large enough for the threaded path (> 2 MiB).
  r.shape = {0, -1};
  expect_kernel_matches_reference(r, "inhouse", {random_tensor(DType::Float32, {3, 333, 1001}, 2)});
  Flatten f;
  expect_kernel_matches_reference(f, "inhouse", {random_tensor(DType::Int64, {2, 3, 5}, 3, -100, 100)});
  Squeeze s;
  expect_kernel_matches_reference(s, "inhouse", {random_tensor(DType::Int8, {1, 13, 1}, 4, -100, 100)});
  Unsqueeze u;
  u.axes = {0, -1};
  expect_kernel_matches_reference(u, "inhouse", {random_tensor(DType::Float32, {9, 11}, 5)});
  // A constant input arrives at creation, not at bind.
  expect_kernel_matches_reference(u, "inhouse", {random_tensor(DType::Float32, {4}, 6, -1, 1, true)});
  // The shape input (when kept as an input) is ignored by the copy.
  Reshape rs;
  expect_kernel_matches_reference(rs, "inhouse", {random_tensor(DType::Float32, {3, 5, 7}, 7), ints({5, 21})});
}

TEST(ShapeKernels, TransposeOnednnMatchesReference) {
  struct Case {
    Dims shape;
    std::vector<int64_t> perm;
  };
  std::vector<Case> cases = {
      {{7, 13}, {}},
      {{2, 3, 4}, {2, 0, 1}},
      {{1, 64, 17, 19}, {0, 2, 3, 1}},   // NCHW -> NHWC
      {{3, 17, 19, 5}, {0, 3, 1, 2}},    // NHWC -> NCHW
      {{2, 5, 3, 7, 2}, {4, 2, 0, 3, 1}},
      {{2, 3, 2, 3, 2, 3}, {5, 4, 3, 2, 1, 0}},
      {{1, 197, 12, 64}, {0, 2, 1, 3}},  // attention head split
  };
  uint32_t seed = 10;
  for (auto& c : cases) {
    Transpose t;
    t.perm = c.perm;
    SCOPED_TRACE(shape_str(c.shape));
    expect_kernel_matches_reference(t, "onednn", {random_tensor(DType::Float32, c.shape, seed++)}, 0, 0);
  }
  Transpose t;
  t.perm = {1, 0, 2};
  expect_kernel_matches_reference(t, "onednn", {random_tensor(DType::Int8, {5, 6, 7}, 20, -100, 100)}, 0, 0);
  expect_kernel_matches_reference(t, "onednn", {random_tensor(DType::Float32, {5, 6, 7}, 21, -1, 1, true)}, 0, 0);
}

TEST(ShapeKernels, TransposeOnednnDeclines) {
  Transpose t;
  std::vector<HostTensor> out;
  std::vector<HostTensor> in{random_tensor(DType::Int64, {3, 4}, 1)};
  EXPECT_FALSE(run_kernel(t, "onednn", in, out));  // no s64 in oneDNN
  in = {random_tensor(DType::Float32, {2, 2, 2, 2, 2, 2, 2}, 1)};
  EXPECT_FALSE(run_kernel(t, "onednn", in, out));  // rank 7
}

TEST(ShapeKernels, ConcatOnednnMatchesReference) {
  for (int64_t axis = -4; axis < 4; ++axis) {
    Concat c;
    c.axis = axis;
    Dims a{2, 3, 5, 7}, b = a, d = a;
    int64_t k = axis < 0 ? axis + 4 : axis;
    b[k] = 1, d[k] = 4;
    SCOPED_TRACE(axis);
    expect_kernel_matches_reference(c, "onednn",
                                    {random_tensor(DType::Float32, a, 1), random_tensor(DType::Float32, b, 2),
                                     random_tensor(DType::Float32, d, 3, -1, 1, true)},
                                    0, 0);
  }
  Concat c;
  c.axis = 1;
  expect_kernel_matches_reference(c, "onednn", {random_tensor(DType::Float32, {1, 64, 28, 28}, 4),
                                                random_tensor(DType::Float32, {1, 32, 28, 28}, 5)},
                                  0, 0);
  expect_kernel_matches_reference(c, "onednn", {random_tensor(DType::Float32, {3, 1}, 6)}, 0, 0);
}

TEST(ShapeKernels, ConcatOnednnDeclines) {
  Concat c;
  std::vector<HostTensor> out;
  std::vector<HostTensor> in{random_tensor(DType::Int64, {3}, 1), random_tensor(DType::Int64, {2}, 2)};
  EXPECT_FALSE(run_kernel(c, "onednn", in, out));
  in = {random_tensor(DType::Float32, {3}, 1), random_tensor(DType::Float32, {0}, 2)};
  EXPECT_FALSE(run_kernel(c, "onednn", in, out));
}

// Runs oneDNN Concat with the given layouts (inputs converted with oneDNN reorders, the output
// converted back to row-major) and compares with the reference on row-major data.
void expect_blocked_concat_matches(const std::string& impl, int64_t axis, std::vector<Dims> shapes,
                                   std::vector<std::string> layouts, const std::string& out_layout) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  Concat op;
  op.axis = axis;
  std::vector<HostTensor> in;
  for (size_t i = 0; i < shapes.size(); ++i) in.push_back(random_tensor(DType::Float32, shapes[i], 30 + i));
  auto want = run_reference(op, in);
  KernelSpec spec{op, {}, {}, eng};
  std::vector<dnnl::memory> bufs;
  auto convert = [&](void* src, const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
    dnnl::memory a(from, eng, src), b(to, eng);
    dnnl::reorder(a, b).execute(st, a, b);
    st.wait();
    return b;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    KernelTensor kt{DType::Float32, in[i].shape, layouts[i], nullptr};
    spec.in.push_back(kt);
    bufs.push_back(convert(in[i].bytes.data(), dnn::plain_md(in[i].shape, DType::Float32), dnn::md(kt)));
  }
  KernelTensor yt{DType::Float32, want[0].shape, out_layout, nullptr};
  spec.out.push_back(yt);
  auto k = KernelRegistry::instance().create("Concat", impl, spec);
  ASSERT_TRUE(k) << impl << " concat declined the layouts";
  dnnl::memory y(dnn::md(yt), eng);
  std::vector<uint8_t> scratch(k->scratchpad_bytes() + 64);
  KernelBinding b;
  for (auto& m : bufs) b.in.push_back(m.get_data_handle());
  b.out.push_back(y.get_data_handle());
  b.scratchpad = scratch.data();
  k->bind(b)(st);
  st.wait();
  HostTensor got(DType::Float32, want[0].shape);
  dnnl::memory plain(dnn::plain_md(got.shape, DType::Float32), eng, got.bytes.data());
  dnnl::reorder(y, plain).execute(st, y, plain);
  st.wait();
  EXPECT_TRUE(all_close(got, want[0], 0, 0));
}

TEST(ShapeKernels, ConcatOnednnBlockedLayouts) {
  // DenseNet-style channel concat inside an nChw16c region, and a row-major input joining it.
  expect_blocked_concat_matches("onednn", 1, {{1, 64, 7, 7}, {1, 32, 7, 7}}, {"nChw16c", "nChw16c"}, "nChw16c");
  expect_blocked_concat_matches("onednn", 1, {{2, 32, 5, 3}, {2, 16, 5, 3}, {2, 48, 5, 3}},
                                {"nChw16c", "", "nChw16c"}, "nChw16c");
  expect_blocked_concat_matches("onednn", 1, {{1, 16, 4, 4}, {1, 32, 4, 4}}, {"nChw8c", "nChw8c"}, "");
}

TEST(ShapeKernels, ConcatInhouseMatchesReference) {
  for (int64_t axis = -4; axis < 4; ++axis) {
    Concat c;
    c.axis = axis;
    Dims a{2, 3, 5, 7}, b = a;
    b[axis < 0 ? axis + 4 : axis] = 2;
    SCOPED_TRACE(axis);
    expect_kernel_matches_reference(c, "inhouse", {random_tensor(DType::Float32, a, 1),
                                                   random_tensor(DType::Float32, b, 2, -1, 1, true)}, 0, 0);
    expect_kernel_matches_reference(c, "inhouse", {random_tensor(DType::Int64, a, 3, -9, 9),
                                                   random_tensor(DType::Int64, b, 4, -9, 9)}, 0, 0);
  }
  Concat c;  // large enough for threaded copies, and an empty input
  c.axis = 1;
  expect_kernel_matches_reference(c, "inhouse", {random_tensor(DType::Float32, {1, 128, 56, 56}, 5),
                                                 random_tensor(DType::Float32, {1, 0, 56, 56}, 6),
                                                 random_tensor(DType::Float32, {1, 32, 56, 56}, 7)}, 0, 0);
}

TEST(ShapeKernels, ConcatInhouseLayouts) {
  // Blocked channels concat as whole blocks; other axes work whatever the channel count.
  expect_blocked_concat_matches("inhouse", 1, {{1, 64, 7, 7}, {1, 32, 7, 7}}, {"nChw16c", "nChw16c"}, "nChw16c");
  expect_blocked_concat_matches("inhouse", 1, {{2, 16, 3, 5}, {2, 8, 3, 5}}, {"nChw8c", "nChw8c"}, "nChw8c");
  expect_blocked_concat_matches("inhouse", 2, {{2, 20, 3, 5}, {2, 20, 4, 5}}, {"nChw16c", "nChw16c"}, "nChw16c");
  expect_blocked_concat_matches("inhouse", 0, {{1, 20, 3, 5}, {2, 20, 3, 5}}, {"nChw16c", "nChw16c"}, "nChw16c");
  expect_blocked_concat_matches("inhouse", 1, {{2, 3, 4, 5}, {2, 5, 4, 5}}, {"nhwc", "nhwc"}, "nhwc");
  expect_blocked_concat_matches("inhouse", 3, {{2, 3, 4, 5}, {2, 3, 4, 2}}, {"nhwc", "nhwc"}, "nhwc");
}

TEST(ShapeKernels, ConcatInhouseDeclines) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  Concat c;
  c.axis = 1;
  auto spec_of = [&](std::vector<KernelTensor> in, KernelTensor out) { return KernelSpec{c, in, {out}, eng}; };
  auto& reg = KernelRegistry::instance();
  KernelTensor a{DType::Float32, {1, 24, 4, 4}, "nChw16c"}, b{DType::Float32, {1, 16, 4, 4}, "nChw16c"};
  KernelTensor y{DType::Float32, {1, 40, 4, 4}, "nChw16c"};
  EXPECT_FALSE(reg.create("Concat", "inhouse", spec_of({a, b}, y)));  // 24 channels split a block
  KernelTensor p{DType::Float32, {1, 32, 4, 4}, ""}, q{DType::Float32, {1, 16, 4, 4}, "nChw16c"};
  KernelTensor z{DType::Float32, {1, 48, 4, 4}, "nChw16c"};
  EXPECT_FALSE(reg.create("Concat", "inhouse", spec_of({p, q}, z)));  // mixed layouts
  EXPECT_TRUE(reg.create("Concat", "onednn", spec_of({p, q}, z)));
  EXPECT_EQ(reg.impls("Concat").front(), "inhouse");
}

// The reference's threaded strided copies (> 1 MiB) against a plain loop.
TEST(ShapeKernels, LargeReferenceCopiesAreExact) {
  Slice s;
  s.starts = {1, -1}, s.ends = {INT64_MAX, INT64_MIN}, s.steps = {2, -3};
  auto x = random_tensor(DType::Float32, {1001, 1003}, 9);
  auto y = run1(s, {x});
  ASSERT_EQ(y.shape, (Dims{500, 335}));
  auto xv = values<float>(x), yv = values<float>(y);
  bool ok = true;
  for (int64_t i = 0; i < 500 && ok; ++i)
    for (int64_t j = 0; j < 335 && ok; ++j) ok = yv[i * 335 + j] == xv[(1 + 2 * i) * 1003 + 1002 - 3 * j];
  EXPECT_TRUE(ok);
  Slice flat;  // one long contiguous run
  flat.starts = {3}, flat.ends = {3000003};
  auto big = random_tensor(DType::Float32, {3000010}, 11);
  auto z = run1(flat, {big});
  ASSERT_EQ(z.shape, (Dims{3000000}));
  EXPECT_EQ(values<float>(z)[0], values<float>(big)[3]);
  EXPECT_EQ(values<float>(z)[2999999], values<float>(big)[3000002]);
}

}  // namespace
}  // namespace kiln::test
