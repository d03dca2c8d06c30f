// createMapAssistant: natural-language control of a Cesium.Viewer, entirely on the user's device. The model runs
// with web-llm in a Web Worker (the UI thread stays free); the rulebook (rules/rulebook.js, the same files Python
// runs) narrows what it may write for each request and decides whether its answer runs: grounded (place names ->
// coordinates from the gazetteer), validated against the tool's JSON Schema, and only then executed. No server is
// needed: everything comes from the site this module is part of (`webslm export` or `webslm serve`), found relative
// to this file. The demo page (app.js) is built on it; examples/embed/index.html shows it in someone else's app.
//
//   const assistant = await createMapAssistant({ viewer, onProgress: (p) => console.log(p.text) });
//   await assistant.ready;                                   // the model (and the domain's adapter) loaded
//   const { call, executed, refused, reason, timing } = await assistant.ask("fly to Paris");
//
// Options: `model` (a model id, "auto": q4f16_1 where the GPU has shader-f16, else q4f32_1; "none": no model),
// `adapter` (an adapter id, "auto": the first that speaks the domain, "none": the base model), `domain` (a domain
// pack of the site, default the site's), `onProgress(report)` (web-llm's {progress, text} while the model loads;
// {progress, text, adapter} while an adapter downloads),
// `tools` ({name: {description, parameters, run(viewer, args) -> message}}: tools of your own, validated and offered
// to the model like the domain's), `scenes` ({domain: {prepare(call) -> run, clear()}}: executors for domains that
// are not a globe), `maxTokens` (per answer), `decode` ("forced", the default: text the request's grammar forces is
// fed to the model in one pass with the next token; "plain": web-llm's own loop, one pass per token; the same
// grammar and the same greedy answer either way, forced.js).
import { adaptersForModel, forgetKeptAdapters } from "./adapters.js";
import { Rulebook } from "./rules/rulebook.js";
import { fetchAdapters, fetchDomainPayload, fetchDomains, fetchModels } from "./site.js";
import { TOOLS, clearAll } from "./tools.js";

const describe = (errors) => errors.map((e) => (e.path || e.field ? `${e.path || e.field}: ${e.message}` : e.message)).join("; ");
const messageOf = (e) => (e && e.message ? e.message : String(e));

// q4f16_1 where the adapter has shader-f16 (real GPUs), else q4f32_1 (SwiftShader, many laptops), else whatever runs.
async function pickModel(models, wanted) {
  if (wanted === "none") return { reason: "model loading turned off (model: none)" };
  if (!models.length) return { reason: "no model bundle on this site (webslm serve/export --models-dir DIR)" };
  if (!navigator.gpu) return { reason: "this browser has no WebGPU (navigator.gpu)" };
  const gpu = await navigator.gpu.requestAdapter();
  if (!gpu) return { reason: "no WebGPU adapter" };
  const f16 = gpu.features.has("shader-f16");
  const candidates = wanted && wanted !== "auto" ? models.filter((m) => m.model_id === wanted) : models;
  if (!candidates.length) return { reason: `no bundle with id ${JSON.stringify(wanted)}` };
  const usable = candidates.filter((m) => (m.required_features || []).every((f) => gpu.features.has(f)));
  if (!usable.length) return { reason: `the WebGPU adapter lacks features the bundles need (${candidates.map((m) => m.required_features).join("; ")})` };
  const preferred = f16 ? "q4f16_1" : "q4f32_1";
  const model = usable.find((m) => m.quantization === preferred) || usable[0];
  return { model, why: `adapter ${f16 ? "has" : "lacks"} shader-f16` };
}

// Where web-llm reads a model's files (tokenizer.json, ...): under <model>/resolve/main/ unless the URL already names
// a /resolve/<revision>/ folder (a fact of web-llm 0.2.86's loader, which the worker's forced loop must follow).
function modelFilesUrl(model) {
  const url = model.endsWith("/") ? model : `${model}/`;
  return /\/resolve\/[^/]+\//.test(url) ? url : `${url}resolve/main/`;
}

// web-llm's AppConfig for the site's bundles (their URLs made absolute by site.js).
const appConfigOf = (models) => ({ model_list: models.map(({ model, model_id, model_lib, required_features, overrides, vram_required_MB, low_resource_required }) =>
  ({ model, model_id, model_lib, required_features, overrides, vram_required_MB, low_resource_required })) });

// The globe: the cesium domain's tools (tools.js) on `viewer`.
const globeScene = (viewer) => ({
  prepare: (call) => TOOLS[call.tool].prepare(viewer, call.arguments),
  clear: () => clearAll(viewer),
});

export const DECODE_MODES = ["forced", "plain", "forced-stepwise"];  // the last a diagnostic (forced.js)

export async function createMapAssistant({ viewer, model = "auto", adapter = "auto", domain = null, onProgress = null,
                                           tools = {}, scenes = {}, maxTokens = 256, decode = "forced" } = {}) {
  if (!DECODE_MODES.includes(decode)) throw new Error(`decode: ${JSON.stringify(decode)} is not one of ${DECODE_MODES.join(", ")}`);
  const listing = await fetchDomains();
  const domains = new Map();  // name -> {payload, rules}: each fetched once
  const ownTools = Object.fromEntries(Object.entries(tools).map(([name, t]) =>
    [name, { name, description: t.description || "", parameters: t.parameters }]));

  async function loadDomain(name) {
    if (!domains.has(name)) {
      const listed = listing.domains.find((d) => d.name === name);
      if (!listed) throw new Error(`this site has no domain ${JSON.stringify(name)} (have: ${listing.domains.map((d) => d.name).join(", ")})`);
      const payload = await fetchDomainPayload(listed.url);
      if (name === baseDomain) payload.tools = { ...payload.tools, ...ownTools };  // offered and validated alike
      const gazetteer = payload.gazetteer_url ? await (await fetch(payload.gazetteer_url)).json() : null;
      domains.set(name, { payload, rules: new Rulebook({ tools: payload.tools, gazetteer }) });
    }
    return domains.get(name);
  }

  const baseDomain = domain || listing.default;  // the domain with no adapter
  let active = await loadDomain(baseDomain);
  const allScenes = { cesium: globeScene(viewer), ...scenes };
  let engine = null, worker = null, loaded = null, modelUrl = null, modelError = null, adapterId = null, adapters = [];
  let queue = Promise.resolve();  // one job at a time: the engine is not re-entrant
  const enqueue = (job) => { const result = queue.then(job); queue = result.catch(() => {}); return result; };

  // Execute `input` (an answer's text or a call object) if the rulebook says it runs; `request` is the words a
  // place name may be copied from. Never throws.
  function execute(input, request = null) {
    const verdict = active.rules.execute(input, request);
    const out = { call: null, executed: false, refused: true, stage: verdict.stage, parsed: verdict.parsed };
    if (verdict.stage !== "ok") return { ...out, reason: describe(verdict.problems) };
    const own = active.payload.name === baseDomain && Object.hasOwn(tools, verdict.call.tool) && tools[verdict.call.tool];
    const scene = allScenes[active.payload.name];
    if (!own && !scene) return { ...out, stage: "scene", reason: `no scene executes calls of domain ${JSON.stringify(active.payload.name)}` };
    try {
      // may throw before anything has changed
      const run = own ? () => own.run(viewer, verdict.call.arguments) : scene.prepare(verdict.call);
      return { ...out, call: verdict.call, executed: true, refused: false, reason: null, message: run() };
    } catch (e) {
      return { ...out, stage: "scene", reason: messageOf(e) };
    }
  }

  // One greedy answer under the request's narrowed grammar, written in the worker (forced.js, `decode` or the
  // assistant's): timing.forward_passes counts the model's forward passes (the prompt's prefill is one).
  async function answer(text, how = decode) {
    const started = performance.now();
    const messages = [{ role: "system", content: active.payload.system_prompt }, { role: "user", content: text }];
    const schema = JSON.stringify(active.rules.narrow(text));
    const reply = await askWorker("webslm.answer", { decode: how, modelUrl, messages, schema, maxTokens });
    return { raw: reply.text, usage: reply.usage, timing: { ...reply.usage.extra, wall_s: (performance.now() - started) / 1000 } };
  }

  async function askNow(text, how = decode) {
    const request = String(text).trim();
    if (request.startsWith("{")) return { text: request, ...execute(request) };
    if (!engine) {
      return { text: request, call: null, executed: false, refused: false, stage: "backend",
               reason: `no model is loaded${modelError ? ` (${modelError})` : ""}: give a tool call as JSON instead` };
    }
    let generated;
    try {
      generated = await answer(request, how);
    } catch (e) {
      return { text: request, call: null, executed: false, refused: false, stage: "backend", reason: `the model failed: ${messageOf(e)}` };
    }
    return { text: request, ...generated, ...execute(generated.raw, request) };
  }

  // One of our own requests to the worker, which owns the engine (worker.js lists them); the reply comes over a
  // MessagePort of its own, because web-llm's side of the worker throws on message kinds it does not know.
  let requests = 0;
  // onNote(data): the worker's progress messages before the reply.
  function askWorker(kind, payload, onNote = () => {}) {
    const id = (requests += 1);
    const channel = new MessageChannel();
    return new Promise((resolve, reject) => {
      channel.port1.onmessage = ({ data }) => {
        if (data.kind.endsWith("Progress")) return onNote(data);
        channel.port1.close();
        if (data.error !== undefined) reject(new Error(data.error));
        else resolve(data.result);
      };
      worker.postMessage({ kind, id, ...payload }, [channel.port2]);
    });
  }

  // Swap an adapter (a listing entry, null: the base) into the model.
  const swapInWorker = (entry) => askWorker("webslm.setAdapter", { modelId: loaded.model_id, adapter: entry },
    ({ loaded: got, total }) => onProgress && onProgress({
      progress: total ? got / total : 1, adapter: entry.adapter_id,
      text: `downloading adapter ${entry.adapter_id}: ${Math.floor(100 * got / total)} % of ${(total / 1e6).toFixed(2)} MB`,
    }));

  async function setAdapterNow(id) {
    id = id || null;
    const started = performance.now();
    const entry = id && adapters.find((a) => a.adapter_id === id);
    if (id && !entry) {
      const which = loaded ? `for ${loaded.model_id}` : "on this site";
      throw new Error(`no adapter ${JSON.stringify(id)} ${which} (have: ${adapters.map((a) => a.adapter_id).join(", ") || "none"})`);
    }
    const next = await loadDomain(entry ? entry.domain : baseDomain);  // before the weights change
    const swap = engine ? await swapInWorker(entry || null) : null;
    adapterId = id;
    active = next;
    return { adapter_id: id, domain: next.payload.name, swapped: Boolean(swap),
             wall_s: (performance.now() - started) / 1000, ...(swap || {}) };
  }

  async function loadModel() {
    const models = await fetchModels();
    const pick = await pickModel(models, model);
    if (!pick.model) {
      modelError = pick.reason;
      return null;
    }
    const info = { model_id: pick.model.model_id, quantization: pick.model.quantization, why: pick.why };
    if (onProgress) onProgress({ progress: 0, text: `loading ${info.model_id} (${info.quantization}; ${info.why})`, model: info });
    const webllm = await import("../vendor/web-llm/index.js");
    const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    const appConfig = appConfigOf(models);
    try {
      engine = await webllm.CreateWebWorkerMLCEngine(w, info.model_id, {
        appConfig, initProgressCallback: (report) => onProgress && onProgress({ ...report, model: info }),
      });
    } catch (e) {
      modelError = `${info.model_id} (${info.quantization}; ${info.why}) failed to load: ${messageOf(e)}`;
      w.terminate();
      return null;
    }
    worker = w;
    loaded = info;
    modelUrl = modelFilesUrl(pick.model.model);
    return info;
  }

  // The model, then the adapters it can take, then the starting adapter: on from the start, the skill a user expects.
  const modelReady = enqueue(() => loadModel().catch((e) => { modelError = messageOf(e); return null; }));
  const adaptersReady = modelReady.then(async () => {
    try {
      adapters = adaptersForModel(await fetchAdapters(), loaded && loaded.model_id);
    } catch (e) {
      console.warn("no adapter list:", e);
    }
    return adapters;
  });
  const firstAdapter = () => {
    if (adapter && adapter !== "auto") return adapter === "none" ? null : adapter;
    const ids = adapters.filter((a) => a.domain === baseDomain).map((a) => a.adapter_id).sort();
    return ids.length ? ids[0] : null;
  };
  const startingSwap = adaptersReady.then(() => (engine && firstAdapter() ? enqueue(() => setAdapterNow(firstAdapter())) : null));
  const ready = startingSwap.then((swap) => ({ model: loaded, adapter: adapterId, swap, error: modelError }));

  return {
    ready,          // resolves when the model and the starting adapter are loaded: {model, adapter, swap, error}
    modelReady,     // the model: {model_id, quantization, why} or null (see .modelError)
    adaptersReady,  // the adapters the loaded model can take
    startingSwap,   // the starting adapter's swap result (null: none); rejects if it failed
    // Answer a request (or execute a call typed as JSON): {text, call, executed, refused, reason, stage, raw,
    // parsed, usage, timing, message}. Never throws; waits for a model still loading. options.decode overrides the
    // assistant's decode for this answer (benchmarks compare both on one loaded model).
    ask: (text, { decode: how = decode } = {}) => enqueue(() => askNow(text, how)),
    // Execute a call now, without the model (a JSON string or an object).
    execute: (call) => execute(call),
    // Swap an adapter in (null: the base model); the domain follows it. Rejects with the reason.
    setAdapter: (id) => adaptersReady.then(() => enqueue(() => setAdapterNow(id))),
    clear: () => { const scene = allScenes[active.payload.name]; return scene ? scene.clear() : clearAll(viewer); },
    interrupt: () => (engine ? engine.interruptGenerate() : undefined),
    // Forget the model files and adapters of this site the browser keeps between visits (the next visit downloads
    // them again; what is loaded now keeps running). Other sites' and other apps' cached files are left alone.
    async clearCache() {
      const models = await fetchModels();
      const webllm = await import("../vendor/web-llm/index.js");
      for (const m of models) await webllm.deleteModelAllInfoInCache(m.model_id, appConfigOf(models));
      await forgetKeptAdapters();
      return { models: models.map((m) => m.model_id) };
    },
    dispose() {
      if (worker) worker.terminate();
      engine = null; worker = null; loaded = null;
    },
    get viewer() { return viewer; },
    get model() { return loaded; },
    get modelError() { return modelError; },
    get decode() { return decode; },
    get adapter() { return adapterId; },
    get adapters() { return adapters.map((a) => ({ ...a })); },
    get domain() { return active.payload; },
    get baseDomain() { return baseDomain; },
    loadDomain,
  };
}
