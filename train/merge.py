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


def load_with_adapter(model: str | Path, adapter: Path | None = None, dtype=None):
    """(model, tokenizer) for a base model directory plus an optional PEFT adapter (not merged)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from webslm.base_model import resolve_model

    path = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(adapter if adapter and (Path(adapter) / "tokenizer_config.json").is_file()
                                              else path)
    base = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    if adapter is None:
        return base, tokenizer
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise WebslmError(f"{adapter}: not a PEFT adapter directory (no adapter_config.json)")
    return PeftModel.from_pretrained(base, str(adapter)), tokenizer


def merge_adapter(adapter: Path, out: Path, model: str | None = None) -> Path:
    from train.lora import adapter_base_model, read_run_manifest

    started = time.time()
    adapter = Path(adapter)
    base = model or adapter_base_model(adapter)
    peft_model, tokenizer = load_with_adapter(base, adapter)
    merged = peft_model.merge_and_unload()
    with atomic.atomic_dir(Path(out)) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic.write_json(tmp / MERGE_MANIFEST, {
            "format": "webslm-merge/1",
            "base_model": str(base),
            "adapter": str(adapter.resolve()),
            "adapter_config": json.loads((adapter / "adapter_config.json").read_text()),
            "run": read_run_manifest(adapter),
            "seconds": round(time.time() - started, 1),
        })
    return Path(out)
