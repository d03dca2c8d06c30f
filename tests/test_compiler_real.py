"""The embedded SmolLM2-135M-Instruct, converted to q4f32_1, answers in the browser with the same greedy tokens as
torch running the same (de)quantized weights. Minutes on SwiftShader: slow tier."""

from __future__ import annotations

import json

import pytest

from tests.test_compiler_browser import torch_greedy

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NEW_TOKENS = 16
MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def test_smollm2_q4f32_first_greedy_tokens_match_torch(tmp_path, chromium):
    from transformers import AutoTokenizer

    from convert.bundle import convert_model
    from evalharness.browser_session import BrowserSession
    from webslm.base_model import resolve_model
    from webslm.prompting import encode_prompt

    base = resolve_model("default")
    bundle = convert_model(base, tmp_path / "smollm2-q4f32_1", "q4f32_1", model_id="smollm2-q4f32_1")
    conv = json.loads((bundle / "mlc-chat-config.json").read_text())["conv_template"]
    tokenizer = AutoTokenizer.from_pretrained(base)
    prompt_ids = encode_prompt(tokenizer, conv, None, MESSAGES)
    _, torch_tokens = torch_greedy(base, "q4f32_1", prompt_ids, NEW_TOKENS)

    with BrowserSession(tmp_path, browser=chromium) as session:
        session.load("smollm2-q4f32_1")
        reply = session.chat(MESSAGES, temperature=0, max_tokens=NEW_TOKENS, ignore_eos=True)
    assert reply["usage"]["prompt_tokens"] == len(prompt_ids)
    expected = tokenizer.decode(torch_tokens)  # with ignore_eos web-llm shows the stop tokens it ran past
    assert reply["text"] == expected, f"browser {reply['text']!r} != torch {expected!r}"
