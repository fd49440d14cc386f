// The dtypes and limits of every imported ONNX op (see op_notes.h). Each note states what the
// code enforces: the dtype checks of the kiln op's infer() (oplib/ops/), the failures of the
// importer (compiler/import/ops/) and the conditions under which a fast kernel
// (oplib/kernels/) accepts the layer; otherwise the reference kernel runs it. Grouped like
// the importer files (compiler/import/ops/<group>/); keep each cell to one short line.
#include "import/op_notes.h"

namespace kiln::onnx_import {

const std::map<std::string, OpNote>& op_notes() {
  static const std::map<std::string, OpNote> notes = {
      // ---- math/eltwise.cpp: activations and unary math (ops::Unary) ----
      {"Relu", {"float32, float64, signed ints",
        "unsigned ints and float16 not supported; oneDNN kernel for float32"}},
      {"Abs", {"float32, float64, signed ints",
        "unsigned ints and float16 not supported; oneDNN kernel for float32"}},
      {"Neg", {"float32, float64, signed ints", "float16 not supported; oneDNN kernel for float32"}},
      {"Sigmoid", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Tanh", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"HardSwish", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Softplus", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Mish", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Gelu", {"float32, float64",
        "approximate none (erf) or tanh; float16 not supported; oneDNN kernel for float32"}},
      {"Exp", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Sqrt", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Reciprocal", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Round", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"LeakyRelu", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Elu", {"float32, float64", "float16 not supported; oneDNN kernel for float32"}},
      {"Selu", {"float32, float64", "float16 not supported; oneDNN kernel for float32 (elu then linear)"}},
      {"HardSigmoid", {"float32, float64",
        "float16 not supported; oneDNN kernel for float32 (linear then clip)"}},
      {"Log", {"float32, float64",
        "float16 not supported; reference kernel only (oneDNN's log is inexact at 1)"}},
      {"Floor", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Ceil", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Erf", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Sin", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Cos", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Softsign", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Clip",
       {"float32, float64, signed ints",
        "constant bounds (held as float32) run as one activation, oneDNN for float32; run-time bounds "
        "(11+) become Max/Min"}},

      // ---- math/eltwise.cpp: binary, variadic and logic ops (ops::Binary, PRelu, Where, Not);
      // tensor/identity.cpp: Identity, Dropout ----
      {"Add", {"all numeric (same dtype)",
        "float16 not supported; integers wrap; oneDNN kernel for float32 (dense, <= 6-D)"}},
      {"Sub", {"all numeric (same dtype)",
        "float16 not supported; integers wrap; oneDNN kernel for float32 (dense, <= 6-D)"}},
      {"Mul", {"all numeric (same dtype)",
        "float16 not supported; integers wrap; oneDNN kernel for float32 (dense, <= 6-D)"}},
      {"Div", {"all numeric (same dtype)",
        "float16 not supported; integer division by 0 gives 0; oneDNN kernel for float32 (dense, <= 6-D)"}},
      {"Pow", {"all numeric (base and exponent may differ)", "float16 not supported; reference kernel only"}},
      {"Max", {"all numeric, float16 (same dtype)",
        "bfloat16 not supported; N inputs become a chain of binary ops; oneDNN kernel for float32"}},
      {"Min", {"all numeric, float16 (same dtype)",
        "bfloat16 not supported; N inputs become a chain of binary ops; oneDNN kernel for float32"}},
      {"Sum", {"all numeric (same dtype)",
        "float16 not supported; N inputs become a chain of Adds; oneDNN kernel for float32"}},
      {"Mean", {"float32, float64",
        "float16 not supported; a chain of Adds, then a Div by N; oneDNN kernel for float32"}},
      {"Mod", {"all numeric, float16 (same dtype)",
        "fmod=0 takes the divisor's sign, fmod=1 C fmod; integer mod by 0 gives 0; reference kernel only"}},
      {"BitShift", {"uint8, uint16, uint32, uint64",
        "shifts >= the bit width give 0; reference kernel only"}},
      {"BitwiseAnd", {"all integer types (same dtype)", "numpy broadcasting; reference kernel only"}},
      {"BitwiseOr", {"all integer types (same dtype)", "numpy broadcasting; reference kernel only"}},
      {"BitwiseXor", {"all integer types (same dtype)", "numpy broadcasting; reference kernel only"}},
      {"BitwiseNot", {"all integer types", "a BitwiseXor with all bits set; reference kernel only"}},
      {"Equal", {"all numeric, bool (same dtype)", "float16 not supported; reference kernel only"}},
      {"Less", {"all numeric, bool (same dtype)", "float16 not supported; reference kernel only"}},
      {"Greater", {"all numeric, bool (same dtype)", "float16 not supported; reference kernel only"}},
      {"LessOrEqual", {"all numeric, bool (same dtype)", "float16 not supported; reference kernel only"}},
      {"GreaterOrEqual", {"all numeric, bool (same dtype)", "float16 not supported; reference kernel only"}},
      {"And", {"bool", "reference kernel only"}},
      {"Or", {"bool", "reference kernel only"}},
      {"Xor", {"bool", "reference kernel only"}},
      {"Not", {"bool", "reference kernel only"}},
      {"PRelu", {"float32, float64, signed ints",
        "slope must have X's dtype and broadcast to X; reference kernel only"}},
      {"Where", {"condition bool; X, Y any (same dtype)", "reference kernel only"}},
      {"Identity", {"any", "tensors only (no sequences or optionals); removed by the remove-identity pass"}},
      {"Dropout",
       {"any",
        "training_mode true needs ratio 0 (checked when run if either is a run-time value); a build-time "
        "mask needs a static shape (7-9: float/bool data)"}},

      // ---- math/eltwise.cpp: trigonometric, hyperbolic and appended activations;
      // math/is_nan_inf_sign.cpp ----
      {"Tan", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Asin", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Acos", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Atan", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Sinh", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Cosh", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Asinh", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Acosh", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Atanh", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"ThresholdedRelu", {"float32, float64", "float16 not supported; reference kernel only"}},
      {"Shrink", {"float32, float64",
        "integer and float16 inputs not supported; lambd must be >= 0; reference kernel only"}},
      {"Celu", {"float32, float64", "alpha must not be 0; reference kernel only"}},
      {"IsNaN", {"float32, float64", "float16 and bfloat16 not supported; reference kernel only"}},
      {"IsInf", {"float32, float64", "float16 and bfloat16 not supported; reference kernel only"}},
      {"Sign", {"all numeric", "float16 and bfloat16 not supported; reference kernel only"}},

      // ---- nn/conv.cpp, math/gemm.cpp ----
      {"Conv",
       {"float32",
        "X rank >= 3; oneDNN kernel for 1-3 spatial dims with constant W (else reference); auto_pad "
        "resolved at import"}},
      {"ConvTranspose",
       {"float32",
        "oneDNN kernel for 1-3 spatial dims with constant W (else reference); output_shape and SAME pads "
        "need static spatial dims"}},
      {"Gemm", {"float32, float64, int32, int64",
        "A and B 2-D; oneDNN kernel for float32 (a run-time C with beta != 1 runs the reference)"}},
      {"MatMul", {"float32, float64, int32, int64",
        "batch dims broadcast; oneDNN kernel for float32 up to rank 12"}},

      // ---- nn/norm.cpp, nn/layernorm.cpp, nn/mean_variance_normalization.cpp ----
      {"BatchNormalization",
       {"float32",
        "training_mode=1 (14+): batch stats, reference kernel; else spatial=0, stat outputs rejected, "
        "folds into a preceding Conv, oneDNN for rank 2-5"}},
      {"InstanceNormalization", {"float32", "X rank >= 3; in-house kernel (one pass per [n, c] plane)"}},
      {"GroupNormalization", {"float32",
        "C known; InstanceNormalization of [N, G, -1], then Mul/Add per channel; scale/bias per group "
        "(18-20, constant) or channel (21)"}},
      {"LRN", {"float32", "X rank >= 2; oneDNN kernel for odd size and rank 3-5, else reference"}},
      {"LayerNormalization", {"float32, float64",
        "stash_type must be 1; oneDNN kernel for float32 unless Scale/B broadcast; in-house one where "
        "int8 layers read Y: it writes Y as u8/s8 too, in one pass"}},
      {"MeanVarianceNormalization", {"float32",
        "float64 fails (the epsilon constant is float32); lowered to ReduceMean, Sub, Mul, Add, Sqrt, Div"}},

      // ---- nn/tfidf_vectorizer.cpp ----
      {"TfIdfVectorizer", {"int32, int64 (X); float32 (Y)",
        "pool_int64s only (pool_strings rejected); X [C] or [N, C]; reference kernel only"}},

      // ---- training/optimizer.cpp (domain ai.onnx.preview.training) ----
      {"ai.onnx.preview.training:Adagrad", {"float32, float64 (X, G, H); int64 (T)",
        "N tensors per node, R and T scalars read at run time; reference kernel only"}},
      {"ai.onnx.preview.training:Adam", {"float32, float64 (X, G, V, H); int64 (T)",
        "N tensors per node, R and T scalars read at run time; reference kernel only"}},
      {"ai.onnx.preview.training:Momentum", {"float32, float64 (X, G, V); int64 (T)",
        "standard and nesterov; N tensors per node, R and T read at run time; reference kernel only"}},

      // ---- nn/pool.cpp ----
      {"MaxPool", {"float32, int8, uint8",
        "X rank >= 3; pads < window; oneDNN kernel for 1-3 spatial dims unless the Indices output is used"}},
      {"AveragePool",
       {"float32",
        "X rank >= 3; pads < window; dilations (19+); oneDNN for 1-3 spatial dims, except "
        "count_include_pad with ceil_mode end padding"}},
      {"GlobalAveragePool", {"float32",
                             "X rank >= 3; oneDNN kernel for 1-3 spatial dims; in-house one where an int8 layer "
                             "writes X: it averages the u8/s8 integers and writes float"}},
      {"GlobalMaxPool", {"float32", "X rank >= 3; oneDNN kernel for 1-3 spatial dims"}},

      // ---- math/softmax.cpp ----
      {"Softmax", {"float32, float64", "opsets < 13 flatten to 2-D at axis; oneDNN kernel for float32"}},
      {"LogSoftmax", {"float32, float64", "opsets < 13 flatten to 2-D at axis; oneDNN kernel for float32"}},
      {"Hardmax", {"float32, float64", "opsets < 13 flatten to 2-D at axis; reference kernel only"}},

      // ---- reduction/reduce.cpp (one ops::Reduce) ----
      {"ReduceSum",
       {"float32, float64, int32, int64, uint32, uint64",
        "13+: axes input constant or run-time (1-D, known length); float32 kernels: oneDNN, in-house (one "
        "axis run)"}},
      {"ReduceMean",
       {"float32, float64, int32, int64, uint32, uint64",
        "axes attribute (< 18) or input (18+, as ReduceSum-13); float16 not supported; float32 kernels: oneDNN (trailing axes) or in-house (one contiguous axis "
        "run)"}},
      {"ReduceProd",
       {"float32, float64, int32, int64, uint32, uint64",
        "float16 not supported; float32 kernels: oneDNN (trailing axes) or in-house (one contiguous axis "
        "run)"}},
      {"ReduceLogSum",
       {"float32, float64, int32, int64, uint32, uint64",
        "float16 not supported; float32 kernels: oneDNN (trailing axes) or in-house (one contiguous axis "
        "run)"}},
      {"ReduceMax",
       {"all numeric, bool (20+)",
        "axes attribute (< 18) or input; float16 not supported; float32 kernels: oneDNN (trailing axes) or in-house (one contiguous axis "
        "run)"}},
      {"ReduceMin",
       {"all numeric, bool (20+)",
        "axes attribute (< 18) or input; float16 not supported; float32 kernels: oneDNN (trailing axes) or in-house (one contiguous axis "
        "run)"}},
      {"ReduceL1", {"float32, float64, int32, int64, uint32, uint64",
        "float16 not supported; in-house float32 kernel when the reduced axes form one contiguous run"}},
      {"ReduceL2", {"float32, float64, int32, int64, uint32, uint64",
        "float16 not supported; in-house float32 kernel when the reduced axes form one contiguous run"}},
      {"ReduceSumSquare", {"float32, float64, int32, int64, uint32, uint64",
        "float16 not supported; in-house float32 kernel when the reduced axes form one contiguous run"}},
      {"ReduceLogSumExp", {"float32, float64, int32, int64, uint32, uint64",
        "float16 not supported; in-house float32 kernel when the reduced axes form one contiguous run"}},

      // ---- tensor/resize.cpp ----
      {"Resize",
       {"any (nearest); float32, float64 (linear, cubic)",
        "18: axes, keep_aspect_ratio_policy, antialias; 19: half_pixel_symmetric; "
        "run-time params size the output per run; in-house kernel"}},
      {"Upsample",
       {"any (nearest); float32, float64 (linear)",
        "asymmetric coordinates; scales attribute (7-8) or input (9); in-house kernel when scales are "
        "constant (linear: float32)"}},

      // ---- rnn/rnn.cpp ----
      {"RNN", {"float32, float64",
        "all ONNX activations, clip, layout (14+); sequence_lens int32/int64; reference kernel only"}},
      {"GRU", {"float32, float64",
        "all ONNX activations, clip, layout, linear_before_reset; in-house float32 kernel for the default "
        "form, else reference"}},
      {"LSTM", {"float32, float64",
        "all ONNX activations, clip, layout, peepholes; in-house float32 kernel for the default form, else "
        "reference"}},

      // ---- reduction/arg_min_max.cpp, math/cumsum_top_k.cpp ----
      {"ArgMax", {"all numeric", "float16 not supported; select_last_index (12+); reference kernel only"}},
      {"ArgMin", {"all numeric", "float16 not supported; select_last_index (12+); reference kernel only"}},
      {"CumSum", {"float32, float64, int32, int64, uint32, uint64",
        "axis int32/int64, constant or run-time; exclusive, reverse; reference kernel only"}},
      {"TopK",
       {"all numeric",
        "k attribute (< 10) or int64 input (a run-time k sizes the output per run); largest/sorted (11+); "
        "reference only"}},

      // ---- tensor/nonzero_compress.cpp, object_detection/non_max_suppression.cpp, tensor/unique.cpp ----
      {"NonZero", {"any", "output size set per run unless the input is constant; reference kernel only"}},
      {"Compress", {"any (condition: any, nonzero = true)",
        "output size set per run unless the condition is constant; reference kernel only"}},
      {"NonMaxSuppression",
       {"boxes, scores float32",
        "max_output_boxes int64, thresholds float32; output size set per run unless all inputs are "
        "constant; reference only"}},
      {"Unique", {"all numeric, bool",
        "float16 not supported; output sizes set per run unless the input is constant; reference only"}},

      // ---- object_detection/roi_align.cpp, nn/max_unpool.cpp, tensor/reverse_sequence.cpp, math/det.cpp ----
      {"RoiAlign",
       {"float32, float64 (batch_indices int32/int64)",
        "X 4-D; coordinate_transformation_mode (16+) half_pixel or output_half_pixel; reference kernel "
        "only"}},
      {"MaxUnpool", {"float32, float64 (I int64)",
        "output_shape constant or run-time; reference kernel only"}},
      {"ReverseSequence", {"any (sequence_lens int32/int64)",
        "rank >= 2; time_axis and batch_axis must be 0 and 1; reference kernel only"}},
      {"Det", {"float32, float64", "input [*, M, M]; reference kernel only"}},

      // ---- quantization/quant.cpp ----
      {"QuantizeLinear", {"float32, int32 -> uint8, int8",
        "float32 scale per tensor or per axis (axis from 13); 21: output_dtype, block_size 0 only; threaded "
        "in-house kernel, bit-exact"}},
      {"DequantizeLinear", {"uint8, int8, int32 -> float32",
        "float32 scale per tensor or per axis (axis from 13); threaded in-house kernel, bit-exact"}},
      {"DynamicQuantizeLinear", {"float32 -> uint8", "threaded in-house kernel, bit-exact"}},
      {"MatMulInteger", {"uint8, int8 -> int32",
        "oneDNN int8 (VNNI CPUs) for a constant 2-D B with constant zero points and one a_zero_point; else "
        "reference"}},
      {"QLinearMatMul", {"uint8, int8 (scales float32)",
        "y params one value; oneDNN int8 (VNNI CPUs) for constant b params and one-value a params, +-1 at "
        "rounding ties; else reference"}},
      {"ConvInteger",
       {"uint8, int8 -> int32",
        "x_zero_point one value, w_zero_point per tensor or channel; oneDNN int8 (VNNI CPUs) for constant w "
        "and w_zero_point; else reference"}},
      {"QLinearConv",
       {"uint8, int8 (scales float32, B int32)",
        "x/y params one value, w per tensor or channel; oneDNN int8 (VNNI CPUs) for constant w params, +-1 at "
        "rounding ties; else reference"}},

      // ---- nn/loss.cpp ----
      {"NegativeLogLikelihoodLoss", {"float32, float64 (target int32/int64)",
        "reduction none/sum/mean, ignore_index, weight; reference kernel only"}},
      {"SoftmaxCrossEntropyLoss", {"float32, float64 (target int32/int64)",
        "reduction none/sum/mean, ignore_index, weight, log_prob output; reference kernel only"}},

      // ---- tensor/shape.cpp, tensor/concat_split_slice_pad.cpp, tensor/gather.cpp, tensor/cast.cpp,
      // generator/constant.cpp, generator/constant_of_shape_range.cpp (constant inputs fold at import) ----
      {"Constant", {"any", "sparse_value and string values not supported"}},
      {"Reshape", {"any",
        "allowzero (14+); shape constant or run-time (output shape set per run); in-house copy kernel"}},
      {"Flatten", {"any", "in-house copy kernel"}},
      {"Squeeze",
       {"any",
        "axes attribute (< 13) or input (constant or run-time); no axes needs static dims; in-house copy "
        "kernel"}},
      {"Unsqueeze", {"any", "axes attribute (< 13) or input (constant or run-time); in-house copy kernel"}},
      {"Shape", {"any", "start/end (15+); a static input shape folds to a constant (under a profile it stays a shape program, evaluated per input shape)"}},
      {"Size", {"any", "a static input shape folds to a constant"}},
      {"Transpose", {"any",
        "oneDNN kernel for float32, int32, int8, uint8, bfloat16 up to rank 6, else reference"}},
      {"Concat", {"any (same dtype)",
        "rank >= 1; in-house block-copy kernel (any dtype), oneDNN for float32 across layouts"}},
      {"Split",
       {"any",
        "split attribute (< 13) or input (run-time sizes: shapes set per run); num_outputs (18+, uneven "
        "needs a known dim); in-house copy kernel for static shapes"}},
      {"Slice",
       {"any",
        "attributes (< 10) or inputs, constant or run-time (output shape set per run); reference kernel "
        "only"}},
      {"Expand", {"any", "shape constant or run-time; reference kernel only"}},
      {"Tile", {"any", "repeats constant or run-time; reference kernel only"}},
      {"Pad",
       {"any",
        "modes constant, reflect, edge, wrap (19+); pads constant or run-time; axes input (18+) with "
        "constant pads; reference only"}},
      {"CenterCropPad", {"any", "constant target shape, known input dims; a Pad (negative pads crop); "
        "reference kernel only"}},
      {"Gather", {"any (indices int32/int64)", "out-of-range indices are an error; reference kernel only"}},
      {"GatherElements", {"any (indices int32/int64)",
        "out-of-range indices are an error; reference kernel only"}},
      {"DepthToSpace", {"any", "4-D only; DCR and CRD modes; reference kernel only"}},
      {"SpaceToDepth", {"any", "4-D only; reference kernel only"}},
      {"Cast", {"any -> any", "string, complex, 8-bit floats not supported; inside float16 models, casts to "
        "float16 cast to float32; in-house kernel for float16 <-> float32"}},
      {"ConstantOfShape", {"any (value)", "shape int32/int64, constant or run-time; reference kernel only"}},
      {"Range", {"float32, float64, int16, int32, int64",
        "scalar inputs of one dtype; run-time inputs set the length per run; reference kernel only"}},

      // ---- tensor/trilu_eye_like_one_hot.cpp, tensor/gather_nd_scatter.cpp, tensor/cast.cpp (CastLike),
      // math/einsum.cpp ----
      {"Trilu", {"any", "rank >= 2; k int64, constant or run-time; reference kernel only"}},
      {"EyeLike", {"any (dtype attribute: any)", "2-D input; reference kernel only"}},
      {"OneHot", {"indices, depth all numeric; values any",
        "depth constant or run-time; reference kernel only"}},
      {"GatherND", {"any (indices int64)",
        "batch_dims (12+); the last dim of indices must be static; reference kernel only"}},
      {"Scatter", {"any (indices int32/int64)",
        "imported as ScatterElements without reduction; reference kernel only"}},
      {"ScatterElements",
       {"any (indices int32/int64)",
        "reduction none, add, mul (16+), max, min (18+) (reductions: all numeric); reference kernel only"}},
      {"ScatterND",
       {"any (indices int64)",
        "reduction none, add, mul (16+), max, min (18+); last dim of indices static; reference only"}},
      {"CastLike", {"any -> any",
        "a Cast to input 1's dtype; string, complex and 8-bit floats not supported"}},
      {"Einsum",
       {"float32, float64, int32, int64",
        "oneDNN float32 kernel for 2-operand matmul-like equations; diagonals, broadcasting, 3+ operands: "
        "reference"}},

      // ---- controlflow/if_loop_scan.cpp (lowered at import), runtime_loop.cpp (a run-time Loop) ----
      {"If", {"any", "known cond inlines its branch; run-time cond: only the taken branch runs (predicated "
        "layers); a branch unbuildable for the shapes is guarded"}},
      {"Loop", {"any", "unrolled when trip count and conditions fold at build time; else a run-time loop "
        "running its compiled body (carried values of fixed shape)"}},
      {"Scan", {"any", "unrolled over a static sequence length; opset 8: full sequence_lens only"}},

      // ---- tensor/gridsample.cpp ----
      {"GridSample", {"float32, float64, float16, bfloat16",
        "4-D X only; all modes (renamed linear/cubic at 20) and padding modes; reference kernel only"}},

      // ---- signal/dft_stft_window_mel.cpp (opset 17) ----
      {"HannWindow", {"size int32/int64; output any but bool",
        "a run-time size sets the length per run; reference kernel only"}},
      {"HammingWindow", {"size int32/int64; output any but bool",
        "a run-time size sets the length per run; reference kernel only"}},
      {"BlackmanWindow", {"size int32/int64; output any but bool",
        "a run-time size sets the length per run; reference kernel only"}},
      {"MelWeightMatrix", {"sizes int32/int64, edges float; output any but bool",
        "upper_edge_hertz must be <= sample_rate / 2; reference kernel only"}},
      {"DFT", {"float32, float64, float16, bfloat16",
        "axis attribute (17) or constant input (20+); onesided with inverse or with complex input not "
        "supported; naive O(n^2) reference kernel only"}},
      {"STFT",
       {"float32, float64, float16, bfloat16",
        "signal [batch, length, 1 or 2]; needs window or frame_length; onesided complex not supported; "
        "reference only"}},
  };
  return notes;
}

OpNote op_note_or_missing(const std::string& op_type) {
  const auto& notes = op_notes();
  auto it = notes.find(op_type);
  return it == notes.end() ? OpNote{kMissingNote, kMissingNote} : it->second;
}

}  // namespace kiln::onnx_import
