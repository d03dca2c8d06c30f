"""The training run artefact every later stage reads (`webslm train --out DIR`): a PEFT adapter folder plus
webslm-run.json, the run manifest (base model, base weights, data, domain, config); and the torch device choice
training and evaluation share."""

from __future__ import annotations

from pathlib import Path

from webslm.errors import WebslmError
from webslm.strict_json import read_json_object

RUN_MANIFEST = "webslm-run.json"


def pick_device(name: str = "auto") -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise WebslmError("--device cuda: no CUDA GPU is visible to torch")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise WebslmError("--device mps: Apple MPS is not available")
    if name not in ("cpu", "cuda", "mps"):
        raise WebslmError(f"--device must be auto, cpu, cuda or mps, got {name!r}")
    return name



def read_run_manifest(adapter_dir: Path) -> dict:
    path = Path(adapter_dir) / RUN_MANIFEST
    return read_json_object(path) if path.is_file() else {}



def adapter_base_weights(adapter_dir: Path | None) -> str:
    """The base weights an adapter was trained against ('float' for runs from before the choice existed)."""
    return read_run_manifest(adapter_dir).get("base_weights", "float") if adapter_dir else "float"



def adapter_base_model(adapter_dir: Path) -> str:
    """The base model an adapter was trained on: from webslm-run.json, else from PEFT's adapter_config.json."""
    adapter_dir = Path(adapter_dir)
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.is_file():
        raise WebslmError(f"{adapter_dir}: not a PEFT adapter directory (no adapter_config.json)")
    manifest = read_run_manifest(adapter_dir)
    base = manifest.get("base_model_path") or read_json_object(config_path).get("base_model_name_or_path")
    if not base:
        raise WebslmError(f"{adapter_dir}: the adapter does not name its base model; pass --model")
    return base
