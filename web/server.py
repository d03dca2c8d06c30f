"""The demo's local server. It serves the same site `webslm export` writes as files (web/export.py), and the page
uses only relative URLs, so both behave the same:

    index.html, static/…            the page (web/static)
    cesium/…, vendor/web-llm/…      the offline Cesium subset and the web-llm bundle
    api/models.json, api/adapters.json, api/domains.json, api/domains/<name>.json   the listings (`site_listings`)
    domains/<name>/gazetteer.json   each domain pack's gazetteer
    models/<id>/<revision>/resolve/main/<file>   bundles (web-llm appends `resolve/main/` to a model URL)
    adapters/<id>/<revision>/<file>              LoRA adapter bundles

The server also answers /models/<id>/resolve/main/<file> (the bundle as it is now, for tools and scripts).

Every file goes through `safe_file`: a request path is split into segments and anything that could climb out of its
root ('..', '.', empty segments, backslashes, drive letters, NUL) is a 404, as are directories (no listings).
"""

from __future__ import annotations

import contextlib

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from webslm.artifacts import ADAPTER_MANIFEST, BUNDLE_MANIFEST, is_artifact_id
from webslm import REPO_ROOT
from webslm.domain import DOMAINS_DIR, Domain, load_domain
from webslm.errors import WebslmError
from webslm.strict_json import read_json_object
from webslm.serving import finish_server_app, serve_in_thread

STATIC_DIR = Path(__file__).resolve().parent / "static"
CESIUM_DIR = REPO_ROOT / "node_modules" / "cesium" / "Build" / "Cesium"
WEBLLM_DIR = REPO_ROOT / "node_modules" / "@mlc-ai" / "web-llm" / "lib"

# What the offline viewer actually requests (checked with the page's request log, lite and full): the library, its
# stylesheets, the imagery/sky/moon/terrain-height/precession assets and the credit logo. Cesium 1.140 starts its
# geometry workers from blob: URLs, so Workers/ and ThirdParty/ (draco, basis, ...) are not served.
CESIUM_ALLOWED = (
    "Cesium.js",
    "Widgets/",
    "Assets/Textures/NaturalEarthII/",
    "Assets/Textures/SkyBox/",
    "Assets/Textures/moonSmall.jpg",
    "Assets/Images/",
    "Assets/approximateTerrainHeights.json",
    "Assets/IAU2006_XYS/",
)

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".bin": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
}

NO_CACHE = "no-cache"                                   # revalidate: the page and the manifests change while you work
LIBRARY_CACHE = "public, max-age=86400"                 # node_modules files change only with npm ci
IMMUTABLE = "public, max-age=31536000, immutable"       # model files under a revision URL: a re-export changes it

def cesium_allowed(rel: str) -> bool:
    """Whether `rel` (a path under Cesium's build) is in the subset the page uses."""
    return any(rel == a or (a.endswith("/") and rel.startswith(a)) for a in CESIUM_ALLOWED)


_SEGMENT_OK = re.compile(r"^[A-Za-z0-9_.+@\-]+$")


def safe_file(root: Path, rel: str) -> Path:
    """`root/rel` if it is a regular file inside root, else HTTPException(404). `rel` is the decoded URL path."""
    segments = rel.split("/")
    if not rel or any(s in ("", ".", "..") or not _SEGMENT_OK.match(s) for s in segments):
        raise HTTPException(404)
    root = root.resolve()
    path = (root / Path(*segments)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404)
    return path


def file_response(path: Path, cache: str) -> FileResponse:
    media_type = MIME_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache,
                                                              "X-Content-Type-Options": "nosniff"})


@dataclass(frozen=True)
class ModelBundle:
    """One compiled model directory with a webslm-bundle.json manifest."""

    model_id: str
    root: Path
    manifest: dict

    @property
    def model_lib(self) -> str:
        return self.manifest["model_lib"]

    def revision(self) -> str:
        """'r' + a short hash of every file's name, size and mtime. web-llm keeps its own copy of each model file
        in the browser's Cache API keyed by URL (config, tokenizer, shards and the .wasm alike), so a re-export
        into the same directory must change every URL: the revision is part of the model URL."""
        h = hashlib.sha1()
        for path in sorted(self.root.iterdir()):
            if path.is_file():
                st = path.stat()
                h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        return "r" + h.hexdigest()[:12]


def find_bundles(models_dir: Path | None) -> dict[str, ModelBundle]:
    """model_id -> bundle for every `<models_dir>/<dir>/webslm-bundle.json` (and models_dir itself) that is usable."""
    return _scan(models_dir, BUNDLE_MANIFEST, "model_id", lambda root, m: (root / m["model_lib"]).is_file())


def find_adapters(models_dir: Path | None) -> dict[str, ModelBundle]:
    """adapter_id -> adapter bundle for every `<models_dir>/<dir>/webslm-adapter.json` (from convert-adapter)."""
    return _scan(models_dir, ADAPTER_MANIFEST, "adapter_id", lambda root, m: (root / "tensor-cache.json").is_file())


def _scan(models_dir: Path | None, manifest_name: str, id_key: str, usable) -> dict[str, ModelBundle]:
    """Broken manifests are skipped with a reason printed once per scan; the page must still load."""
    found: dict[str, ModelBundle] = {}
    if models_dir is None or not Path(models_dir).is_dir():
        return found
    models_dir = Path(models_dir)
    candidates = [models_dir] + sorted(p for p in models_dir.iterdir() if p.is_dir())
    for root in candidates:
        manifest_path = root / manifest_name
        if not manifest_path.is_file():
            continue
        try:
            manifest = read_json_object(manifest_path)
            item_id = str(manifest[id_key])
            ok = usable(root, manifest)
        except (OSError, WebslmError, KeyError, TypeError) as e:
            print(f"webslm serve: skipping {manifest_path}: {e}", flush=True)
            continue
        if not is_artifact_id(item_id) or not ok:
            print(f"webslm serve: skipping {manifest_path}: bad {id_key} {item_id!r} or missing files", flush=True)
            continue
        found.setdefault(item_id, ModelBundle(item_id, root.resolve(), manifest))
    return found


# Every URL in a listing is relative to the listing's own URL (as in HTML), so the same files work behind `webslm
# serve`, from any static host and under any sub-path (the page resolves them; web-llm needs absolute URLs).
def domain_payload(domain: Domain) -> dict:
    """api/domains/<name>.json"""
    return {
        "name": domain.name,
        "title": domain.title,
        "system_prompt": domain.system_prompt,
        "tools": {name: {"name": t.name, "description": t.description, "parameters": t.parameters}
                  for name, t in domain.tools.items()},
        "gazetteer_url": f"../../domains/{domain.name}/gazetteer.json" if domain.gazetteer_path else None,
    }


def site_listings(models_dir: Path | None, default: Domain, domains: dict[str, Domain],
                  bundles: dict[str, ModelBundle] | None = None,
                  adapters: dict[str, ModelBundle] | None = None) -> dict[str, dict]:
    """The site's listings by path under api/: what `webslm serve` answers at /api/<path> and what `webslm export`
    writes as plain files. `bundles`/`adapters` default to everything in `models_dir`; model files live at
    models/<id>/<revision>/resolve/main/<file> (web-llm appends resolve/main/), adapter files at
    adapters/<id>/<revision>/<file>."""
    bundles = find_bundles(models_dir) if bundles is None else bundles
    adapters = find_adapters(models_dir) if adapters is None else adapters
    models = []
    for model_id, b in bundles.items():
        url = f"../models/{model_id}/{b.revision()}/"
        models.append({
            "model": url,
            "model_id": model_id,
            "model_lib": f"{url}resolve/main/{b.model_lib}",
            "required_features": list(b.manifest.get("required_features", [])),
            "overrides": dict(b.manifest.get("overrides", {})),
            "quantization": b.manifest.get("quantization"),
            "low_resource_required": bool(b.manifest.get("low_resource_required", True)),
            **({"vram_required_MB": b.manifest["vram_required_MB"]} if "vram_required_MB" in b.manifest else {}),
        })
    # An adapter made before convert-adapter recorded the domain is for the default domain.
    listed_adapters = [{"adapter_id": adapter_id, "url": f"../adapters/{adapter_id}/{a.revision()}/",
                        **{k: a.manifest.get(k) for k in ("base_model_id", "rank", "compiled_rank", "bytes", "params")},
                        "domain": str(a.manifest.get("domain") or default.name)}
                       for adapter_id, a in adapters.items()]
    payloads = {name: domain_payload(d) for name, d in domains.items()}
    listed_domains = [{"name": name, "title": d.title, "url": f"domains/{name}.json",
                       "gazetteer_url": f"../domains/{name}/gazetteer.json" if d.gazetteer_path else None,
                       "tools": list(d.tools)}
                      for name, d in domains.items()]
    return {
        "models.json": {"models": models},
        "adapters.json": {"adapters": listed_adapters},
        "domains.json": {"default": default.name, "domains": listed_domains},
        **{f"domains/{name}.json": payload for name, payload in payloads.items()},
    }


def load_domains(default: str | Path = "cesium") -> tuple[Domain, dict[str, Domain]]:
    """The server's default domain (a name under domains/ or a path) and every domain pack the page can switch
    to, by name. A pack under domains/ that does not load is skipped with the reason printed: one broken pack
    must not take the demo down. The default domain must load."""
    default_domain = load_domain(default)
    domains = {default_domain.name: default_domain}
    for root in sorted(p for p in DOMAINS_DIR.iterdir() if (p / "domain.json").is_file()):
        try:
            dom = load_domain(root)
        except (WebslmError, OSError, ValueError, KeyError) as e:
            print(f"webslm serve: skipping domain pack {root}: {e}", flush=True)
            continue
        if not is_artifact_id(dom.name):
            print(f"webslm serve: skipping domain pack {root}: bad name {dom.name!r}", flush=True)
            continue
        domains.setdefault(dom.name, dom)
    return default_domain, domains


def create_app(models_dir: Path | None = None, domain: str | Path = "cesium", host: str = "127.0.0.1") -> FastAPI:
    """The demo app, answering Host headers that name `host` or loopback. `models_dir` is rescanned on every
    listing request, so bundles written while the server runs show up on the next page load."""
    dom, domains = load_domains(domain)
    app = FastAPI(title="webslm demo", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/")
    @app.get("/index.html")
    def index():
        return file_response(STATIC_DIR / "index.html", NO_CACHE)

    @app.get("/static/{rel:path}")
    def static(rel: str):
        return file_response(safe_file(STATIC_DIR, rel), NO_CACHE)

    @app.get("/cesium/{rel:path}")
    def cesium(rel: str):
        if not cesium_allowed(rel):
            raise HTTPException(404)
        return file_response(safe_file(CESIUM_DIR, rel), LIBRARY_CACHE)

    @app.get("/vendor/web-llm/{rel:path}")
    def webllm(rel: str):
        if rel not in ("index.js", "index.js.map"):
            raise HTTPException(404)
        return file_response(safe_file(WEBLLM_DIR, rel), LIBRARY_CACHE)

    @app.get("/api/{rel:path}")
    def listing(rel: str):
        """models.json, adapters.json, domains.json, domains/<name>.json: models_dir is rescanned every time."""
        listings = site_listings(models_dir, dom, domains)
        if rel not in listings:
            raise HTTPException(404)
        return JSONResponse(listings[rel], headers={"Cache-Control": NO_CACHE})

    @app.get("/domains/{name}/gazetteer.json")
    def gazetteer_by_domain(name: str):
        d = domains.get(name)
        if d is None or d.gazetteer_path is None:
            raise HTTPException(404)
        return file_response(d.gazetteer_path, NO_CACHE)

    @app.get("/models/{model_id}/resolve/main/{rel:path}")
    def model_file(model_id: str, rel: str):
        """The bundle as it is now (for tools and scripts); revalidated on every use."""
        bundle = find_bundles(models_dir).get(model_id)
        if bundle is None:
            raise HTTPException(404)
        return file_response(safe_file(bundle.root, rel), NO_CACHE)

    @app.get("/models/{model_id}/{revision}/resolve/main/{rel:path}")
    def model_file_at_revision(model_id: str, revision: str, rel: str):
        """What api/models.json hands to web-llm: immutable, because a different export has a different revision.
        A stale revision is a 404 (reload the page), never new bytes under an old URL."""
        bundle = find_bundles(models_dir).get(model_id)
        if bundle is None or revision != bundle.revision():
            raise HTTPException(404)
        return file_response(safe_file(bundle.root, rel), IMMUTABLE)

    @app.get("/adapters/{adapter_id}/{revision}/{rel:path}")
    def adapter_file(adapter_id: str, revision: str, rel: str):
        adapter = find_adapters(models_dir).get(adapter_id)
        if adapter is None or revision != adapter.revision():
            raise HTTPException(404)
        return file_response(safe_file(adapter.root, rel), IMMUTABLE)

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        return Response("not found\n", status_code=404, media_type="text/plain")

    finish_server_app(app, host)
    return app


@dataclass
class ServedApp:
    url: str          # "http://127.0.0.1:PORT" (no trailing slash)
    host: str
    port: int
    models_dir: Path | None


@contextlib.contextmanager
def running_server(models_dir: Path | None = None, domain: str = "cesium", host: str = "127.0.0.1"):
    """Serve `create_app` on a free loopback port from a background thread (tests, harness, benchmarks)."""
    with serve_in_thread(create_app(models_dir, domain, host), host) as port:
        yield ServedApp(f"http://{host}:{port}", host, port, models_dir)
