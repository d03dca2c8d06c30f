"""Our model libraries declare MLC's own parameter names and shapes, per family, so MLC's prebuilt WebGPU libraries
and ours read the same tensor-cache.json (web-llm loads parameters by name). The recorded lists
(tests/data/mlc_param_names.json) are what MLC's q4f32_1 libraries declare in `_metadata` for one real model per
family: TinyLlama-1.1B (Llama) and Qwen2-0.5B-Instruct (Qwen2, whose fused attention MLC calls `c_attn`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORDED = json.loads((Path(__file__).parent / "data" / "mlc_param_names.json").read_text())


def _our_params(family: str, config: dict, quantization: str = RECORDED["quantization"]
                ) -> dict[str, tuple[list[int], str]]:
    """The parameters our library for this family and config declares: name -> (shape, dtype)."""
    from convert.models.config import DecoderConfig
    from convert.models.decoder import CausalLM
    from webslm.q4 import get_quantization

    cfg = DecoderConfig(model_type=family, rms_norm_eps=1e-6, rope_theta=10000.0, context_window_size=4096,
                        prefill_chunk_size=1024, **config)
    model = CausalLM(cfg, get_quantization(quantization))
    return {name: ([int(d) for d in p.shape], p.dtype) for name, p in model.named_parameters()}


@pytest.mark.parametrize("family", sorted(RECORDED["families"]))
def test_names_shapes_and_dtypes_are_mlcs(family):
    recorded = RECORDED["families"][family]
    theirs = {name: (shape, dtype) for name, shape, dtype in recorded["params"]}
    ours = _our_params(family, recorded["config"])
    assert sorted(set(ours) - set(theirs)) == [], f"names {recorded['library']} does not declare"
    assert sorted(set(theirs) - set(ours)) == [], f"names {recorded['library']} declares and we do not"
    different = {name: (ours[name], theirs[name]) for name in ours if ours[name] != theirs[name]}
    assert different == {}, "(ours, MLC's) shape and dtype differ"
    assert len(ours) == len(recorded["params"])  # no name recorded twice



# Qwen3-0.6B's config.json (Qwen/Qwen3-0.6B, the small Qwen web-llm ships): heads 128 wide on a hidden size of 1024
QWEN3_0_6B = {"vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
              "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "qkv_bias": False,
              "tie_word_embeddings": True, "qk_norm": True}


@pytest.mark.parametrize("quantization", ["q4f16_1", "q4f32_1"])
@pytest.mark.parametrize("model", ["qwen2", "qwen3"])
def test_every_parameter_of_the_small_qwens_fits_lavapipes_storage_buffers(model, quantization):
    """With Qwen's 151,936-token vocabulary the embedding is the largest tensor: q4 keeps it under lavapipe's 128 MiB
    binding limit (q0f32 would not: 594 MiB for Qwen3-0.6B)."""
    from convert.bundle import STORAGE_BUFFER_LIMIT, largest_tensor
    from convert.compile import ParamSpec

    config = RECORDED["families"]["qwen2"]["config"] if model == "qwen2" else QWEN3_0_6B

    def largest(quant: str) -> tuple[str, int]:
        return largest_tensor([ParamSpec(name, tuple(shape), dtype)
                               for name, (shape, dtype) in _our_params(model, config, quant).items()])

    name, size = largest(quantization)
    assert name == "model.embed_tokens.q_weight" and size < STORAGE_BUFFER_LIMIT, (name, size)
    assert largest("q0f32")[1] > STORAGE_BUFFER_LIMIT  # what convert's note warns about
