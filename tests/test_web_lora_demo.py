"""Runtime LoRA through the demo page: the tiny LoRA base (tests/test_lora_browser.py's setup) loads in the demo's
Web Worker, the selector lists only its adapters, and swaps run inside the worker without reloading the engine
(the base's weight shards are fetched once) while the domain follows the adapter. That the swapped tensors give
PEFT's logits is test_lora_browser.py's job (same adapters.js, on the harness page)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.test_lora_browser import setup  # noqa: F401  (the module-scoped fixture: tiny base + two adapters)

from conftest import open_demo, start_server
from test_web_adapters import write_fake_adapter

pytestmark = pytest.mark.browser


def test_adapter_swaps_in_the_demo_worker_without_reloading(setup, chromium):  # noqa: F811
    _, models, _ = setup
    # the same tensors as adapter-a, tagged as a CAD skill; and an adapter for another base, which must not show
    cad = models / "adapter-cad"
    if not cad.exists():
        shutil.copytree(models / "adapter-a", cad)
        manifest = json.loads((cad / "webslm-adapter.json").read_text())
        (cad / "webslm-adapter.json").write_text(json.dumps({**manifest, "adapter_id": "adapter-cad", "domain": "cad"}))
        write_fake_adapter(models, "foreign", "some-other-model", "cesium")
    adapter_bytes = json.loads((models / "adapter-a" / "webslm-adapter.json").read_text())["bytes"]
    shards = len(json.loads((models / "tiny-lora" / "tensor-cache.json").read_text())["records"])

    with start_server(models) as served:
        requests, errors = [], []
        # ?adapter=none: start on the base model, so the first swap to adapter-a downloads it (the default start
        # with the domain's adapter is tests/test_export_browser.py's)
        context, page = open_demo(chromium, served.url, query="?lite=1&adapter=none", requests=requests)
        page.on("pageerror", lambda e: errors.append(str(e)))
        model = page.evaluate("window.webslm.modelReady")
        assert model and model["model_id"] == "tiny-lora", page.inner_text("#model-status")
        listed = [a["adapter_id"] for a in page.evaluate("window.webslm.adapters()")]
        assert sorted(listed) == ["adapter-a", "adapter-b", "adapter-cad"]  # not "foreign"

        def base_loads():
            return (sum("/params_shard_" in u for u in requests), sum(u.endswith("-webgpu.wasm") for u in requests))

        loaded = base_loads()
        assert loaded == (shards, 1)

        # what the progress line shows during each swap (it shows the download, then hides)
        page.evaluate("""() => {
          const text = document.getElementById("progress-text");
          window.progressShown = [];
          new MutationObserver(() => window.progressShown.push(text.textContent))
            .observe(text, { childList: true, characterData: true, subtree: true });
        }""")
        shown = {}
        swaps = {}
        for adapter_id in ("adapter-a", "adapter-cad", None, "adapter-b", "adapter-a"):
            page.evaluate("window.progressShown.length = 0")
            r = page.evaluate("id => window.webslm.setAdapter(id)", adapter_id)
            shown.setdefault(adapter_id, []).append(page.evaluate("window.progressShown"))
            assert page.is_hidden("#progress"), "the progress line hides when the adapter is in"
            assert r["ok"], r
            swaps.setdefault(adapter_id, []).append(r["result"])
            s = page.evaluate("window.webslm.state()")
            assert s["adapter"] == adapter_id and s["domain"] == ("cad" if adapter_id == "adapter-cad" else "cesium")
            assert page.is_visible("#cad-panel") == (adapter_id == "adapter-cad")
            assert page.input_value("#adapter") == (adapter_id or "")

        first, again = swaps["adapter-a"]
        assert first["swapped"] and first["bytes_fetched"] == adapter_bytes and first["bytes_written"] == adapter_bytes
        assert again["bytes_fetched"] == 0 and again["tensors"] == first["tensors"] > 0
        assert swaps["adapter-cad"][0]["bytes_fetched"] == adapter_bytes
        assert swaps[None][0]["bytes_fetched"] == 0 and swaps[None][0]["tensors"] == first["tensors"]  # zeros
        assert base_loads() == loaded  # no reload: the base's shards and library were fetched once
        mb = f"{adapter_bytes / 1e6:.2f} MB"
        for adapter_id in ("adapter-a", "adapter-cad"):
            first_shown = shown[adapter_id][0]
            assert first_shown and all(t.startswith(f"downloading adapter {adapter_id}: ") and t.endswith(f" % of {mb}")
                                       for t in first_shown), first_shown
            assert first_shown[-1] == f"downloading adapter {adapter_id}: 100 % of {mb}", first_shown
        assert shown["adapter-a"][1] == [] and shown[None] == [[]], "nothing downloads, nothing is shown"
        log = page.inner_text("#log")
        assert "tensors" in log and "MB fetched" in log
        for r in (first, again):
            print(f"swap adapter-a: fetch {r['fetch_s']:.3f} s, GPU writes {r['swap_s']:.3f} s, "
                  f"round trip {r['wall_s']:.3f} s, {r['bytes_fetched']} bytes fetched")

        assert errors == []
        context.close()
