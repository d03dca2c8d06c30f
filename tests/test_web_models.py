"""How the page picks a model bundle, and that a bundle which fails to load leaves the page usable."""

from __future__ import annotations

import pytest

from conftest import open_demo, start_server, write_fake_bundle

pytestmark = pytest.mark.browser


def test_page_picks_q4f32_without_shader_f16_and_survives_a_broken_bundle(chromium, tmp_path):
    write_fake_bundle(tmp_path, "tiny-q4f16_1", "q4f16_1", ["shader-f16"])
    write_fake_bundle(tmp_path, "tiny-q4f32_1", "q4f32_1")  # fake weights and library: loading must fail cleanly
    with start_server(tmp_path) as served:
        requests = []
        context, page = open_demo(chromium, served.url, requests=requests)
        has_f16 = page.evaluate("navigator.gpu.requestAdapter().then(a => a.features.has('shader-f16'))")
        assert page.evaluate("window.webslm.modelReady") is None
        status = page.inner_text("#model-status")
        assert "failed to load" in status and "Type tool calls as JSON" in status
        wanted = "tiny-q4f16_1" if has_f16 else "tiny-q4f32_1"
        assert wanted in status
        assert any(f"/models/{wanted}/r" in u and "/resolve/main/" in u for u in requests)
        assert all(u.startswith((served.url, "blob:", "data:")) for u in requests)
        result = page.evaluate("window.webslm.submit('{\"tool\": \"zoom\", \"arguments\": {\"amount\": 2}}')")
        assert result["ok"], result
        context.close()


@pytest.mark.slow
def test_real_bundle_answers_a_command(chromium):
    """Model in the loop: needs compiled bundles in $WEBSLM_TEST_MODELS_DIR (SwiftShader: minutes per answer)."""
    import json
    import os
    from pathlib import Path

    models_dir = os.environ.get("WEBSLM_TEST_MODELS_DIR")
    if not models_dir or not any(Path(models_dir).glob("*/webslm-bundle.json")):
        pytest.skip("set WEBSLM_TEST_MODELS_DIR to a directory of compiled bundles")
    with start_server(Path(models_dir)) as served:
        context, page = open_demo(chromium, served.url)
        model = page.evaluate("window.webslm.modelReady")
        assert model and model["model_id"], page.inner_text("#model-status")
        entry = page.evaluate("window.webslm.submit('fly to Paris')")
        json.loads(entry["raw"])  # constrained decoding: always one JSON object
        assert entry["extra"]["decode_tokens_per_s"] > 0
        if entry["ok"]:  # executed: a call of one of the domain's tools, after the rulebook accepted it
            from webslm.domain import load_domain

            assert entry["stage"] == "ok" and entry["call"]["tool"] in load_domain("cesium").tools, entry
        else:  # refused: by a named rulebook stage, with the reason shown to the user
            assert entry["stage"] in ("json", "schema", "grounding", "contract"), entry
            assert entry["call"] is None and entry["error"], entry
        context.close()
