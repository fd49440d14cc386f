"""kiln: an ahead-of-time neural-network compiler and runtime for CPUs.

    import kiln, numpy as np
    kiln.compile("model.onnx", "model.plan", shapes={"input": [1, 3, 224, 224]})
    engine = kiln.Engine("model.plan")          # or kiln.Engine(plan_bytes)
    ctx = engine.create_context()               # one per thread
    outputs = ctx.run({"input": np.zeros((1, 3, 224, 224), np.float32)})

Every failure kiln reports is a kiln.Error (a RuntimeError) whose message names the file, tensor
or argument at fault. docs/api-python.md has the details.
"""
from ._kiln import Context, Engine, Error, TensorInfo, __version__, compile

for _cls in (Context, Engine, Error, TensorInfo):
    _cls.__module__ = "kiln"
del _cls

__all__ = ["Context", "Engine", "Error", "TensorInfo", "compile", "__version__"]
