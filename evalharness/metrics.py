"""The one scorer for every backend: a prediction row in, booleans and summaries out. Knows nothing of models.

A row (one line of predictions.jsonl) carries `parsed` (the model's JSON, or null), `call` (the executed call after
emission check, grounding and the tool contract, or null), `reference_output` (the reference's JSON) and
`reference` (the reference's executed call). Arguments are compared on EXECUTED calls, so {"place": "Paris"} and
the coordinates of Paris are the same answer.

Rules: coordinates (longitude/latitude) within 0.01 degrees; other numbers within 1 % relative; strings equal up to
case and surrounding spaces (date-times as instants); polylines' positions in order; polygons' positions equal up to
rotation (cyclic shift) and direction, a repeated closing vertex ignored; the same argument keys on both sides.
A row with "expect": "refusal" is right, on every score but valid JSON, exactly when nothing executed. A row whose
reference names a place the gazetteer lacks ("gazetteer_gap") has no executed reference: its tool can be right, its
arguments cannot; `executed_on_gazetteer_gap` counts the ones where something executed anyway.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime

COORDINATE_TOLERANCE_DEG = 0.01
RELATIVE_TOLERANCE = 0.01
COORDINATE_KEYS = frozenset({"longitude", "latitude"})
# (tool, argument) pairs whose list is a closed ring: any starting vertex, either direction.
RING_ARGUMENTS = frozenset({("addPolygon", "positions")})
SCORES = ("valid_json", "schema_valid", "right_tool", "right_args", "exact_match")


def numbers_match(pred, ref, key: str | None = None) -> bool:
    if key in COORDINATE_KEYS:
        return abs(pred - ref) <= COORDINATE_TOLERANCE_DEG + 1e-9
    if pred == ref:
        return True
    return abs(pred - ref) <= RELATIVE_TOLERANCE * max(abs(pred), abs(ref)) + 1e-12


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _instant(text: str):
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def values_match(pred, ref, key: str | None = None, ring: bool = False) -> bool:
    if _is_number(pred) and _is_number(ref):
        return numbers_match(pred, ref, key)
    if isinstance(pred, str) and isinstance(ref, str):
        if pred.strip().casefold() == ref.strip().casefold():
            return True
        a, b = _instant(pred), _instant(ref)
        if a is not None and b is not None and (a.tzinfo is None) == (b.tzinfo is None):
            return a == b
        return False
    if isinstance(pred, dict) and isinstance(ref, dict):
        return pred.keys() == ref.keys() and all(values_match(pred[k], ref[k], k) for k in ref)
    if isinstance(pred, list) and isinstance(ref, list):
        if ring:
            return ring_match(pred, ref)
        return len(pred) == len(ref) and all(values_match(p, r, key) for p, r in zip(pred, ref))
    return type(pred) is type(ref) and pred == ref


def _open_ring(points: list) -> list:
    if len(points) > 3 and values_match(points[0], points[-1]):
        return points[:-1]
    return points


def ring_match(pred: list, ref: list) -> bool:
    """Polygons: the same vertices in the same cyclic order, starting anywhere, in either direction."""
    pred, ref = _open_ring(pred), _open_ring(ref)
    if len(pred) != len(ref):
        return False
    if not ref:
        return True
    for candidate in (pred, pred[::-1]):
        for shift in range(len(candidate)):
            rotated = candidate[shift:] + candidate[:shift]
            if all(values_match(p, r) for p, r in zip(rotated, ref)):
                return True
    return False


def arguments_match(tool: str, pred: dict, ref: dict) -> bool:
    if not isinstance(pred, dict) or not isinstance(ref, dict) or pred.keys() != ref.keys():
        return False
    return all(values_match(pred[k], ref[k], k, ring=(tool, k) in RING_ARGUMENTS) for k in ref)


def calls_match(pred: dict | None, ref: dict | None) -> bool:
    if not isinstance(pred, dict) or not isinstance(ref, dict) or pred.get("tool") != ref.get("tool"):
        return False
    return arguments_match(ref["tool"], pred.get("arguments"), ref.get("arguments"))


def score_row(row: dict) -> dict[str, bool]:
    parsed, reference_output = row.get("parsed"), row.get("reference_output")
    reference = row.get("reference") or {}
    if row.get("expect") == "refusal":  # right only when nothing executed
        refused = row.get("call") is None
        return {"valid_json": row.get("valid_json", parsed is not None), "schema_valid": refused,
                "right_tool": refused, "right_args": refused, "exact_match": refused}
    reference_tool = (reference or (reference_output if isinstance(reference_output, dict) else {})).get("tool")
    return {
        "valid_json": row.get("valid_json", parsed is not None),
        "schema_valid": row.get("call") is not None,
        "right_tool": isinstance(parsed, dict) and reference_tool is not None and parsed.get("tool") == reference_tool,
        "right_args": calls_match(row.get("call"), reference),
        "exact_match": parsed is not None and parsed == reference_output and not row.get("gazetteer_gap"),
    }


def latency_stats(seconds: list[float]) -> dict:
    values = sorted(s for s in seconds if s is not None)
    if not values:
        return {"n": 0}

    def pct(q: float) -> float:
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    return {"n": len(values), "mean_s": statistics.fmean(values), "p50_s": pct(0.5), "p90_s": pct(0.9),
            "p99_s": pct(0.99), "max_s": values[-1]}


def _rates(scored: list[dict[str, bool]]) -> dict:
    n = len(scored)
    out = {"n": n}
    for name in SCORES:
        hits = sum(1 for s in scored if s[name])
        out[name] = hits / n if n else 0.0
        out[f"{name}_count"] = hits
    return out


def summarize(rows: list[dict]) -> dict:
    """Overall rates, a per-tool breakdown (by the reference's tool), failure stages and latency."""
    scored = [score_row(r) for r in rows]
    per_tool: dict[str, list] = {}
    for row, s in zip(rows, scored):
        reference = row.get("reference") or row.get("reference_output") or {}
        tool = "(refusal expected)" if row.get("expect") == "refusal" else (reference.get("tool", "?") if isinstance(reference, dict) else "?")
        per_tool.setdefault(tool, []).append(s)
    failures: dict[str, int] = {}
    for row in rows:
        if row.get("call") is None:
            stage = row.get("stage", "unknown")
            failures[stage] = failures.get(stage, 0) + 1
    output_tokens = [r["output_tokens"] for r in rows if r.get("output_tokens") is not None]
    seconds = [r.get("seconds") for r in rows]
    total_seconds = sum(s for s in seconds if s is not None)
    return {
        **_rates(scored),
        "per_tool": {tool: _rates(v) for tool, v in sorted(per_tool.items())},
        "failures": dict(sorted(failures.items())),
        "latency": latency_stats(seconds),
        "output_tokens_per_s": (sum(output_tokens) / total_seconds) if output_tokens and total_seconds else None,
        **({"speed": speed_stats(rows)} if any(r.get("speed") for r in rows) else {}),
        **({"refusals_expected": sum(1 for r in rows if r.get("expect") == "refusal"),
            "executed_when_refusal_expected": sum(1 for r in rows if r.get("expect") == "refusal"
                                                  and r.get("call") is not None)}
           if any(r.get("expect") == "refusal" for r in rows) else {}),
        **({"gazetteer_gaps": sum(1 for r in rows if r.get("gazetteer_gap")),
            "executed_on_gazetteer_gap": sum(1 for r in rows if r.get("gazetteer_gap") and r.get("call") is not None)}
           if any(r.get("gazetteer_gap") for r in rows) else {}),
    }


# web-llm's usage.extra fields worth summarising, and whether higher is better
SPEED_FIELDS = {"decode_tokens_per_s": True, "prefill_tokens_per_s": True, "time_to_first_token_s": False,
                "time_per_output_token_s": False, "e2e_latency_s": False}


def speed_stats(rows: list[dict]) -> dict:
    """Median, p90 (the slow end: low for rates, high for times), mean, min and max of engine-reported speeds."""
    out = {}
    for name, higher_is_better in SPEED_FIELDS.items():
        values = sorted(r["speed"][name] for r in rows if isinstance((r.get("speed") or {}).get(name), (int, float)))
        if not values:
            continue
        slow_end = values[max(0, math.ceil(0.1 * len(values)) - 1)] if higher_is_better else \
            values[min(len(values) - 1, math.ceil(0.9 * len(values)) - 1)]
        out[name] = {"n": len(values), "median": statistics.median(values), "p90": slow_end,
                     "mean": statistics.fmean(values), "min": values[0], "max": values[-1]}
    return out
