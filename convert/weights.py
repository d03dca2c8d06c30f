"""Hugging Face checkpoint -> MLC-named parameters (fused, q4-quantized) in the order the model library takes."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from convert.compile import ParamSpec
from convert.quantize import BASE_WEIGHTS, Quantization, dequantize_q4, get_quantization, quantize_q4
from webslm.errors import WebslmError

# our fused layer name -> the Hugging Face layers concatenated along the output axis
FUSED = {
    "qkv_proj": ("q_proj", "k_proj", "v_proj"),
    "gate_up_proj": ("gate_proj", "up_proj"),
}


def load_hf_state(model_dir: Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors checkpoint (sharded or not) as float32 numpy arrays."""
    model_dir = Path(model_dir)
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise WebslmError(f"{model_dir}: no *.safetensors weights (save the model with safe_serialization=True)")
    state = {}
    for f in files:
        state.update(read_safetensors(f))
    return state


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of one .safetensors file as float32 numpy (read through torch: numpy has no bfloat16)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except SafetensorError as e:
        raise WebslmError(f"{path}: not a readable safetensors file ({e}); is it complete? Save or download it "
                          "again") from None
    return {name: tensor.to(torch.float32).numpy() for name, tensor in tensors.items()}


def _source_names(layer: str, kind: str) -> list[str]:
    """'model.layers.0.self_attn.qkv_proj', 'weight' -> the HF tensor names it is made of."""
    parent, _, leaf = layer.rpartition(".")
    parts = FUSED.get(leaf, (leaf,))
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


def checkpoint_fingerprint(model_dir: Path) -> str:
    """sha256 over the checkpoint's weight files: an adapter is only valid for the exact base it was trained on."""
    from webslm.digest import sha256_files

    return sha256_files(sorted(Path(model_dir).glob("*.safetensors")))


def dequantized_state(state: dict[str, np.ndarray], quant: Quantization) -> dict[str, np.ndarray]:
    """The HF checkpoint with every weight the library quantizes replaced by its q4 round trip.

    A torch model loaded with these weights computes what the browser computes: the parity reference.
    """
    if not quant.quantized:
        return dict(state)
    out = {}
    for name, array in state.items():
        if array.ndim == 2 and name.endswith(".weight") and "norm" not in name:
            out[name] = dequantize_q4(*quantize_q4(array, quant.scale_dtype))
        else:
            out[name] = array
    return out


def use_quantized_base(model, model_dir: Path, base_weights: str) -> None:
    """Give a plain Hugging Face model (before PEFT wraps it) the q4 round trip of its weights.

    The browser runs the q4 base, so an adapter trained or evaluated on these weights is trained or evaluated on
    exactly what the browser computes with (the adapter fits the quantization error instead of ignoring it).
    'float' leaves the model as it is.
    """
    if base_weights == "float":
        return
    try:
        quant = get_quantization(base_weights)
    except ValueError:
        raise WebslmError(f"base weights {base_weights!r}: expected one of {', '.join(BASE_WEIGHTS)}") from None
    if not quant.quantized:
        return
    import torch

    if any(type(m).__name__.startswith("Lora") for m in model.modules()):
        raise WebslmError("use_quantized_base: call it before PEFT wraps the model (its keys change)")
    state = dequantized_state(load_hf_state(model_dir), quant)
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise WebslmError(f"{model_dir}: checkpoint tensors the model does not have, e.g. {unknown[:3]}")
    with torch.no_grad():
        for name, array in state.items():
            own[name].copy_(torch.from_numpy(array))
