"""convert-adapter: PEFT LoRA -> adapter bundle for a base bundle with a runtime LoRA branch; bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convert.tensor_cache import read_tensor_cache
from tests.tiny_models import make_tiny_model
from webslm.errors import WebslmError

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_peft(base_dir, out_dir, rank=4, targets=TARGETS, **extra):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets,
                                            init_lora_weights=False, **extra))
    peft.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from convert.bundle import convert_model

    root = tmp_path_factory.mktemp("adapter")
    src = make_tiny_model(root / "tiny", arch="qwen2")
    return src, convert_model(src, root / "base", "q4f32_1", model_id="tiny-base", lora_rank=8), root


def test_adapter_bundle_holds_fused_scaled_zero_padded_lora(base, tmp_path):
    from safetensors.numpy import load_file

    from convert.adapter import convert_adapter

    src, bundle, _ = base
    peft_dir = make_peft(src, tmp_path / "peft", rank=4)
    out = convert_adapter(peft_dir, bundle, tmp_path / "adapter", "cesium-test")
    manifest = json.loads((out / "webslm-adapter.json").read_text())
    assert manifest["base_model_id"] == "tiny-base" and manifest["rank"] == 4 and manifest["compiled_rank"] == 8
    assert not list(out.glob("params_shard_*")), "no base weights are copied"
    tensors = read_tensor_cache(out)
    peft = {k.removeprefix("base_model.model.").removesuffix(".weight"): v
            for k, v in load_file(str(peft_dir / "adapter_model.safetensors")).items()}
    a = tensors["model.layers.0.self_attn.c_attn.lora_A"]
    b = tensors["model.layers.0.self_attn.c_attn.lora_B"]
    assert a.shape[0] == 3 * 8 and b.shape[1] == 3 * 8
    # the fused product equals the concatenation of each part's scaled B @ A
    scale = 2.0
    expected = np.concatenate([scale * peft[f"model.layers.0.self_attn.{p}_proj.lora_B"]
                               @ peft[f"model.layers.0.self_attn.{p}_proj.lora_A"] for p in "qkv"])
    np.testing.assert_allclose(b @ a, expected, rtol=1e-5, atol=1e-6)
    assert np.all(a[4:8] == 0), "rank 4 is zero-padded to the compiled rank 8"
    index = {p["name"]: p["index"] for p in json.loads((bundle / "webslm-bundle.json").read_text())["lora"]["params"]}
    assert {p["name"]: p["index"] for p in manifest["params"]} == index


def test_rank_above_the_compiled_rank_is_refused(base, tmp_path):
    from convert.adapter import convert_adapter

    src, bundle, _ = base
    with pytest.raises(WebslmError, match="adapter rank 16 exceeds the base bundle's LoRA rank 8"):
        convert_adapter(make_peft(src, tmp_path / "peft", rank=16), bundle, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_adapter_of_another_base_is_refused(base, tmp_path):
    from convert.adapter import convert_adapter

    src, bundle, root = base
    other = make_tiny_model(tmp_path / "other", arch="qwen2", seed=5)
    with pytest.raises(WebslmError, match="an adapter only fits its own base"):
        convert_adapter(make_peft(other, tmp_path / "peft"), bundle, tmp_path / "out")


def test_unsupported_targets_and_partial_fusion_are_refused(base, tmp_path):
    from convert.adapter import convert_adapter

    src, bundle, _ = base
    with pytest.raises(WebslmError, match="target_modules \\['lm_head'\\] have no runtime LoRA slot"):
        convert_adapter(make_peft(src, tmp_path / "p1", targets=["q_proj", "lm_head"]), bundle, tmp_path / "o1")
    with pytest.raises(WebslmError, match="targets .* but not all of"):
        convert_adapter(make_peft(src, tmp_path / "p2", targets=["q_proj", "v_proj"]), bundle, tmp_path / "o2")


def test_base_without_lora_branch_is_refused(tmp_path, base):
    from convert.adapter import convert_adapter
    from convert.bundle import convert_model

    src, _, _ = base
    plain = convert_model(src, tmp_path / "plain", "q0f32", model_id="plain")
    with pytest.raises(WebslmError, match="has no runtime LoRA branch"):
        convert_adapter(make_peft(src, tmp_path / "peft"), plain, tmp_path / "out")


def test_not_a_peft_directory(base, tmp_path):
    from convert.adapter import convert_adapter

    _, bundle, _ = base
    with pytest.raises(WebslmError, match="not a PEFT adapter directory"):
        convert_adapter(tmp_path, bundle, tmp_path / "out")
