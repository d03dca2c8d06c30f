// The model runs here, off the page's main thread, so the globe keeps rendering while tokens are decoded.
import { WebWorkerMLCEngineHandler } from "/vendor/web-llm/index.js";

const handler = new WebWorkerMLCEngineHandler();
self.onmessage = (message) => handler.onmessage(message);
