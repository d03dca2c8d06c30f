"""Forced-token decoding against web-llm's own loop, on the demo page's path: forward passes per answer, time to
answer, prefill and decode tok/s, and how many executed calls are identical (issue #22).

    python bench/forced_loop.py --models-dir artifacts/bundles --base smollm2-lora16-q4f32_1 \
        --adapter cesium2-smollm2-lora16-q4f32_1 --test artifacts/data2/cesium/split/test.jsonl [--limit 50]

One headless Chromium loads the demo page (the page's worker, web-llm, rulebook and executor, as `webslm eval
--backend browser` drives it) with the base bundle and swaps the adapter in; then every command is answered twice
on that one engine, greedy under the request's narrowed grammar: decode "plain" (web-llm's loop, one forward pass
per token) and "forced" (web/static/forced.js), alternating which goes first. Prints a table with ratios
forced/plain and writes every answer to --out. --stepwise adds a third answer, "forced-stepwise" (each forced token
in a decode pass of its own: where it equals plain and forced does not, the prefill kernel's arithmetic decided).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from webslm.browser import ADAPTERS  # noqa: E402

MODES = ("plain", "forced")


def _median(rows, key):
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def _fmt_margin(margin) -> str:
    return "—" if margin is None else f"{margin:.4g}"


def divergence(plain: dict, forced: dict, decode) -> dict | None:
    """Where two answers' tokens first differ: the index, the text before it, each loop's token there and the margin
    by which its greedy pick won (its logit minus the best other allowed token's; null where the grammar forced it).
    None when the tokens are identical or either loop did not report them."""
    a, b = plain.get("tokens"), forced.get("tokens")
    if not a or not b:
        return None
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    if at == len(a) == len(b):
        return None
    token = lambda ids, i: decode([ids[i]], skip_special_tokens=False) if i < len(ids) else "(end)"  # noqa: E731
    margin = lambda row, i: row["margins"][i] if i < len(row.get("margins") or []) else None  # noqa: E731
    return {"at": at, "before": decode(a[:at]), "plain": token(a, at), "forced": token(b, at),
            "plain_margin": margin(plain, at), "forced_margin": margin(forced, at)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "artifacts" / "bundles")
    parser.add_argument("--base", required=True, help="model id of the base bundle")
    parser.add_argument("--adapter", default=None, help="adapter id to swap in (its domain's commands)")
    parser.add_argument("--test", type=Path, required=True, help="records with an `instruction` (a data split)")
    parser.add_argument("--limit", type=int, default=10, help="first N commands (default 10)")
    parser.add_argument("--domain", default="cesium")
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--timeout", type=float, default=600, help="seconds before one answer is interrupted")
    parser.add_argument("--webgpu", default=None, choices=ADAPTERS, help="WebGPU adapter (default: auto)")
    parser.add_argument("--stepwise", action="store_true", help="also answer with decode forced-stepwise")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench" / "forced_loop.json")
    args = parser.parse_args()

    from evalharness.browser_session import DemoSession
    from webslm import atomic
    from webslm.records import read_records, seed_view

    from tokenizers import Tokenizer

    decode = Tokenizer.from_file(str(args.models_dir / args.base / "tokenizer.json")).decode
    modes = MODES + (("forced-stepwise",) if args.stepwise else ())
    commands = [seed_view(r)[0] for r in list(read_records(args.test))[:args.limit]]
    rows = []
    started = time.monotonic()
    with DemoSession(args.models_dir, args.base, args.domain, webgpu=args.webgpu, max_tokens=args.max_tokens,
                     timeout_s=args.timeout * 4) as session:
        swap = session.set_adapter(args.adapter) if args.adapter else None
        print(f"{args.base} loaded in {session.load_s:.1f} s on {session.gpu.get('description') or session.gpu}"
              + (f"; adapter {args.adapter} swapped in" if swap else ""), flush=True)
        for i, text in enumerate(commands):
            row = {"command": text}
            for mode in (modes if i % 2 == 0 else modes[::-1]):
                result = session.submit(text, timeout_s=args.timeout, decode=mode)
                entry, extra = result["entry"], result["entry"]["extra"]
                usage = entry["usage"] or {}
                row[mode] = {"raw": entry["raw"], "ok": entry["ok"], "call": entry["call"], "stage": entry["stage"],
                             "error": entry["error"], "wall_s": result["wall_s"],
                             "forward_passes": extra.get("forward_passes"),
                             "answer_tokens": usage.get("completion_tokens"),
                             "prompt_tokens": usage.get("prompt_tokens"),
                             "forced_tokens": extra.get("forced_tokens"), "trace": extra.get("forced_trace"),
                             "tokens": extra.get("tokens"), "margins": extra.get("margins"),
                             "time_to_first_token_s": extra.get("time_to_first_token_s"),
                             "prefill_tokens_per_s": extra.get("prefill_tokens_per_s"),
                             "decode_tokens_per_s": extra.get("decode_tokens_per_s"),
                             "grammar_init_s": extra.get("grammar_init_s"),
                             "grammar_per_token_s": extra.get("grammar_per_token_s")}
            p, f = row["plain"], row["forced"]
            row["same_call"] = (p["ok"], p["call"], p["stage"]) == (f["ok"], f["call"], f["stage"])
            row["same_text"] = p["raw"] == f["raw"]
            if args.stepwise:
                row["stepwise_same_text"] = p["raw"] == row["forced-stepwise"]["raw"]
            row["divergence"] = divergence(p, f, decode)
            rows.append(row)
            atomic.write_json(args.out, {"partial": True, "rows": rows})  # an interrupted run keeps what it measured
            print(f"[{i + 1}/{len(commands)}] passes {p['forward_passes']} -> {f['forward_passes']}, "
                  f"{p['wall_s']:.1f} s -> {f['wall_s']:.1f} s, same call: {row['same_call']}: {text!r}", flush=True)
            if not row["same_text"]:
                print(f"    plain:  {p['raw']}\n    forced: {f['raw']}\n    passes: {f['trace']}", flush=True)
                if row["divergence"]:
                    d = row["divergence"]
                    print(f"    first different token: #{d['at']} after {d['before']!r}: plain {d['plain']!r} by a "
                          f"margin of {_fmt_margin(d['plain_margin'])} logits, forced {d['forced']!r} by "
                          f"{_fmt_margin(d['forced_margin'])}", flush=True)
                if args.stepwise:
                    print(f"    forced-stepwise: {row['forced-stepwise']['raw']}", flush=True)

    summary = {"commands": len(rows), "same_calls": sum(r["same_call"] for r in rows),
               "same_texts": sum(r["same_text"] for r in rows),
               **({"stepwise_same_texts": sum(r["stepwise_same_text"] for r in rows)} if args.stepwise else {}),
               "gpu": session.gpu, "base": args.base,
               "adapter": args.adapter, "test": str(args.test), "seconds": round(time.monotonic() - started, 1)}
    table = []
    for key, what in (("forward_passes", "forward passes per answer"), ("wall_s", "time to answer, s"),
                      ("time_to_first_token_s", "first pass (prompt prefill), s"),
                      ("prefill_tokens_per_s", "prefill tok/s"), ("decode_tokens_per_s", "decode tok/s"),
                      ("grammar_init_s", "grammar compile, s"),
                      ("answer_tokens", "answer tokens")):
        per_mode = {m: [r[m] for r in rows] for m in MODES}
        med = {m: _median(per_mode[m], key) for m in MODES}
        total = {m: sum(x[key] for x in per_mode[m] if isinstance(x.get(key), (int, float))) for m in MODES}
        summary[key] = {"median": med, "total": total}
        ratio = total["forced"] / total["plain"] if key in ("forward_passes", "wall_s", "answer_tokens") and total["plain"] \
            else (med["forced"] / med["plain"] if med["plain"] and med["forced"] else None)
        table.append((what, med["plain"], med["forced"], ratio))
    atomic.write_json(args.out, {**summary, "rows": rows})

    fmt = lambda x: "—" if x is None else f"{x:.2f}"  # noqa: E731
    print(f"\n{len(rows)} commands, {summary['same_calls']} identical executed calls (or identical refusals), "
          f"{summary['same_texts']} identical answers")
    print(f"{'median per answer':34} {'plain':>9} {'forced':>9} {'forced/plain':>13}")
    for what, plain, forced, ratio in table:
        print(f"{what:34} {fmt(plain):>9} {fmt(forced):>9} {fmt(ratio):>13}")
    print("(forced/plain: totals over all answers for passes, time and tokens; medians for the rest)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
