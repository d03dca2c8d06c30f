"""`webslm eval` and `webslm serve-api`.

Backends are plugs: a module with `add_arguments(parser)` (optional, its own flags) and `open_runs(args, domain)`,
a context manager yielding `predict.Run`s (name + generate function). `webslm eval` turns each run into
predictions.jsonl + metrics.json with the one metrics module, and writes one report over all runs.
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path

from convert.quantize import BASE_WEIGHTS
from webslm.errors import WebslmError

# name -> module; a backend module that is not there yet (e.g. the browser) is simply not offered.
BACKEND_MODULES = {"torch": "evalharness.commands", "endpoint": "evalharness.commands",
                   "browser": "evalharness.browser_backend"}


def _backend_module(name: str):
    try:
        return importlib.import_module(BACKEND_MODULES[name])
    except ModuleNotFoundError as e:
        if e.name and BACKEND_MODULES[name].startswith(e.name):
            return None
        raise


def available_backends() -> list[str]:
    return [name for name in BACKEND_MODULES if name in ("torch", "endpoint") or _backend_module(name) is not None]


# --------------------------------------------------------------------------------------- torch and endpoint plugs

@contextlib.contextmanager
def open_runs(args, domain):
    """Runs of the torch and endpoint backends (the browser backend has its own `open_runs`)."""
    from evalharness.predict import Run

    schema = None if args.unconstrained else domain.emission_schema()
    narrow = domain.rules.narrow if schema is not None and args.copy_constraint else None
    if args.backend == "endpoint":
        from evalharness.endpoint import endpoint_backend

        if not args.endpoint:
            raise WebslmError("--backend endpoint needs --endpoint URL")
        generate = endpoint_backend(args.endpoint, args.endpoint_model, args.max_new_tokens, args.temperature,
                                    args.top_p, args.seed, json_mode=args.json_mode, schema=schema,
                                    narrow=narrow)
        yield [Run("endpoint", generate, {"endpoint": args.endpoint})]
        return

    from evalharness.torch_backend import Sampling, load_model, torch_backend
    from train.lora import adapter_base_model, adapter_base_weights

    if getattr(args, "threads", 0):
        import torch

        torch.set_num_threads(args.threads)

    if args.compare and not args.adapter:
        raise WebslmError("--compare needs --adapter (it compares the base model with the base + adapter)")
    model_arg = args.model or (adapter_base_model(args.adapter) if args.adapter else "default")
    base_weights = args.base_weights or adapter_base_weights(args.adapter)
    model, tokenizer, conv = load_model(model_arg, args.adapter, args.device, base_weights)
    sampling = Sampling(args.max_new_tokens, args.temperature, args.top_p, args.seed)
    tuned = torch_backend(model, tokenizer, conv, sampling, args.batch_size, schema, narrow)
    decoding = "greedy" if args.temperature == 0 else f"temperature {args.temperature}, top-p {args.top_p}"
    decoding += (", unconstrained" if schema is None else ", constrained to the emission schema"
                 + (", narrowed to each request's evidence" if args.copy_constraint else ""))
    info = {"model": model_arg, "base_weights": base_weights, "adapter": str(args.adapter) if args.adapter else None,
            "decoding": decoding}
    runs = []
    if args.compare:
        def base(messages_list):
            # the base model never learned the task: give it the prompt that spells out the tools
            prompted = [[{**m, "content": domain.base_prompt} if m["role"] == "system" else m for m in messages]
                        for messages in messages_list]
            with model.disable_adapter():
                return tuned(prompted)

        runs.append(Run("base+prompt", base, {**info, "adapter": None}))
        runs.append(Run("fine-tuned", tuned, info))
    else:
        runs.append(Run("fine-tuned" if args.adapter else "model", tuned, info))
    yield runs


# -------------------------------------------------------------------------------------------------------- verbs

def evaluate_runs(test_file: Path, out: Path, runs, domain, limit: int | None = None, chunk: int = 16,
                  progress: bool = True) -> tuple[dict[str, dict], bool]:
    """Every run on the same examples; returns (metrics per run, interrupted).

    Ctrl-C keeps what is done: the interrupted run's finished examples are written and scored, and the runs after it
    answer just those examples (quick references such as torch), so the report still compares like with like.
    A second Ctrl-C stops at once.
    """
    from evalharness.metrics import summarize
    from evalharness.predict import EvaluationInterrupted, evaluate, load_examples
    from evalharness.report import write_report
    from webslm import atomic

    examples = load_examples(test_file, domain.system_prompt, limit)
    results, info, rows_by_run = {}, {}, {}
    interruptions = 0
    for run in runs:
        try:
            rows = evaluate(examples, run, domain, chunk=chunk, progress=progress)
        except EvaluationInterrupted as stop:
            rows, interruptions = stop.rows, interruptions + 1
            print(f"interrupted: writing the {len(rows)} finished example(s) of {run.name}", flush=True)
            if interruptions == 1 and run is not runs[-1]:
                examples = examples[:len(rows)]
                print(f"the other runs answer the same {len(rows)} example(s); Ctrl-C again to stop at once",
                      flush=True)
        rows_by_run[run.name] = rows
        where = out if len(runs) == 1 else out / run.name
        atomic.write_jsonl(where / "predictions.jsonl", rows)
        metrics = summarize(rows)
        atomic.write_json(where / "metrics.json", {"run": run.name, **run.info, "test_file": str(test_file), **metrics})
        results[run.name], info[run.name] = metrics, run.info
        if interruptions > 1:
            break
    if len(results) > 1:
        atomic.write_json(out / "metrics.json", {"test_file": str(test_file), "runs": results})
    write_report(out, results, info, rows_by_run=rows_by_run)
    return results, interruptions > 0


def run_eval(args) -> int:
    from webslm.domain import load_domain

    if args.endpoint and args.backend == "torch":
        args.backend = "endpoint"
    domain = load_domain(args.domain)
    from evalharness.predict import load_examples
    from evalharness.report import REPORT_FILE
    from webslm.atomic import check_output

    # a previous evaluation is marked by its report (written last); anything else in --out is not ours to overwrite
    check_output(args.out, REPORT_FILE, inputs=[args.test_file], force=args.force, what="evaluation")
    load_examples(args.test_file, domain.system_prompt, args.limit)  # bad test files fail before models load
    module = _backend_module(args.backend)
    if module is None:
        raise WebslmError(f"--backend {args.backend} is not available here; available: {available_backends()}")
    with module.open_runs(args, domain) as runs:
        results, interrupted = evaluate_runs(args.test_file, args.out, runs, domain, args.limit,
                                             progress=not args.quiet)
    if getattr(args, "parity", False) and len({m["n"] for m in results.values()}) == 1:
        from transformers import AutoTokenizer

        from evalharness.parity import write_parity

        tokenizer = AutoTokenizer.from_pretrained(args.bundle)
        p = write_parity(args.out, "browser", "torch", tokenizer)
        print(f"parity: {p['identical_count']}/{p['n']} greedy outputs identical")
    for name, m in results.items():
        print(f"{name}: valid JSON {m['valid_json']:.1%}, schema-valid {m['schema_valid']:.1%}, right tool "
              f"{m['right_tool']:.1%}, right arguments {m['right_args']:.1%}, exact {m['exact_match']:.1%} "
              f"(n={m['n']}, mean {m['latency'].get('mean_s', 0):.2f} s/example)")
    print(f"wrote {args.out}/report.md")
    if interrupted:
        raise KeyboardInterrupt
    return 0


def run_serve_api(args) -> int:
    from evalharness.serve_api import serve

    serve(args.model, args.adapter, args.host, args.port, args.device, args.allow_remote)
    return 0


def register(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a model on a test file (torch, an OpenAI-compatible endpoint, ...)")
    e.add_argument("test_file", type=Path, metavar="TEST.jsonl", help="seed or chat records")
    e.add_argument("--out", type=Path, required=True, help="directory for predictions.jsonl, metrics.json, report.md")
    e.add_argument("--force", action="store_true", help="replace --out if it holds a previous evaluation")
    e.add_argument("--backend", default="torch", choices=list(BACKEND_MODULES), help="(torch)")
    e.add_argument("--model", default=None, help="model: 'default', a local HF dir, or a hub id "
                                                 "(default: the adapter's base, else 'default')")
    e.add_argument("--adapter", type=Path, default=None, help="LoRA adapter directory from `webslm train`")
    e.add_argument("--compare", action="store_true", help="also run the base model (same system prompt) in one report")
    e.add_argument("--base-weights", default=None, choices=BASE_WEIGHTS,
                   help="torch: the base's float weights or the q4 round trip the browser runs "
                        "(default: what --adapter was trained against, else float)")
    e.add_argument("--endpoint", default=None, help="OpenAI-compatible server URL (implies --backend endpoint)")
    e.add_argument("--endpoint-model", default=None, help="`model` field sent to the endpoint")
    e.add_argument("--json-mode", action="store_true",
                   help="send response_format {type: json_object} with the emission schema (without it: --unconstrained)")
    e.add_argument("--domain", default="cesium")
    e.add_argument("--limit", type=int, default=None, help="only the first N examples")
    e.add_argument("--batch-size", type=int, default=8, help="torch: prompts generated together (8)")
    e.add_argument("--max-new-tokens", type=int, default=160)
    e.add_argument("--unconstrained", action="store_true",
                   help="torch and browser: do not constrain answers to the domain's JSON schema (the demo does)")
    e.add_argument("--no-copy-constraint", dest="copy_constraint", action="store_false",
                   help="constrained decoding uses the domain's schema as is, not narrowed to each request's "
                        "evidence as the demo does (names copied from its words, typed numbers and dates, cue words)")
    e.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    e.add_argument("--top-p", type=float, default=1.0)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    e.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    for name in BACKEND_MODULES:
        module = _backend_module(name) if name not in ("torch", "endpoint") else None
        if module is not None and hasattr(module, "add_arguments"):
            module.add_arguments(e)
    e.set_defaults(run=run_eval)

    s = sub.add_parser("serve-api", help="OpenAI-compatible /v1/chat/completions over a transformers model")
    s.add_argument("--model", default="default", help="'default', a local HF dir, or a hub id")
    s.add_argument("--adapter", type=Path, default=None, help="LoRA adapter directory (merged at load)")
    s.add_argument("--host", default="127.0.0.1", help="(127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8001)
    s.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (no authentication)")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    s.set_defaults(run=run_serve_api)
