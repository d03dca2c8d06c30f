"""Merge a LoRA adapter into its base model and save an ordinary Hugging Face checkpoint (safetensors, tokenizer,
chat template) that `webslm convert` takes like any other model."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import time
from pathlib import Path

from webslm import atomic
from webslm.checkpoint import load_with_adapter
from webslm.runs import adapter_base_model, adapter_base_weights, read_run_manifest
from webslm.strict_json import read_json_object

MERGE_MANIFEST = "webslm-merge.json"


def merge_adapter(adapter: Path, out: Path, model: str | None = None, base_weights: str | None = None,
                  force: bool = False) -> Path:
    """base_weights: the base the adapter is merged into; default the one it was trained against."""
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
            "adapter_config": read_json_object(adapter / "adapter_config.json"),
            "run": read_run_manifest(adapter),
            "seconds": round(time.time() - started, 1),
        })
    return Path(out)
