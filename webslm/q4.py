"""MLC group quantization: q4f16_1 / q4f32_1 (and q0f32, no quantization).

Layout (what the compiled kernels and web-llm's weight loader expect):
- groups of 32 consecutive elements along the input (last) dimension share one scale;
- scale = max|w| / 7 per group, q = clamp(round(w / scale + 7), 0, 14), so w ~= (q - 7) * scale;
- eight 4-bit values are packed into one uint32, element k of a word in bits 4*(k % 8) .. 4*(k % 8) + 3
  (low nibble first);
- a Linear/Embedding weight [out, in] becomes `q_weight` uint32 [out, in / 8] and `q_scale` [out, in / 32]
  in float16 (q4f16_1) or float32 (q4f32_1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUP_SIZE = 32
PACK = 8  # 4-bit values per uint32
MAX_Q = 14
ZERO = 7


@dataclass(frozen=True)
class Quantization:
    name: str
    bits: int  # 4 or 0 (none)
    model_dtype: str  # activations, norms, biases
    scale_dtype: str | None

    @property
    def quantized(self) -> bool:
        return self.bits == 4

    @property
    def required_features(self) -> list[str]:
        uses_f16 = self.model_dtype == "float16" or self.scale_dtype == "float16"
        return ["shader-f16"] if uses_f16 else []


QUANTIZATIONS = {
    "q4f16_1": Quantization("q4f16_1", 4, "float16", "float16"),
    "q4f32_1": Quantization("q4f32_1", 4, "float32", "float32"),
    "q0f32": Quantization("q0f32", 0, "float32", None),
}
# What a torch model may compute with when it stands in for the browser: the float weights or a q4 round trip.
BASE_WEIGHTS = ("float", "q4f32_1", "q4f16_1")


def get_quantization(name: str) -> Quantization:
    try:
        return QUANTIZATIONS[name]
    except KeyError:
        raise ValueError(f"unknown quantization {name!r}; choose one of {', '.join(QUANTIZATIONS)}") from None


def quantize_q4(weight: np.ndarray, scale_dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """[out, in] float weight -> (q_weight uint32 [out, in/8], q_scale [out, in/32])."""
    weight = np.asarray(weight, dtype=np.float32)
    if weight.ndim != 2:
        raise ValueError(f"q4 quantization needs a 2-D weight, got shape {weight.shape}")
    out_features, in_features = weight.shape
    if in_features % GROUP_SIZE:
        raise ValueError(
            f"input dimension {in_features} of a weight {weight.shape} is not divisible by the group size "
            f"{GROUP_SIZE}; this model cannot use q4 quantization (use --quantization q0f32)")
    groups = weight.reshape(out_features, in_features // GROUP_SIZE, GROUP_SIZE)
    scale = np.abs(groups).max(axis=-1) / ZERO
    # Round the scale to its storage type first, so quantization and the kernels use the very same scale.
    scale = scale.astype(scale_dtype)
    safe = np.where(scale == 0, 1, scale).astype(np.float32)
    q = np.clip(np.round(groups / safe[..., None] + ZERO), 0, MAX_Q).astype(np.uint32)
    q = q.reshape(out_features, in_features // PACK, PACK)
    shifts = (np.arange(PACK, dtype=np.uint32) * 4)[None, None, :]
    packed = np.bitwise_or.reduce(q << shifts, axis=-1).astype(np.uint32)
    return packed, scale


def dequantize_q4(q_weight: np.ndarray, q_scale: np.ndarray) -> np.ndarray:
    """Inverse of quantize_q4 (up to rounding): float32 [out, in]."""
    out_features, words = q_weight.shape
    shifts = (np.arange(PACK, dtype=np.uint32) * 4)[None, None, :]
    q = (q_weight[..., None] >> shifts) & 0xF
    q = q.reshape(out_features, words * PACK).astype(np.float32)
    scale = np.repeat(q_scale.astype(np.float32), GROUP_SIZE, axis=1)
    return (q - ZERO) * scale
