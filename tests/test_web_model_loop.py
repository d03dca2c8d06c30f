"""Model in the loop on the demo page: a compiled tiny bundle answers a typed command in the page's Web Worker
under the domain's schema constraint; the answer is either a validated call that changes the globe, or it is
reported with the reason and nothing changes."""

from __future__ import annotations

import json

import pytest

from conftest import open_demo, start_server
from tests.tiny_models import make_tiny_model

pytestmark = pytest.mark.browser


def _globe(page) -> dict:
    state = page.evaluate("window.webslm.state()")
    return {"entities": state["entities"], "camera": state["camera"], "mode": state["sceneMode"],
            "clock": {k: state["clock"][k] for k in ("multiplier",)}}


def test_typed_command_gives_a_validated_call_or_a_reported_rejection(tmp_path, chromium):
    from convert.bundle import convert_model

    model = make_tiny_model(tmp_path / "tiny", arch="qwen2", seed=7)
    convert_model(model, tmp_path / "bundles" / "tiny-demo", "q4f32_1", model_id="tiny-demo")
    with start_server(tmp_path / "bundles") as served:
        context, page = open_demo(chromium, served.url, query="?lite=1&max_tokens=40")
        ready = page.evaluate("window.webslm.modelReady")
        assert ready and ready["model_id"] == "tiny-demo", page.inner_text("#model-status")
        before = _globe(page)
        entry = page.evaluate("window.webslm.submit('fly to Paris')")
        after = _globe(page)
        for _ in range(40):  # a flight is animated: the camera moves over the next frames, not at once
            if after != before:
                break
            page.wait_for_timeout(250)
            after = _globe(page)
        # requests whose schemas hold every per-request form: a typed pair, a date, cue-announced fields, a list
        # as prefixItems; web-llm's own xgrammar (wasm) must compile them and decode under them
        rich = page.evaluate("window.webslm.submit('pin 12.5N 0.2W called Camp, huge, at noon on May 4 1999')")
        listed = page.evaluate("window.webslm.submit('route: Lima -> Quito -> (3.5, 12) called Camp')")
        context.close()
    for answer in (rich, listed):
        assert answer["raw"] and answer["extra"]["decode_tokens_per_s"] > 0, answer
    assert entry["raw"], entry
    assert entry["extra"]["decode_tokens_per_s"] > 0
    if entry["ok"]:
        assert entry["call"]["tool"] and after != before, entry
    else:
        assert entry["error"] and after == before, entry
        try:
            json.loads(entry["raw"])
        except ValueError:
            assert len(entry["raw"]) > 0  # cut at max_tokens: invalid JSON, reported and not executed
