#!/usr/bin/python3
"""Symbolic shapes end to end (issue 17): exported transformers with dynamic batch and sequence
compile into ONE plan for an optimisation profile and match torch at shapes across the profile.

Two models, each exported by torch.onnx.export (opset 17) with dynamic axes and run through
`kiln compile --minShapes/--optShapes/--maxShapes` and `kiln run --loadEngine --shapes`:

- an HF-style BERT (scripts/bert_hf.py, 2 layers and a 4096-token vocabulary to keep it fast;
  everything else BERT-base): inputs input_ids and attention_mask [batch, seq]. The export carries
  HF's shape arithmetic: position and token-type ids sliced to seq_length from buffers,
  view/permute targets built from Shape -> Gather -> Unsqueeze -> Concat -> Reshape, the extended
  attention mask. Profile 1x1 .. 4x256 (opt 1x128); checked at 1x7, 1x128, 3x64 with one row
  padded (attention_mask 0 over its last positions) and 2x200;
- a GPT-2-style decoder written here (2 layers, hidden 64, 4 heads, vocabulary 1000): inputs
  input_ids [batch, seq] and past_{k,v}_<layer> [batch, heads, past, head_dim]; position ids are
  Range(past_len, past_len + seq) with past_len from Shape(past_k_0); the causal mask is
  Trilu(ConstantOfShape([seq, past + seq]), k = past_len) and is applied with Where; outputs logits
  and present_{k,v}_<layer> [batch, heads, past + seq, head_dim]. Profile batch 1..2, seq 1..32,
  past 1..64 (past 0, a zero-length dimension, is not asked for); checked at several (batch, seq,
  past) points, decode steps (seq 1) among them.

Every output is compared with torch's on the same weights and inputs: relative L2 error
||kiln - torch|| / ||torch|| must be <= 1e-4. A static control, the same model compiled with --shapes at
each of those points, must match torch as well: it shows that the harness is right and that the
export computes the right thing at that shape (no dimension traced in as a constant), so a failing
profile check is the profile's.

Prints PASS/FAIL per check and exits 1 when any check fails.

usage: dynamic_transformers.py KILN WORKDIR
"""
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import bert_hf  # noqa: E402

KILN, WORK = sys.argv[1:3]
# Nothing here depends on tuning, and level 0 (nothing timed) builds fastest.
L0 = "--builderOptimizationLevel=0"
TOL = 1e-4
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
T0 = time.time()
fails, npass = [], 0


def check(cond, what):
    global npass
    if cond:
        npass += 1
        print("PASS:", what, flush=True)
    else:
        fails.append(what)
        print("FAIL:", what, flush=True)
    return cond


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True, timeout=300)


def dims(shape):
    return "x".join(map(str, shape))


def shapes_flag(flag, shapes):
    return f"--{flag}=" + ",".join(f"{n}:{dims(s)}" for n, s in shapes.items())


def rel_l2(got, want):
    return float(np.linalg.norm((got.astype(np.float64) - want).ravel()) /
                 max(np.linalg.norm(want.astype(np.float64).ravel()), 1e-30))


def compile_plan(onnx_path, plan, what, shapes=None, profile=None, extra=(), level=L0):
    """kiln compile with --shapes (static) or a (min, opt, max) profile; True when it built."""
    args = ["compile", level, onnx_path, "-o", plan, *extra]
    if shapes is not None:
        args.append(shapes_flag("shapes", shapes))
    else:
        args += [shapes_flag(f, p) for f, p in zip(("minShapes", "optShapes", "maxShapes"), profile)]
    r = kiln(*args)
    err = r.stderr.strip().replace("\n", " | ")
    return check(r.returncode == 0 and os.path.isfile(plan),
                 f"{what}: compiles (exit {r.returncode}{'' if r.returncode == 0 else ': ' + err})")


def run_and_compare(plan, what, feeds, want, tol=None):
    """kiln run --loadEngine at the feeds' shapes; every output within TOL (or tol) of torch's."""
    tol = TOL if tol is None else tol
    tag = os.path.basename(plan)[:-5] + "_" + "_".join(dims(v.shape) for v in feeds.values())
    files = []
    for name, v in feeds.items():
        path = os.path.join(WORK, f"{tag}_{name}.npy")
        np.save(path, v)
        files.append(f"{name}:{path}")
    out = os.path.join(WORK, tag + "_out")
    r = kiln("run", "--loadEngine=" + plan, shapes_flag("shapes", {n: v.shape for n, v in feeds.items()}),
             "--loadInputs=" + ",".join(files), "--exportOutput=" + out, "--iterations=1", "--duration=0",
             "--warmUp=0")
    if not check(r.returncode == 0, f"{what}: runs (exit {r.returncode}"
                 f"{'' if r.returncode == 0 else ': ' + r.stderr.strip().replace(chr(10), ' | ')})"):
        return
    for name, w in want.items():
        path = os.path.join(out, name + ".npy")
        if not check(os.path.isfile(path), f"{what}: output {name} exported"):
            continue
        got = np.load(path)
        if not check(got.shape == w.shape, f"{what}: {name} shape {list(got.shape)} (torch {list(w.shape)})"):
            continue
        err = rel_l2(got, w)
        check(np.isfinite(err) and err <= tol, f"{what}: {name} rel. L2 {err:.3g} (<= {tol:g})")


def not_run(what, why):
    check(False, f"{what}: not run ({why})")


# ---- HF-style BERT --------------------------------------------------------------------------------
# bert_hf reads its sizes from module globals when the model is built; fewer layers and a smaller
# vocabulary keep the test fast without changing the exported graph's shape arithmetic.
bert_hf.LAYERS = 2
bert_hf.VOCAB = 4096
torch.manual_seed(0)  # as scripts/export_models.py seeds bert_hf (MODEL_SEED)
bert = bert_hf.BertModel().eval()
assert len(bert.encoder.layer) == 2 and bert.embeddings.word_embeddings.num_embeddings == 4096, \
    "scripts/bert_hf.py no longer takes LAYERS/VOCAB from its module globals at construction"
BERT_IN, BERT_OUT = bert_hf.INPUT_NAMES, bert_hf.OUTPUT_NAMES


def bert_inputs(batch, seq, padded_rows=(), seed=0):
    """Random ids in [1000, vocab); rows in padded_rows end in seq // 3 padding positions (token 0,
    attention_mask 0)."""
    rng = np.random.RandomState(seed)
    ids = rng.randint(1000, bert_hf.VOCAB, (batch, seq)).astype(np.int64)
    mask = np.ones((batch, seq), np.int64)
    for r in padded_rows:
        ids[r, seq - seq // 3:] = bert_hf.PAD_TOKEN
        mask[r, seq - seq // 3:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def bert_torch(feeds):
    with torch.no_grad():
        outs = bert(torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"]))
    return {n: o.numpy() for n, o in zip(BERT_OUT, outs)}


bert_onnx = os.path.join(WORK, "bert_hf.onnx")
bs = {0: "batch", 1: "seq"}
# Traced at 2x9 so that no dimension of the example is 1 (torch.onnx.export specialises size-1 dims).
ex = bert_inputs(2, 9, padded_rows=[1])
torch.onnx.export(bert, (torch.from_numpy(ex["input_ids"]), torch.from_numpy(ex["attention_mask"])), bert_onnx,
                  input_names=BERT_IN, output_names=BERT_OUT, opset_version=17,
                  dynamic_axes={"input_ids": bs, "attention_mask": bs, "last_hidden_state": bs,
                                "pooler_output": {0: "batch"}})

# One plan for the whole profile.
profile_plan = os.path.join(WORK, "bert_profile.plan")
profile = [{n: s for n in BERT_IN} for s in ([1, 1], [1, 128], [4, 256])]
built = compile_plan(bert_onnx, profile_plan, "bert profile 1x1..4x256 (opt 1x128)", profile=profile)
for i, ((b, s), padded) in enumerate([((1, 7), ()), ((1, 128), ()), ((3, 64), (1,)), ((2, 200), ())]):
    at = f"{b}x{s}" + (f" (row {padded[0]} padded)" if padded else "")
    feeds = bert_inputs(b, s, padded_rows=padded, seed=10 + i)
    want = bert_torch(feeds)
    # Static control at the same point: the harness (inputs, flags, output names, oracle) and the
    # export itself (no dimension traced in as a constant) are right with today's kiln.
    plan = os.path.join(WORK, f"bert_static_{b}x{s}.plan")
    if compile_plan(bert_onnx, plan, f"bert static {b}x{s}", shapes={n: [b, s] for n in BERT_IN}):
        run_and_compare(plan, f"bert static at {at}", feeds, want)
        os.remove(plan)  # ~70 MB each; the profile plan stays for a post-mortem
    if built:
        run_and_compare(profile_plan, f"bert profile at {at}", feeds, want)
    else:
        not_run(f"bert profile at {at}", "the profile plan did not build")

# int8 under a profile at a timed level: each layer's int8-or-float choice is timed at opt only and
# replayed at min and max (timed there, tiny matmuls at 1x1 stay float and the structures differ,
# which refused the build). Random calibration; int8 against torch within 0.06.
int8_plan = os.path.join(WORK, "bert_profile_int8.plan")
int8_profile = [{n: s for n in BERT_IN} for s in ([1, 1], [1, 32], [2, 64])]
if compile_plan(bert_onnx, int8_plan, "bert int8 profile 1x1..2x64 at level 1", profile=int8_profile,
                extra=("--int8", "--calib=random"), level="--builderOptimizationLevel=1"):
    for i, (b, s) in enumerate([(1, 1), (1, 32), (2, 50)]):
        feeds = bert_inputs(b, s, seed=30 + i)
        run_and_compare(int8_plan, f"bert int8 profile at {b}x{s}", feeds, bert_torch(feeds), tol=0.06)

# ---- GPT-2-style decoder with a KV cache ----------------------------------------------------------
VOCAB, HIDDEN, HEADS, LAYERS, MAX_POSITIONS = 1000, 64, 4, 2, 128
HEAD_DIM = HIDDEN // HEADS


class DecoderBlock(torch.nn.Module):
    """GPT-2's block: pre-LN attention over [past; new] keys and values, pre-LN GELU(tanh) MLP."""

    def __init__(self):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(HIDDEN)
        self.c_attn = torch.nn.Linear(HIDDEN, 3 * HIDDEN)
        self.c_proj = torch.nn.Linear(HIDDEN, HIDDEN)
        self.ln_2 = torch.nn.LayerNorm(HIDDEN)
        self.c_fc = torch.nn.Linear(HIDDEN, 4 * HIDDEN)
        self.mlp_proj = torch.nn.Linear(4 * HIDDEN, HIDDEN)
        # GPT-2 keeps the masked score as a buffer and selects it with torch.where.
        self.register_buffer("masked_bias", torch.tensor(torch.finfo(torch.float32).min), persistent=False)

    def heads(self, x):  # [b, s, hidden] -> [b, heads, s, head_dim]
        return x.view(x.size(0), x.size(1), HEADS, HEAD_DIM).permute(0, 2, 1, 3)

    def forward(self, x, past_k, past_v, causal):
        q, k, v = self.c_attn(self.ln_1(x)).split(HIDDEN, dim=2)
        q = self.heads(q)
        k = torch.cat([past_k, self.heads(k)], dim=2)
        v = torch.cat([past_v, self.heads(v)], dim=2)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HEAD_DIM)
        w = torch.where(causal, w, self.masked_bias)
        a = torch.matmul(torch.softmax(w, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        x = x + self.c_proj(a.view(a.size(0), a.size(1), HIDDEN))
        x = x + self.mlp_proj(torch.nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, k, v


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, HIDDEN)
        self.wpe = torch.nn.Embedding(MAX_POSITIONS, HIDDEN)
        self.h = torch.nn.ModuleList([DecoderBlock() for _ in range(LAYERS)])
        self.ln_f = torch.nn.LayerNorm(HIDDEN)
        with torch.no_grad():  # non-trivial everything, so a dropped bias or affine shows
            for m in self.modules():
                if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
                    m.weight.normal_(0.0, 0.1)
                if isinstance(m, torch.nn.Linear):
                    m.bias.normal_(0.0, 0.05)
                elif isinstance(m, torch.nn.LayerNorm):
                    m.weight.copy_(1.0 + 0.1 * torch.randn_like(m.weight))
                    m.bias.normal_(0.0, 0.1)

    def forward(self, input_ids, *past):
        seq = input_ids.size(1)
        past_len = past[0].size(2)  # Shape(past_k_0)[2] in the export
        position_ids = torch.arange(past_len, past_len + seq, dtype=torch.long).unsqueeze(0)
        # Query i (absolute position past_len + i) sees keys 0 .. past_len + i: Trilu with k = past_len.
        causal = torch.ones(seq, past_len + seq).tril(diagonal=past_len).bool()
        x = self.wte(input_ids) + self.wpe(position_ids)
        presents = []
        for i, block in enumerate(self.h):
            x, k, v = block(x, past[2 * i], past[2 * i + 1], causal)
            presents += [k, v]
        return (torch.matmul(self.ln_f(x), self.wte.weight.t()), *presents)


torch.manual_seed(1)
gpt = Decoder().eval()
PAST_IN = [f"past_{kv}_{i}" for i in range(LAYERS) for kv in "kv"]
GPT_IN = ["input_ids"] + PAST_IN
GPT_OUT = ["logits"] + [f"present_{kv}_{i}" for i in range(LAYERS) for kv in "kv"]


def gpt_inputs(batch, seq, past, seed=0):
    rng = np.random.RandomState(seed)
    feeds = {"input_ids": rng.randint(0, VOCAB, (batch, seq)).astype(np.int64)}
    for n in PAST_IN:
        feeds[n] = rng.standard_normal((batch, HEADS, past, HEAD_DIM)).astype(np.float32)
    return feeds


def gpt_shapes(batch, seq, past):
    return {"input_ids": [batch, seq], **{n: [batch, HEADS, past, HEAD_DIM] for n in PAST_IN}}


def gpt_torch(feeds):
    with torch.no_grad():
        outs = gpt(*(torch.from_numpy(feeds[n]) for n in GPT_IN))
    return {n: o.numpy() for n, o in zip(GPT_OUT, outs)}


gpt_onnx = os.path.join(WORK, "gpt_decoder.onnx")
ex = gpt_inputs(2, 5, 3)
axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
axes.update({n: {0: "batch", 2: "past"} for n in PAST_IN})
axes.update({n: {0: "batch", 2: "total"} for n in GPT_OUT[1:]})
torch.onnx.export(gpt, tuple(torch.from_numpy(ex[n]) for n in GPT_IN), gpt_onnx, input_names=GPT_IN,
                  output_names=GPT_OUT, opset_version=17, dynamic_axes=axes)

# The export must carry what the test is about; otherwise a pass would prove nothing.
ops = {n.op_type for n in onnx.load(gpt_onnx, load_external_data=False).graph.node}
check({"Shape", "Trilu", "Where", "Range"} <= ops, f"gpt export has Shape, Trilu, Where and Range ({sorted(ops)})")
ops = {n.op_type for n in onnx.load(bert_onnx, load_external_data=False).graph.node}
check({"Shape", "Gather", "Concat", "Reshape"} <= ops, "bert export has Shape, Gather, Concat and Reshape")

profile_plan = os.path.join(WORK, "gpt_profile.plan")
profile = [gpt_shapes(1, 1, 1), gpt_shapes(2, 16, 32), gpt_shapes(2, 32, 64)]
built = compile_plan(gpt_onnx, profile_plan, "gpt profile b1..2 s1..32 past1..64 (opt b2 s16 past32)",
                     profile=profile)
for i, (b, s, p) in enumerate([(1, 1, 40), (2, 1, 63), (1, 7, 1), (2, 16, 32), (2, 32, 64), (1, 19, 12)]):
    at = f"b{b} s{s} past{p}" + (" (decode step)" if s == 1 else "")
    feeds = gpt_inputs(b, s, p, seed=20 + i)
    want = gpt_torch(feeds)
    plan = os.path.join(WORK, f"gpt_static_b{b}_s{s}_p{p}.plan")  # static control, as for bert
    if compile_plan(gpt_onnx, plan, f"gpt static b{b} s{s} past{p}", shapes=gpt_shapes(b, s, p)):
        run_and_compare(plan, f"gpt static at {at}", feeds, want)
    if built:
        run_and_compare(profile_plan, f"gpt profile at {at}", feeds, want)
    else:
        not_run(f"gpt profile at {at}", "the profile plan did not build")

print(f"dynamic_transformers: {npass} passed, {len(fails)} failed in {time.time() - T0:.0f} s")
if fails:
    print("\n".join("FAILED: " + f for f in fails))
    sys.exit(1)
print("dynamic_transformers: all checks passed")
