"""`webslm eval --backend browser --bundle DIR`: the demo page itself answers every test command in headless
Chromium (WebGPU), as a user would type it: its Web Worker runs the stock web-llm engine, its rulebook narrows the
grammar and decides, its executor acts on the globe. Each row records the call the page executed (or its refusal
and the reason), the globe afterwards and web-llm's `usage.extra` (prefill/decode tok/s, time to first token);
nothing is narrowed or grounded in Python. Scored by the same metrics as torch.

`--parity`, `--unconstrained` and `--no-copy-constraint` measure the model rather than the product: they run the
engine on the harness page (web/static/harness.js: main thread, logit capture) with the schema sent from here."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from evalharness.predict import Generation, Run
from webslm.artifacts import read_adapter_manifest, read_bundle_manifest
from webslm.browser import ADAPTERS
from webslm.rulebook import request_of
from webslm.errors import WebslmError


def add_arguments(parser) -> None:
    group = parser.add_argument_group("browser backend")
    group.add_argument("--bundle", type=Path, default=None, help="bundle directory from `webslm convert`")
    group.add_argument("--webgpu", default=None, choices=ADAPTERS,
                       help="WebGPU adapter: swiftshader (CPU, slowest), lavapipe (Mesa CPU driver, fetched once), "
                            "gpu (the machine's GPU); default: $WEBSLM_WEBGPU, else lavapipe if installed, "
                            "else swiftshader")
    group.add_argument("--example-timeout", type=float, default=900,
                       help="seconds before one example is abandoned and scored as failed (900)")
    group.add_argument("--lora", type=Path, default=None, metavar="ADAPTER_BUNDLE",
                       help="swap this runtime-LoRA adapter bundle (from convert-adapter, in the same models "
                            "directory as --bundle) into the base before evaluating")
    group.add_argument("--decode", default="forced", choices=("forced", "plain"),
                       help="how the demo page writes an answer: forced (default: text the request's grammar forces "
                            "goes in with the next forward pass, web/static/forced.js) or plain (web-llm's own loop, "
                            "one pass per token)")
    group.add_argument("--parity", action="store_true",
                       help="also run torch on the bundle's own (de)quantized weights, both unconstrained and "
                            "greedy, and report how many outputs are identical and where they first diverge")


@contextlib.contextmanager
def open_runs(args, domain):
    from evalharness.browser_session import BrowserSession

    if args.bundle is None:
        raise WebslmError("--backend browser needs --bundle DIR (a bundle from `webslm convert`)")
    manifest = read_bundle_manifest(args.bundle, "--bundle")
    adapter = _read_adapter(args.lora, args.bundle, manifest) if args.lora else None
    if not (args.parity or args.unconstrained or not args.copy_constraint):
        with _demo_runs(args, domain, manifest, adapter) as runs:
            yield runs
        return
    request = {"temperature": args.temperature, "top_p": args.top_p, "max_tokens": args.max_new_tokens}
    schema = None if args.unconstrained or args.parity else domain.emission_schema()
    bundle = Path(args.bundle).resolve()
    with BrowserSession(bundle.parent, webgpu=args.webgpu) as session:
        loaded = session.load(manifest["model_id"])
        swap = session.set_adapter(adapter["adapter_id"]) if adapter else None

        def generate(messages_list: list[list[dict]]) -> list[Generation]:
            out = []
            for messages in messages_list:
                if schema is not None:
                    asked = domain.rules.narrow([request_of(messages)])[0] if args.copy_constraint else schema
                    request["response_format"] = {"type": "json_object", "schema": json.dumps(asked)}
                try:
                    reply = session.chat(messages, timeout_s=args.example_timeout, **request)
                except WebslmError as e:  # a page crash or device loss fails this example, not the run
                    out.append(Generation("", None, error=str(e).splitlines()[0]))
                    continue
                usage = reply.get("usage") or {}
                out.append(Generation(reply["text"] or "", reply["wall_s"], usage.get("prompt_tokens"),
                                      usage.get("completion_tokens"), speed=usage.get("extra") or {}))
            return out

        info = {"bundle": str(bundle), "model_id": manifest["model_id"], "quantization": manifest["quantization"],
                "gpu": session.gpu, "engine_load_s": loaded["load_s"],
                **({"adapter": adapter["adapter_id"], "adapter_swap": swap} if adapter else {})}
        runs = [Run("browser", generate, chunk=1, info=info)]
        if args.parity:
            runs.append(_torch_reference_run(args, manifest, adapter))
        yield runs


@contextlib.contextmanager
def _demo_runs(args, domain, manifest: dict, adapter: dict | None):
    """The product's own path: the demo page answers and executes (DemoSession)."""
    from evalharness.browser_session import DemoSession, GivenRefused

    if args.temperature != 0:
        raise WebslmError("the demo page answers greedily: --backend browser needs --temperature 0 (or --parity / "
                          "--unconstrained, which run the model on the harness page)")
    bundle = Path(args.bundle).resolve()
    with DemoSession(bundle.parent, manifest["model_id"], domain.name, webgpu=args.webgpu,
                     max_tokens=args.max_new_tokens, decode=args.decode) as session:
        swap = session.set_adapter(adapter["adapter_id"]) if adapter else None
        page_domain = session.domain_shown()
        if page_domain != domain.name:
            raise WebslmError(f"the demo page is on domain {page_domain!r} (the adapter's), not --domain "
                              f"{domain.name!r}: evaluate {domain.name} records with an adapter of that domain")

        def generate(messages_list: list[list[dict]], givens: list[tuple[str, ...]]) -> list[Generation]:
            out = []
            for messages, given in zip(messages_list, givens):
                system = messages[0]["content"] if messages and messages[0].get("role") == "system" else None
                if system is not None and system != domain.system_prompt:
                    raise WebslmError("a record's system prompt differs from the domain's, and the demo page always "
                                      "sends the domain's: evaluate it with --parity or the torch backend")
                try:
                    result = session.submit(request_of(messages), timeout_s=args.example_timeout, given=given)
                except GivenRefused as e:  # the test file's scene, not the model: stop and say which row
                    raise WebslmError(f"{request_of(messages)!r}: {e}") from None
                except WebslmError as e:  # a page crash or device loss fails this example, not the run
                    out.append(Generation("", None, error=str(e).splitlines()[0]))
                    continue
                entry, usage = result["entry"], result["entry"]["usage"] or {}
                outcome = {"parsed": entry["parsed"], "call": entry["call"] if entry["ok"] else None,
                           "stage": "ok" if entry["ok"] else entry["stage"],
                           "reason": None if entry["ok"] else entry["error"]}
                out.append(Generation(entry["raw"], result["wall_s"], usage.get("prompt_tokens"),
                                      usage.get("completion_tokens"), speed=entry["extra"], outcome=outcome,
                                      page=result["page"],
                                      error=entry["error"] if entry["stage"] == "backend" else None))
            return out

        info = {"bundle": str(bundle), "model_id": manifest["model_id"], "quantization": manifest["quantization"],
                "path": "demo page (worker, web-llm, rulebook, executor)", "decode": args.decode, "gpu": session.gpu,
                "engine_load_s": session.load_s,
                **({"adapter": adapter["adapter_id"], "adapter_swap": swap} if adapter else {})}
        yield [Run("browser", generate, chunk=1, info=info, takes_given=True)]


def _read_adapter(adapter_dir: Path, bundle: Path, manifest: dict) -> dict:
    adapter = read_adapter_manifest(adapter_dir, "--lora")
    if adapter.get("base_model_id") != manifest["model_id"]:
        raise WebslmError(f"--lora {adapter_dir} was converted for {adapter.get('base_model_id')!r}, "
                          f"not for the bundle {manifest['model_id']!r}")
    if Path(adapter_dir).resolve().parent != Path(bundle).resolve().parent:
        raise WebslmError(f"--lora {adapter_dir} must sit in the same models directory as --bundle {bundle} "
                          "(both are served from there)")
    return adapter


def _torch_reference_run(args, manifest: dict, adapter: dict | None) -> Run:
    """torch greedy on exactly the weights the bundle holds (q4 round trip) + the same LoRA: the parity reference."""
    from evalharness.torch_backend import Sampling, load_model, torch_backend

    base = manifest["base_model"]
    peft_dir = None
    if adapter is not None:
        peft_dir = adapter.get("source")
        if not peft_dir or not Path(peft_dir, "adapter_config.json").is_file():
            raise WebslmError("--parity with --lora needs the adapter's PEFT directory (recorded as 'source' in "
                              "webslm-adapter.json by convert-adapter)")
    model, tokenizer, conv = load_model(base, peft_dir, "cpu", base_weights=manifest["quantization"])
    sampling = Sampling(args.max_new_tokens, 0.0, 1.0, args.seed)
    return Run("torch", torch_backend(model, tokenizer, conv, sampling, args.batch_size),
               info={"model": base, "weights": f"{manifest['quantization']} round trip", "adapter": peft_dir})
