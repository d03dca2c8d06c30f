"""q4f16_1 executed and checked on this CPU machine: tiny random Llama, Qwen2 and Qwen3 bundles compiled to q4f16_1 run
on Dawn in Node.js (the WebGPU implementation inside Chromium) on Mesa's lavapipe, the one CPU route here with
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
ARCHS = ["llama", "qwen2", "qwen3"]
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


LORA_RANK = 8
LORA_STEPS = 9
# The test adapter is scaled up until it changes the greedy tokens, which makes the float16 residual stream larger and
# its rounding coarser: measured max |logit error| 0.063 on logits of ~4 (2026-12-03), the zero adapter 0.010. Before
# the LoRA branch accumulated in float32 it was 0.1 by step 3 and the tokens diverged.
ADAPTER_LOGIT_TOLERANCE = 0.12


def _lora_writes(bundle, adapter_dir) -> dict:
    """{parameter index: array} that puts an adapter bundle into the base library, or zeros (None: the base)."""
    from convert.tensor_cache import read_tensor_cache

    if adapter_dir is None:
        lora = json.loads((bundle / "webslm-bundle.json").read_text())["lora"]["params"]
        return {p["index"]: np.zeros(p["shape"], p["dtype"]) for p in lora}
    tensors = read_tensor_cache(adapter_dir)
    manifest = json.loads((adapter_dir / "webslm-adapter.json").read_text())
    return {p["index"]: tensors[p["name"]] for p in manifest["params"]}


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_q4f16_1_runtime_lora_matches_peft_and_a_zero_adapter_is_the_base(tmp_path, arch):
    from transformers import AutoTokenizer

    from convert.adapter import convert_adapter
    from convert.bundle import convert_model
    from tests.test_lora_browser import MESSAGES as LORA_MESSAGES, _make_adapter, _torch_logits
    from webslm.dawn import DawnModel
    from webslm.prompting import encode_prompt

    source = make_tiny_model(tmp_path / "tiny", arch=arch, seed=3)
    _sharpen(source)
    bundle = convert_model(source, tmp_path / "bundles" / "tiny-lora-f16", QUANT, model_id="tiny-lora-f16",
                           lora_rank=LORA_RANK)
    peft_dir = _make_adapter(source, tmp_path / "peft", seed=1, rank=4)
    adapter = convert_adapter(peft_dir, bundle, tmp_path / "bundles" / "adapter", "adapter")
    conv = json.loads((bundle / "mlc-chat-config.json").read_text())["conv_template"]
    prompt_ids = encode_prompt(AutoTokenizer.from_pretrained(source), conv, None, LORA_MESSAGES)
    with DawnModel(bundle) as model:
        base, base_tokens = model.greedy(prompt_ids, LORA_STEPS)
        model.write_params(_lora_writes(bundle, adapter))
        with_adapter, adapter_tokens = model.greedy(prompt_ids, LORA_STEPS)
        model.write_params(_lora_writes(bundle, None))
        zero, _ = model.greedy(prompt_ids, LORA_STEPS)

    for ours, ref, tolerance in ((base, _torch_logits(source, None, prompt_ids, QUANT), LOGIT_TOLERANCE),
                                 (with_adapter, _torch_logits(source, peft_dir, prompt_ids, QUANT),
                                  ADAPTER_LOGIT_TOLERANCE)):
        errors = [float(np.abs(a - b).max()) for a, b in zip(ours, ref)]
        assert max(errors) < tolerance, f"max |logit error| per step: {[f'{e:.1e}' for e in errors]}"
        assert [int(a.argmax()) for a in ours] == [int(b.argmax()) for b in ref]
    assert adapter_tokens != base_tokens  # the adapter changes the answer
    assert all(np.array_equal(a, b) for a, b in zip(zero, base))  # zeroing the adapter gives the base bit for bit
