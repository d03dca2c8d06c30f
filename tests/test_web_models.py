"""How the page picks a model bundle, and that a bundle which fails to load leaves the page usable."""

from __future__ import annotations

import pytest

from conftest import start_server, write_fake_bundle

pytestmark = pytest.mark.browser


def test_page_picks_q4f32_without_shader_f16_and_survives_a_broken_bundle(chromium, tmp_path):
    write_fake_bundle(tmp_path, "tiny-q4f16_1", "q4f16_1", ["shader-f16"])
    write_fake_bundle(tmp_path, "tiny-q4f32_1", "q4f32_1")  # fake weights and library: loading must fail cleanly
    with start_server(tmp_path) as served:
        context = chromium.new_context()
        page = context.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(served.url + "/?lite=1")
        page.wait_for_function("window.webslm !== undefined", timeout=60_000)
        page.evaluate("window.webslm.ready")
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
