"""Merge a LoRA adapter into its base model and save an ordinary Hugging Face checkpoint (safetensors, tokenizer,
chat template) that `webslm convert` takes like any other model."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import time
from pathlib import Path

from webslm import atomic
from webslm.errors import WebslmError

MERGE_MANIFEST = "webslm-merge.json"


def load_with_adapter(model: str | Path, adapter: Path | None = None, dtype=None, base_weights: str = "float"):
    """(model, tokenizer) for a base model directory plus an optional PEFT adapter (not merged).
    base_weights 'q4f32_1'/'q4f16_1': the base computes with the q4 round trip of its weights (what the browser runs)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from convert.weights import use_quantized_base
    from webslm.base_model import resolve_model

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


def merge_adapter(adapter: Path, out: Path, model: str | None = None, base_weights: str | None = None,
                  force: bool = False) -> Path:
    """base_weights: the base the adapter is merged into; default the one it was trained against."""
    from train.lora import adapter_base_model, adapter_base_weights, read_run_manifest

    started = time.time()
    adapter = Path(adapter)
    base = model or adapter_base_model(adapter)
    inputs = [adapter] + ([Path(base)] if Path(base).exists() else [])
    atomic.check_output(out, MERGE_MANIFEST, inputs=inputs, force=force, what="merged model")
    base_weights = base_weights or adapter_base_weights(adapter)
    peft_model, tokenizer = load_with_adapter(base, adapter, base_weights=base_weights)
    merged = peft_model.merge_and_unload()
    with atomic.atomic_dir(Path(out), MERGE_MANIFEST, inputs=inputs, force=force, what="merged model") as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic.write_json(tmp / MERGE_MANIFEST, {
            "format": "webslm-merge/1",
            "base_model": str(base),
            "adapter": str(adapter.resolve()),
            "base_weights": base_weights,
            "adapter_config": json.loads((adapter / "adapter_config.json").read_text()),
            "run": read_run_manifest(adapter),
            "seconds": round(time.time() - started, 1),
        })
    return Path(out)
