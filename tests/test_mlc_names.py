"""Our model libraries declare MLC's own parameter names and shapes, per family, so MLC's prebuilt WebGPU libraries
and ours read the same tensor-cache.json (web-llm loads parameters by name). The recorded lists
(tests/data/mlc_param_names.json) are what MLC's q4f32_1 libraries declare in `_metadata` for one real model per
family: TinyLlama-1.1B (Llama) and Qwen2-0.5B-Instruct (Qwen2, whose fused attention MLC calls `c_attn`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORDED = json.loads((Path(__file__).parent / "data" / "mlc_param_names.json").read_text())


def _our_params(family: str, config: dict) -> dict[str, tuple[list[int], str]]:
    """The parameters our library for this family and config declares: name -> (shape, dtype)."""
    from convert.models.config import DecoderConfig
    from convert.models.decoder import CausalLM
    from webslm.q4 import get_quantization

    cfg = DecoderConfig(model_type=family, rms_norm_eps=1e-6, rope_theta=10000.0, context_window_size=4096,
                        prefill_chunk_size=1024, **config)
    model = CausalLM(cfg, get_quantization(RECORDED["quantization"]))
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

