"""Parity between two backends on the same test set (a regression alarm for the compiler): the fraction of
examples whose greedy outputs are identical and, where they differ, the first token where they diverge."""

from __future__ import annotations

import json
from pathlib import Path


def first_divergence(a: list[int], b: list[int]) -> int | None:
    """Index of the first differing token, None when identical (a prefix counts as diverging at its end)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def parity(rows_a: list[dict], rows_b: list[dict], encode) -> dict:
    """Compare raw outputs example by example; `encode(text) -> token ids` sets the divergence unit."""
    if [r["where"] for r in rows_a] != [r["where"] for r in rows_b]:
        raise ValueError("the two runs did not answer the same examples in the same order")
    positions = []
    examples = []
    for a, b in zip(rows_a, rows_b):
        at = first_divergence(encode(a["raw"]), encode(b["raw"]))
        positions.append(at)
        if at is not None:
            examples.append({"where": a["where"], "first_divergent_token": at, "a": a["raw"], "b": b["raw"]})
    diverged = [p for p in positions if p is not None]
    n = len(positions)
    return {
        "n": n,
        "identical": (n - len(diverged)) / n if n else 0.0,
        "identical_count": n - len(diverged),
        "first_divergence_median": sorted(diverged)[len(diverged) // 2] if diverged else None,
        "first_divergence_min": min(diverged) if diverged else None,
        "diverging_examples": examples[:20],
    }


def write_parity(out: Path, name_a: str, name_b: str, tokenizer) -> dict:
    """Parity of two runs evaluated into out/<name>/predictions.jsonl; writes out/parity.json and a report line."""
    from webslm import atomic

    def rows(name):
        return [json.loads(line) for line in (Path(out) / name / "predictions.jsonl").read_text().splitlines()]

    result = {"runs": [name_a, name_b], **parity(rows(name_a), rows(name_b),
                                                 lambda text: tokenizer.encode(text, add_special_tokens=False))}
    atomic.write_json(Path(out) / "parity.json", result)
    line = (f"\n## Parity {name_a} vs {name_b}\n\n{result['identical_count']}/{result['n']} greedy outputs identical "
            f"({100 * result['identical']:.1f} %)")
    if result["first_divergence_min"] is not None:
        line += (f"; where they differ, the first divergent token is at position "
                 f"{result['first_divergence_min']} at the earliest (median {result['first_divergence_median']})")
    from evalharness.report import REPORT_FILE

    report = Path(out) / REPORT_FILE
    atomic.write_text(report, report.read_text() + line + ".\n")
    return result
