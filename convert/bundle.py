"""`webslm convert`: a Hugging Face checkpoint -> a bundle that stock web-llm loads.

A bundle is one directory, served as /models/<model_id>/resolve/main/<file>:
  mlc-chat-config.json, tensor-cache.json + params_shard_*.bin, tokenizer files, <model_id>.wasm, and
  webslm-bundle.json (our manifest: model id, quantization, required WebGPU features, sizes, hashes, timings).
It is built in a temporary sibling directory and renamed into place, so it is never seen half-written.
"""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from webslm.artifacts import BUNDLE_MANIFEST, check_artifact_id
from webslm.atomic import atomic_dir, check_output, write_json
from webslm.base_model import resolve_model
from webslm.digest import sha256_file
from webslm.errors import WebslmError

BUNDLE_FORMAT = "webslm-bundle/1"
# maxStorageBufferBindingSize of lavapipe (the CPU WebGPU adapter, in Chromium and Dawn in Node) and a common GPU
# default: a bigger tensor cannot be bound as one buffer there (q0f32 embeddings of 150k-token vocabularies are).
STORAGE_BUFFER_LIMIT = 128 * 2**20


@contextmanager
def _phase(name: str, timings: dict):
    print(f"[convert] {name} ...", flush=True)
    start = time.monotonic()
    yield
    timings[name] = round(time.monotonic() - start, 2)
    print(f"[convert] {name} done in {timings[name]:.1f} s", flush=True)


def largest_tensor(params) -> tuple[str, int]:
    """(name, bytes) of the library's largest parameter."""
    import numpy as np

    sizes = {p.name: int(np.prod(p.shape)) * np.dtype(p.dtype).itemsize for p in params}
    name = max(sizes, key=sizes.get)
    return name, sizes[name]


def _check_quantizable(cfg, quant) -> None:
    if not quant.quantized:
        return
    from webslm.q4 import GROUP_SIZE

    dims = {"hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
            "num_attention_heads * head_dim": cfg.num_attention_heads * cfg.head_dim}
    bad = {k: v for k, v in dims.items() if v % GROUP_SIZE}
    if bad:
        listed = ", ".join(f"{k} = {v}" for k, v in bad.items())
        raise WebslmError(f"{listed} not divisible by the q4 group size {GROUP_SIZE}: "
                          f"{quant.name} cannot quantize this model; use --quantization q0f32")


def convert_model(model: str | Path, out_dir: Path, quantization: str = "q4f32_1", *, opt: str = "O1",
                  model_id: str | None = None, context_window_size: int | None = None,
                  prefill_chunk_size: int | None = None, lora_rank: int = 0, force: bool = False) -> Path:
    from transformers import AutoTokenizer

    from convert.chat_config import chat_config
    from convert.compile import build_ir_module, compile_executable, model_metadata, webgpu_target
    from convert.models.config import read_decoder_config
    from webslm.q4 import get_quantization
    from convert.tensor_cache import write_tensor_cache
    from convert.weights import mlc_params
    from webslm.checkpoint import checkpoint_fingerprint, load_hf_state
    from convert.webruntime import export_webgpu_library

    try:
        quant = get_quantization(quantization)
    except ValueError as e:
        raise WebslmError(str(e)) from None
    model_dir = Path(resolve_model(model))
    out_dir = Path(out_dir)
    check_output(out_dir, BUNDLE_MANIFEST, inputs=[model_dir], force=force, what="model bundle")
    cfg = read_decoder_config(model_dir, context_window_size, prefill_chunk_size)
    _check_quantizable(cfg, quant)
    model_id = check_artifact_id(model_id or f"{model_dir.name}-{quant.name}", "model id")
    if not (model_dir / "tokenizer.json").is_file():
        raise WebslmError(f"{model_dir}: no tokenizer.json; web-llm needs the fast tokenizer file")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    timings: dict[str, float] = {}
    target = webgpu_target()
    started = time.monotonic()
    with atomic_dir(out_dir, BUNDLE_MANIFEST, inputs=[model_dir], force=force, what="model bundle") as tmp:
        with _phase("load", timings):
            state = load_hf_state(model_dir)
        with _phase("build IR", timings):
            mod, params = build_ir_module(cfg, quant, target, lora_rank)
        largest_name, largest_bytes = largest_tensor(params)
        if largest_bytes > STORAGE_BUFFER_LIMIT:
            print(f"[convert] note: {largest_name} is {largest_bytes / 2**20:.0f} MiB, more than the "
                  f"{STORAGE_BUFFER_LIMIT // 2**20} MiB storage buffer lavapipe (CPU WebGPU) and some GPUs bind: this "
                  "bundle loads only where the adapter allows more; a q4 quantization keeps it smaller", flush=True)
        with _phase("quantize + write shards", timings):
            from tqdm import tqdm

            bar = tqdm(total=len(params), unit="tensor", desc="weights", leave=False)
            index = write_tensor_cache(tmp, mlc_params(state, params, quant, cfg.tie_word_embeddings),
                                       progress=lambda *_: bar.update(), metadata={"model_id": model_id})
            bar.close()
            del state
        with _phase("compile kernels", timings):
            executable = compile_executable(mod, target, quant.model_dtype)
        wasm_name = f"{model_id}-webgpu.wasm"
        with _phase(f"link ({opt})", timings):
            export_webgpu_library(executable, tmp / wasm_name, opt=opt)
        config = chat_config(model_dir, cfg, quant.name, tokenizer)
        write_json(tmp / "mlc-chat-config.json", config)
        for name in config["tokenizer_files"]:
            shutil.copy2(model_dir / name, tmp / name)
        metadata = model_metadata(cfg, quant, params, lora_rank)
        kv_bytes = 2 * cfg.num_hidden_layers * cfg.context_window_size * cfg.num_key_value_heads * cfg.head_dim * 4
        files = {p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in sorted(tmp.iterdir())}
        manifest = {
            "format": BUNDLE_FORMAT,
            "model_id": model_id,
            "quantization": quant.name,
            "model_lib": wasm_name,
            "required_features": quant.required_features,
            "vram_required_MB": round((metadata["memory_usage"]["params_bytes"] + kv_bytes) / 2**20 + 64),
            "low_resource_required": True,
            "overrides": {"context_window_size": cfg.context_window_size},
            "base_model": str(model_dir),
            "base_fingerprint": checkpoint_fingerprint(model_dir),
            "lora": {"rank": lora_rank,
                     "params": [{"name": p.name, "shape": list(p.shape), "dtype": p.dtype, "index": i}
                                for i, p in enumerate(params) if p.name.endswith((".lora_A", ".lora_B"))]},
            "model_config": cfg.to_dict(),
            "opt": opt,
            "sizes": {
                "weights_bytes": index["metadata"]["ParamBytes"],
                "wasm_bytes": (tmp / wasm_name).stat().st_size,
                "largest_tensor_bytes": largest_bytes,
                "total_bytes": sum(f["bytes"] for f in files.values()),
            },
            "files": files,
            "timings_s": {**timings, "total": round(time.monotonic() - started, 2)},
            "versions": _versions(),
        }
        write_json(tmp / BUNDLE_MANIFEST, manifest)
    print(f"[convert] wrote {out_dir} ({manifest['sizes']['total_bytes'] / 2**20:.1f} MiB, "
          f"{manifest['timings_s']['total']:.0f} s)", flush=True)
    return out_dir


def _versions() -> dict:
    from importlib.metadata import version

    import tvm

    return {"webslm": version("webslm"), "apache-tvm": tvm.__version__, "web-llm": "0.2.86"}
