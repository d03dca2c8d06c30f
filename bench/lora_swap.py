"""Benchmark runtime LoRA in the browser: swap time and bytes per swap for real adapters, and one command each.

    python bench/lora_swap.py --models-dir artifacts/bundles --base smollm2-lora16-q4f32_1 \
        --adapter cesium-smollm2-lora16-q4f32_1 [--adapter cad-...] [--command "fly to Paris"] [--max-tokens 48]

Loads the base bundle once in headless Chromium (stock web-llm), then for every adapter: the first swap (download +
GPU write), a swap back to the base, and a second swap (no download), printing seconds and bytes; with --command,
the adapter answers it under its domain's JSON schema and the executed call is shown. Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from webslm.browser import ADAPTERS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "artifacts" / "bundles")
    parser.add_argument("--base", required=True, help="model id of a base bundle converted with --lora-rank")
    parser.add_argument("--adapter", action="append", required=True, help="adapter id (repeatable)")
    parser.add_argument("--command", default=None, help="a command each adapter answers after its swap")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--webgpu", default=None, choices=ADAPTERS, help="WebGPU adapter (default: auto)")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench" / "lora_swap.json")
    args = parser.parse_args()

    from evalharness.browser_session import BrowserSession
    from evalharness.predict import execute_output
    from webslm import atomic
    from webslm.artifacts import read_adapter_manifest
    from webslm.domain import load_domain

    results = {"base": args.base, "adapters": {}}
    with BrowserSession(args.models_dir, webgpu=args.webgpu) as session:
        results["load"] = session.load(args.base)["load_s"]
        print(f"engine load {results['load']:.1f} s ({session.gpu.get('architecture') or session.gpu.get('vendor')})")
        for adapter_id in args.adapter:
            manifest = read_adapter_manifest(args.models_dir / adapter_id)
            first = session.set_adapter(adapter_id)
            session.set_adapter(None)
            second = session.set_adapter(adapter_id)
            row = {"first_swap": first, "second_swap": second}
            print(f"{adapter_id}: first swap {first['total_s']:.2f} s ({first['bytes_fetched'] / 2**20:.1f} MiB "
                  f"fetched, {first['bytes_written'] / 2**20:.1f} MiB written); second swap {second['total_s']:.2f} s "
                  f"({second['bytes_fetched']} bytes fetched)")
            if args.command:
                domain = load_domain(manifest.get("domain", "cesium"))
                reply = session.chat([{"role": "system", "content": domain.system_prompt},
                                      {"role": "user", "content": args.command}], temperature=0,
                                     max_tokens=args.max_tokens, response_format={
                                         "type": "json_object",
                                         "schema": json.dumps(domain.rules.narrow([args.command])[0])})
                outcome = execute_output(reply["text"], domain, args.command)
                row["command"] = {"text": reply["text"], "call": outcome["call"], "stage": outcome["stage"],
                                  "reason": outcome["reason"], "usage": reply["usage"]}
                extra = reply["usage"].get("extra") or {}
                print(f"  {args.command!r} -> {reply['text']}\n  executed: {outcome['call'] or outcome['reason']}"
                      f"\n  TTFT {extra.get('time_to_first_token_s', 0):.1f} s, decode "
                      f"{extra.get('decode_tokens_per_s', 0):.3f} tok/s")
            results["adapters"][adapter_id] = row
    atomic.write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
