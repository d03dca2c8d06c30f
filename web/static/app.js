// The demo page: an offline Cesium globe, a command box and a log, built on the assistant module (assistant.js:
// the model in a Web Worker, the rulebook, the executor) as any integrator's app would be. It adds what a demo needs:
// the skill selector (runtime LoRA: an adapter's tensors swapped into the loaded model, no reload), the CAD panel
// (the scene of the "cad" domain), load progress, tokens/s per answer, and window.webslm, the test API.
/* global Cesium */
import { createMapAssistant } from "./assistant.js";
import { CadModel, drawTopView } from "./cad.js";
import { describeEntities, cameraCartographic } from "./tools.js";

const params = new URLSearchParams(location.search);
const LITE = params.get("lite") === "1";       // software rendering: no atmosphere, fog, sky, sun or moon
const MAX_ANSWER_TOKENS = Number(params.get("max_tokens")) || 256;  // ?max_tokens=N caps answers (tests on random models)
const DECODE = params.get("decode") || "forced";  // ?decode=plain: web-llm's own loop, one forward pass per token
const $ = (id) => document.getElementById(id);

const app = { viewer: null, assistant: null, history: [], cad: new CadModel() };

// What the page shows per domain; the CAD panel is the "cad" domain's scene.
const EXAMPLES = {
  cesium: {
    example: '{"tool": "flyTo", "arguments": {"place": "Paris"}}',
    placeholder: "e.g. fly to Paris — or a tool call as JSON: {\"tool\": …}",
  },
  cad: {
    example: '{"tool": "createBox", "arguments": {"width": 20, "depth": 20, "height": 10}}',
    placeholder: "e.g. make a 20 mm cube — or a tool call as JSON: {\"tool\": …}",
  },
};
const CAD_SCENE = {
  prepare: (call) => { const run = app.cad.prepare(call); return () => { const m = run(); drawCad(); return m; }; },
  clear: () => { const m = app.cad.clear(); drawCad(); return m; },
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

// ---- commands -------------------------------------------------------------------------------------------------

function speedText(usage, extra) {
  if (!usage) return "";
  const f = (x) => (typeof x === "number" ? x.toFixed(2) : "?");
  const passes = extra.forward_passes ? ` in ${extra.forward_passes} forward passes (${extra.decode})` : "";
  return `${usage.completion_tokens} tokens${passes}, decode ${f(extra.decode_tokens_per_s)} tok/s, prefill ` +
    `${f(extra.prefill_tokens_per_s)} tok/s, first token ${f(extra.time_to_first_token_s)} s`;
}

// The assistant's answer as a log entry (ok/error/extra: the names the log, the tests and the evaluator read).
function entryOf(result) {
  const { executed, reason, timing, ...rest } = result;
  const extra = timing || undefined;
  return { ...rest, ok: executed, error: reason, extra, speed: speedText(result.usage, extra || {}) };
}

let queue = Promise.resolve();  // the log in the order things were asked

async function submitNow(text, options = {}) {
  const trimmed = String(text).trim();
  let entry;
  if (/^(clear|clear all|reset)$/i.test(trimmed)) {
    entry = { text: trimmed, ok: true, call: null, error: null, message: app.assistant.clear() };
  } else if (!trimmed.startsWith("{") && !app.assistant.model) {
    const example = (EXAMPLES[app.assistant.domain.name] || EXAMPLES.cesium).example;
    entry = { text: trimmed, ok: false, call: null, error: `no model is loaded: type a tool call as JSON, e.g. ${example}` };
  } else {
    entry = entryOf(await app.assistant.ask(trimmed, options));
  }
  entry.domain = app.assistant.domain.name;
  logEntry(entry);
  return entry;
}

// Every command and every adapter swap waits for the one before it.
function enqueue(job) {
  const result = queue.then(job);
  queue = result.catch(() => {});
  return result;
}

// options.decode ("forced" | "plain") overrides the page's ?decode= for this command (bench/forced_loop.py).
const submit = (text, options = {}) => enqueue(() => submitNow(text, options));

// ---- domains and adapters ------------------------------------------------------------------------------------

function showDomain(payload) {
  document.body.dataset.domain = payload.name;
  $("cad-panel").hidden = payload.name !== "cad";
  $("command").placeholder = (EXAMPLES[payload.name] || EXAMPLES.cesium).placeholder;
  $("domain-name").textContent = payload.title || payload.name;
  if (payload.name === "cad") drawCad();
}

function drawCad() {
  drawTopView($("cad-preview"), app.cad);
  const { objects } = app.cad.state();
  $("cad-count").textContent = `${objects.length} object${objects.length === 1 ? "" : "s"}, ${app.cad.operations.length} operations`;
  $("cad-objects").textContent = objects.map((o) => JSON.stringify(o)).join("\n");
}

function showAdapters() {
  const options = [new Option("none (base model)", "")];
  for (const a of app.assistant.adapters) {
    options.push(new Option(`${a.adapter_id} (${a.domain}${a.rank ? `, rank ${a.rank}` : ""})`, a.adapter_id));
  }
  $("adapter").replaceChildren(...options);
  $("adapter").value = app.assistant.adapter || "";
  $("adapter").disabled = false;
}

const MB = (n) => `${(n / 1e6).toFixed(2)} MB`;

// Log a swap (`swapping`: the assistant's promise of it) and show its domain: {ok, result} or {ok: false, error}.
async function logSwap(adapterId, swapping) {
  const text = `adapter: ${adapterId || "none (base model)"}`;
  let entry;
  try {
    const result = await swapping;
    const message = result.swapped
      ? `${result.tensors} tensors (${MB(result.bytes_written)}) written in ${result.swap_s.toFixed(3)} s, ${MB(result.bytes_fetched)} fetched in ` +
        `${result.fetch_s.toFixed(3)} s; ${result.wall_s.toFixed(3)} s in all; domain ${result.domain}`
      : `no model is loaded: only the domain changed, to ${result.domain}`;
    entry = { kind: "adapter", text, ok: true, call: null, error: null, message, result };
  } catch (e) {
    entry = { kind: "adapter", text, ok: false, call: null, error: e && e.message ? e.message : String(e) };
  }
  showDomain(app.assistant.domain);
  $("adapter").value = app.assistant.adapter || "";
  entry.domain = app.assistant.domain.name;
  logEntry(entry);
  return entry.ok ? { ok: true, result: entry.result } : { ok: false, error: entry.error };
}

const setAdapter = (adapterId) => enqueue(() => logSwap(adapterId || null, app.assistant.setAdapter(adapterId || null)));

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
    model: app.assistant ? app.assistant.model : null,
    adapter: app.assistant ? app.assistant.adapter : null,
    domain: app.assistant ? app.assistant.domain.name : null,
    history: app.history.map(({ kind, text, ok, error, call, raw, extra, domain, stage }) =>
      ({ kind: kind || "command", text, ok, error, call, raw, extra, domain, stage })),
  };
}

// The model files and adapters the browser keeps between visits (a second visit downloads nothing) are dropped.
const forgetDownloads = () => enqueue(async () => {
  let entry;
  try {
    const { models } = await app.assistant.clearCache();
    entry = { kind: "cache", text: "forget downloads", ok: true, call: null, error: null,
              message: `the next visit downloads ${models.join(", ") || "no model"} and the adapters again` };
  } catch (e) {
    entry = { kind: "cache", text: "forget downloads", ok: false, call: null, error: e && e.message ? e.message : String(e) };
  }
  entry.domain = app.assistant.domain.name;
  logEntry(entry);
  return { ok: entry.ok, error: entry.error };
});

// ---- start ---------------------------------------------------------------------------------------------------

function onProgress(report) {
  if (report.progress === 0 && report.model) {
    const m = report.model;
    $("model-status").textContent = `Loading ${m.model_id} (${m.quantization}; ${m.why})…`;
    $("progress").hidden = false;
  }
  $("progress-bar").style.width = `${Math.round(100 * (report.progress || 0))}%`;
  $("progress-text").textContent = report.text || "";
  if (report.adapter) $("progress").hidden = report.progress >= 1;  // the model's bar hides when it has loaded
}

async function createAssistant() {
  const options = { viewer: app.viewer, model: params.get("model") || "auto", adapter: params.get("adapter") || "auto",
                    onProgress, scenes: { cad: CAD_SCENE }, maxTokens: MAX_ANSWER_TOKENS, decode: DECODE };
  const wanted = params.get("domain");
  if (wanted) {
    try {
      return await createMapAssistant({ ...options, domain: wanted });
    } catch (e) {
      const assistant = await createMapAssistant(options);
      logEntry({ kind: "domain", text: `?domain=${wanted}`, ok: false, error: `${e.message}; using ${assistant.baseDomain}` });
      return assistant;
    }
  }
  return createMapAssistant(options);
}

async function start() {
  app.viewer = createViewer();
  app.assistant = await createAssistant();
  showDomain(app.assistant.domain);
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
  $("forget").addEventListener("click", () => forgetDownloads());
  setInterval(() => {
    const c = app.viewer.clock;
    $("clock").textContent = `clock ${Cesium.JulianDate.toIso8601(c.currentTime, 0)} ×${c.multiplier}`;
  }, 500);
}

const ready = start();
const modelReady = ready.then(() => app.assistant.modelReady).then((model) => {
  $("progress").hidden = true;
  $("model-status").textContent = model
    ? `Model: ${model.model_id} (${model.quantization}; ${model.why}). Type a command.`
    : `No model loaded: ${app.assistant.modelError}. Type tool calls as JSON.`;
  return model;
}).catch((e) => {
  $("model-status").textContent = `No model loaded: ${e && e.message ? e.message : e}. Type tool calls as JSON.`;
  return null;
});
// The adapter list, then the starting adapter the assistant swaps in (logged like a swap from the selector).
const adaptersReady = modelReady.then(() => app.assistant.adaptersReady).then(async () => {
  showAdapters();
  const first = app.assistant.startingSwap;
  if (await first.catch(() => true)) await enqueue(() => logSwap(app.assistant.adapter || params.get("adapter"), first));
  return app.assistant.adapters;
});
ready.catch((e) => { $("model-status").textContent = `The page failed to start: ${e && e.message ? e.message : e}`; });

window.webslm = {
  ready,
  modelReady,
  submit,
  execute(call) {
    const entry = { text: typeof call === "string" ? call : JSON.stringify(call), ...entryOf(app.assistant.execute(call)),
                    domain: app.assistant.domain.name };
    logEntry(entry);
    const { ok, call: executed, error, message, stage } = entry;
    return { ok, call: executed, error, message, stage };
  },
  clear: () => app.assistant.clear(),
  // Stop the answer being generated now (its command then fails with "the model failed").
  interrupt: () => app.assistant.interrupt(),
  state,
  adaptersReady,
  // The adapters the selector lists (for the loaded model; every adapter when none is loaded).
  adapters: () => adaptersReady.then(() => app.assistant.adapters),
  // Swap an adapter in (null: back to the base model) and switch to its domain: {ok, result} or {ok: false, error}.
  setAdapter: (adapterId) => adaptersReady.then(() => setAdapter(adapterId)),
  cadState: () => app.cad.state(),
  forgetDownloads,
  get viewer() { return app.viewer; },
};
