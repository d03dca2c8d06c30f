// The model runs here, off the page's main thread, so the globe keeps rendering while tokens are decoded.
//
// Besides web-llm's own messages the worker answers one of ours, because the engine (and so the GPU buffers a
// LoRA swap overwrites) lives only here:
//   {kind: "webslm.setAdapter", id, modelId, adapter|null}  posted with a MessagePort (adapter: an
//   api/adapters.json entry with an absolute url)
//   -> on that port {kind: "webslm.adapterSet", id, result} or {kind: "webslm.adapterSet", id, error}
// The reply goes over the port, not the worker: web-llm's WebWorkerMLCEngine throws on message kinds it does not
// know. The page sends a swap only between commands (its command queue), never during a generation.
import "./webgpu_limits.js";
import { WebWorkerMLCEngineHandler } from "../vendor/web-llm/index.js";
import { swapAdapter } from "./adapters.js";

const handler = new WebWorkerMLCEngineHandler();

async function setAdapter({ id, modelId, adapter }, port) {
  try {
    const result = await swapAdapter(handler.engine, modelId, adapter || null);
    await handler.engine.resetChat(); // the KV cache holds keys/values computed with the previous adapter
    port.postMessage({ kind: "webslm.adapterSet", id, result });
  } catch (e) {
    port.postMessage({ kind: "webslm.adapterSet", id, error: e && e.message ? e.message : String(e) });
  }
}

self.onmessage = (message) => {
  const msg = message.data;
  if (msg && msg.kind === "webslm.setAdapter") {
    if (message.ports.length !== 1) console.error("webslm.setAdapter needs a MessagePort for its reply; ignored");
    else setAdapter(msg, message.ports[0]);
    return;
  }
  handler.onmessage(message);
};
