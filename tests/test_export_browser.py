"""The exported site on a plain static file server, under a sub-path: `webslm export` with the tiny LoRA base and its
adapters (tests/test_lora_browser.py's setup), served by `python -m http.server` at /tools/globe/. The page loads, a
typed JSON call executes, the page starts with the default domain's adapter swapped in, the tiny model answers a
command and the call executes, and not one request leaves the site. Also: the embed example with a tool of its own,
and what a second visit downloads."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_lora_browser import setup  # noqa: F401  (the module-scoped fixture: tiny base + two adapters)

from conftest import free_port, open_demo
from webslm.cli import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser

SUB_PATH = "tools/globe"


@contextlib.contextmanager
def static_server(root):
    """Python's own static file server on a free loopback port: no webslm code answers a request."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("python -m http.server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


ANSWER = '{"tool": "flyTo", "arguments": {"place": "Paris"}}'


@pytest.fixture(scope="module")
def trained_adapter(setup, tmp_path_factory):  # noqa: F811
    """An adapter for the tiny LoRA base that learned one answer (a random model spends its tokens on the whitespace
    JSON allows): trained with the product's recipe code and converted like any adapter. Returns the models dir."""
    from convert.adapter import convert_adapter
    from train.config import make_config
    from train.lora import train_lora
    from webslm.records import write_records

    base, models, _ = setup
    root = tmp_path_factory.mktemp("trained")
    data = root / "train.jsonl"
    write_records(data, [{"instruction": "fly to Paris", "output": ANSWER}] * 8)
    train_lora(make_config(None, model=str(base), train_file=str(data), out=str(root / "run"), max_steps=40,
                           batch_size=8, lora_r=8, lora_alpha=16, lora_dropout=0.0, learning_rate=1e-2,
                           warmup_ratio=0.0), progress=False)
    convert_adapter(root / "run", models / "tiny-lora", models / "paris-skill", "paris-skill")
    return models


def test_exported_site_works_under_a_sub_path_on_a_static_server(trained_adapter, chromium, tmp_path):
    models = trained_adapter
    www = tmp_path / "www"
    assert main(["export", str(www / SUB_PATH), "--models-dir", str(models), "--adapters", "paris-skill"]) == 0
    with static_server(www) as origin:
        site = f"{origin}/{SUB_PATH}"
        requests, errors = [], []
        context, page = open_demo(chromium, site, query="?lite=1&max_tokens=48", requests=requests)
        page.on("pageerror", lambda e: errors.append(str(e)))

        typed = page.evaluate("window.webslm.submit('{\"tool\": \"zoom\", \"arguments\": {\"amount\": 2}}')")
        assert typed["ok"] and typed["call"]["tool"] == "zoom", typed

        model = page.evaluate("window.webslm.modelReady")
        assert model and model["model_id"] == "tiny-lora", page.inner_text("#model-status")
        page.evaluate("window.webslm.adaptersReady")
        # the skill is on from the start; the selector still offers the base model
        assert page.evaluate("window.webslm.state().adapter") == "paris-skill"
        options = page.eval_on_selector_all("#adapter option", "os => os.map(o => o.value)")
        assert page.input_value("#adapter") == "paris-skill" and options == ["", "paris-skill"]

        entry = page.evaluate("window.webslm.submit('fly to Paris')")
        assert entry["raw"] == ANSWER and entry["ok"] and entry["call"]["tool"] == "flyTo", entry
        # the flight ends over Paris (it advances with rendered frames)
        page.wait_for_function("(() => { const c = window.webslm.state().camera; "
                               "return Math.abs(c.longitude - 2.349) < 0.05 && Math.abs(c.latitude - 48.853) < 0.05; })()",
                               timeout=120_000)
        context.close()
    assert errors == []
    outside = [u for u in requests if not u.startswith((site + "/", "blob:", "data:"))]
    assert outside == [], outside
    assert any("/paris-skill/" in u for u in requests) and any(u.endswith("-webgpu.wasm") for u in requests)


def test_embed_example_adds_the_assistant_and_a_custom_tool_to_its_own_viewer(trained_adapter, chromium, tmp_path):
    """examples/embed/index.html beside an export: only the module API, its own Cesium.Viewer, a tool of its own."""
    import shutil

    models = trained_adapter
    www = tmp_path / "www"
    assert main(["export", str(www / "webslm"), "--models-dir", str(models), "--adapters", "paris-skill"]) == 0
    shutil.copyfile(ROOT / "examples" / "embed" / "index.html", www / "index.html")
    with static_server(www) as origin:
        requests, errors = [], []
        context = chromium.new_context()
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(origin + "/")
        page.wait_for_function("window.assistant !== undefined", timeout=60_000)
        ready = page.evaluate("window.assistant.ready")
        assert ready["model"]["model_id"] == "tiny-lora" and ready["adapter"] == "paris-skill", ready

        painted = page.evaluate("window.assistant.ask('{\"tool\": \"paintGlobe\", \"arguments\": {\"color\": \"navy\"}}')")
        assert painted["executed"] and not painted["refused"] and painted["message"] == "painted navy", painted
        assert page.evaluate("Cesium.Color.NAVY.equals(window.assistant.viewer.scene.globe.baseColor)")
        wrong = page.evaluate("window.assistant.ask('{\"tool\": \"paintGlobe\", \"arguments\": {\"color\": \"pink\"}}')")
        assert not wrong["executed"] and wrong["refused"] and wrong["stage"] == "schema" and wrong["reason"], wrong

        answer = page.evaluate("window.assistant.ask('fly to Paris')")
        assert answer["raw"] == ANSWER and answer["executed"] and answer["call"]["tool"] == "flyTo", answer
        assert answer["timing"]["decode_tokens_per_s"] > 0 and answer["timing"]["wall_s"] > 0
        page.evaluate("window.assistant.dispose()")
        context.close()
    assert errors == []
    outside = [u for u in requests if not u.startswith((origin + "/", "blob:", "data:"))]
    assert outside == [], outside


def test_a_reload_fetches_no_model_bytes_and_a_changed_bundle_is_fetched_anew(trained_adapter, chromium, tmp_path):
    """A second visit downloads nothing (web-llm keeps the model's files and adapters.js the adapter's in the Cache
    API, by URL), a changed bundle is fetched anew (its revision is in every URL), and "forget downloads" drops
    what is kept."""
    import os

    models = trained_adapter
    site_dir = tmp_path / "www" / SUB_PATH

    def export_site(*flags):
        assert main(["export", str(site_dir), "--models-dir", str(models), "--adapters", "paris-skill", *flags]) == 0

    def model_bytes(urls):
        return [u for u in urls if "/models/" in u or "/adapters/" in u]

    export_site()
    with static_server(tmp_path / "www") as origin:
        site = f"{origin}/{SUB_PATH}"
        requests = []
        context, page = open_demo(chromium, site, requests=requests)

        def visit(reload: bool = True) -> list[str]:
            """(Re)load the page until the model and its starting adapter are in; the model/adapter URLs fetched."""
            if reload:
                requests.clear()
                page.reload()
                page.evaluate("window.webslm.ready")
            assert page.evaluate("window.webslm.modelReady")["model_id"] == "tiny-lora"
            page.evaluate("window.webslm.adaptersReady")
            assert page.evaluate("window.webslm.state().adapter") == "paris-skill"
            return model_bytes(requests)

        first = visit(reload=False)
        assert any(u.endswith("-webgpu.wasm") for u in first) and any("params_shard_" in u for u in first)
        again = visit()
        # a new bundle (its files changed): a new revision in every URL, fetched anew
        wasm = next((models / "tiny-lora").glob("*-webgpu.wasm"))
        os.utime(wasm, ns=(wasm.stat().st_atime_ns, wasm.stat().st_mtime_ns + 10**9))
        export_site("--force")
        changed = visit()
        # "Forget downloads": the next visit downloads the model and the adapter again
        assert page.evaluate("window.webslm.forgetDownloads()")["ok"]
        forgotten = visit()
        context.close()
    assert again == [], again
    assert any(u.endswith("-webgpu.wasm") for u in changed) and not set(changed) & set(first)
    assert not [u for u in changed if "/adapters/" in u]  # the adapter did not change: still kept
    for kind in ("-webgpu.wasm", "params_shard_", "adapter_shard_"):
        assert any(kind in u for u in forgotten), (kind, forgotten)
