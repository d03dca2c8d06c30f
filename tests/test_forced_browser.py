"""Forced-token decoding (web/static/forced.js) on the demo page: a tiny random model answers each command twice on
one loaded engine, with web-llm's own loop (decode "plain", one forward pass per token) and with forced text fed in
(decode "forced"). Greedy under the same grammar, both must write the same answer; the forced loop in fewer passes;
a finished answer still obeys the request's JSON schema; and after a runtime LoRA swap the forced loop answers
with the adapter's weights.

The tiny tokenizer has no merges (bytes and ChatML's special tokens only), so every text has one tokenization: a
random model then writes forced text as the tokenizer would, which a trained model does by training, and the
forced loop may feed it (it feeds forced text only where the answer so far is written as the tokenizer writes it)."""

from __future__ import annotations

import pytest

from tests.test_compiler_browser import _sharpen
from tests.test_lora_browser import _make_adapter
from tests.tiny_models import SPECIAL_TOKENS, make_tiny_model

from conftest import open_demo, start_server

pytestmark = pytest.mark.browser

MAX_TOKENS = 48
COMMANDS = ["fly to Paris", "zoom in 3 steps", "switch to 2D", "put a red pin on Tokyo", "draw a line from Paris to Rome"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from convert.adapter import convert_adapter
    from convert.bundle import convert_model

    root = tmp_path_factory.mktemp("forced")
    base = make_tiny_model(root / "tiny", arch="llama", seed=3, vocab=256 + len(SPECIAL_TOKENS))
    _sharpen(base)
    models = root / "bundles"
    bundle = convert_model(base, models / "tiny-bytes", "q4f32_1", model_id="tiny-bytes", lora_rank=8)
    convert_adapter(_make_adapter(base, root / "peft-a", seed=1, rank=4), bundle, models / "adapter-a", "adapter-a")
    return models


def _ask(page, text: str, decode: str) -> dict:
    entry = page.evaluate("([t, d]) => window.webslm.submit(t, {decode: d})", [text, decode])
    assert entry["stage"] != "backend", entry["error"]
    return entry


def _answers(page) -> dict:
    out = {}
    for text in COMMANDS:
        plain, forced = _ask(page, text, "plain"), _ask(page, text, "forced")
        assert plain["extra"]["decode"] == "plain" and forced["extra"]["decode"] == "forced"
        tokens = forced["usage"]["completion_tokens"]
        if tokens < MAX_TOKENS:
            assert forced["raw"] == plain["raw"], (text, plain["raw"], forced["raw"])
        else:  # cut at max_tokens: web-llm's text of a cut answer may lack its last token
            assert forced["raw"].startswith(plain["raw"]), (text, plain["raw"], forced["raw"])
        print(f"{text!r}: {tokens} tokens, passes {plain['extra']['forward_passes']} plain, "
              f"{forced['extra']['forward_passes']} forced: {forced['raw']!r}")
        # the stop token is a pass of the plain loop (and a completion token); the forced loop knows when only a
        # stop token may follow
        assert plain["extra"]["forward_passes"] >= tokens
        assert forced["extra"]["forward_passes"] + forced["extra"]["forced_tokens"] >= tokens
        if tokens >= 8:
            assert forced["extra"]["forward_passes"] < plain["extra"]["forward_passes"], (text, forced["extra"])
        if tokens < MAX_TOKENS:  # a finished answer is what the request's schema allows, whatever the random model
            assert forced["stage"] not in ("json", "schema"), (text, forced["raw"], forced["error"])
        out[text] = forced
    return out


def _finished(answers: dict) -> int:
    return sum(e["usage"]["completion_tokens"] < MAX_TOKENS for e in answers.values())


def test_forced_loop_writes_the_plain_answer_in_fewer_passes_and_after_a_lora_swap(models, chromium):
    with start_server(models) as served:
        errors = []
        context, page = open_demo(chromium, served.url, query=f"?lite=1&adapter=none&max_tokens={MAX_TOKENS}")
        page.on("pageerror", lambda e: errors.append(str(e)))
        model = page.evaluate("window.webslm.modelReady")
        assert model and model["model_id"] == "tiny-bytes", page.inner_text("#model-status")

        base = _answers(page)

        swap = page.evaluate("id => window.webslm.setAdapter(id)", "adapter-a")
        assert swap["ok"], swap
        adapted = _answers(page)
        assert any(adapted[t]["raw"] != base[t]["raw"] for t in COMMANDS)  # the adapter's weights answered
        assert _finished(base) + _finished(adapted) >= 1  # the schema check above ran on a whole answer

        assert "forward passes (forced)" in page.inner_text("#log")
        assert errors == []
        context.close()
