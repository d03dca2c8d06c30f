"""CLI verbs of the compiler stage."""

from __future__ import annotations

from pathlib import Path

from webslm.q4 import QUANTIZATIONS
from webslm.artifacts import check_artifact_id
from webslm.base_model import DEFAULT_MODEL

DEFAULT_BUNDLES_DIR = Path("artifacts/bundles")


def register(sub) -> None:
    p = sub.add_parser("convert", help="compile a model to a WebGPU bundle that stock web-llm loads",
                       description="Quantize the weights (MLC layout), compile the model library (.wasm) for "
                                   "WebGPU and write a bundle directory served by `webslm serve`.")
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL,
                   help="'default' (embedded SmolLM2-135M-Instruct), a local HF directory, or a hub id")
    p.add_argument("--quantization", "-q", default="q4f32_1", choices=list(QUANTIZATIONS),
                   help="q4f16_1 for GPUs with shader-f16, q4f32_1 otherwise (CI, SwiftShader), q0f32 unquantized")
    p.add_argument("--out", type=Path, default=None,
                   help=f"bundle directory (default {DEFAULT_BUNDLES_DIR}/<model-id>)")
    p.add_argument("--model-id", default=None, help="id web-llm knows the model by (default <dir>-<quantization>)")
    p.add_argument("--opt", default="O1", choices=["O1", "O3"],
                   help="wasm link optimisation: O1 links in seconds, O3 is ~3 MB smaller and takes ~100 s")
    p.add_argument("--context-window", type=int, default=None, help="KV cache length (default min(2048, model))")
    p.add_argument("--prefill-chunk", type=int, default=None, help="tokens per prefill call (default 512)")
    p.add_argument("--lora-rank", type=int, default=0,
                   help="compile a runtime LoRA branch of this rank (per projection) on q/k/v/o/gate/up/down; "
                        "adapters of rank <= this swap in the browser without recompiling (0 = none)")
    p.add_argument("--force", action="store_true", help="replace --out if it holds a previous bundle")
    p.set_defaults(run=_run_convert)
    register_adapter(sub)


def _run_convert(args) -> int:
    from convert.bundle import convert_model
    from webslm.base_model import model_name, resolve_model

    model_dir = Path(resolve_model(args.model))
    model_id = check_artifact_id(args.model_id or f"{model_name(args.model)}-{args.quantization}", "--model-id")
    out = args.out or DEFAULT_BUNDLES_DIR / model_id
    convert_model(model_dir, out, args.quantization, opt=args.opt, model_id=model_id,
                  context_window_size=args.context_window, prefill_chunk_size=args.prefill_chunk,
                  lora_rank=args.lora_rank, force=args.force)
    return 0


def register_adapter(sub) -> None:
    p = sub.add_parser("convert-adapter", help="turn a PEFT LoRA adapter into an adapter bundle for a base bundle",
                       description="Writes only the adapter's tensors (fused and zero-padded to the base bundle's "
                                   "LoRA rank) plus a manifest; the base's weights and .wasm are reused.")
    p.add_argument("peft_dir", type=Path, help="a PEFT adapter directory (e.g. from `webslm train`)")
    p.add_argument("--base", type=Path, required=True, help="the base bundle (converted with --lora-rank)")
    p.add_argument("--out", type=Path, default=None, help=f"adapter bundle directory (default "
                                                           f"{DEFAULT_BUNDLES_DIR}/<adapter-id>, where `webslm serve` "
                                                           f"looks)")
    p.add_argument("--adapter-id", default=None, help="name shown in the demo (default: the PEFT directory name)")
    p.add_argument("--base-model", type=Path, default=None,
                   help="the base checkpoint the adapter was trained on, if its adapter_config path is not local")
    p.add_argument("--domain", default=None,
                   help="domain pack the adapter speaks (default: from the training run's webslm-run.json, "
                        "else cesium)")
    p.add_argument("--force", action="store_true", help="replace --out if it holds a previous adapter bundle")
    p.set_defaults(run=_run_convert_adapter)


def _run_convert_adapter(args) -> int:
    from convert.adapter import convert_adapter
    from webslm.domain import load_domain

    adapter_id = check_artifact_id(args.adapter_id or args.peft_dir.resolve().name, "--adapter-id")
    if args.domain is not None:
        load_domain(args.domain)  # an unknown domain fails here, not silently in `webslm serve`
    out = args.out or DEFAULT_BUNDLES_DIR / adapter_id
    convert_adapter(args.peft_dir, args.base, out, adapter_id, args.base_model, args.domain, force=args.force)
    print(f"wrote {out}")
    return 0
