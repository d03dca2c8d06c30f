"""Hugging Face checkpoint -> MLC-named parameters (fused, q4-quantized) in the order the model library takes."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from convert.compile import ParamSpec
from convert.models.config import FUSED_PROJECTIONS
from webslm.q4 import Quantization, quantize_q4
from webslm.errors import WebslmError



def _source_names(layer: str, kind: str) -> list[str]:
    """'model.layers.0.self_attn.qkv_proj', 'weight' -> the HF tensor names it is made of."""
    parent, _, leaf = layer.rpartition(".")
    parts = FUSED_PROJECTIONS.get(leaf, (leaf,))
    return [f"{parent}.{p}.{kind}" if parent else f"{p}.{kind}" for p in parts]


def _gather(state: dict[str, np.ndarray], layer: str, kind: str, tied_embedding: bool) -> np.ndarray:
    names = _source_names(layer, kind)
    if layer == "lm_head" and "lm_head.weight" not in state and tied_embedding:
        names = ["model.embed_tokens.weight"]
    missing = [n for n in names if n not in state]
    if missing:
        raise WebslmError(f"checkpoint lacks {', '.join(missing)} (needed for {layer}.{kind})")
    return np.concatenate([state[n] for n in names], axis=0)


def mlc_params(state: dict[str, np.ndarray], params: list[ParamSpec], quant: Quantization,
               tied_embedding: bool) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (name, array) for every parameter of the model library, in its order, with its dtype and shape."""
    quantized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for spec in params:
        layer, _, kind = spec.name.rpartition(".")
        if kind in ("lora_A", "lora_B"):
            array = np.zeros(spec.shape, spec.dtype)  # the base bundle carries an all-zero adapter
        elif kind in ("q_weight", "q_scale"):
            if layer not in quantized:
                quantized[layer] = quantize_q4(_gather(state, layer, "weight", tied_embedding), quant.scale_dtype)
            array = quantized[layer][0 if kind == "q_weight" else 1]
            if kind == "q_scale":
                quantized.pop(layer)  # q_scale comes after q_weight: free the memory
        else:
            array = _gather(state, layer, kind, tied_embedding).astype(spec.dtype)
        if tuple(array.shape) != spec.shape or str(array.dtype) != spec.dtype:
            raise WebslmError(f"{spec.name}: converted to {array.dtype}{list(array.shape)}, "
                              f"the model library expects {spec.dtype}{list(spec.shape)} (config.json mismatch?)")
        yield spec.name, array


