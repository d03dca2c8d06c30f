// Runtime LoRA: swap an adapter into a loaded model by overwriting the library's LoRA parameters on the GPU.
//
// The base bundle is compiled with a LoRA branch (y = W x + B (A x)) whose A/B parameters start at zero. An adapter
// bundle (`webslm convert-adapter`) holds only new A/B values and, per tensor, its index in the library's parameter
// list. web-llm 0.2.86 has no LoRA API, so this is the one place we use its internals:
//   engine.loadedModelIdToPipeline.get(modelId).params   the parameter array the model functions receive
//   params.get(i).copyFromRawBytes(bytes)                 a GPU buffer write (tvmjs Tensor)
// Nothing is recompiled and the base weights are not fetched again. The caller must reset the chat afterwards:
// the KV cache holds keys/values computed with the previous adapter.

const fetched = new Map(); // adapter URL (id + revision) -> {adapter, records}: swapping back costs no download

// Adapter files stay in the browser's Cache API between visits, as web-llm keeps the model's: by URL, and an
// adapter's URL holds its revision, so a changed adapter is a new URL and is fetched anew (never old bytes for a
// new adapter). Where there is no Cache API (not a secure context) every visit fetches.
export const ADAPTER_CACHE = "webslm-adapters";

// The bytes at `url` and whether they came over the network; onBytes(n) as each piece of the body arrives (all at
// once when the browser kept the file).
async function fetchKept(url, onBytes = () => {}) {
  const cache = typeof caches !== "undefined" ? await caches.open(ADAPTER_CACHE) : null;
  const kept = cache && (await cache.match(url));
  if (kept) {
    const bytes = new Uint8Array(await kept.arrayBuffer());
    onBytes(bytes.byteLength);
    return { bytes, network: false };
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const pieces = [];
  const reader = response.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    pieces.push(r.value);
    onBytes(r.value.byteLength);
  }
  const bytes = new Uint8Array(await new Blob(pieces).arrayBuffer());
  if (cache) await cache.put(url, new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } }));
  return { bytes, network: true };
}

// Drop the kept files of `adapter`'s other revisions: they can never be asked for again.
async function dropOtherRevisions(adapter) {
  if (typeof caches === "undefined") return;
  const cache = await caches.open(ADAPTER_CACHE);
  const sameAdapter = new URL("..", adapter.url).href;  // .../adapters/<id>/
  for (const request of await cache.keys()) {
    if (request.url.startsWith(sameAdapter) && !request.url.startsWith(adapter.url)) await cache.delete(request);
  }
}

// Forget every kept adapter file (the page's "forget downloads"): the next visit fetches them again.
export async function forgetKeptAdapters() {
  if (typeof caches !== "undefined") await caches.delete(ADAPTER_CACHE);
}

// `adapter` is an entry of api/adapters.json with its `url` made absolute (site.js fetchAdapters);
// onProgress({loaded, total}) in bytes of its shards while they download (tens of MB: seconds on a slow network).
async function fetchAdapter(adapter, onProgress) {
  if (fetched.has(adapter.url)) return { ...fetched.get(adapter.url), bytes_fetched: 0 };
  const index = await fetchKept(adapter.url + "tensor-cache.json");
  const cache = JSON.parse(new TextDecoder().decode(index.bytes));
  const indexByName = new Map(adapter.params.map((p) => [p.name, p.index]));
  const records = [];
  let bytesFetched = 0;
  const total = cache.records.reduce((n, shard) => n + shard.nbytes, 0);
  let loaded = 0;
  for (const shard of cache.records) {
    const { bytes: data, network } = await fetchKept(adapter.url + shard.dataPath, (n) => {
      loaded += n;
      onProgress({ loaded, total });
    });
    if (network) bytesFetched += data.byteLength;
    for (const r of shard.records) {
      if (!indexByName.has(r.name)) throw new Error(`adapter ${adapter.adapter_id}: tensor ${r.name} has no parameter index`);
      records.push({ name: r.name, index: indexByName.get(r.name), bytes: data.subarray(r.byteOffset, r.byteOffset + r.nbytes) });
    }
  }
  await dropOtherRevisions(adapter);
  const entry = { adapter, records };
  fetched.set(adapter.url, entry);
  return { ...entry, bytes_fetched: bytesFetched };
}

let active = null; // {modelId, adapterId, records} of the adapter now on the GPU

// Swap `adapter` (an api/adapters.json entry with an absolute url; null: back to the base) into `modelId`;
// onProgress({loaded, total}) while its files download.
export async function swapAdapter(engine, modelId, adapter, onProgress = () => {}) {
  const pipeline = engine.loadedModelIdToPipeline && engine.loadedModelIdToPipeline.get(modelId);
  if (!pipeline || !pipeline.params || !pipeline.tvm) {
    throw new Error("this web-llm version does not expose loadedModelIdToPipeline/params: runtime LoRA needs 0.2.86");
  }
  const started = performance.now();
  let writes = [];
  let bytesFetched = 0;
  const adapterId = adapter ? adapter.adapter_id : null;
  if (adapter) {
    if (adapter.base_model_id !== modelId) {
      throw new Error(`adapter ${adapterId} belongs to ${adapter.base_model_id}, not ${modelId}`);
    }
    const loaded = await fetchAdapter(adapter, onProgress);
    writes = loaded.records;
    bytesFetched = loaded.bytes_fetched;
  } else if (active && active.modelId === modelId) {
    writes = active.records.map((r) => ({ ...r, bytes: new Uint8Array(r.bytes.byteLength) })); // zeros: the base
  }
  const fetchedAt = performance.now();
  const tvm = pipeline.tvm;
  tvm.beginScope();
  try {
    for (const w of writes) pipeline.params.get(w.index).copyFromRawBytes(w.bytes);
  } finally {
    tvm.endScope();
  }
  await tvm.webgpu().sync();
  active = adapterId ? { modelId, adapterId, records: writes } : null;
  return {
    adapter_id: adapterId, tensors: writes.length,
    bytes_written: writes.reduce((n, w) => n + w.bytes.byteLength, 0), bytes_fetched: bytesFetched,
    fetch_s: (fetchedAt - started) / 1000, swap_s: (performance.now() - fetchedAt) / 1000,
    total_s: (performance.now() - started) / 1000,
  };
}

// The adapters a loaded model can take: those converted against its bundle (same base model id). With no model
// loaded (`modelId` null) every adapter is listed: the page can still switch to its domain for calls typed as JSON.
export function adaptersForModel(adapters, modelId) {
  return modelId ? adapters.filter((a) => a.base_model_id === modelId) : adapters.slice();
}
