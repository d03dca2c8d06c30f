"""Shared fixtures: our demo server on a free loopback port, and headless Chromium with WebGPU.

`served_app` serves `create_app(models_dir)` from a background thread; bundles put into `served_app.models_dir`
appear on the next /api/models call (the directory is rescanned). For a server with other bundles use
`start_server(models_dir)` as a context manager. `chromium` is one SwiftShader-WebGPU browser for the session; make
a fresh context per test (`chromium.new_context()`).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from web.server import ServedApp  # noqa: F401  (tests type their fixtures with it)
from webslm.browser import default_adapter

# The browser suite runs where the demo and the evaluator run by default (webslm.browser.default_adapter): lavapipe
# when `make setup` installed it, else SwiftShader; WEBSLM_WEBGPU=swiftshader|lavapipe picks one. Every page, ours
# and the tests' own, raises the compute limits lavapipe's compatibility mode needs (web/static/webgpu_limits.js).
# tests/test_webgpu_adapters.py checks both adapters explicitly.
os.environ.setdefault("WEBSLM_WEBGPU", default_adapter())


def edited_domain(tmp_path: Path, name: str, file: str, edit) -> Path:
    """A copy of domain pack `name` under tmp_path whose JSON `file` (relative to the pack) `edit(data)` changed."""
    import shutil

    from webslm.domain import load_domain

    root = tmp_path / name
    shutil.copytree(load_domain(name).root, root)
    data = json.loads((root / file).read_text())
    edit(data)
    (root / file).write_text(json.dumps(data))
    return root


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_server(models_dir: Path | None = None, domain: str = "cesium", host: str = "127.0.0.1"):
    from web.server import running_server

    return running_server(models_dir, domain, host)


FAKE_SHARD = b"\x00\x01" * 64
FAKE_WASM = b"\x00asm\x01\x00\x00\x00"


def write_fake_bundle(models_dir: Path, model_id: str, quantization: str, features=()) -> Path:
    """A bundle directory with every file the server and /api/models expect, but fake content (web-llm fails
    to load it): for server and page tests that do not run a model."""
    d = Path(models_dir) / model_id
    d.mkdir(parents=True)
    (d / "mlc-chat-config.json").write_text('{"model_type": "llama"}')
    (d / "tensor-cache.json").write_text('{"records": []}')
    (d / "params_shard_0.bin").write_bytes(FAKE_SHARD)
    (d / "tokenizer.json").write_text("{}")
    (d / f"{model_id}-webgpu.wasm").write_bytes(FAKE_WASM)
    (d / "webslm-bundle.json").write_text(json.dumps({
        "model_id": model_id, "quantization": quantization, "model_lib": f"{model_id}-webgpu.wasm",
        "required_features": list(features), "overrides": {"context_window_size": 1024}}))
    return d


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """The demo server for the whole session. Models come from $WEBSLM_TEST_MODELS_DIR if set, else from an
    empty temporary directory (the page then runs without a model)."""
    models_dir = Path(os.environ.get("WEBSLM_TEST_MODELS_DIR") or tmp_path_factory.mktemp("models"))
    with start_server(models_dir) as served:
        yield served


def open_demo(browser, url: str, query: str = "?lite=1", requests: list | None = None, **context_args):
    """A new context and page on the demo at `url` (the server root), waited until window.webslm.ready.
    Returns (context, page); close the context when done. Model loading goes on in the background
    (await `window.webslm.modelReady` for it). `requests`, if given, collects every requested URL from the start
    (workers included)."""
    context = browser.new_context(**context_args)
    if requests is not None:
        context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(url + "/" + query)
    page.wait_for_function("window.webslm !== undefined", timeout=60_000)
    page.evaluate("window.webslm.ready")
    return context, page


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium with WebGPU on $WEBSLM_WEBGPU (SwiftShader unless set; webslm.browser.launch_chromium)."""
    from playwright.sync_api import sync_playwright

    from webslm.browser import launch_chromium

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()
