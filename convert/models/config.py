"""Read a Hugging Face config.json into the numbers our decoder needs, for the architectures we support."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from webslm.errors import WebslmError
from webslm.strict_json import read_json_object

# model_type in config.json -> does q/k/v projection carry a bias by default
SUPPORTED_ARCHITECTURES = {"llama": False, "qwen2": True, "qwen3": False}
# families that RMS-normalize each head of q and k before RoPE (Qwen3's q_norm / k_norm)
QK_NORM_ARCHITECTURES = {"qwen3"}
# model_type -> MLC's name for the fused q/k/v projection, as MLC's own libraries for the family declare it in
# `_metadata`. web-llm loads parameters by name, so with MLC's names an MLC prebuilt library and ours read the same
# tensor-cache.json (tests/test_mlc_names.py checks every name and shape against a recorded list).
FUSED_QKV_NAMES = {"llama": "qkv_proj", "qwen2": "c_attn", "qwen3": "c_attn"}
# our fused layer name -> the Hugging Face layers concatenated along its output axis, in order
FUSED_PROJECTIONS = {
    **{name: ("q_proj", "k_proj", "v_proj") for name in FUSED_QKV_NAMES.values()},
    "gate_up_proj": ("gate_proj", "up_proj"),
}


@dataclass(frozen=True)
class DecoderConfig:
    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    qkv_bias: bool
    tie_word_embeddings: bool
    context_window_size: int
    prefill_chunk_size: int
    qk_norm: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def qkv_name(self) -> str:
        return FUSED_QKV_NAMES[self.model_type]


def read_decoder_config(model_dir: Path, context_window_size: int | None = None,
                        prefill_chunk_size: int | None = None) -> DecoderConfig:
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise WebslmError(f"{model_dir}: no config.json; pass a Hugging Face model directory")
    cfg = read_json_object(path)
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or model_type not in SUPPORTED_ARCHITECTURES:
        raise WebslmError(
            f"{path}: model_type {model_type!r} is not supported; supported architectures: "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}")
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    if not isinstance(rope, dict):
        raise WebslmError(f"{path} [rope_scaling]: must be an object, got {rope!r}")
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", None):
        raise WebslmError(f"{path}: rope_scaling type {rope_type!r} is not supported (only plain RoPE)")
    # transformers 5 writes rope_parameters.rope_theta instead of rope_theta: read both, or the base silently
    # falls back to 10000 and the output drifts.
    rope_theta = cfg.get("rope_theta") or rope.get("rope_theta")
    if rope_theta is None:
        raise WebslmError(f"{path}: no rope_theta (nor rope_parameters.rope_theta)")
    if isinstance(rope_theta, bool) or not isinstance(rope_theta, (int, float)) or rope_theta <= 0:
        raise WebslmError(f"{path} [rope_theta]: must be a positive number, got {rope_theta!r}")

    def size(key: str, default: int | None = None) -> int:
        """A positive integer of the config; `default` None means a config.json of this architecture must have it."""
        value = cfg.get(key, default)
        if value is None:
            raise WebslmError(f"{path}: no {key!r}; a {model_type} config.json has it (is the file complete?)")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise WebslmError(f"{path} [{key}]: must be a positive integer, got {value!r}")
        return value

    qkv_bias = cfg.get("attention_bias", SUPPORTED_ARCHITECTURES[model_type])
    if qkv_bias and model_type in ("llama", "qwen3"):
        # attention_bias there also puts a bias on o_proj, which our decoder does not have
        raise WebslmError(f"{path} [attention_bias]: true is not supported for {model_type} (only q/k/v biases, "
                          "as in Qwen2)")
    heads = size("num_attention_heads")
    hidden = size("hidden_size")
    window = min(context_window_size or 2048, size("max_position_embeddings", 2048))
    chunk = min(prefill_chunk_size or 512, window)
    return DecoderConfig(
        model_type=model_type,
        vocab_size=size("vocab_size"),
        hidden_size=hidden,
        intermediate_size=size("intermediate_size"),
        num_hidden_layers=size("num_hidden_layers"),
        num_attention_heads=heads,
        num_key_value_heads=size("num_key_value_heads", heads),
        head_dim=size("head_dim") if cfg.get("head_dim") else hidden // heads,
        rms_norm_eps=cfg.get("rms_norm_eps", 1e-6),
        rope_theta=float(rope_theta),
        qkv_bias=qkv_bias,
        tie_word_embeddings=cfg.get("tie_word_embeddings", False),
        context_window_size=window,
        prefill_chunk_size=chunk,
        qk_norm=model_type in QK_NORM_ARCHITECTURES,
    )
