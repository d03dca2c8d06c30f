// Where the site's files are. Every URL the page, its worker and the harness use is relative to the site's root
// (this module lives in static/, one level down), so the same files work behind `webslm serve`, from any static
// host and under any sub-path (https://example.org/tools/globe/). The layout is web/server.py's docstring.
export const SITE_ROOT = new URL("../", import.meta.url);

export const siteUrl = (path) => new URL(path, SITE_ROOT).href;

// A JSON file of the site, with `fields` of it (or of each item of `listKey`) made absolute: URLs in a listing are
// relative to the listing's own URL, and web-llm (which runs in a worker with another base URL) needs absolute ones.
export async function fetchListing(path, { listKey = null, fields = [] } = {}) {
  const url = siteUrl(path);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const data = await response.json();
  const resolve = (item) => {
    const out = { ...item };
    for (const f of fields) if (typeof out[f] === "string") out[f] = new URL(out[f], response.url).href;
    return out;
  };
  return listKey ? { ...data, [listKey]: data[listKey].map(resolve) } : resolve(data);
}

export const fetchModels = () =>
  fetchListing("api/models.json", { listKey: "models", fields: ["model", "model_lib"] }).then((d) => d.models);
export const fetchAdapters = () =>
  fetchListing("api/adapters.json", { listKey: "adapters", fields: ["url"] }).then((d) => d.adapters);
export const fetchDomains = () => fetchListing("api/domains.json", { listKey: "domains", fields: ["url", "gazetteer_url"] });
// One domain pack's payload (api/domains/<name>.json); `url` from fetchDomains, already absolute.
export const fetchDomainPayload = (url) => fetchListing(url, { fields: ["gazetteer_url"] });
