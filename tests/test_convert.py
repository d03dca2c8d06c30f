"""The compiler's pieces that need no browser: q4 layout, tensor cache, config reading, bad inputs, a full
tiny conversion (IR -> kernels -> linked .wasm -> bundle)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from webslm.q4 import GROUP_SIZE, dequantize_q4, get_quantization, quantize_q4
from convert.tensor_cache import read_tensor_cache, write_tensor_cache
from webslm.errors import WebslmError


def test_q4_round_trip_error_is_within_half_a_step_per_group():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(48, 128)).astype(np.float32) * rng.uniform(0.01, 3, size=(48, 1)).astype(np.float32)
    q_weight, q_scale = quantize_q4(w, "float32")
    assert q_weight.dtype == np.uint32 and q_weight.shape == (48, 128 // 8)
    assert q_scale.dtype == np.float32 and q_scale.shape == (48, 128 // GROUP_SIZE)
    err = np.abs(dequantize_q4(q_weight, q_scale) - w).reshape(48, -1, GROUP_SIZE)
    assert np.all(err <= q_scale[..., None] / 2 + 1e-6)


def test_q4_packing_is_low_nibble_first_with_zero_point_7():
    # one group: scale = max|w| / 7 = 1, so q = w + 7
    w = np.zeros((1, 32), np.float32)
    w[0, :8] = [-7, -6, -5, -4, 0, 5, 6, 7]
    q_weight, q_scale = quantize_q4(w, "float32")
    assert q_scale[0, 0] == 1.0
    expected = sum(q << (4 * k) for k, q in enumerate([0, 1, 2, 3, 7, 12, 13, 14]))
    assert int(q_weight[0, 0]) == expected
    assert int(q_weight[0, 1]) == 0x77777777  # zeros are q = 7


def test_q4f16_scales_are_half_precision_and_used_as_stored():
    w = np.random.default_rng(1).normal(size=(4, 64)).astype(np.float32)
    q_weight, q_scale = quantize_q4(w, "float16")
    assert q_scale.dtype == np.float16
    deq = dequantize_q4(q_weight, q_scale)
    assert np.abs(deq - w).max() <= float(np.abs(w).max()) / 7


def test_all_zero_group_quantizes_to_zero():
    q_weight, q_scale = quantize_q4(np.zeros((2, 32), np.float32))
    assert np.all(dequantize_q4(q_weight, q_scale) == 0)


def test_quantize_rejects_input_dim_not_divisible_by_group():
    with pytest.raises(ValueError, match="not divisible by the group size 32"):
        quantize_q4(np.ones((4, 40), np.float32))


def test_unknown_quantization_names_the_choices():
    with pytest.raises(ValueError, match="q4f16_1, q4f32_1, q0f32"):
        get_quantization("q3f16")


def test_tensor_cache_round_trip_with_shards_and_md5(tmp_path):
    rng = np.random.default_rng(2)
    tensors = [("a.q_weight", rng.integers(0, 2**32, size=(64, 8), dtype=np.uint32)),
               ("a.q_scale", rng.normal(size=(64, 2)).astype(np.float16)),
               ("norm.weight", rng.normal(size=(300,)).astype(np.float32)),
               ("big", rng.normal(size=(1000,)).astype(np.float32))]
    index = write_tensor_cache(tmp_path, tensors, shard_bytes=4096)
    assert len(index["records"]) >= 2  # the 4000-byte tensor does not share a 4 KiB shard
    on_disk = json.loads((tmp_path / "tensor-cache.json").read_text())
    assert on_disk == index
    shard = on_disk["records"][0]
    assert shard["format"] == "raw-shard" and len(shard["md5sum"]) == 32
    back = read_tensor_cache(tmp_path)
    for name, array in tensors:
        assert back[name].dtype == array.dtype and np.array_equal(back[name], array)


def test_tensor_cache_detects_corruption(tmp_path):
    write_tensor_cache(tmp_path, [("x", np.arange(10, dtype=np.float32))])
    shard = tmp_path / "params_shard_0.bin"
    data = bytearray(shard.read_bytes())
    data[0] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="md5 mismatch"):
        read_tensor_cache(tmp_path)


def _config(tmp_path, **overrides):
    cfg = {"model_type": "llama", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
           "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "max_position_embeddings": 512}
    cfg.update(overrides)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_rope_theta_is_read_from_transformers5_rope_parameters(tmp_path):
    from convert.models.config import read_decoder_config

    path = _config(tmp_path, rope_theta=None, rope_parameters={"rope_type": "default", "rope_theta": 100000.0})
    assert read_decoder_config(path).rope_theta == 100000.0


def test_unsupported_architecture_is_named(tmp_path):
    from convert.models.config import read_decoder_config

    with pytest.raises(WebslmError, match="model_type 'gpt2' is not supported; supported architectures: llama, qwen2"):
        read_decoder_config(_config(tmp_path, model_type="gpt2"))


def test_qwen3_reads_qk_norm_and_its_explicit_head_dim_and_refuses_an_o_proj_bias(tmp_path):
    from convert.models.config import read_decoder_config

    cfg = read_decoder_config(_config(tmp_path, model_type="qwen3", head_dim=128, num_attention_heads=16))
    assert cfg.qk_norm and cfg.head_dim == 128 and not cfg.qkv_bias and cfg.qkv_name == "c_attn"
    with pytest.raises(WebslmError, match=r"\[attention_bias\]: true is not supported for qwen3"):
        read_decoder_config(_config(tmp_path, model_type="qwen3", attention_bias=True))


def test_hidden_size_not_divisible_by_group_is_rejected_before_work(tmp_path):
    from convert.bundle import convert_model

    model = _config(tmp_path, hidden_size=48, num_attention_heads=2)
    with pytest.raises(WebslmError, match="hidden_size = 48.* not divisible by the q4 group size 32"):
        convert_model(model, tmp_path / "bundle", "q4f32_1")
    assert not (tmp_path / "bundle").exists()


def test_missing_tokenizer_is_a_clear_error(tmp_path):
    from convert.bundle import convert_model

    with pytest.raises(WebslmError, match="no tokenizer.json"):
        convert_model(_config(tmp_path), tmp_path / "bundle", "q4f32_1")
    assert not (tmp_path / "bundle").exists()


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    from convert.bundle import convert_model
    from tests.tiny_models import make_tiny_model

    root = tmp_path_factory.mktemp("convert")
    src = make_tiny_model(root / "tiny-qwen2", arch="qwen2")
    return src, convert_model(src, root / "bundle", "q4f32_1", model_id="tiny-qwen2-q4f32_1")


def test_bundle_has_everything_web_llm_loads(tiny_bundle):
    from convert.webruntime import check_wasm_interface

    src, bundle = tiny_bundle
    manifest = json.loads((bundle / "webslm-bundle.json").read_text())
    assert manifest["model_id"] == "tiny-qwen2-q4f32_1" and manifest["quantization"] == "q4f32_1"
    assert manifest["required_features"] == []
    for name, info in manifest["files"].items():
        assert (bundle / name).stat().st_size == info["bytes"]
    check_wasm_interface(bundle / manifest["model_lib"])
    chat = json.loads((bundle / "mlc-chat-config.json").read_text())
    assert chat["conv_template"]["stop_str"] == ["<|im_end|>"]
    assert chat["context_window_size"] > 0 and chat["sliding_window_size"] == -1
    assert "tokenizer.json" in chat["tokenizer_files"] and (bundle / "tokenizer.json").is_file()
    assert chat["tokenizer_info"]["token_postproc_method"] == "byte_level"


def test_bundle_weights_are_the_quantized_checkpoint(tiny_bundle):
    from webslm.checkpoint import load_hf_state

    src, bundle = tiny_bundle
    state = load_hf_state(src)
    weights = read_tensor_cache(bundle)
    q, k, v = (state[f"model.layers.1.self_attn.{n}_proj.weight"] for n in "qkv")
    fused = dequantize_q4(weights["model.layers.1.self_attn.c_attn.q_weight"],
                          weights["model.layers.1.self_attn.c_attn.q_scale"])
    np.testing.assert_allclose(fused, dequantize_q4(*quantize_q4(np.concatenate([q, k, v]))), atol=0)
    bias = np.concatenate([state[f"model.layers.1.self_attn.{n}_proj.bias"] for n in "qkv"])
    np.testing.assert_array_equal(weights["model.layers.1.self_attn.c_attn.bias"], bias)
    np.testing.assert_array_equal(weights["model.norm.weight"], state["model.norm.weight"])


def test_a_failed_forced_conversion_leaves_the_previous_bundle_untouched(tiny_bundle, monkeypatch):
    import convert.compile
    from convert.bundle import convert_model

    src, bundle = tiny_bundle
    before = sorted(p.name for p in bundle.iterdir())

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(convert.compile, "compile_executable", disk_full)
    with pytest.raises(OSError, match="No space left"):
        convert_model(src, bundle, "q4f32_1", model_id="tiny-qwen2-q4f32_1", force=True)
    assert sorted(p.name for p in bundle.iterdir()) == before
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".bundle.")]
