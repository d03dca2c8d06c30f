// The model runs here, off the page's main thread, so the globe keeps rendering while tokens are decoded.
//
// Besides web-llm's own messages the worker answers one of ours, because the engine (and so the GPU buffers a
// LoRA swap overwrites) lives only here:
//   {kind: "webslm.setAdapter", id, modelId, adapter|null}  posted with a MessagePort (adapter: an
//   api/adapters.json entry with an absolute url)
//   -> on that port {kind: "webslm.adapterProgress", id, loaded, total} (bytes) while the adapter downloads, then
//   {kind: "webslm.adapterSet", id, result} or {kind: "webslm.adapterSet", id, error}
//   {kind: "webslm.answer", id, decode, modelUrl, messages, schema, maxTokens}  posted with a MessagePort: one greedy
//   answer under the schema's grammar (forced.js; decode "forced" or "plain") -> on that port
//   {kind: "webslm.answered", id, result} or {kind: "webslm.answered", id, error}; result: {text, finish_reason, usage}
// The reply goes over the port, not the worker: web-llm's WebWorkerMLCEngine throws on message kinds it does not
// know. The page sends a swap or an answer only between commands (its command queue), never during a generation.
import "./webgpu_limits.js";
import { WebWorkerMLCEngineHandler } from "../vendor/web-llm/index.js";
import { swapAdapter } from "./adapters.js";
import { createAnswerer, createMaskProcessor } from "./forced.js";

const handler = new WebWorkerMLCEngineHandler();
const maskProcessor = createMaskProcessor();
const answerer = createAnswerer(handler.engine, maskProcessor);

async function answer({ id, decode, modelUrl, messages, schema, maxTokens }, port) {
  try {
    const result = await answerer.answer({ decode, modelUrl, messages, schema, maxTokens });
    port.postMessage({ kind: "webslm.answered", id, result });
  } catch (e) {
    port.postMessage({ kind: "webslm.answered", id, error: e && e.message ? e.message : String(e) });
  }
}

async function setAdapter({ id, modelId, adapter }, port) {
  try {
    const progress = ({ loaded, total }) => port.postMessage({ kind: "webslm.adapterProgress", id, loaded, total });
    const result = await swapAdapter(handler.engine, modelId, adapter || null, progress);
    await handler.engine.resetChat(); // the KV cache holds keys/values computed with the previous adapter
    port.postMessage({ kind: "webslm.adapterSet", id, result });
  } catch (e) {
    port.postMessage({ kind: "webslm.adapterSet", id, error: e && e.message ? e.message : String(e) });
  }
}

const OURS = { "webslm.setAdapter": setAdapter, "webslm.answer": answer };

self.onmessage = (message) => {
  const msg = message.data;
  if (msg && Object.hasOwn(OURS, msg.kind)) {
    if (message.ports.length !== 1) console.error(`${msg.kind} needs a MessagePort for its reply; ignored`);
    else OURS[msg.kind](msg, message.ports[0]);
    return;
  }
  if (msg && msg.kind === "reload") {
    // web-llm hands a model its logit processor when it loads it (reload), so the mask processor is registered for
    // whatever the page loads. Disarmed it returns the logits untouched: the plain path then only pays web-llm's
    // copy of the logits to the CPU and back (196 KB per token for a 49k vocabulary).
    const ids = [].concat(msg.content.modelId);
    handler.setLogitProcessorRegistry(new Map(ids.map((modelId) => [modelId, maskProcessor])));
  }
  if (msg && msg.kind === "interruptGenerate") answerer.interrupt();  // web-llm's loop stops on it too
  handler.onmessage(message);
};
