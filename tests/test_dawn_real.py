"""The embedded SmolLM2-135M-Instruct, converted to q4f16_1 (the card's format), gives on Dawn/lavapipe with
shader-f16 the same first 16 greedy tokens as torch running the same q4f16_1 round-trip weights. Slow tier: a real
conversion and a 135M model on a CPU WebGPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_compiler_browser import torch_greedy
from tests.test_compiler_real import MESSAGES, NEW_TOKENS
from webslm.dawn import dawn_unavailable_reason

pytestmark = [pytest.mark.slow, pytest.mark.webgpu,
              pytest.mark.skipif(dawn_unavailable_reason() is not None, reason=f"{dawn_unavailable_reason()}")]


def test_smollm2_q4f16_1_first_greedy_tokens_match_torch(tmp_path):
    from transformers import AutoTokenizer

    from convert.bundle import convert_model
    from webslm.base_model import resolve_model
    from webslm.dawn import DawnModel
    from webslm.prompting import encode_prompt

    base = resolve_model("default")
    bundle = convert_model(base, tmp_path / "smollm2-q4f16_1", "q4f16_1", model_id="smollm2-q4f16_1")
    conv = json.loads((bundle / "mlc-chat-config.json").read_text())["conv_template"]
    tokenizer = AutoTokenizer.from_pretrained(base)
    prompt_ids = encode_prompt(tokenizer, conv, None, MESSAGES)
    with DawnModel(bundle) as model:
        dawn_logits, dawn_tokens = model.greedy(prompt_ids, NEW_TOKENS)
    torch_logits, torch_tokens = torch_greedy(base, "q4f16_1", prompt_ids, NEW_TOKENS)
    errors = [float(np.abs(ours - ref).max()) for ours, ref in zip(dawn_logits, torch_logits)]
    print(f"max |logit error| per step: {[f'{e:.2e}' for e in errors]}")
    assert dawn_tokens == torch_tokens, (f"Dawn {tokenizer.decode(dawn_tokens)!r} != "
                                         f"torch {tokenizer.decode(torch_tokens)!r}")
