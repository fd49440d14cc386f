// Runs ONNX models through onnxruntime-node (CPU) for make_cases.py.
//
// usage: node ort_outputs.mjs JOBS.json NODE_MODULES_DIR
//
// JOBS.json is a list of jobs:
//   {"name": str, "model": path, "out_dir": path,
//    "inputs": [{"name": str, "file": path, "dtype": str, "dims": [int]}]}
// where each input file holds the tensor's raw little-endian bytes and dtype is an
// onnxruntime-node type name (float32, int32, int64, uint8, int8, bool, ...).
//
// For each job the outputs are written to out_dir/ort_output_K.bin (raw little-endian
// bytes, bool as one byte per element), in the session's output order, and a summary is
// written to out_dir/ort_outputs.json:
//   {"ok": true, "outputs": [{"name", "file", "dtype", "dims"}]}  or  {"ok": false, "error": str}
// A job that onnxruntime refuses does not stop the others.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const [jobsPath, nodeModules] = process.argv.slice(2);
if (!jobsPath || !nodeModules) {
  console.error('usage: node ort_outputs.mjs JOBS.json NODE_MODULES_DIR');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(nodeModules), 'noop.js'));
const ort = require('onnxruntime-node');

const ARRAYS = {
  float32: Float32Array, float64: Float64Array,
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array, float16: Uint16Array,
};

function readTensor(inp) {
  const Ctor = ARRAYS[inp.dtype];
  if (!Ctor) throw new Error(`unsupported input dtype ${inp.dtype}`);
  const buf = fs.readFileSync(inp.file);
  // Copy into a fresh, aligned ArrayBuffer.
  const ab = new ArrayBuffer(buf.length);
  new Uint8Array(ab).set(buf);
  return new ort.Tensor(inp.dtype, new Ctor(ab), inp.dims);
}

const jobs = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));
let failed = 0;
for (const job of jobs) {
  fs.mkdirSync(job.out_dir, { recursive: true });
  const summaryPath = path.join(job.out_dir, 'ort_outputs.json');
  try {
    const session = await ort.InferenceSession.create(job.model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    const feeds = {};
    for (const inp of job.inputs) feeds[inp.name] = readTensor(inp);
    const results = await session.run(feeds);
    const outputs = [];
    session.outputNames.forEach((name, k) => {
      const t = results[name];
      const data = t.data;
      if (!ArrayBuffer.isView(data)) throw new Error(`output ${name}: non-numeric type ${t.type}`);
      const file = path.join(job.out_dir, `ort_output_${k}.bin`);
      fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      outputs.push({ name, file, dtype: t.type, dims: Array.from(t.dims, Number) });
    });
    await session.release();
    fs.writeFileSync(summaryPath, JSON.stringify({ ok: true, outputs }));
  } catch (e) {
    failed++;
    const msg = String(e && e.message ? e.message : e);
    fs.writeFileSync(summaryPath, JSON.stringify({ ok: false, error: msg }));
  }
}
console.error(`ort_outputs: ${jobs.length - failed} of ${jobs.length} jobs ran (onnxruntime-node ${ort.env.versions.node})`);
