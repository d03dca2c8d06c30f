// The demo page: an offline Cesium globe, a command box, and a small model on WebGPU (web-llm in a Web Worker)
// that turns the command into a JSON tool call. The rulebook (rules/rulebook.js, the same files Python runs) narrows
// what the model may write for each command and decides whether its answer executes: the call is grounded (place
// names -> coordinates from the gazetteer), validated against its tool's JSON Schema, and only then executed.
// window.webslm is the test API.
//
// Runtime LoRA: the adapter selector swaps an adapter's tensors into the loaded model inside the worker (no reload,
// no base weights fetched again). Each adapter names its domain; the domain follows the adapter: its system prompt
// and emission schema drive the model, its tool schemas validate the calls, and its scene executes them (the
// globe for "cesium", the CAD panel for "cad").
/* global Cesium */
import { adaptersForModel } from "./adapters.js";
import { CadModel, drawTopView } from "./cad.js";
import { Rulebook } from "./rules/rulebook.js";
import { fetchAdapters, fetchDomainPayload, fetchDomains, fetchModels } from "./site.js";
import { TOOLS, clearAll, describeEntities, cameraCartographic } from "./tools.js";

const params = new URLSearchParams(location.search);
const LITE = params.get("lite") === "1";       // software rendering: no atmosphere, fog, sky, sun or moon
const MAX_ANSWER_TOKENS = Number(params.get("max_tokens")) || 256;  // ?max_tokens=N caps answers (tests on random models)
const $ = (id) => document.getElementById(id);

const app = {
  viewer: null, engine: null, worker: null, model: null, history: [],
  domain: null, rules: null,       // the active domain's /api/domains/<name> payload and its Rulebook
  domains: new Map(),              // name -> {payload, rules}: each domain fetched once
  domainList: null,                // api/domains.json: {default, domains: [{name, url, ...}]}
  baseDomain: null,                // the domain with no adapter: ?domain=NAME, else the site's default
  adapter: null,                   // the adapter id now swapped in (null: the base model)
  adapters: [],                    // what the selector lists
  cad: new CadModel(),
};

// Where each domain's calls are executed. `prepare(call)` may throw before anything changes (like tools.js).
const SCENES = {
  cesium: {
    prepare: (call) => TOOLS[call.tool].prepare(app.viewer, call.arguments),
    clear: () => clearAll(app.viewer),
    example: '{"tool": "flyTo", "arguments": {"place": "Paris"}}',
    placeholder: "e.g. fly to Paris — or a tool call as JSON: {\"tool\": …}",
  },
  cad: {
    prepare: (call) => { const run = app.cad.prepare(call); return () => { const m = run(); drawCad(); return m; }; },
    clear: () => { const m = app.cad.clear(); drawCad(); return m; },
    example: '{"tool": "createBox", "arguments": {"width": 20, "depth": 20, "height": 10}}',
    placeholder: "e.g. make a 20 mm cube — or a tool call as JSON: {\"tool\": …}",
  },
};

function createViewer() {
  // No ion: an empty token, and no widget that would ask api.cesium.com for imagery or geocoding.
  Cesium.Ion.defaultAccessToken = "";
  const viewer = new Cesium.Viewer("globe", {
    baseLayer: Cesium.ImageryLayer.fromProviderAsync(
      Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII"))),
    terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    baseLayerPicker: false,
    geocoder: false,
    animation: false,
    timeline: false,
    fullscreenButton: false,
    navigationHelpButton: false,
    homeButton: true,
    sceneModePicker: true,
    skyBox: LITE ? false : undefined,
    skyAtmosphere: LITE ? false : undefined,
  });
  if (LITE) {
    const scene = viewer.scene;
    scene.fog.enabled = false;
    scene.globe.showGroundAtmosphere = false;
    if (scene.sun) scene.sun.show = false;
    if (scene.moon) scene.moon.show = false;
  }
  viewer.clock.shouldAnimate = true;
  return viewer;
}

// ---- the log --------------------------------------------------------------------------------------------------

function logEntry(entry) {
  app.history.push(entry);
  const li = document.createElement("li");
  li.className = entry.ok ? "ok" : "error";
  const add = (tag, cls, text) => { const el = document.createElement(tag); el.className = cls; el.textContent = text; li.append(el); };
  add("div", "text", entry.text);
  if (entry.raw !== undefined && entry.raw !== entry.text) add("code", "raw", `model: ${entry.raw}`);
  if (entry.call) add("code", "call", `call: ${JSON.stringify(entry.call)}`);
  add("div", "result", entry.ok ? entry.message : `${entry.kind === "adapter" ? "failed" : "rejected"}: ${entry.error}`);
  if (entry.speed) add("div", "speed", entry.speed);
  $("log").prepend(li);
}

// ---- executing a call ----------------------------------------------------------------------------------------

const describe = (errors) => errors.map((e) => (e.path || e.field ? `${e.path || e.field}: ${e.message}` : e.message)).join("; ");

// Execute the answer to `request` (the words a place name was copied from) if the rulebook says it executes.
// Never throws: {ok, call, error, message, stage}; stage is where the rulebook refused it ("ok" when it did not).
function executeCall(input, request = null) {
  const verdict = app.rules.execute(input, request);
  const parsed = verdict.parsed;
  if (verdict.stage !== "ok") return { ok: false, call: null, error: describe(verdict.problems), stage: verdict.stage, parsed };
  const call = verdict.call;
  try {
    const scene = SCENES[app.domain.name];
    if (!scene) return { ok: false, call, error: `this page cannot execute calls of domain ${JSON.stringify(app.domain.name)}` };
    const run = scene.prepare(call);  // may throw: nothing has changed yet
    const message = run();
    return { ok: true, call, error: null, message, stage: "ok", parsed };
  } catch (e) {
    return { ok: false, call: null, error: e && e.message ? e.message : String(e), stage: "scene", parsed };
  }
}

async function generate(text) {
  const reply = await app.engine.chat.completions.create({
    messages: [{ role: "system", content: app.domain.system_prompt }, { role: "user", content: text }],
    temperature: 0,
    max_tokens: MAX_ANSWER_TOKENS,
    response_format: { type: "json_object", schema: JSON.stringify(app.rules.narrow(text)) },
  });
  const extra = (reply.usage && reply.usage.extra) || {};
  return { raw: reply.choices[0].message.content || "", usage: reply.usage, extra };
}

function speedText(usage, extra) {
  if (!usage) return "";
  const f = (x) => (typeof x === "number" ? x.toFixed(2) : "?");
  return `${usage.completion_tokens} tokens, decode ${f(extra.decode_tokens_per_s)} tok/s, prefill ` +
    `${f(extra.prefill_tokens_per_s)} tok/s, first token ${f(extra.time_to_first_token_s)} s`;
}

let queue = Promise.resolve();  // one command at a time: the engine is not re-entrant

async function submitNow(text) {
  const trimmed = String(text).trim();
  let entry;
  if (trimmed.startsWith("{")) {
    entry = { text: trimmed, ...executeCall(trimmed) };
  } else if (/^(clear|clear all|reset)$/i.test(trimmed)) {
    entry = { text: trimmed, ok: true, call: null, error: null, message: clearScene() };
  } else if (!app.engine) {
    const example = (SCENES[app.domain.name] || SCENES.cesium).example;
    entry = { text: trimmed, ok: false, call: null, error: `no model is loaded: type a tool call as JSON, e.g. ${example}` };
  } else {
    try {
      const { raw, usage, extra } = await generate(trimmed);
      entry = { text: trimmed, raw, usage, extra, speed: speedText(usage, extra), ...executeCall(raw, trimmed) };
    } catch (e) {
      entry = { text: trimmed, ok: false, call: null, error: `the model failed: ${e && e.message ? e.message : e}`,
                stage: "backend" };
    }
  }
  entry.domain = app.domain.name;
  logEntry(entry);
  return entry;
}

// Every command and every adapter swap waits for the one before it.
function enqueue(job) {
  const result = queue.then(job);
  queue = result.catch(() => {});
  return result;
}

const submit = (text) => enqueue(() => submitNow(text));

function clearScene() {
  const scene = SCENES[app.domain.name];
  return scene ? scene.clear() : clearAll(app.viewer);
}

// ---- domains -------------------------------------------------------------------------------------------------

async function fetchDomain(name) {
  if (!app.domains.has(name)) {
    const listed = app.domainList.domains.find((d) => d.name === name);
    if (!listed) {
      throw new Error(`this site has no domain ${JSON.stringify(name)} (have: ${app.domainList.domains.map((d) => d.name).join(", ")})`);
    }
    const payload = await fetchDomainPayload(listed.url);
    const gazetteer = payload.gazetteer_url ? await (await fetch(payload.gazetteer_url)).json() : null;
    app.domains.set(name, { payload, rules: new Rulebook({ tools: payload.tools, gazetteer }) });
  }
  return app.domains.get(name);
}

function activateDomain({ payload, rules }) {
  app.domain = payload;
  app.rules = rules;
  document.body.dataset.domain = payload.name;
  $("cad-panel").hidden = payload.name !== "cad";
  $("command").placeholder = (SCENES[payload.name] || SCENES.cesium).placeholder;
  $("domain-name").textContent = payload.title || payload.name;
  if (payload.name === "cad") drawCad();
}

function drawCad() {
  drawTopView($("cad-preview"), app.cad);
  const { objects } = app.cad.state();
  $("cad-count").textContent = `${objects.length} object${objects.length === 1 ? "" : "s"}, ${app.cad.operations.length} operations`;
  $("cad-objects").textContent = objects.map((o) => JSON.stringify(o)).join("\n");
}

// ---- adapters ------------------------------------------------------------------------------------------------

let swaps = 0;

// Ask the worker, which owns the engine, to swap the adapter (an app.adapters entry, null: the base); resolves with
// swapAdapter's result.
function swapInWorker(adapter) {
  const id = (swaps += 1);
  const channel = new MessageChannel();
  return new Promise((resolve, reject) => {
    channel.port1.onmessage = ({ data }) => {
      channel.port1.close();
      if (data.error !== undefined) reject(new Error(data.error));
      else resolve(data.result);
    };
    app.worker.postMessage({ kind: "webslm.setAdapter", id, modelId: app.model.model_id, adapter }, [channel.port2]);
  });
}

async function refreshAdapters() {
  let listed = [];
  try {
    listed = adaptersForModel(await fetchAdapters(), app.model && app.model.model_id);
  } catch (e) {
    console.warn("no adapter list:", e);
  }
  app.adapters = listed;
  const select = $("adapter");
  const options = [new Option("none (base model)", "")];
  for (const a of listed) {
    options.push(new Option(`${a.adapter_id} (${a.domain}${a.rank ? `, rank ${a.rank}` : ""})`, a.adapter_id));
  }
  select.replaceChildren(...options);
  select.value = app.adapter || "";
  select.disabled = false;
  return listed;
}

const MB = (n) => `${(n / 1e6).toFixed(2)} MB`;

async function setAdapterNow(adapterId) {
  adapterId = adapterId || null;
  const text = `adapter: ${adapterId || "none (base model)"}`;
  const started = performance.now();
  let entry;
  try {
    const adapter = adapterId && app.adapters.find((a) => a.adapter_id === adapterId);
    if (adapterId && !adapter) {
      const which = app.model ? `for ${app.model.model_id}` : "on this site";
      throw new Error(`no adapter ${JSON.stringify(adapterId)} ${which} (have: ${app.adapters.map((a) => a.adapter_id).join(", ") || "none"})`);
    }
    const domain = await fetchDomain(adapter ? adapter.domain : app.baseDomain); // before the weights change
    const swap = app.engine ? await swapInWorker(adapter || null) : null;
    app.adapter = adapterId;
    activateDomain(domain);
    const wall_s = (performance.now() - started) / 1000;
    const result = { adapter_id: adapterId, domain: domain.payload.name, swapped: Boolean(swap), wall_s, ...(swap || {}) };
    const message = swap
      ? `${swap.tensors} tensors (${MB(swap.bytes_written)}) written in ${swap.swap_s.toFixed(3)} s, ${MB(swap.bytes_fetched)} fetched in ` +
        `${swap.fetch_s.toFixed(3)} s; ${wall_s.toFixed(3)} s in all; domain ${domain.payload.name}`
      : `no model is loaded: only the domain changed, to ${domain.payload.name}`;
    entry = { kind: "adapter", text, ok: true, call: null, error: null, message, result };
  } catch (e) {
    entry = { kind: "adapter", text, ok: false, call: null, error: e && e.message ? e.message : String(e) };
  }
  $("adapter").value = app.adapter || "";
  entry.domain = app.domain.name;
  logEntry(entry);
  return entry.ok ? { ok: true, result: entry.result } : { ok: false, error: entry.error };
}

const setAdapter = (adapterId) => enqueue(() => setAdapterNow(adapterId));

// The skill a user expects is on from the start: once a model is loaded, the first adapter (by id) that speaks the
// base domain is swapped in (the untuned base picks the right tool about half the time). ?adapter=ID starts with
// another one, ?adapter=none with the base model; the selector offers the base model either way.
function startingAdapter(listed) {
  const wanted = params.get("adapter");
  if (wanted) return wanted === "none" ? null : wanted;  // an unknown id is reported in the log by setAdapterNow
  const ids = listed.filter((a) => a.domain === app.baseDomain).map((a) => a.adapter_id).sort();
  return ids.length ? ids[0] : null;
}

// ---- the model -----------------------------------------------------------------------------------------------

// q4f16_1 where the adapter has shader-f16 (real GPUs), else q4f32_1 (SwiftShader, many laptops), else whatever runs.
async function pickModel(models) {
  const wanted = params.get("model");
  if (wanted === "none") return { reason: "model loading turned off (?model=none)" };
  if (!models.length) return { reason: "no model bundle on this site (webslm serve/export --models-dir DIR)" };
  if (!navigator.gpu) return { reason: "this browser has no WebGPU (navigator.gpu)" };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { reason: "no WebGPU adapter" };
  const f16 = adapter.features.has("shader-f16");
  const candidates = wanted ? models.filter((m) => m.model_id === wanted) : models;
  if (!candidates.length) return { reason: `no bundle with id ${JSON.stringify(wanted)}` };
  const usable = candidates.filter((m) => (m.required_features || []).every((f) => adapter.features.has(f)));
  if (!usable.length) return { reason: `the WebGPU adapter lacks features the bundles need (${candidates.map((m) => m.required_features).join("; ")})` };
  const preferred = f16 ? "q4f16_1" : "q4f32_1";
  const model = usable.find((m) => m.quantization === preferred) || usable[0];
  const why = `adapter ${f16 ? "has" : "lacks"} shader-f16`;
  return { model, why };
}

async function loadModel() {
  const models = await fetchModels();
  const pick = await pickModel(models);
  if (!pick.model) {
    $("model-status").textContent = `No model loaded: ${pick.reason}. Type tool calls as JSON.`;
    return null;
  }
  const { model, why } = pick;
  $("model-status").textContent = `Loading ${model.model_id} (${model.quantization}; ${why})…`;
  $("progress").hidden = false;
  const webllm = await import("../vendor/web-llm/index.js");
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  const appConfig = { model_list: models.map(({ model, model_id, model_lib, required_features, overrides, vram_required_MB, low_resource_required }) =>
    ({ model, model_id, model_lib, required_features, overrides, vram_required_MB, low_resource_required })) };
  try {
    app.engine = await webllm.CreateWebWorkerMLCEngine(worker, model.model_id, {
      appConfig,
      initProgressCallback: (report) => {
        $("progress-bar").style.width = `${Math.round(100 * (report.progress || 0))}%`;
        $("progress-text").textContent = report.text || "";
      },
    });
  } catch (e) {
    $("progress").hidden = true;
    $("model-status").textContent = `Model ${model.model_id} (${model.quantization}; ${why}) failed to load: ${e && e.message ? e.message : e}. Type tool calls as JSON.`;
    worker.terminate();
    return null;
  }
  $("progress").hidden = true;
  app.worker = worker;
  app.model = { model_id: model.model_id, quantization: model.quantization, why };
  $("model-status").textContent = `Model: ${model.model_id} (${model.quantization}; ${why}). Type a command.`;
  return app.model;
}

// ---- state for tests and the harness -------------------------------------------------------------------------

const MODE_NAMES = { [Cesium.SceneMode.SCENE2D]: "2D", [Cesium.SceneMode.SCENE3D]: "3D",
                     [Cesium.SceneMode.COLUMBUS_VIEW]: "COLUMBUS_VIEW", [Cesium.SceneMode.MORPHING]: "MORPHING" };

function state() {
  const viewer = app.viewer;
  const clock = viewer.clock;
  return {
    camera: cameraCartographic(viewer),
    sceneMode: MODE_NAMES[viewer.scene.mode],
    entities: describeEntities(viewer),
    clock: { time: Cesium.JulianDate.toIso8601(clock.currentTime), multiplier: clock.multiplier,
             shouldAnimate: clock.shouldAnimate },
    tilesLoaded: viewer.scene.globe.tilesLoaded,
    model: app.model,
    adapter: app.adapter,
    domain: app.domain ? app.domain.name : null,
    history: app.history.map(({ kind, text, ok, error, call, raw, extra, domain, stage }) =>
      ({ kind: kind || "command", text, ok, error, call, raw, extra, domain, stage })),
  };
}

// ---- start ---------------------------------------------------------------------------------------------------

async function start() {
  app.viewer = createViewer();
  app.domainList = await fetchDomains();
  const siteDefault = app.domainList.default;
  app.baseDomain = siteDefault;
  const wanted = params.get("domain");
  if (wanted) {
    try {
      await fetchDomain(wanted);
      app.baseDomain = wanted;
    } catch (e) {
      logEntry({ kind: "domain", text: `?domain=${wanted}`, ok: false, error: `${e.message}; using ${siteDefault}` });
    }
  }
  activateDomain(await fetchDomain(app.baseDomain));

  $("command").disabled = false;
  $("send").disabled = false;
  $("command-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("command").value;
    if (!text.trim()) return;
    $("command").value = "";
    submit(text);
  });
  $("clear").addEventListener("click", () => submit("clear"));
  $("adapter").addEventListener("change", (ev) => setAdapter(ev.target.value || null));
  setInterval(() => {
    const c = app.viewer.clock;
    $("clock").textContent = `clock ${Cesium.JulianDate.toIso8601(c.currentTime, 0)} ×${c.multiplier}`;
  }, 500);
}

const ready = start();
const modelReady = ready.then(loadModel).catch((e) => {
  $("model-status").textContent = `No model loaded: ${e && e.message ? e.message : e}. Type tool calls as JSON.`;
  return null;
});
const adaptersReady = modelReady.then(refreshAdapters).then(async (listed) => {
  const first = app.engine ? startingAdapter(listed) : null;
  if (first) await setAdapter(first);
  return listed;
});
ready.catch((e) => { $("model-status").textContent = `The page failed to start: ${e && e.message ? e.message : e}`; });

window.webslm = {
  ready,
  modelReady,
  submit,
  execute(call) {
    const entry = { text: typeof call === "string" ? call : JSON.stringify(call), ...executeCall(call),
                    domain: app.domain.name };
    logEntry(entry);
    const { ok, call: executed, error, message, stage } = entry;
    return { ok, call: executed, error, message, stage };
  },
  clear: clearScene,
  // Stop the answer being generated now (its command then fails with "the model failed").
  interrupt: () => (app.engine ? app.engine.interruptGenerate() : undefined),
  state,
  adaptersReady,
  // The adapters the selector lists (for the loaded model; every adapter when none is loaded).
  adapters: () => adaptersReady.then(() => app.adapters.map((a) => ({ ...a }))),
  // Swap an adapter in (null: back to the base model) and switch to its domain: {ok, result} or {ok: false, error}.
  setAdapter: (adapterId) => adaptersReady.then(() => setAdapter(adapterId)),
  cadState: () => app.cad.state(),
  get viewer() { return app.viewer; },
};
