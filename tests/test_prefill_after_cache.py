"""A chunk of several tokens prefilled after tokens already in the KV cache must give the logits of the same tokens
decoded one at a time. The page's forced-token loop (web/static/forced.js) feeds grammar-forced text this way, and
web-llm does it for a prompt longer than one prefill chunk and for every later turn of a chat.

This is the path where TVM 0.27's paged KV cache merges two partial attention results; its merge kernel raced on
lavapipe for heads of 64 and more dimensions and changed greedy answers of the real model
(convert/models/attention_merge.py). Heads of 64: the tiny Qwen3 has head_dim = hidden = 64, the wide Llama
hidden 128 over 2 heads. Run on Dawn in Node on lavapipe (webslm/dawn.py), both quantizations, f32 and f16 activations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_compiler_browser import MESSAGES, _sharpen
from tests.tiny_models import make_tiny_model
from webslm.dawn import dawn_unavailable_reason

pytestmark = [pytest.mark.webgpu,
              pytest.mark.skipif(dawn_unavailable_reason() is not None, reason=f"{dawn_unavailable_reason()}")]

CASES = [("qwen3", 64, "q4f32_1"), ("llama", 128, "q4f32_1"), ("qwen3", 64, "q4f16_1")]
CHUNK = [40, 41, 42, 43, 44, 45]  # byte-level tokens of the tiny tokenizer, fed after the prompt
# f32: the same arithmetic in another order (~1e-5 on logits of ~5); f16 activations round more. The race it guards
# against moved logits by ~1 to ~15.
TOLERANCE = {"q4f32_1": 2e-3, "q4f16_1": 5e-2}


@pytest.mark.parametrize("arch,hidden,quant", CASES)
def test_a_chunk_after_the_prompt_equals_the_same_tokens_decoded_one_by_one(tmp_path, arch, hidden, quant):
    from transformers import AutoTokenizer

    from convert.bundle import convert_model
    from webslm.dawn import DawnModel
    from webslm.prompting import encode_prompt

    source = make_tiny_model(tmp_path / "tiny", arch=arch, hidden=hidden, seed=2)
    _sharpen(source)
    bundle = convert_model(source, tmp_path / "bundle", quant, model_id=f"tiny-{arch}-{quant}")
    conv = json.loads((bundle / "mlc-chat-config.json").read_text())["conv_template"]
    prompt = encode_prompt(AutoTokenizer.from_pretrained(source), conv, None, MESSAGES)
    with DawnModel(bundle) as model:
        chunked, one_by_one, _ = model.chunk_after_prompt(prompt, CHUNK)
        model.reset()
        whole, _ = model.forward(prompt + CHUNK, "prefill")
    error = float(np.abs(chunked - one_by_one).max())
    assert error < TOLERANCE[quant], f"chunk after the prompt vs one by one: max |logit difference| {error:.3g}"
    assert float(np.abs(whole - one_by_one).max()) < TOLERANCE[quant]  # the prompt and chunk in one prefill agree
