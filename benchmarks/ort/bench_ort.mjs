// ONNX Runtime (CPU EP) side of kiln's side-by-side benchmark: times one model on fixed inputs
// and prints exactly one JSON line on stdout, shaped like `kiln run --json` plus the raw
// per-iteration latencies, so the driver (benchmarks/run_bench.py) computes both runtimes'
// statistics from raw times with one function.
//
// node bench_ort.mjs --model M.onnx --input [NAME:]X.npy [--input NAME:Y.npy ...] [--threads 2]
//                    [--warmup-ms 500] [--iterations 50] [--save-outputs DIR]
//
// The session is set up the way ORT is normally deployed for lowest latency on CPU: all graph
// optimisations, intra-op threads = --threads, one inter-op thread, sequential execution.
//
// The timed path is as close to kiln's (`kiln run`: ctx->run() on pre-bound buffers) as the public
// onnxruntime-node API allows: the input tensors are created once, the output tensors are
// allocated once (shapes and types from one untimed run) and passed as pre-allocated fetches,
// `session.run(feeds, fetches)`, so ORT writes the outputs into the same buffers every call (checked
// below: the buffers are poisoned with NaN before a run and must hold the outputs after it).
// What remains per call and cannot be avoided through this API: the argument checks of
// onnxruntime-common, a setImmediate + Promise round trip (the binding runs synchronously inside
// setImmediate), the N-API conversion of feeds and fetches, and a copy of every output into a fresh
// ArrayBuffer for the returned object (onnxruntime-node 1.30 copies even pre-allocated outputs).
// The driver measures the fixed part on a one-element model; `output_copy_ms` below estimates the
// size-dependent part (allocating and copying the model's output bytes once in JS).
//
// --warmup-ms runs untimed inferences for at least that long (and at least once), then exactly
// --iterations inferences are timed one by one with process.hrtime (each time includes the await of
// session.run()). `latencies_ms` holds them in run order; `latency_ms` summarises them with
// kiln's definitions (tools/kiln/stats.cpp): percentiles interpolate linearly between the two
// nearest order statistics at rank p/100 * (n - 1), median = p50, population stddev.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const require = createRequire(import.meta.url);

function die(msg) {
  process.stderr.write(`bench_ort: error: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { threads: 2, warmupMs: 500, iterations: 50, inputs: [] };
  const keys = {
    '--model': 'model', '--input': 'inputs', '--threads': 'threads', '--warmup-ms': 'warmupMs',
    '--iterations': 'iterations', '--save-outputs': 'saveOutputs',
  };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].split(/=(.*)/s, 2);
    if (!(k in keys)) die(`unknown argument '${argv[i]}' (see the header of bench_ort.mjs)`);
    if (v === undefined) {
      if (i + 1 >= argv.length) die(`${k} needs a value`);
      v = argv[++i];
    }
    if (k === '--input') opts.inputs.push(v);
    else opts[keys[k]] = v;
  }
  if (!opts.model) die('--model is required');
  if (!opts.inputs.length) die('--input is required (a .npy file per model input)');
  for (const k of ['threads', 'warmupMs', 'iterations']) {
    const n = Number(opts[k]);
    if (!Number.isInteger(n) || n < 0) {
      die(`--${k} must be a non-negative integer, got '${opts[k]}'`);
    }
    opts[k] = n;
  }
  if (opts.threads < 1 || opts.iterations < 1) die('--threads and --iterations must be >= 1');
  return opts;
}

// .npy dtypes this harness reads and writes, with their ORT type and typed array.
const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array],
};

// Minimal .npy (v1-3) reader: little-endian, C order, the dtypes above.
function readNpy(path) {
  let buf;
  try {
    buf = readFileSync(path);
  } catch (e) {
    die(`cannot read input ${path}: ${e.message}`);
  }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    die(`${path}: not a .npy file`);
  }
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) die(`${path}: cannot parse .npy header ${header}`);
  const t = NPY_TYPES[descr[1]];
  if (!t) die(`${path}: dtype ${descr[1]} unsupported (${Object.keys(NPY_TYPES).join(', ')})`);
  if (fortran[1] === 'True') die(`${path}: Fortran-order arrays are unsupported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const [type, Ctor] = t;
  const off = hstart + hlen;
  if (buf.length - off !== count * Ctor.BYTES_PER_ELEMENT) {
    die(`${path}: ${buf.length - off} data bytes, expected ${count * Ctor.BYTES_PER_ELEMENT}`);
  }
  // Copy so the typed array is aligned regardless of the header length.
  const data = new Ctor(count);
  Buffer.from(data.buffer).set(buf.subarray(off));
  return { type: type === 'bool' ? 'bool' : type, dims, data };
}

function writeNpy(path, type, dims, data) {
  const descr = Object.keys(NPY_TYPES).find((d) => NPY_TYPES[d][0] === type);
  if (!descr) die(`cannot save an output of type ${type}`);
  const shape = dims.join(', ') + (dims.length === 1 ? ',' : '');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'),
                                     Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

// kiln's percentile (tools/kiln/stats.cpp): linear interpolation at rank p/100 * (n - 1).
function percentile(sorted, p) {
  if (!sorted.length) return 0;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(rank), hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

function summarize(lat) {
  const sorted = [...lat].sort((a, b) => a - b);
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  const variance = lat.reduce((a, x) => a + (x - mean) * (x - mean), 0) / lat.length;
  return {
    min: sorted[0], max: sorted[sorted.length - 1], mean, median: percentile(sorted, 50),
    p90: percentile(sorted, 90), p95: percentile(sorted, 95), p99: percentile(sorted, 99),
    stddev: Math.sqrt(variance),
  };
}

// The output file name kiln's --exportOutput uses (scripts/compare_outputs.py sanitize()).
const sanitize = (name) => name.replace(/[^A-Za-z0-9_.-]/g, '_');

function poison(t) {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) t.data.fill(NaN);
  else if (t.data instanceof BigInt64Array) t.data.fill(-0x7fffffffffffffffn);
  else t.data.fill(0x5a);
}

function sameBits(a, b) {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    die(`cannot load onnxruntime-node (${e.message}); run benchmarks/run_bench.py, which ` +
        'installs it with npm into the build tree, or set NODE_PATH to a node_modules holding it');
  }
  const t0 = process.hrtime.bigint();
  let session;
  try {
    session = await ort.InferenceSession.create(opts.model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
  } catch (e) {
    die(`ORT cannot load ${opts.model}: ${e.message}`);
  }
  const createMs = Number(process.hrtime.bigint() - t0) / 1e6;

  // Inputs: NAME:PATH, or a bare PATH when the model has exactly one input.
  const feeds = {};
  for (const spec of opts.inputs) {
    const m = /^([^:]+):(.+)$/.exec(spec);
    let name, path;
    if (m && session.inputNames.includes(m[1])) [, name, path] = m;
    else if (session.inputNames.length === 1 && opts.inputs.length === 1) {
      [name, path] = [session.inputNames[0], spec];
    } else die(`--input '${spec}' names no model input (inputs: ${session.inputNames})`);
    if (name in feeds) die(`input ${name} given twice`);
    const a = readNpy(path);
    feeds[name] = new ort.Tensor(a.type, a.data, a.dims);
  }
  for (const n of session.inputNames) if (!(n in feeds)) die(`no --input for model input ${n}`);

  // Learn the output shapes and types once, then pre-allocate every output.
  let first;
  try {
    first = await session.run(feeds);
  } catch (e) {
    die(`ORT run failed: ${e.message}`);
  }
  const fetches = {};
  let outBytes = 0;
  for (const n of session.outputNames) {
    const r = first[n];
    fetches[n] = new ort.Tensor(r.type, new r.data.constructor(r.data.length), r.dims);
    outBytes += r.data.byteLength;
  }
  // Check ORT writes into the pre-allocated buffers (not just into the object it returns).
  for (const n of session.outputNames) poison(fetches[n]);
  const check = await session.run(feeds, fetches);
  for (const n of session.outputNames) {
    if (!sameBits(fetches[n].data, check[n].data)) {
      die(`onnxruntime-node did not write output ${n} into the pre-allocated tensor`);
    }
  }

  const warmStart = process.hrtime.bigint();
  let warmRuns = 0;
  do {
    await session.run(feeds, fetches);
    warmRuns++;
  } while (Number(process.hrtime.bigint() - warmStart) / 1e6 < opts.warmupMs);

  const lat = new Array(opts.iterations);
  for (let i = 0; i < opts.iterations; i++) {
    const s = process.hrtime.bigint();
    await session.run(feeds, fetches);
    lat[i] = Number(process.hrtime.bigint() - s) / 1e6;
  }

  // What the binding's copy of the outputs into a fresh ArrayBuffer costs, roughly: the same
  // allocation + copy done in JS, median of 21.
  const copies = [];
  for (let i = 0; i < 21; i++) {
    const s = process.hrtime.bigint();
    for (const n of session.outputNames) {
      const d = fetches[n].data;
      new d.constructor(d);
    }
    copies.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  copies.sort((a, b) => a - b);

  if (opts.saveOutputs) {
    mkdirSync(opts.saveOutputs, { recursive: true });
    for (const n of session.outputNames) {
      const t = fetches[n];
      writeNpy(join(opts.saveOutputs, `${sanitize(n)}.npy`), t.type, t.dims, t.data);
    }
  }
  const stats = summarize(lat);
  const result = {
    runtime: 'onnxruntime-node',
    ort_version: ort.env.versions?.common ?? 'unknown',
    model: opts.model,
    threads: opts.threads,
    iterations: opts.iterations,
    warmup_runs: warmRuns,
    session_create_ms: createMs,
    path: 'session.run(feeds, preallocated fetches), inputs created once',
    output_bytes: outBytes,
    output_copy_ms: percentile(copies, 50),
    latency_ms: stats,
    latencies_ms: lat,
    throughput_qps: 1000 / stats.mean,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => die(e.stack || String(e)));
