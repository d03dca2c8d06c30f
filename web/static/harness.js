// The measurement page for tests, the browser evaluator and benchmarks. It runs the stock web-llm engine on the
// main thread (logit processors, which let us read the raw logits of every step, only work there) and exposes
// `window.harness`: gpu(), load(modelId, options), chat(request, options), unload().
import "./webgpu_limits.js";
import * as webllm from "../vendor/web-llm/index.js";
import { swapAdapter } from "./adapters.js";
import { fetchAdapters, fetchModels } from "./site.js";

const log = (line) => { document.getElementById("log").textContent += line + "\n"; };

let engine = null;
let loadedModelId = null;
let captured = null; // raw logits of each step while a chat() asks for them

// web-llm hands a registered logit processor the raw logits (Float32Array over the vocabulary) before sampling.
const logitCapture = {
  processLogits(logits) { if (captured) captured.push(new Float32Array(logits)); return logits; },
  processSampledToken(_token) {},
  resetState() {},
};

function toBase64(floats) {
  const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function gpu() {
  if (!navigator.gpu) return { available: false, reason: "navigator.gpu is missing (WebGPU disabled or not a secure context)" };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { available: false, reason: "no WebGPU adapter (driver missing or blocked)" };
  const info = adapter.info || {};
  return { available: true, features: [...adapter.features], vendor: info.vendor || "", architecture: info.architecture || "",
           description: info.description || "", maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize };
}

async function load(modelId, { captureLogits = false } = {}) {
  const models = await fetchModels();
  const record = models.find((m) => m.model_id === modelId);
  if (!record) throw new Error(`no bundle ${modelId} on this server (have: ${models.map((m) => m.model_id).join(", ")})`);
  const started = performance.now();
  let lastProgress = null;
  engine = await webllm.CreateMLCEngine(modelId, {
    appConfig: { model_list: [record], useIndexedDBCache: false },
    logitProcessorRegistry: captureLogits ? new Map([[modelId, logitCapture]]) : undefined,
    initProgressCallback: (p) => { lastProgress = p.text; log(p.text); },
  });
  loadedModelId = modelId;
  return { load_s: (performance.now() - started) / 1000, last_progress: lastProgress, record };
}

async function chat(request, { captureLogits = false, timeoutS = 0 } = {}) {
  if (!engine) throw new Error("no model loaded: call harness.load(modelId) first");
  captured = captureLogits ? [] : null;
  const started = performance.now();
  let timer = null;
  const completion = engine.chat.completions.create({ ...request, stream: false });
  const timeout = new Promise((_, reject) => {
    if (timeoutS > 0) {
      timer = setTimeout(() => { engine.interruptGenerate(); reject(new Error(`timed out after ${timeoutS} s`)); }, timeoutS * 1000);
    }
  });
  let reply;
  try {
    reply = await Promise.race([completion, timeout]);
  } finally {
    clearTimeout(timer);
  }
  const elapsed = (performance.now() - started) / 1000;
  const steps = captured;
  captured = null;
  await engine.resetChat();
  return {
    text: reply.choices[0].message.content,
    finish_reason: reply.choices[0].finish_reason,
    usage: reply.usage,
    wall_s: elapsed,
    logits: steps ? steps.map(toBase64) : null,
  };
}

async function unload() {
  if (engine) await engine.unload();
  engine = null;
  loadedModelId = null;
}

async function setAdapter(adapterId) {
  if (!engine) throw new Error("no model loaded: call harness.load(modelId) first");
  let adapter = null;
  if (adapterId) {
    const adapters = await fetchAdapters();
    adapter = adapters.find((a) => a.adapter_id === adapterId);
    if (!adapter) throw new Error(`no adapter ${adapterId} on this server (have: ${adapters.map((a) => a.adapter_id).join(", ")})`);
  }
  const result = await swapAdapter(engine, loadedModelId, adapter);
  await engine.resetChat();
  return result;
}

window.harness = { gpu, load, chat, unload, setAdapter, ready: true };
log("harness ready");
