"""`webslm export SITE_DIR`: the demo as a static site any web server can host, under any sub-path.

It writes exactly the files `webslm serve` answers (the layout is web/server.py's docstring): the page, the Cesium
subset it uses, web-llm, the domain packs' gazetteers, the chosen bundles and adapters, and the api/*.json listings
as plain files made by the server's own `site_listings`. The page uses only relative URLs, so nothing else is needed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from webslm.artifacts import ADAPTER_MANIFEST, BUNDLE_MANIFEST
from webslm.atomic import atomic_dir, check_output, write_json
from webslm.errors import WebslmError

SITE_MARKER = "webslm-site.json"
# GitHub Pages refuses files over 100 MB, and many hosts (and CDNs) cap single files at or below that.
LARGE_FILE_BYTES = 100 * 1000 * 1000


@dataclass
class SiteSummary:
    site_dir: Path
    parts: dict[str, list[int]] = field(default_factory=dict)   # part -> [files, bytes]
    large_files: list[tuple[str, int]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(n for n, _ in self.parts.values())

    @property
    def bytes(self) -> int:
        return sum(b for _, b in self.parts.values())


def _selected(kind: str, flag: str, available: dict, wanted: list[str] | None) -> dict:
    """`available` restricted to `wanted` (None: all); an unknown id is an error naming what there is."""
    if wanted is None:
        return dict(available)
    unknown = [w for w in wanted if w not in available]
    if unknown:
        raise WebslmError(f"{flag} {','.join(unknown)}: no such {kind} (have: {', '.join(available) or 'none'})")
    return {w: available[w] for w in wanted}


def _files_under(root: Path, skip: str | None = None) -> list[Path]:
    """Regular files under `root`, relative, without hidden files or folders (temporaries of a running writer) and
    without `skip`."""
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).as_posix() != skip
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def export_site(site_dir: Path, models_dir: Path | None, domain: str = "cesium", models: list[str] | None = None,
                adapters: list[str] | None = None, domains: list[str] | None = None,
                force: bool = False) -> SiteSummary:
    """Write the static site to `site_dir` (new, empty, or a previous export replaced with `force`).

    `models`/`adapters`/`domains`: ids to include (None: what `webslm serve` would serve; adapters default to those
    converted for an included model and speaking an included domain). `domain` is the page's default domain."""
    from web.server import (CESIUM_DIR, STATIC_DIR, WEBLLM_DIR, cesium_allowed, find_adapters, find_bundles,
                            load_domains, site_listings)

    site_dir = Path(site_dir)
    if models_dir is not None and not Path(models_dir).is_dir():
        if models or adapters:
            raise WebslmError(f"--models-dir {models_dir}: not a folder, so there is no bundle or adapter to include")
        models_dir = None
    default, all_domains = load_domains(domain)
    chosen_domains = _selected("domain pack", "--domains", all_domains, domains)
    if default.name not in chosen_domains:
        raise WebslmError(f"--domains {','.join(domains)}: must include the default domain {default.name!r} "
                          f"(--domain)")
    bundles = _selected("model bundle", "--models", find_bundles(models_dir), models)
    found_adapters = find_adapters(models_dir)
    if adapters is not None:
        chosen_adapters = _selected("adapter", "--adapters", found_adapters, adapters)
        for adapter_id, a in chosen_adapters.items():
            base, speaks = a.manifest.get("base_model_id"), str(a.manifest.get("domain") or default.name)
            if base not in bundles:
                raise WebslmError(f"--adapters {adapter_id}: it was converted for model {base!r}, which is not "
                                  f"exported (models: {', '.join(bundles) or 'none'}); add it to --models")
            if speaks not in chosen_domains:
                raise WebslmError(f"--adapters {adapter_id}: it speaks domain {speaks!r}, which is not exported "
                                  f"(domains: {', '.join(chosen_domains)}); add it to --domains")
    else:
        chosen_adapters = {i: a for i, a in found_adapters.items() if a.manifest.get("base_model_id") in bundles
                           and str(a.manifest.get("domain") or default.name) in chosen_domains}
        left_out = sorted(set(found_adapters) - set(chosen_adapters))
        if left_out:
            print(f"note: adapters left out (their model or domain is not exported): {', '.join(left_out)}",
                  flush=True)

    # What the site is copied from: the output must not be, contain or lie inside any of it.
    sources = [STATIC_DIR, CESIUM_DIR, WEBLLM_DIR, *(b.root for b in bundles.values()),
               *(a.root for a in chosen_adapters.values()),
               *(d.gazetteer_path for d in chosen_domains.values() if d.gazetteer_path)]
    check_output(site_dir, SITE_MARKER, inputs=sources, force=force, what="exported site", flag="SITE_DIR")
    target = site_dir.resolve()
    for source in sources:
        if Path(source).resolve() in target.parents:
            raise WebslmError(f"SITE_DIR {site_dir}: it lies inside {source}, which the site is copied from; "
                              f"choose a folder outside it")
    for tree, what in ((CESIUM_DIR, "the cesium npm package"), (WEBLLM_DIR, "the @mlc-ai/web-llm npm package")):
        if not tree.is_dir():
            raise WebslmError(f"{tree}: missing ({what}); run `make setup` (npm ci) first")

    summary = SiteSummary(site_dir, models=list(bundles), adapters=list(chosen_adapters),
                          domains=list(chosen_domains))
    with atomic_dir(site_dir, SITE_MARKER, inputs=sources, force=force, what="exported site") as tmp:

        def copy(source: Path, rel: str, part: str) -> None:
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            size = dest.stat().st_size
            count = summary.parts.setdefault(part, [0, 0])
            count[0] += 1
            count[1] += size
            if size > LARGE_FILE_BYTES:
                summary.large_files.append((rel, size))

        copy(STATIC_DIR / "index.html", "index.html", "page")
        for rel in _files_under(STATIC_DIR):
            copy(STATIC_DIR / rel, f"static/{rel.as_posix()}", "page")
        for rel in _files_under(CESIUM_DIR):
            if cesium_allowed(rel.as_posix()):
                copy(CESIUM_DIR / rel, f"cesium/{rel.as_posix()}", "cesium")
        copy(WEBLLM_DIR / "index.js", "vendor/web-llm/index.js", "web-llm")
        for name, d in chosen_domains.items():
            if d.gazetteer_path:
                copy(d.gazetteer_path, f"domains/{name}/gazetteer.json", f"domain {name}")
        # The manifests stay behind: the page never reads them, and they name folders on this machine.
        for model_id, b in bundles.items():
            for rel in _files_under(b.root, skip=BUNDLE_MANIFEST):
                copy(b.root / rel, f"models/{model_id}/{b.revision()}/resolve/main/{rel.as_posix()}",
                     f"model {model_id}")
        for adapter_id, a in chosen_adapters.items():
            for rel in _files_under(a.root, skip=ADAPTER_MANIFEST):
                copy(a.root / rel, f"adapters/{adapter_id}/{a.revision()}/{rel.as_posix()}", f"adapter {adapter_id}")
        listings = site_listings(models_dir, default, chosen_domains, bundles, chosen_adapters)
        for rel, payload in listings.items():
            write_json(tmp / "api" / rel, payload)
        summary.parts["listings"] = [len(listings), sum((tmp / "api" / rel).stat().st_size for rel in listings)]
        write_json(tmp / SITE_MARKER, {"kind": "webslm static site", "default_domain": default.name,
                                       "models": summary.models, "adapters": summary.adapters,
                                       "domains": summary.domains, "files": summary.files,
                                       "bytes": summary.bytes})
    return summary


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def print_summary(summary: SiteSummary) -> None:
    print(f"exported {summary.files} files, {_mb(summary.bytes)}, to {summary.site_dir}", flush=True)
    width = max(len(p) for p in summary.parts)
    for part, (files, size) in summary.parts.items():
        print(f"  {part:<{width}}  {files:>5} files  {_mb(size):>10}")
    for rel, size in summary.large_files:
        print(f"warning: {rel} is {_mb(size)}: many static hosts refuse files over {_mb(LARGE_FILE_BYTES)} "
              f"(GitHub Pages among them)", flush=True)
    if not summary.models:
        print("note: no model bundle exported: the page works with tool calls typed as JSON", flush=True)
    print(f"serve it with any static web server, e.g. `python -m http.server -d {summary.site_dir}`, "
          f"and open it on http://127.0.0.1 or https (WebGPU needs a secure context)", flush=True)
