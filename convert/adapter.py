"""`webslm convert-adapter`: a standard PEFT LoRA directory -> an adapter bundle for a base bundle compiled with
`--lora-rank`. The adapter bundle holds only the LoRA tensors (tensor-cache.json + a shard) and a manifest naming
its base; the browser overwrites the base library's LoRA parameters with them, so the base weights and the .wasm
are neither copied nor downloaded again."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from convert.models.config import FUSED_PROJECTIONS
from webslm.artifacts import ADAPTER_MANIFEST, check_artifact_id
from webslm.atomic import atomic_dir, check_output, write_json
from webslm.errors import WebslmError
from webslm.runs import read_run_manifest
from webslm.strict_json import read_json_object

ADAPTER_FORMAT = "webslm-adapter/1"
# our projection -> the Hugging Face modules it fuses, in the order of its rank blocks (see decoder.Linear)
LORA_PARTS = {**FUSED_PROJECTIONS, "o_proj": ("o_proj",), "down_proj": ("down_proj",)}
SUPPORTED_TARGETS = {m for parts in LORA_PARTS.values() for m in parts}


def read_peft_adapter(peft_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """adapter_config.json and the LoRA tensors, keyed like 'model.layers.0.self_attn.q_proj.lora_A'."""
    from webslm.checkpoint import read_safetensors

    peft_dir = Path(peft_dir)
    config_path = peft_dir / "adapter_config.json"
    weights_path = peft_dir / "adapter_model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise WebslmError(f"{peft_dir}: not a PEFT adapter directory ({path.name} missing)")
    config = read_json_object(config_path)
    if config.get("peft_type", "LORA") != "LORA":
        raise WebslmError(f"{config_path}: peft_type {config.get('peft_type')!r}; only LoRA adapters are supported")
    if config.get("use_dora"):
        raise WebslmError(f"{config_path}: DoRA adapters are not supported (use_dora: true)")
    if config.get("modules_to_save"):
        raise WebslmError(f"{config_path}: modules_to_save {config['modules_to_save']} would change base weights; "
                          "only LoRA on linear projections can be swapped at runtime")
    targets = config.get("target_modules") or []
    targets = [targets] if isinstance(targets, str) else targets
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise WebslmError(f"{config_path} [target_modules]: must be a module name or a list of them, got "
                          f"{config.get('target_modules')!r}")
    unsupported = sorted(set(targets) - SUPPORTED_TARGETS)
    if unsupported:
        raise WebslmError(f"{config_path}: target_modules {unsupported} have no runtime LoRA slot; supported: "
                          f"{', '.join(sorted(SUPPORTED_TARGETS))}")
    r = config.get("r")
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise WebslmError(f"{config_path} [r]: the LoRA rank must be a positive integer, got {r!r}")
    alpha = config.get("lora_alpha", r)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise WebslmError(f"{config_path} [lora_alpha]: must be a number, got {alpha!r}")
    state = {}
    for key, array in read_safetensors(weights_path).items():
        name = key.removeprefix("base_model.model.").removesuffix(".weight")
        name = name.replace(".lora_A.default", ".lora_A").replace(".lora_B.default", ".lora_B")
        state[name] = array
    return config, state


def lora_scale(config: dict) -> float:
    r, alpha = config["r"], config.get("lora_alpha", config["r"])
    return alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r


def hf_parts(layer: str) -> list[str]:
    """'model.layers.0.self_attn.c_attn' -> the PEFT module names it fuses ('model.layers.0.self_attn.q_proj', ...)."""
    parent, _, ours = layer.rpartition(".")
    return [f"{parent}.{part}" for part in LORA_PARTS[ours]]


def fused_lora(state: dict[str, np.ndarray], layer: str, rank: int, scale: float, shape_a, shape_b, dtype: str):
    """A [parts*R, in] and block-diagonal B [out, parts*R] for our fused layer, zero-padded from rank r to R."""
    parts = hf_parts(layer)
    present = [part for part in parts if f"{part}.lora_A" in state]
    a = np.zeros(shape_a, np.float32)
    b = np.zeros(shape_b, np.float32)
    if present and len(present) != len(parts):
        raise WebslmError(f"{layer}: the adapter targets {present} but not all of {parts}; runtime LoRA fuses "
                          "them, so target all of q/k/v (and gate/up) or none")
    row = 0
    for p, part in enumerate(parts if present else []):
        part_a, part_b = state[f"{part}.lora_A"], state[f"{part}.lora_B"]
        r = part_a.shape[0]
        if r > rank:
            raise WebslmError(f"{part}: adapter rank {r} exceeds the base bundle's LoRA rank {rank}; "
                              f"recompile the base with `webslm convert --lora-rank {r}` or train with r <= {rank}")
        a[p * rank: p * rank + r] = part_a
        b[row: row + part_b.shape[0], p * rank: p * rank + r] = part_b * scale
        row += part_b.shape[0]
    if present and (row != shape_b[0] or a.shape[1] != state[f"{parts[0]}.lora_A"].shape[1]):
        raise WebslmError(f"{layer}: adapter shapes do not fit the base (trained on a different base model?)")
    return a.astype(dtype), b.astype(dtype)


def convert_adapter(peft_dir: Path, base_bundle: Path, out_dir: Path, adapter_id: str | None = None,
                    base_model: Path | None = None, domain: str | None = None, force: bool = False) -> Path:
    """`domain` (the skill the demo routes commands to) defaults to the one in the training run's manifest."""
    from webslm.artifacts import read_bundle_manifest
    from convert.tensor_cache import write_tensor_cache
    from webslm.checkpoint import checkpoint_fingerprint

    inputs = [p for p in (peft_dir, base_bundle, base_model) if p is not None]
    check_output(out_dir, ADAPTER_MANIFEST, inputs=inputs, force=force, what="adapter bundle")
    base = read_bundle_manifest(base_bundle)
    lora = base.get("lora") or {}
    if not lora.get("rank"):
        raise WebslmError(f"{base_bundle}: the base bundle has no runtime LoRA branch; "
                          "convert the base with `webslm convert --lora-rank 16`")
    config, state = read_peft_adapter(peft_dir)
    base_dir = Path(base_model or config.get("base_model_name_or_path") or "")
    if not (base_dir / "config.json").is_file():
        raise WebslmError(f"{peft_dir}: its base model {str(base_dir)!r} is not a local checkpoint; pass "
                          "--base-model DIR (the checkpoint the base bundle was converted from)")
    if checkpoint_fingerprint(base_dir) != base.get("base_fingerprint"):
        raise WebslmError(f"{peft_dir} was trained on {base_dir}, but {base_bundle} was converted from "
                          f"{base.get('base_model')} (weights differ); an adapter only fits its own base")
    scale = lora_scale(config)
    params = lora["params"]
    tensors, index = [], []
    for i in range(0, len(params), 2):
        spec_a, spec_b = params[i], params[i + 1]
        layer = spec_a["name"].removesuffix(".lora_A")
        a, b = fused_lora(state, layer, lora["rank"], scale, spec_a["shape"], spec_b["shape"], spec_a["dtype"])
        tensors += [(spec_a["name"], a), (spec_b["name"], b)]
        index += [{"name": spec["name"], "index": spec["index"]} for spec in (spec_a, spec_b)]
    known = {f"{part}.{ab}" for spec in params[::2] for part in hf_parts(spec["name"].removesuffix(".lora_A"))
             for ab in ("lora_A", "lora_B")}
    stray = sorted(set(state) - known)
    if stray:
        raise WebslmError(f"{peft_dir}: tensors with no slot in the base bundle, e.g. {stray[:3]}")
    adapter_id = check_artifact_id(adapter_id or Path(peft_dir).resolve().name, "adapter id")
    if domain is None:
        domain = read_run_manifest(peft_dir).get("domain")
    with atomic_dir(Path(out_dir), ADAPTER_MANIFEST, inputs=[*inputs, base_dir], force=force,
                    what="adapter bundle") as tmp:
        cache = write_tensor_cache(tmp, tensors, prefix="adapter_shard")
        write_json(tmp / ADAPTER_MANIFEST, {
            "format": ADAPTER_FORMAT,
            "adapter_id": adapter_id,
            "source": str(Path(peft_dir).resolve()),
            "base_model_id": base["model_id"],
            "domain": domain or "cesium",
            "base_fingerprint": base["base_fingerprint"],
            "rank": config["r"],
            "compiled_rank": lora["rank"],
            "alpha": config.get("lora_alpha"),
            "target_modules": sorted(config.get("target_modules") or []),
            "params": index,
            "bytes": cache["metadata"]["ParamBytes"],
        })
    return Path(out_dir)
