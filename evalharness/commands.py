"""`webslm eval` and `webslm serve-api`.

Backends are plugs (torch_backend.py, endpoint.py, browser_backend.py): a module with `add_arguments(parser)`
(optional, its own flags) and `open_runs(args, domain)`, a context manager yielding `predict.Run`s (name + generate
function). `webslm eval` turns each run into
predictions.jsonl + metrics.json with the one metrics module, and writes one report over all runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from evalharness.journal import PROGRESS_FILE, Journal, read_progress, settings_of
from evalharness.predict import evaluate_runs, load_examples
from evalharness.report import REPORT_FILE
from webslm.atomic import check_output
from webslm.domain import load_domain
from webslm.errors import WebslmError
from webslm.q4 import BASE_WEIGHTS

BACKEND_MODULES = {"torch": "evalharness.torch_backend", "endpoint": "evalharness.endpoint",
                   "browser": "evalharness.browser_backend"}


def run_eval(args) -> int:
    if args.endpoint and args.backend == "torch":
        args.backend = "endpoint"
    domain = load_domain(args.domain)
    load_examples(args.test_file, domain.system_prompt, args.limit)  # bad test files fail before models load
    journal = _open_journal(args)
    complete = False
    try:
        with importlib.import_module(BACKEND_MODULES[args.backend]).open_runs(args, domain) as runs:
            results, interrupted = evaluate_runs(args.test_file, args.out, runs, domain, args.limit,
                                                 progress=not args.quiet, journal=journal)
        complete = not interrupted
    finally:
        journal.close(complete)
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
        if "refusals_expected" in m:
            print(f"{name}: {m['executed_when_refusal_expected']} of {m['refusals_expected']} commands that must be "
                  f"refused executed")
    print(f"wrote {args.out}/report.md")
    if interrupted:
        raise KeyboardInterrupt
    return 0


def _open_journal(args) -> Journal:
    """The progress journal for --out: a new one, or with --resume the unfinished evaluation's, checked against the
    flags given now. A previous evaluation is marked by its report (written last) or its journal; anything else in
    --out is not ours to overwrite."""
    progress = Path(args.out) / PROGRESS_FILE
    settings = settings_of(args)
    if progress.is_file() and not args.force:
        if not args.resume:
            _, done = read_progress(progress)
            raise WebslmError(f"--out {args.out}: holds an unfinished evaluation ({sum(map(len, done.values()))} "
                              f"example(s) answered, {PROGRESS_FILE}); nothing was written. Pass --resume to "
                              "continue it, or --force to start over")
        check_output(args.out, PROGRESS_FILE, inputs=[args.test_file], force=True, what="evaluation")
        return Journal.resume(args.out, settings)
    if args.resume and (Path(args.out) / REPORT_FILE).is_file() and not args.force:
        raise WebslmError(f"--out {args.out}: the evaluation there is finished (no {PROGRESS_FILE}); nothing to "
                          "resume. Pass --force to run it again")
    marker = PROGRESS_FILE if progress.is_file() else REPORT_FILE
    check_output(args.out, marker, inputs=[args.test_file], force=args.force, what="evaluation")
    return Journal.start(args.out, settings)


def run_serve_api(args) -> int:
    from evalharness.serve_api import serve

    serve(args.model, args.adapter, args.host, args.port, args.device, args.allow_remote)
    return 0


def register(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a model on a test file (torch, an OpenAI-compatible endpoint, ...)")
    e.add_argument("test_file", type=Path, metavar="TEST.jsonl", help="seed or chat records")
    e.add_argument("--out", type=Path, required=True, help="directory for predictions.jsonl, metrics.json, report.md")
    e.add_argument("--force", action="store_true", help="replace --out if it holds a previous evaluation")
    e.add_argument("--resume", action="store_true",
                   help="continue the unfinished evaluation in --out (same test file and flags): examples already "
                        "answered are kept (OUT/progress.jsonl), the rest are answered; starts one if there is none")
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
    for module_name in BACKEND_MODULES.values():
        module = importlib.import_module(module_name)
        if hasattr(module, "add_arguments"):
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
