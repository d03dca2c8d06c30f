// The demo page: an offline Cesium globe, a command box, and a small model on WebGPU (web-llm in a Web Worker)
// that turns the command into a JSON tool call. Every call is grounded (place names -> coordinates from the
// gazetteer), validated against its tool's JSON Schema, and only then executed. window.webslm is the test API.
/* global Cesium */
import { Gazetteer, groundCall } from "./grounding.js";
import { checkCall } from "./schema.js";
import { TOOLS, clearAll, describeEntities, cameraCartographic } from "./tools.js";

const params = new URLSearchParams(location.search);
const LITE = params.get("lite") === "1";       // software rendering: no atmosphere, fog, sky, sun or moon
const MAX_ANSWER_TOKENS = 256;
const $ = (id) => document.getElementById(id);

const app = { viewer: null, domain: null, gazetteer: null, engine: null, model: null, history: [] };

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
  add("div", "result", entry.ok ? entry.message : `rejected: ${entry.error}`);
  if (entry.speed) add("div", "speed", entry.speed);
  $("log").prepend(li);
}

// ---- executing a call ----------------------------------------------------------------------------------------

const describe = (errors) => errors.map((e) => (e.path || e.field ? `${e.path || e.field}: ${e.message}` : e.message)).join("; ");

// Ground, validate, execute. Never throws: {ok, call, error, message}.
function executeCall(input) {
  let output = input;
  if (typeof input === "string") {
    try {
      output = JSON.parse(input);
    } catch (e) {
      return { ok: false, call: null, error: `not valid JSON: ${e.message}` };
    }
  }
  try {
    const { call, problems } = groundCall(output, app.gazetteer);
    if (problems.length) return { ok: false, call, error: describe(problems) };
    const errors = checkCall(call, app.domain.tools);
    if (errors.length) return { ok: false, call, error: describe(errors) };
    const run = TOOLS[call.tool].prepare(app.viewer, call.arguments);  // may throw: nothing has changed yet
    const message = run();
    return { ok: true, call, error: null, message };
  } catch (e) {
    return { ok: false, call: null, error: e && e.message ? e.message : String(e) };
  }
}

async function generate(text) {
  const reply = await app.engine.chat.completions.create({
    messages: [{ role: "system", content: app.domain.system_prompt }, { role: "user", content: text }],
    temperature: 0,
    max_tokens: MAX_ANSWER_TOKENS,
    response_format: { type: "json_object", schema: JSON.stringify(app.domain.emission_schema) },
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
    entry = { text: trimmed, ok: true, call: null, error: null, message: clearAll(app.viewer) };
  } else if (!app.engine) {
    entry = { text: trimmed, ok: false, call: null,
              error: "no model is loaded: type a tool call as JSON, e.g. {\"tool\": \"flyTo\", \"arguments\": {\"place\": \"Paris\"}}" };
  } else {
    try {
      const { raw, usage, extra } = await generate(trimmed);
      entry = { text: trimmed, raw, usage, extra, speed: speedText(usage, extra), ...executeCall(raw) };
    } catch (e) {
      entry = { text: trimmed, ok: false, call: null, error: `the model failed: ${e && e.message ? e.message : e}` };
    }
  }
  logEntry(entry);
  return entry;
}

function submit(text) {
  const result = queue.then(() => submitNow(text));
  queue = result.catch(() => {});
  return result;
}

// ---- the model -----------------------------------------------------------------------------------------------

// q4f16_1 where the adapter has shader-f16 (real GPUs), else q4f32_1 (SwiftShader, many laptops), else whatever runs.
async function pickModel(models) {
  const wanted = params.get("model");
  if (wanted === "none") return { reason: "model loading turned off (?model=none)" };
  if (!models.length) return { reason: "no model bundle found on the server (webslm serve --models-dir DIR)" };
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
  const { models } = await (await fetch("/api/models")).json();
  const pick = await pickModel(models);
  if (!pick.model) {
    $("model-status").textContent = `No model loaded: ${pick.reason}. Type tool calls as JSON.`;
    return null;
  }
  const { model, why } = pick;
  $("model-status").textContent = `Loading ${model.model_id} (${model.quantization}; ${why})…`;
  $("progress").hidden = false;
  const webllm = await import("/vendor/web-llm/index.js");
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
    history: app.history.map(({ text, ok, error, call, raw, extra }) => ({ text, ok, error, call, raw, extra })),
  };
}

// ---- start ---------------------------------------------------------------------------------------------------

async function start() {
  app.viewer = createViewer();
  const domain = await (await fetch("/api/domain")).json();
  app.domain = domain;
  app.gazetteer = domain.gazetteer_url ? new Gazetteer(await (await fetch(domain.gazetteer_url)).json()) : null;

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
ready.catch((e) => { $("model-status").textContent = `The page failed to start: ${e && e.message ? e.message : e}`; });

window.webslm = {
  ready,
  modelReady,
  submit,
  execute(call) {
    const entry = { text: typeof call === "string" ? call : JSON.stringify(call), ...executeCall(call) };
    logEntry(entry);
    const { ok, call: executed, error, message } = entry;
    return { ok, call: executed, error, message };
  },
  clear: () => clearAll(app.viewer),
  state,
  get viewer() { return app.viewer; },
};
