"""Compiler parity in the browser: tiny random Llama, Qwen2 and Qwen3 models, compiled to q0f32 and q4f32_1 bundles, run
by the stock web-llm engine in headless Chromium (WebGPU on lavapipe or SwiftShader). The raw logits of every step
(read through web-llm's logit-processor hook) must match torch on the same (de)quantized weights, and the greedy tokens
must be identical."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.tiny_models import make_tiny_model

pytestmark = pytest.mark.browser

ARCHS = ["llama", "qwen2", "qwen3"]
# Chromium's WebGPU adapters here (lavapipe through ANGLE/GLES, SwiftShader) have no shader-f16, so q4f16_1 runs on
# Dawn in Node instead (tests/test_dawn.py, the webgpu tier).
QUANTS = ["q0f32", "q4f32_1"]
# (model, quantization) pairs under test: every family at both quantizations, plus an untied-embedding Qwen2
CASES = [(arch, quant) for arch in ARCHS for quant in QUANTS] + [("qwen2-untied", "q4f32_1")]
DECODE_STEPS = 16
LOGIT_TOLERANCE = 1e-2
MESSAGES = [{"role": "user", "content": "fly to Paris and add a red point"}]


def _sharpen(model_dir, factor: float = 8.0) -> None:
    """Random init gives near-uniform logits where float noise flips the argmax; scale weights up so the greedy
    path has clear margins (the model stays random)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:
                p.mul_(factor)
    model.save_pretrained(model_dir, safe_serialization=True)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from convert.bundle import convert_model

    root = tmp_path_factory.mktemp("compiler_parity")
    models_dir = root / "bundles"
    sources = {}
    for name, quant in CASES:
        if name not in sources:
            arch, _, untied = name.partition("-")
            sources[name] = make_tiny_model(root / f"tiny-{name}", arch=arch, seed=1, tied=not untied)
            _sharpen(sources[name])
        convert_model(sources[name], models_dir / f"tiny-{name}-{quant}", quant, model_id=f"tiny-{name}-{quant}")
    return models_dir, sources


@pytest.fixture(scope="module")
def session(bundles, chromium):
    from evalharness.browser_session import BrowserSession

    with BrowserSession(bundles[0], browser=chromium) as s:
        yield s


def torch_greedy(model_dir, quantization: str, prompt_ids: list[int], steps: int):
    """Greedy decoding in torch on the weights the bundle holds (q4 round trip): per-step logits and tokens."""
    import torch
    from transformers import AutoModelForCausalLM

    from webslm.q4 import get_quantization
    from webslm.checkpoint import dequantized_state, load_hf_state

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    state = dequantized_state(load_hf_state(model_dir), get_quantization(quantization))
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert not unexpected
    ids = torch.tensor([prompt_ids])
    logits_per_step, tokens = [], []
    past = None
    with torch.no_grad():
        for _ in range(steps):
            out = model(input_ids=ids, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1].numpy()
            token = int(logits.argmax())
            logits_per_step.append(logits)
            tokens.append(token)
            ids = torch.tensor([[token]])
    return logits_per_step, tokens


@pytest.mark.parametrize("arch, quant", CASES)
def test_browser_logits_and_greedy_tokens_match_torch(session, bundles, arch, quant):
    from transformers import AutoTokenizer

    from webslm.prompting import encode_prompt

    models_dir, sources = bundles
    model_id = f"tiny-{arch}-{quant}"
    conv = json.loads((models_dir / model_id / "mlc-chat-config.json").read_text())["conv_template"]
    tokenizer = AutoTokenizer.from_pretrained(sources[arch])
    prompt_ids = encode_prompt(tokenizer, conv, None, MESSAGES)
    steps = DECODE_STEPS + 1  # the prefill's logits, then 16 decode steps

    session.load(model_id, capture_logits=True)
    reply = session.chat(MESSAGES, capture_logits=True, temperature=0, max_tokens=steps, ignore_eos=True)
    assert reply["usage"]["prompt_tokens"] == len(prompt_ids)
    browser_logits = reply["logits"]
    assert len(browser_logits) == steps

    torch_logits, torch_tokens = torch_greedy(sources[arch], quant, prompt_ids, steps)
    browser_tokens = [int(step.argmax()) for step in browser_logits]
    for i, (ours, ref) in enumerate(zip(browser_logits, torch_logits)):
        err = float(np.abs(ours - ref).max())
        assert err < LOGIT_TOLERANCE, f"step {i}: max |logit error| {err:.2e} (tokens so far {browser_tokens[:i]})"
    assert browser_tokens == torch_tokens
    assert reply["text"] == tokenizer.decode(torch_tokens, skip_special_tokens=True)
