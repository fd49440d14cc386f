"""Tests of the Python binding (`import kiln`), run by ctest as python.binding with Debian's
/usr/bin/python3 and PYTHONPATH at the built module.

Correctness is checked against torch: torch's recorded output for the bundled tiny_resnet
(examples/models/tiny_resnet/test_data_set_0), and torch itself on fresh inputs, running the ONNX
graph's own weights through torch.nn.functional (torch_reference below). Every error path must
raise kiln.Error with a message that says what is wrong.
"""
import os
import tempfile
import threading
import unittest

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

import kiln

EXAMPLES = os.environ.get("KILN_EXAMPLES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "..", "examples", "models"))
ONNX_PATH = os.path.join(EXAMPLES, "tiny_resnet.onnx")
DATA = os.path.join(EXAMPLES, "tiny_resnet", "test_data_set_0")


def torch_reference(model, x):
    """Evaluates tiny_resnet's ONNX graph with torch, from the graph's own initializers."""
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    env[model.graph.input[0].name] = torch.from_numpy(np.array(x))
    for n in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        ins = [env[i] for i in n.input if i]
        if n.op_type == "Conv":
            pads = list(a.get("pads", [0, 0, 0, 0]))
            assert pads[:2] == pads[2:], "asymmetric padding"
            y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, list(a.get("strides", [1, 1])),
                         pads[:2], list(a.get("dilations", [1, 1])), a.get("group", 1))
        elif n.op_type == "Relu":
            y = F.relu(ins[0])
        elif n.op_type == "MaxPool":
            pads = list(a.get("pads", [0, 0, 0, 0]))
            y = F.max_pool2d(ins[0], list(a["kernel_shape"]), list(a.get("strides", [1, 1])), pads[:2],
                             ceil_mode=bool(a.get("ceil_mode", 0)))
        elif n.op_type == "Add":
            y = ins[0] + ins[1]
        elif n.op_type == "GlobalAveragePool":
            y = F.adaptive_avg_pool2d(ins[0], 1)
        elif n.op_type == "Flatten":
            y = torch.flatten(ins[0], a.get("axis", 1))
        elif n.op_type == "Gemm":
            b = ins[1].t() if a.get("transB", 0) else ins[1]
            y = a.get("alpha", 1.0) * (ins[0] @ b) + a.get("beta", 1.0) * ins[2]
        else:
            raise AssertionError(f"torch_reference does not know {n.op_type}")
        env[n.output[0]] = y
    return env[model.graph.output[0].name].numpy()


def assert_close(test, got, want):
    test.assertEqual(got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


class TinyResNet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        base = os.environ.get("KILN_TEST_WORKDIR")
        if base:
            os.makedirs(base, exist_ok=True)
        cls.work = tempfile.mkdtemp(dir=base)
        cls.plan = os.path.join(cls.work, "tiny.plan")
        cls.info = kiln.compile(ONNX_PATH, cls.plan, shapes={"input": [1, 3, 64, 64]}, precision="fp32")
        cls.model = onnx.load(ONNX_PATH)
        cls.engine = kiln.Engine(cls.plan)
        cls.x = numpy_helper.to_array(onnx.load_tensor(os.path.join(DATA, "input_0.pb")))
        cls.torch_y = numpy_helper.to_array(onnx.load_tensor(os.path.join(DATA, "output_0.pb")))

    def test_compile_reports_the_build(self):
        self.assertEqual(self.info["plan_bytes"], os.path.getsize(self.plan))
        self.assertGreater(self.info["layers"], 0)
        self.assertEqual(self.info["onnx_nodes"], len(self.model.graph.node))

    def test_inputs_and_outputs(self):
        (i,), (o,) = self.engine.inputs, self.engine.outputs
        self.assertEqual((i.name, i.dtype, i.shape), ("input", np.dtype(np.float32), (1, 3, 64, 64)))
        self.assertEqual((o.name, o.dtype, o.shape), ("output", np.dtype(np.float32), (1, 10)))
        self.assertIn("input", repr(i))

    def test_matches_torch_recorded_output(self):
        out = self.engine.create_context().run({"input": self.x})
        self.assertEqual(list(out), ["output"])
        assert_close(self, out["output"], self.torch_y)

    def test_torch_reference_is_torch(self):
        # The reference below must itself reproduce torch's recorded output, or it proves nothing.
        assert_close(self, torch_reference(self.model, self.x), self.torch_y)

    def test_matches_torch_on_fresh_inputs(self):
        ctx = self.engine.create_context()
        rng = np.random.default_rng(0)
        results = []
        for _ in range(3):
            x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
            x_before = x.copy()
            results.append((ctx.run({"input": x})["output"], torch_reference(self.model, x)))
            np.testing.assert_array_equal(x, x_before)  # kiln never writes an input
        # Each run returns fresh arrays: later runs did not overwrite earlier results.
        for got, want in results:
            assert_close(self, got, want)

    def test_engine_from_bytes(self):
        with open(self.plan, "rb") as f:
            data = f.read()
        for src in (data, bytearray(data), memoryview(data)):
            out = kiln.Engine(src).create_context().run({"input": self.x})
            assert_close(self, out["output"], self.torch_y)

    def test_non_contiguous_inputs(self):
        want = self.engine.create_context().run({"input": self.x})["output"]
        ctx = self.engine.create_context()
        big = np.zeros((1, 3, 128, 128), np.float32)
        big[:, :, ::2, ::2] = self.x
        for x in (np.asfortranarray(self.x), big[:, :, ::2, ::2]):
            self.assertFalse(x.flags.c_contiguous)
            np.testing.assert_array_equal(ctx.run({"input": x})["output"], want)

    def test_contexts_on_threads(self):
        ctxs = [self.engine.create_context(), self.engine.create_context()]
        rng = np.random.default_rng(1)
        xs = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(4)]
        got = [None] * 8

        def work(t):  # threads 0-3 on separate contexts, 4-7 share one (runs are serialized)
            ctx = ctxs[t % 2] if t < 4 else ctxs[0]
            for _ in range(3):
                got[t] = ctx.run({"input": xs[t % 4]})["output"]

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for t in range(8):
            assert_close(self, got[t], torch_reference(self.model, xs[t % 4]))

    def test_errors(self):
        ctx = self.engine.create_context()
        cases = [
            (lambda: kiln.Engine(os.path.join(self.work, "missing.plan")), "missing.plan: cannot open"),
            (lambda: kiln.Engine(b"not a plan at all"), "<bytes>"),
            (lambda: ctx.run({"input": np.zeros((1, 3, 32, 32), np.float32)}),
             "input 'input' must have shape [1, 3, 64, 64], got [1, 3, 32, 32]"),
            (lambda: ctx.run({"input": self.x.astype(np.float64)}), "must be float32, got a float64 array"),
            (lambda: ctx.run({}), "missing input 'input' (float32 [1, 3, 64, 64])"),
            (lambda: ctx.run({"input": self.x, "img": self.x}), "no input named 'img'; its inputs are 'input'"),
            (lambda: kiln.compile(os.path.join(self.work, "missing.onnx"), os.path.join(self.work, "x.plan")),
             "missing.onnx"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "x.plan"), precision="int8"),
             "needs calibration data"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "x.plan"), precision=["bf16", "fp8"]),
             "unknown precision 'fp8'"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "x.plan"), layer_precisions={"*": "fp64"}),
             "layer_precisions: unknown precision 'fp64'"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "x.plan"), precision_constraints="maybe"),
             "precision_constraints: unknown value 'maybe'"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "x.plan"), check_tolerance="l2:0.1"),
             "check_tolerance: unknown figure 'l2'"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "x.plan"), check_tolerance={"rel_l2": -1}),
             "must not be negative"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "x.plan"), check_inputs={"img": self.x}),
             "no input 'img'; its inputs are 'input'"),
            (lambda: kiln.compile(ONNX_PATH, os.path.join(self.work, "no-such-dir", "x.plan")),
             "cannot write the plan file"),
        ]
        for call, needle in cases:
            with self.subTest(needle=needle):
                with self.assertRaises(kiln.Error) as cm:
                    call()
                self.assertIn(needle, str(cm.exception))
        self.assertTrue(issubclass(kiln.Error, RuntimeError))
        with open(self.plan, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        with open(os.path.join(self.work, "corrupt.plan"), "wb") as f:
            f.write(data)
        with self.assertRaises(kiln.Error):
            kiln.Engine(os.path.join(self.work, "corrupt.plan"))
        # The context still works after all those failures.
        assert_close(self, ctx.run({"input": self.x})["output"], self.torch_y)


class PrecisionAndCheck(unittest.TestCase):
    """kiln.compile's precision keywords and the accuracy check (check=, check_tolerance=)."""

    @classmethod
    def setUpClass(cls):
        base = os.environ.get("KILN_TEST_WORKDIR")
        if base:
            os.makedirs(base, exist_ok=True)
        cls.work = tempfile.mkdtemp(dir=base)
        cls.x = numpy_helper.to_array(onnx.load_tensor(os.path.join(DATA, "input_0.pb")))

    def plan(self, name):
        return os.path.join(self.work, name)

    def test_precision_keywords_build_a_plan(self):
        info = kiln.compile(ONNX_PATH, self.plan("p.plan"), precision=["bf16", "fp16"], precision_constraints="prefer",
                            layer_precisions={"*stem*": "fp32"}, layer_output_types=[("*", "fp32")])
        self.assertIsInstance(info["precision_summary"], list)
        out = kiln.Engine(self.plan("p.plan")).create_context().run({"input": self.x})["output"]
        self.assertEqual(out.shape, (1, 10))

    def test_external_weights_and_load_options(self):
        plan = self.plan("ext.plan")
        info = kiln.compile(ONNX_PATH, plan, shapes={"input": [1, 3, 64, 64]}, external_weights=True)
        self.assertGreater(info["weights_file_bytes"], 0)
        self.assertEqual(os.path.getsize(plan + ".weights"), info["weights_file_bytes"])
        self.assertLess(info["plan_bytes"], info["weights_file_bytes"])
        out = kiln.Engine(plan, retune=True).create_context().run({"input": self.x})["output"]
        assert_close(self, out, numpy_helper.to_array(onnx.load_tensor(os.path.join(DATA, "output_0.pb"))))
        # One byte is not enough for any context: the limit is enforced, as --memPoolSize is.
        with self.assertRaisesRegex(kiln.Error, "memPoolSize"):
            kiln.Engine(plan, memory_limit=1).create_context()
        with self.assertRaisesRegex(kiln.Error, "from its file"):
            with open(plan, "rb") as f:
                kiln.Engine(f.read())

    def test_compile_tunes_like_the_cli(self):
        cache = self.plan("timing.cache")
        kiln.compile(ONNX_PATH, self.plan("t.plan"), builder_level=1, timing_cache=cache, threads=2)
        self.assertTrue(os.path.getsize(cache) > 0)
        out = kiln.Engine(self.plan("t.plan")).create_context().run({"input": self.x})["output"]
        self.assertEqual(out.shape, (1, 10))
        with self.assertRaises(ValueError):
            kiln.compile(ONNX_PATH, self.plan("bad.plan"), builder_level=6)
        with self.assertRaisesRegex(kiln.Error, "noBuilderCache"):
            kiln.compile(ONNX_PATH, self.plan("bad.plan"), builder_level=1, timing_cache=cache, builder_cache=False)

    def test_int8_dynamic_needs_no_calibration(self):
        info = kiln.compile(ONNX_PATH, self.plan("d.plan"), precision="int8_dynamic")
        self.assertTrue(any("run-time activation scales" in l for l in info["precision_summary"]),
                        info["precision_summary"])
        out = kiln.Engine(self.plan("d.plan")).create_context().run({"input": self.x})["output"]
        self.assertEqual(out.shape, (1, 10))
        self.assertTrue(any("per row" in l for l in info["precision_summary"]), info["precision_summary"])
        info = kiln.compile(ONNX_PATH, self.plan("r.plan"), precision="int8_dynamic_tensor")
        self.assertTrue(any("per tensor" in l for l in info["precision_summary"]), info["precision_summary"])
        row = kiln.Engine(self.plan("r.plan")).create_context().run({"input": self.x})["output"]
        self.assertEqual(row.shape, (1, 10))

    def test_check_reports_the_figures(self):
        info = kiln.compile(ONNX_PATH, self.plan("c.plan"), check=True)
        c = info["check"]
        self.assertEqual((c["source"], c["samples"], c["passed"]), ("random", 4, True))
        o = c["outputs"]["output"]
        # fp32 against the fp32 reference: identical.
        self.assertEqual((o["max_abs"], o["rel_l2"], o["cosine"], o["top1"], o["rows"]), (0, 0, 1, 1, 4))

    def test_check_inputs_and_calib(self):
        c = kiln.compile(ONNX_PATH, self.plan("i.plan"), check_inputs=[{"input": self.x}, {"": -self.x}],
                         check_tolerance="max_abs:0")["check"]
        self.assertEqual((c["source"], c["samples"], c["tolerance"]), ("loadInputs", 2, {"max_abs": 0}))
        c = kiln.compile(ONNX_PATH, self.plan("d.plan"), check_calib=os.path.dirname(DATA))["check"]
        self.assertEqual((c["source"], c["samples"]), ("calib", 1))

    def test_missed_tolerance_raises_and_writes_no_plan(self):
        path = self.plan("missed.plan")
        with self.assertRaises(kiln.Error) as cm:
            kiln.compile(ONNX_PATH, path, check_tolerance={"cosine": 1.5})
        self.assertIn("output 'output': cosine 1 is below check_tolerance cosine:1.5; no plan was written",
                      str(cm.exception))
        self.assertFalse(os.path.exists(path))


class ValueDependentShapes(unittest.TestCase):
    def test_reshape_by_input_values(self):
        g = helper.make_graph(
            [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Sigmoid", ["r"], ["y"])],
            "dynamic",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6]),
             helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])])
        with tempfile.TemporaryDirectory() as d:
            onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{d}/m.onnx")
            kiln.compile(f"{d}/m.onnx", f"{d}/m.plan")
            engine = kiln.Engine(f"{d}/m.plan")
        self.assertEqual(engine.outputs[0].shape, (-1, -1))
        self.assertEqual(engine.inputs[1].dtype, np.dtype(np.int64))
        x = np.linspace(-3, 3, 24, dtype=np.float32).reshape(4, 6)
        ctx = engine.create_context()
        for shape in ([3, 8], [12, 2]):
            y = ctx.run({"x": x, "shape": shape})["y"]  # a list converts to the input's int64
            self.assertEqual(y.shape, tuple(shape))
            np.testing.assert_allclose(y, torch.sigmoid(torch.from_numpy(x)).numpy().reshape(shape), rtol=1e-6)


class Profiles(unittest.TestCase):
    """tiny_resnet with symbolic batch, height and width, compiled once for a range of shapes."""

    def test_shapes_inside_the_profile_match_torch(self):
        model = onnx.load(ONNX_PATH)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for i, name in ((0, "batch"), (2, "height"), (3, "width")):
            dims[i].dim_param = name
        model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
        with tempfile.TemporaryDirectory() as d:
            onnx.save(model, f"{d}/dyn.onnx")
            kiln.compile(f"{d}/dyn.onnx", f"{d}/dyn.plan", min_shapes={"input": [1, 3, 32, 32]},
                         opt_shapes={"input": [1, 3, 64, 64]}, max_shapes={"input": [4, 3, 96, 96]})
            engine = kiln.Engine(f"{d}/dyn.plan")
        (i,) = engine.inputs
        self.assertEqual((i.shape, i.min_shape, i.max_shape), ((1, 3, 64, 64), (1, 3, 32, 32), (4, 3, 96, 96)))
        self.assertIn("max_shape=(4, 3, 96, 96)", repr(i))
        ctx = engine.create_context()
        rng = np.random.default_rng(1)
        for shape in ((3, 3, 40, 72), (1, 3, 32, 32), (4, 3, 96, 96), (1, 3, 64, 64), (3, 3, 40, 72)):
            x = rng.standard_normal(shape).astype(np.float32)
            assert_close(self, ctx.run({"input": x})["output"], torch_reference(model, x))
        with self.assertRaisesRegex(kiln.Error, r"input 'input': shape 5x3x64x64 is outside the allowed range: "
                                                r"the plan's profile allows 1x3x32x32 to 4x3x96x96"):
            ctx.run({"input": np.zeros((5, 3, 64, 64), np.float32)})


if __name__ == "__main__":
    unittest.main()
