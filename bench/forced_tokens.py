"""How much of an answer the request's grammar already decides (issue #22, step 1: measure before building).

For each held-out record, the reference answer is walked token by token through the xgrammar matcher of that
request's narrowed emission schema (the rulebook's `narrow`, what the page and torch constrain with). A token is
*forced* when its text lies inside the grammar's jump-forward string at that point (the text every accepted
continuation starts with). A loop that feeds forced text in with the next forward pass needs one pass per unforced
token (plus the prompt's prefill) instead of one per token: the ratio printed is that saving.

    python bench/forced_tokens.py [--domain cesium] [--test FILE] [--limit 200] [--out artifacts/bench/forced.json]

The default test file is `artifacts/data/<domain>/split/test.jsonl`, which `webslm demo` writes.
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

from webslm import atomic  # noqa: E402
from webslm.base_model import resolve_model  # noqa: E402
from webslm.domain import load_domain  # noqa: E402
from webslm.records import read_records, seed_view  # noqa: E402


class GrammarRefused(ValueError):
    """The reference answer leaves the request's grammar (e.g. a converted number where the request's words are
    the only option): not counted, reported."""


def forced_share(matcher, tokenizer, answer: str) -> tuple[int, int, int]:
    """(answer tokens, forced tokens, forced runs) for one answer under one compiled grammar; the stop token that
    ends the answer counts as a token, forced when the grammar allows nothing else."""
    ids = tokenizer.encode(answer, add_special_tokens=False)
    forced = runs = 0
    in_run = False
    for token in ids:
        text = tokenizer.decode([token])
        try:
            jump = matcher.find_jump_forward_string()
        except UnicodeDecodeError:  # the forced bytes end inside a character: counted as not forced (conservative)
            jump = ""
        if jump and text and jump.startswith(text):
            forced += 1
            runs += not in_run
            in_run = True
        else:
            in_run = False
        if not matcher.accept_token(token):
            raise GrammarRefused(text)
    if matcher.is_completed():  # the object is closed: only a stop token may follow
        forced += 1
        runs += not in_run
    return len(ids) + 1, forced, runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", default="cesium")
    parser.add_argument("--test", type=Path, default=None, help="seed/chat records (default: the demo's test split)")
    parser.add_argument("--limit", type=int, default=200, help="first N records (default 200)")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts/bench/forced_tokens.json")
    args = parser.parse_args()

    import xgrammar as xgr
    from transformers import AutoTokenizer
    from tqdm.auto import tqdm

    domain = load_domain(args.domain)
    test = args.test or REPO / "artifacts/data" / args.domain / "split/test.jsonl"
    records = list(read_records(test))[:args.limit]
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("default"))
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer))
    compiler = xgr.GrammarCompiler(info, cache_enabled=False)
    requests = [seed_view(r)[0] for r in records]
    schemas = domain.rules.narrow(requests)
    totals, rows, refused, started = {"tokens": 0, "forced": 0, "runs": 0}, [], [], time.monotonic()
    for record, request, schema in tqdm(list(zip(records, requests, schemas)), desc="answers", unit="answer"):
        grammar = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "))
        try:
            n, forced, runs = forced_share(xgr.GrammarMatcher(grammar), tokenizer, seed_view(record)[1])
        except GrammarRefused as e:
            refused.append({"request": request, "answer": seed_view(record)[1], "at": str(e)})
            continue
        rows.append({"request": request, "tokens": n, "forced": forced, "runs": runs})
        for key, value in (("tokens", n), ("forced", forced), ("runs", runs)):
            totals[key] += value
    share = totals["forced"] / totals["tokens"]
    per_answer = [r["forced"] / r["tokens"] for r in rows]
    result = {"domain": args.domain, "test_file": str(test), "answers": len(rows), **totals,
              "forced_share": round(share, 4), "forced_share_median": round(statistics.median(per_answer), 4),
              "passes_plain": totals["tokens"], "passes_with_forcing": totals["tokens"] - totals["forced"],
              "reference_outside_grammar": len(refused), "seconds": round(time.monotonic() - started, 1)}
    atomic.write_json(args.out, {**result, "rows": rows, "outside_grammar": refused})
    print(f"{args.domain}: {len(rows)} answers, {totals['tokens']} answer tokens, {totals['forced']} forced by the "
          f"request's grammar ({100 * share:.1f} %; median answer {100 * result['forced_share_median']:.1f} %), "
          f"in {totals['runs']} runs; {len(refused)} reference answers lie outside their request's grammar (not counted)")
    print(f"forward passes for the answers: {totals['tokens']} one per token -> "
          f"{result['passes_with_forcing']} with forced text fed in ({100 * share:.1f} % fewer)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
