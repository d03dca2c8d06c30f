"""Read a Hugging Face config.json into the numbers our decoder needs, for the architectures we support."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from webslm.errors import WebslmError

# model_type in config.json -> does q/k/v projection carry a bias by default
SUPPORTED_ARCHITECTURES = {"llama": False, "qwen2": True}


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

    def to_dict(self) -> dict:
        return asdict(self)


def read_decoder_config(model_dir: Path, context_window_size: int | None = None,
                        prefill_chunk_size: int | None = None) -> DecoderConfig:
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise WebslmError(f"{model_dir}: no config.json; pass a Hugging Face model directory")
    cfg = json.loads(path.read_text())
    model_type = cfg.get("model_type")
    if model_type not in SUPPORTED_ARCHITECTURES:
        raise WebslmError(
            f"{path}: model_type {model_type!r} is not supported; supported architectures: "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}")
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", None):
        raise WebslmError(f"{path}: rope_scaling type {rope_type!r} is not supported (only plain RoPE)")
    # transformers 5 writes rope_parameters.rope_theta instead of rope_theta: read both, or the base silently
    # falls back to 10000 and the output drifts.
    rope_theta = cfg.get("rope_theta") or rope.get("rope_theta")
    if rope_theta is None:
        raise WebslmError(f"{path}: no rope_theta (nor rope_parameters.rope_theta)")
    heads = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    window = min(context_window_size or 2048, cfg.get("max_position_embeddings", 2048))
    chunk = min(prefill_chunk_size or 512, window)
    return DecoderConfig(
        model_type=model_type,
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=cfg["num_hidden_layers"],
        num_attention_heads=heads,
        num_key_value_heads=cfg.get("num_key_value_heads", heads),
        head_dim=head_dim,
        rms_norm_eps=cfg.get("rms_norm_eps", 1e-6),
        rope_theta=float(rope_theta),
        qkv_bias=cfg.get("attention_bias", SUPPORTED_ARCHITECTURES[model_type]),
        tie_word_embeddings=cfg.get("tie_word_embeddings", False),
        context_window_size=window,
        prefill_chunk_size=chunk,
    )
