// ONNX Runtime (CPU EP) side of kiln's side-by-side benchmark: times one model on one fixed input
// and prints exactly one JSON line on stdout, shaped like `kiln run --json` so the driver
// (benchmarks/run_bench.py) can read both the same way.
//
// node bench_ort.mjs --model M.onnx --input X.npy [--threads 2] [--warmup-ms 500] [--iterations 50]
//                    [--save-output OUT.npy]
//
// The session is set up the way ORT is normally deployed for lowest latency on CPU: all graph
// optimisations, intra-op threads = --threads, one inter-op thread, sequential execution.
// --warmup-ms runs untimed inferences for at least that long (and at least once), then exactly
// --iterations inferences are timed one by one; the time includes the await of session.run().
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

const require = createRequire(import.meta.url);

function die(msg) {
  process.stderr.write(`bench_ort: error: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { threads: 2, warmupMs: 500, iterations: 50 };
  const keys = {
    '--model': 'model', '--input': 'input', '--threads': 'threads', '--warmup-ms': 'warmupMs',
    '--iterations': 'iterations', '--save-output': 'saveOutput',
  };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].split(/=(.*)/s, 2);
    if (!(k in keys)) die(`unknown argument '${argv[i]}' (see the header of bench_ort.mjs)`);
    if (v === undefined) {
      if (i + 1 >= argv.length) die(`${k} needs a value`);
      v = argv[++i];
    }
    opts[keys[k]] = v;
  }
  if (!opts.model) die('--model is required');
  if (!opts.input) die('--input is required (a float32 .npy file)');
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

// Minimal .npy (v1-3) reader: little-endian float32, C order, which is all the driver writes.
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
  if (descr[1] !== '<f4') die(`${path}: dtype ${descr[1]} unsupported, need float32 ('<f4')`);
  if (fortran[1] === 'True') die(`${path}: Fortran-order arrays are unsupported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length - off !== count * 4) {
    die(`${path}: ${buf.length - off} data bytes, expected ${count * 4}`);
  }
  // Copy so the Float32Array is aligned regardless of the header length.
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(buf.subarray(off));
  return { dims, data };
}

function writeNpy(path, dims, data) {
  const shape = dims.join(', ') + (dims.length === 1 ? ',' : '');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'),
                                     Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

function percentile(sorted, p) {
  // Nearest-rank, the same definition kiln reports.
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
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
  const input = readNpy(opts.input);
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
  if (session.inputNames.length !== 1) {
    die(`${opts.model} has inputs [${session.inputNames}]; this harness feeds exactly one`);
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.dims) };

  let out;
  const warmStart = process.hrtime.bigint();
  let warmRuns = 0;
  do {
    out = await session.run(feeds);
    warmRuns++;
  } while (Number(process.hrtime.bigint() - warmStart) / 1e6 < opts.warmupMs);

  const lat = new Array(opts.iterations);
  for (let i = 0; i < opts.iterations; i++) {
    const s = process.hrtime.bigint();
    out = await session.run(feeds);
    lat[i] = Number(process.hrtime.bigint() - s) / 1e6;
  }
  if (opts.saveOutput) {
    const first = out[session.outputNames[0]];
    if (first.type !== 'float32') {
      die(`output ${session.outputNames[0]} is ${first.type}, cannot save it`);
    }
    writeNpy(opts.saveOutput, first.dims, first.data);
  }
  const sorted = [...lat].sort((a, b) => a - b);
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const result = {
    runtime: 'onnxruntime-node',
    ort_version: ort.env.versions?.common ?? 'unknown',
    model: opts.model,
    threads: opts.threads,
    iterations: opts.iterations,
    warmup_runs: warmRuns,
    session_create_ms: createMs,
    latency_ms: {
      min: sorted[0], max: sorted[sorted.length - 1], mean, median,
      p90: percentile(sorted, 90), p95: percentile(sorted, 95), p99: percentile(sorted, 99),
    },
    throughput_qps: 1000 / mean,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => die(e.stack || String(e)));
