"""q4f16_1 executed and checked on this CPU machine: tiny random Llama and Qwen2 bundles compiled to q4f16_1 run on
Dawn in Node.js (the WebGPU implementation inside Chromium) on Mesa's lavapipe, the one CPU route here with
`shader-f16` (webslm/dawn.py). The logits of the prefill and 16 greedy decode steps must match torch running the same
q4f16_1 round-trip weights, and the greedy tokens must be identical.

Skipped, with the reason, only where Dawn cannot start (no node, no npm `webgpu`, no Vulkan loader, no lavapipe)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_compiler_browser import MESSAGES, _sharpen, torch_greedy
from tests.tiny_models import make_tiny_model
from webslm.dawn import dawn_unavailable_reason

pytestmark = [pytest.mark.webgpu,
              pytest.mark.skipif(dawn_unavailable_reason() is not None, reason=f"{dawn_unavailable_reason()}")]

QUANT = "q4f16_1"
ARCHS = ["llama", "qwen2"]
STEPS = 17  # the prefill's logits, then 16 decode steps
# float16 activations and KV cache against torch's float32 on the same weights: measured max |error| 0.0098 (Llama)
# and 0.0095 (Qwen2) on logits of magnitude ~5 (2026-12-03); a wrong kernel is off by ~1.
LOGIT_TOLERANCE = 3e-2


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from convert.bundle import convert_model

    root = tmp_path_factory.mktemp("dawn_f16")
    made = {}
    for arch in ARCHS:
        source = make_tiny_model(root / f"tiny-{arch}", arch=arch, seed=1)
        _sharpen(source)
        model_id = f"tiny-{arch}-{QUANT}"
        made[arch] = (source, convert_model(source, root / "bundles" / model_id, QUANT, model_id=model_id))
    return made


@pytest.mark.parametrize("arch", ARCHS)
def test_q4f16_1_logits_and_greedy_tokens_match_torch(bundles, arch):
    from transformers import AutoTokenizer

    from webslm.dawn import DawnModel
    from webslm.prompting import encode_prompt

    source, bundle = bundles[arch]
    conv = json.loads((bundle / "mlc-chat-config.json").read_text())["conv_template"]
    prompt_ids = encode_prompt(AutoTokenizer.from_pretrained(source), conv, None, MESSAGES)
    with DawnModel(bundle) as model:
        assert "shader-f16" in model.info["features"], model.info
        assert model.info["quantization"] == QUANT
        dawn_logits, dawn_tokens = model.greedy(prompt_ids, STEPS)
        again_logits, _ = model.greedy(prompt_ids, 2)  # a reset starts a fresh sequence
    torch_logits, torch_tokens = torch_greedy(source, QUANT, prompt_ids, STEPS)
    errors = [float(np.abs(ours - ref).max()) for ours, ref in zip(dawn_logits, torch_logits)]
    assert max(errors) < LOGIT_TOLERANCE, f"max |logit error| per step: {[f'{e:.1e}' for e in errors]}"
    assert dawn_tokens == torch_tokens
    assert np.array_equal(again_logits[0], dawn_logits[0])
