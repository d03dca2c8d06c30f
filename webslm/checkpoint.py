"""Hugging Face checkpoints as training, evaluation and the compiler read them: safetensors to numpy, the fingerprint
that ties an adapter to its base, and the q4 round trip of a base's weights (what the browser computes with). No TVM
here: training and `eval --backend torch` import this, the compiler builds on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from webslm.base_model import resolve_model
from webslm.digest import sha256_files
from webslm.errors import WebslmError
from webslm.q4 import BASE_WEIGHTS, Quantization, dequantize_q4, get_quantization, quantize_q4


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



def checkpoint_fingerprint(model_dir: Path) -> str:
    """sha256 over the checkpoint's weight files: an adapter is only valid for the exact base it was trained on."""
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



def load_with_adapter(model: str | Path, adapter: Path | None = None, dtype=None, base_weights: str = "float"):
    """(model, tokenizer) for a base model directory plus an optional PEFT adapter (not merged).
    base_weights 'q4f32_1'/'q4f16_1': the base computes with the q4 round trip of its weights (what the browser runs)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(adapter if adapter and (Path(adapter) / "tokenizer_config.json").is_file()
                                              else path)
    base = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    use_quantized_base(base, Path(path), base_weights)
    if adapter is None:
        return base, tokenizer
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise WebslmError(f"{adapter}: not a PEFT adapter directory (no adapter_config.json)")
    return PeftModel.from_pretrained(base, str(adapter)), tokenizer
