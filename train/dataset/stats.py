"""What a dataset contains: calls per tool, how often each argument is present, places vs explicit coordinates,
its variety (distinct templates per tool, the kinds of place it names), and how long instructions and outputs are. Written as stats.json, stats.csv and tools.png."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from pathlib import Path

from webslm import atomic
from webslm.domain import COORDINATE_KEYS, PLACE_KEY, Domain
from webslm.errors import WebslmError
from webslm.records import parse_output, read_records, seed_view

# About four characters per token for English and JSON in BPE vocabularies of ~50k entries (SmolLM2, Qwen2.5);
# good enough to size context windows without loading a tokenizer.
CHARS_PER_TOKEN = 4.0


def _distribution(values: list[int]) -> dict:
    if not values:
        return {"min": 0, "mean": 0, "p50": 0, "p90": 0, "p99": 0, "max": 0}
    s = sorted(values)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return {"min": s[0], "mean": round(sum(s) / len(s), 1), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99),
            "max": s[-1]}


def dataset_stats(records: list[dict], domain: Domain, tokenizer=None) -> dict:
    per_tool = Counter()
    arg_present = defaultdict(Counter)
    locations = Counter()
    lengths = defaultdict(list)
    unparsed = 0
    place_names: list[str] = []
    templates: dict[str, set] = defaultdict(set)
    for r in records:
        instruction, output, _, _ = seed_view(r)
        instruction, output = instruction or "", output or ""
        lengths["instruction_chars"].append(len(instruction))
        lengths["output_chars"].append(len(output))
        if tokenizer is not None:
            lengths["instruction_tokens"].append(len(tokenizer.encode(instruction, add_special_tokens=False)))
            lengths["output_tokens"].append(len(tokenizer.encode(output, add_special_tokens=False)))
        call = parse_output(r)
        tool, arguments = (call.get("tool"), call.get("arguments")) if isinstance(call, dict) else (None, None)
        if not isinstance(tool, str) or not isinstance(arguments, dict):
            unparsed += 1
            continue
        per_tool[tool] += 1
        for name in arguments:
            arg_present[tool][name] += 1
        _count_locations(arguments, locations, place_names)
        template = (r.get("meta") or {}).get("template") if isinstance(r.get("meta"), dict) else None
        if template:
            templates[tool].add(template)
    if tokenizer is None:
        for key in ("instruction", "output"):
            lengths[f"{key}_tokens_approx"] = [round(n / CHARS_PER_TOKEN) for n in lengths[f"{key}_chars"]]
    coverage = {}
    for tool_name, tool in domain.tools.items():
        n = per_tool.get(tool_name, 0)
        properties = list(tool.parameters.get("properties", {}))
        if all(k in properties for k in COORDINATE_KEYS):
            properties = [p for p in properties if p not in COORDINATE_KEYS]
            properties.insert(0, "location")
            # longitude+latitude or {"place"}: one required "location" argument for coverage purposes
            arg_present[tool_name]["location"] = (arg_present[tool_name][COORDINATE_KEYS[0]]
                                                  + arg_present[tool_name][PLACE_KEY])
        required = set(tool.parameters.get("required", []))
        coverage[tool_name] = {
            p: {"present": arg_present[tool_name][p], "share": round(arg_present[tool_name][p] / n, 3) if n else 0.0,
                "required": p in required or p == "location"}
            for p in properties}
    return {
        "records": len(records),
        "unparsed_outputs": unparsed,
        "tools": {t: per_tool.get(t, 0) for t in domain.tools},
        "argument_coverage": coverage,
        "locations": dict(locations),
        "lengths": {k: _distribution(v) for k, v in lengths.items()},
        "variety": {
            "templates_per_tool": {t: len(templates[t]) for t in domain.tools},  # from meta.template (generated)
            "distinct_place_names": len({n.lower() for n in place_names}),
            "place_kinds": _place_kinds(place_names, domain),
        },
    }


def _place_kinds(names: list[str], domain: Domain) -> dict[str, int]:
    """How many written places resolve to each kind of place (city, country, mountain, ...; "unknown" for none)."""
    if not names or domain.gazetteer_path is None:
        return {}
    kinds = Counter(p.kind if p else "unknown" for p in domain.rules.resolve(names))
    return dict(kinds.most_common())


def _count_locations(node, counter: Counter, names: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _count_locations(item, counter, names)
    elif isinstance(node, dict):
        if PLACE_KEY in node:
            counter["place"] += 1
            if isinstance(node[PLACE_KEY], str):
                names.append(node[PLACE_KEY])
        elif all(k in node for k in COORDINATE_KEYS):
            counter["coordinates"] += 1
        for value in node.values():
            _count_locations(value, counter, names)


def stats_rows(stats: dict) -> list[list]:
    rows = [["section", "key", "subkey", "value"], ["records", "", "", stats["records"]]]
    rows += [["tool", t, "count", n] for t, n in stats["tools"].items()]
    for tool, args in stats["argument_coverage"].items():
        for arg, c in args.items():
            rows += [["argument_present", tool, arg, c["present"]], ["argument_share", tool, arg, c["share"]]]
    rows += [["location", k, "count", n] for k, n in stats["locations"].items()]
    for name, dist in stats["lengths"].items():
        rows += [["length", name, k, v] for k, v in dist.items()]
    variety = stats.get("variety", {})
    rows += [["templates", t, "distinct", n] for t, n in variety.get("templates_per_tool", {}).items()]
    rows += [["place_kind", k, "count", n] for k, n in variety.get("place_kinds", {}).items()]
    if "distinct_place_names" in variety:
        rows.append(["places", "", "distinct_names", variety["distinct_place_names"]])
    return rows


def write_tool_chart(path: Path, tools: dict[str, int], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.bar(list(tools), list(tools.values()), color="#3b6ea5")
    ax.set_ylabel("records")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


STATS_MANIFEST = "stats.json"  # written last: it marks a finished stats folder


def write_stats(path: Path, out_dir: Path, domain: Domain, tokenizer_dir: Path | None = None) -> dict:
    tokenizer = None
    if tokenizer_dir is not None:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        except (OSError, ValueError) as e:
            raise WebslmError(f"--tokenizer {tokenizer_dir}: cannot load a tokenizer there ({e})") from None
    stats = dataset_stats(read_records(path), domain, tokenizer)
    stats["source"] = str(path)
    out_dir = Path(out_dir)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(stats_rows(stats))
    atomic.write_text(out_dir / "stats.csv", buf.getvalue())
    write_tool_chart(out_dir / "tools.png", stats["tools"], f"{Path(path).name}: {stats['records']} records per tool")
    atomic.write_json(out_dir / STATS_MANIFEST, stats)
    return stats
