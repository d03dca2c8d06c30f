// A compiled model library run on WebGPU in Node.js: Dawn (npm `webgpu`, the WebGPU implementation inside Chromium)
// on whatever Vulkan driver the loader finds — on a machine without a GPU, Mesa's lavapipe (VK_ICD_FILENAMES), which
// unlike every route through Chromium here offers `shader-f16`, so q4f16_1 libraries execute.
//
// The JS runtime is tvmjs exactly as web-llm 0.2.86 bundles it (the one the page loads our libraries with). The
// bundle keeps tvmjs's exports in a module-level variable and does not export them, so this process imports the
// bundle's text with one `export` line appended. The model is driven as web-llm's LLMChatPipeline drives it:
// `_metadata`, parameters loaded by tvmjs's own tensor-cache loader (fetchTensorCacheInternal, given an artifact
// cache that reads the bundle's files from disk instead of the browser's Cache API), `create_tir_paged_kv_cache`
// with web-llm's arguments, and per forward kv_state_begin_forward → embed → prefill|decode → kv_state_end_forward.
//
// JSON lines on stdin/stdout, one reply per request, in order (webslm/dawn.py starts and talks to it):
//   {"op": "load", "wasm": PATH, "bundle": DIR}        -> {adapter, features, params, vocab_size, load_s}
//   {"op": "reset"}                                    -> {} (empty KV cache, as web-llm's resetChat)
//   {"op": "forward", "tokens": [...], "mode": "prefill"|"decode"}
//        -> {logits: base64 float32 little-endian, seconds}
//   {"op": "write_params", "writes": [{"index": I, "bytes": base64}]}  -> {written} (runtime LoRA: overwrite
//        parameters in place on the GPU, as web/static/adapters.js does in the page)
// A failure is {"error": MESSAGE}; the process keeps serving.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const WEBLLM_BUNDLE = join(REPO, "node_modules", "@mlc-ai", "web-llm", "lib", "index.js");
const TVMJS_EXPORTS = "libExports$2";

// stdout carries the replies: whatever Dawn, tvmjs or web-llm print goes to stderr.
for (const level of ["log", "info", "warn", "debug"]) console[level] = console.error;

const { create, globals } = await import("webgpu");
Object.assign(globalThis, globals);
globalThis.navigator = { gpu: create([]) };

async function importTvmjs() {
  const bundle = readFileSync(WEBLLM_BUNDLE, "utf8");
  if (!bundle.includes(`var ${TVMJS_EXPORTS} = requireLib$2();`)) {
    throw new Error(`${WEBLLM_BUNDLE}: web-llm's bundle layout changed; cannot find tvmjs's exports (${TVMJS_EXPORTS})`);
  }
  // tvmjs's Emscripten WASI shim reads __dirname when it sees Node; ES modules have none.
  globalThis.__dirname ??= dirname(WEBLLM_BUNDLE);
  const source = `${bundle}\nexport { ${TVMJS_EXPORTS} as tvmjs };\n`;
  return (await import("data:text/javascript;base64," + Buffer.from(source).toString("base64"))).tvmjs;
}

// tvmjs's ArtifactCache interface over the local filesystem (file: URLs); Node has no Cache API.
const diskCache = {
  hasAllKeys: async () => true,
  addToCache: async () => {},
  fetchWithCache: async (url, type) => {
    const data = readFileSync(fileURLToPath(url));
    if (type === "json") return JSON.parse(data.toString("utf8"));
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  },
};

let tvmjs = null;
let model = null; // {tvm, device, vm, params, kvCache, metadata, functions}

async function load({ wasm, bundle }) {
  const started = performance.now();
  tvmjs ??= await importTvmjs();
  const gpu = await tvmjs.detectGPUDevice();
  if (gpu === undefined) {
    throw new Error("Dawn found no WebGPU adapter: is libvulkan1 installed and VK_ICD_FILENAMES set to a Vulkan driver " +
                    "(python -m webslm.lavapipe)?");
  }
  const logs = [];
  const tvm = await tvmjs.instantiate(new Uint8Array(readFileSync(wasm)), tvmjs.createPolyfillWASI(),
                                      (msg) => logs.push(String(msg)));
  tvm.initWebGPU(gpu.device);
  const device = tvm.webgpu();
  tvm.beginScope();
  const vm = tvm.detachFromCurrentScope(tvm.createVirtualMachine(device));
  const metadata = JSON.parse(vm.getFunction("_metadata")().toString());
  const required = metadata.quantization.includes("f16") ? ["shader-f16"] : [];
  for (const feature of required) {
    if (!gpu.device.features.has(feature)) throw new Error(`${metadata.quantization} needs ${feature}; this adapter lacks it`);
  }
  const cache = JSON.parse(readFileSync(join(bundle, "tensor-cache.json"), "utf8"));
  await tvm.fetchTensorCacheInternal(pathToFileURL(bundle + "/").href, cache.records, device, diskCache);
  const params = tvm.detachFromCurrentScope(tvm.getParamsFromCacheByName(metadata.params.map((p) => p.name)));
  const global = (name) => tvm.detachFromCurrentScope(tvm.getGlobalFunc(name));
  const functions = {
    clear: global("vm.builtin.kv_state_clear"),
    addSequence: global("vm.builtin.kv_state_add_sequence"),
    beginForward: global("vm.builtin.kv_state_begin_forward"),
    endForward: global("vm.builtin.kv_state_end_forward"),
    embed: tvm.detachFromCurrentScope(vm.getFunction("embed")),
    prefill: tvm.detachFromCurrentScope(vm.getFunction("prefill")),
    decode: tvm.detachFromCurrentScope(vm.getFunction("decode")),
  };
  const shape = (n) => tvm.makeShapeTuple([n]);
  // web-llm's arguments: one sequence, the context window, the prefill chunk, page size 16, no sliding window.
  const kvCache = tvm.detachFromCurrentScope(vm.getFunction("create_tir_paged_kv_cache")(
    shape(1), shape(metadata.context_window_size), shape(metadata.prefill_chunk_size), shape(16), shape(0)));
  tvm.endScope();
  model = { tvm, device, vm, params, kvCache, metadata, functions, vocabSize: null };
  reset();
  await device.sync();
  const info = gpu.adapterInfo || {};
  return {
    adapter: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" "),
    features: [...gpu.device.features].sort(),
    quantization: metadata.quantization,
    params: metadata.params.length,
    load_s: (performance.now() - started) / 1000,
    logs,
  };
}

function loaded() {
  if (model === null) throw new Error("no model loaded (send a load request first)");
  return model;
}

function reset() {
  const { tvm, kvCache, functions } = loaded();
  tvm.beginScope();
  functions.clear(kvCache);
  functions.addSequence(kvCache, new tvmjs.Scalar(0, "int64"));
  tvm.endScope();
  return {};
}

async function forward({ tokens, mode }) {
  const { tvm, device, params, kvCache, functions, metadata } = loaded();
  if (mode !== "prefill" && mode !== "decode") throw new Error(`mode must be "prefill" or "decode", got ${mode}`);
  if (mode === "decode" && tokens.length !== 1) throw new Error(`decode takes one token, got ${tokens.length}`);
  if (tokens.length > metadata.prefill_chunk_size) {
    throw new Error(`${tokens.length} tokens exceed the library's prefill chunk (${metadata.prefill_chunk_size})`);
  }
  const started = performance.now();
  tvm.beginScope();
  let host;
  try {
    const ids = tvm.empty([tokens.length], "int32", device).copyFrom(new Int32Array(tokens));
    functions.beginForward(kvCache, tvm.makeShapeTuple([0]), tvm.makeShapeTuple([tokens.length]));
    const embedded = functions.embed(ids, params);
    const input = embedded.view([1, tokens.length, embedded.shape[1]]);
    const logits = (mode === "prefill" ? functions.prefill : functions.decode)(input, kvCache, params).get(0);
    functions.endForward(kvCache);
    host = tvm.detachFromCurrentScope(tvm.empty(logits.shape, logits.dtype, tvm.cpu()).copyFrom(logits));
  } finally {
    tvm.endScope();
  }
  await device.sync();
  const values = host.toArray();
  host.dispose();
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return { logits: bytes.toString("base64"), dtype: "float32", seconds: (performance.now() - started) / 1000 };
}

async function writeParams({ writes }) {
  const { tvm, device, params } = loaded();
  tvm.beginScope();
  try {
    for (const w of writes) params.get(w.index).copyFromRawBytes(new Uint8Array(Buffer.from(w.bytes, "base64")));
  } finally {
    tvm.endScope();
  }
  await device.sync();
  return { written: writes.length };
}

const OPS = { load, reset, forward, write_params: writeParams };

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply;
  try {
    const request = JSON.parse(line);
    const op = OPS[request.op];
    if (op === undefined) throw new Error(`unknown op ${JSON.stringify(request.op)} (expected ${Object.keys(OPS).join(", ")})`);
    reply = { result: await op(request) };
  } catch (e) {
    // Stack frames inside the bundle name it by its data: URL (megabytes): name it by its file instead.
    reply = { error: String(e && e.stack ? e.stack : e).replace(/data:text\/javascript;base64,[A-Za-z0-9+/=]+/g, WEBLLM_BUNDLE) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
process.exit(0);
