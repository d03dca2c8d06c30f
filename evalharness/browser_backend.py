"""`webslm eval --backend browser --bundle DIR`: the stock web-llm engine in headless Chromium (WebGPU) answers
every test command, with the same prompt, JSON-schema constraint and grounding as the demo page; scored by the same
metrics as torch. Per example it keeps web-llm's `usage.extra` (prefill/decode tok/s, time to first token)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from evalharness.predict import Generation, Run
from webslm.errors import WebslmError

BUNDLE_MANIFEST = "webslm-bundle.json"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("browser backend")
    group.add_argument("--bundle", type=Path, default=None, help="bundle directory from `webslm convert`")
    group.add_argument("--gpu-adapter", default="swiftshader", choices=["swiftshader", "gpu"],
                       help="WebGPU adapter: SwiftShader (CPU, CI) or the machine's GPU")
    group.add_argument("--example-timeout", type=float, default=900,
                       help="seconds before one example is abandoned and scored as failed (900)")
    group.add_argument("--unconstrained", action="store_true",
                       help="do not constrain generation with the domain's JSON schema (the demo constrains)")


def read_bundle(bundle: Path) -> dict:
    path = Path(bundle) / BUNDLE_MANIFEST
    if not path.is_file():
        raise WebslmError(f"--bundle {bundle}: not a bundle (no {BUNDLE_MANIFEST}); make one with `webslm convert`")
    return json.loads(path.read_text())


@contextlib.contextmanager
def open_runs(args, domain):
    from evalharness.browser_session import BrowserSession

    if args.bundle is None:
        raise WebslmError("--backend browser needs --bundle DIR (a bundle from `webslm convert`)")
    manifest = read_bundle(args.bundle)
    request = {"temperature": args.temperature, "top_p": args.top_p, "max_tokens": args.max_new_tokens}
    if not getattr(args, "unconstrained", False):
        request["response_format"] = {"type": "json_object", "schema": json.dumps(domain.emission_schema())}
    bundle = Path(args.bundle).resolve()
    with BrowserSession(bundle.parent, adapter=args.gpu_adapter) as session:
        loaded = session.load(manifest["model_id"])

        def generate(messages_list: list[list[dict]]) -> list[Generation]:
            out = []
            for messages in messages_list:
                try:
                    reply = session.chat(messages, timeout_s=args.example_timeout, **request)
                except WebslmError as e:  # a page crash or device loss fails this example, not the run
                    out.append(Generation("", None, error=str(e).splitlines()[0]))
                    continue
                usage = reply.get("usage") or {}
                out.append(Generation(reply["text"] or "", reply["wall_s"], usage.get("prompt_tokens"),
                                      usage.get("completion_tokens"), speed=usage.get("extra") or {}))
            return out

        yield [Run("browser", generate, chunk=1, info={"bundle": str(bundle), "model_id": manifest["model_id"],
                                              "quantization": manifest["quantization"], "gpu": session.gpu,
                                              "engine_load_s": loaded["load_s"]})]
