"""CLI verbs of the web stage: `webslm serve` (the demo page and model bundles), `webslm export` (the same site as
static files) and `webslm demo`."""

from __future__ import annotations

import argparse
from pathlib import Path

from webslm import REPO_ROOT
from webslm.errors import WebslmError
from webslm.serving import check_bind_host, check_port_free

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MODELS_DIR = REPO_ROOT / "artifacts" / "bundles"
PAGE_EXPOSES = "the page and the model bundles (browsers give WebGPU only to https pages and to localhost)"


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, models_dir: Path | None = DEFAULT_MODELS_DIR,
          allow_remote: bool = False, domain: str = "cesium") -> int:
    """Run the demo server until interrupted. Only loopback unless `allow_remote`: the page is a local tool, and
    WebGPU needs a secure context (http://127.0.0.1 or https) anyway."""
    import uvicorn

    from web.server import create_app, find_adapters, find_bundles, load_domains

    check_bind_host(host, allow_remote, PAGE_EXPOSES)
    check_port_free(host, port)
    if models_dir is not None and not Path(models_dir).is_dir():
        print(f"note: models dir {models_dir} does not exist yet; the page works without a model "
              f"(type tool calls as JSON)", flush=True)
    app = create_app(models_dir, domain, host)
    default_domain, domains = load_domains(domain)
    bundles = find_bundles(models_dir)
    adapters = find_adapters(models_dir)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"model bundles: {', '.join(bundles) or 'none'} (from {models_dir})", flush=True)
    print(f"adapters: {', '.join(adapters) or 'none'}", flush=True)
    print(f"domains: {', '.join(n + (' (default)' if n == default_domain.name else '') for n in domains)}", flush=True)
    print(f"demo: http://{shown}:{port}/   (add ?lite=1 for software rendering)", flush=True)
    print(f"static copy for any web server: webslm export SITE_DIR --models-dir {models_dir}", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as e:
        raise WebslmError(f"cannot listen on {host}:{port}: {e}; pick another --port") from None
    return 0


def _id_list(text: str) -> list[str]:
    """A comma-separated list of ids for --models/--adapters/--domains."""
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"{text!r}: give ids separated by commas, e.g. a,b")
    return items


def export(args) -> int:
    from web.export import export_site, print_summary

    summary = export_site(args.site_dir, args.models_dir, args.domain, args.models, args.adapters, args.domains,
                          args.force)
    print_summary(summary)
    return 0


def run_demo(args) -> int:
    """The main job: the whole pipeline on the embedded base model (webslm/pipeline.py; finished steps are
    skipped), then the demo page serving the base bundle and one LoRA adapter per domain."""
    from webslm.pipeline import pipeline_config, run_pipeline

    config = pipeline_config(args)
    # every flag is checked before the first step: the pipeline takes ~25 minutes before it serves anything
    check_bind_host(args.host, args.allow_remote, PAGE_EXPOSES, warn=False)
    check_port_free(args.host, args.port)
    models_dir = config.workdir / "bundles"
    if not args.skip_pipeline:
        models_dir = run_pipeline(config)
    return serve(args.host, args.port, models_dir, args.allow_remote)


def _add_server_args(p, models_dir: bool = True) -> None:
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}, loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    if models_dir:
        p.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR,
                       help=f"directory of compiled model bundles, one folder each with webslm-bundle.json "
                            f"(default {DEFAULT_MODELS_DIR})")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the offline Cesium demo page and model bundles")
    _add_server_args(p)
    p.add_argument("--domain", default="cesium", help="domain pack name or path (default cesium)")
    p.set_defaults(run=lambda a: serve(a.host, a.port, a.models_dir, a.allow_remote, a.domain))
    e = sub.add_parser("export", help="write the demo page, bundles and adapters as a static site any web server "
                                      "can host", description="Writes the site `webslm serve` serves as plain files "
                                      "with relative URLs only, so it works from any static host and under any "
                                      "sub-path. SITE_DIR must be new, empty, or a previous export (--force).")
    e.add_argument("site_dir", type=Path, metavar="SITE_DIR", help="the folder to write")
    e.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR,
                   help=f"where the bundles and adapters are (default {DEFAULT_MODELS_DIR})")
    e.add_argument("--domain", default="cesium", help="the page's default domain pack, name or path (default cesium)")
    e.add_argument("--models", type=_id_list, help="model ids to include, comma-separated (default: all)")
    e.add_argument("--adapters", type=_id_list,
                   help="adapter ids to include (default: every adapter for an included model and domain)")
    e.add_argument("--domains", type=_id_list, help="domain packs to include (default: all)")
    e.add_argument("--force", action="store_true", help="replace a previous export in SITE_DIR")
    e.set_defaults(run=export)
    d = sub.add_parser("demo", help="data -> train -> convert -> adapters on the embedded model, then serve the demo",
                       description="Runs every pipeline step not done yet (see webslm/pipeline.py), then serves "
                                   "the page. Interrupt and run again to continue where it stopped.")
    _add_server_args(d, models_dir=False)
    from webslm.pipeline import add_pipeline_arguments

    add_pipeline_arguments(d)
    d.set_defaults(run=run_demo)
