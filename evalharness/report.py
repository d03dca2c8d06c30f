"""report.md (a comparison table per run, per-tool breakdown, failure stages, latency) and a bar chart PNG."""

from __future__ import annotations

from pathlib import Path

from webslm import atomic

LABELS = {"valid_json": "valid JSON", "schema_valid": "schema-valid call", "right_tool": "right tool",
          "right_args": "right arguments", "exact_match": "exact match"}


def _pct(x) -> str:
    return f"{100 * x:.1f} %" if isinstance(x, (int, float)) else "—"


def _s(x) -> str:
    return f"{x:.3f}" if isinstance(x, (int, float)) else "—"


def write_chart(runs: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(8, 3.8), dpi=100)
    for k, name in enumerate(names):
        xs = [i + k * width for i in range(len(LABELS))]
        bars = ax.bar(xs, [100 * runs[name][m] for m in LABELS], width, label=name)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(LABELS))], list(LABELS.values()))
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of test examples")
    ax.legend()
    fig.tight_layout()
    with atomic.atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def render_markdown(runs: dict[str, dict], info: dict[str, dict], title: str, chart: str | None) -> str:
    names = list(runs)
    lines = [f"# {title}", ""]
    n = {runs[name]["n"] for name in names}
    lines.append(f"{'/'.join(str(x) for x in sorted(n))} test examples. Arguments are compared on executed calls "
                 "(after place grounding): coordinates within 0.01°, other numbers within 1 %, polygons up to "
                 "rotation and direction.")
    lines.append("")
    lines.append("| metric | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for key, label in LABELS.items():
        lines.append(f"| {label} | " + " | ".join(_pct(runs[name][key]) for name in names) + " |")
    lines.append("| mean latency (s/example) | " + " | ".join(_s(runs[name]["latency"].get("mean_s")) for name in names) + " |")
    lines.append("| p90 latency (s/example) | " + " | ".join(_s(runs[name]["latency"].get("p90_s")) for name in names) + " |")
    lines.append("| output tokens/s | " + " | ".join(
        f"{runs[name]['output_tokens_per_s']:.1f}" if runs[name].get("output_tokens_per_s") else "—" for name in names) + " |")
    if chart:
        lines += ["", f"![metrics]({chart})"]
    for name in names:
        m = runs[name]
        lines += ["", f"## {name}", ""]
        for key, value in (info.get(name) or {}).items():
            lines.append(f"- {key}: `{value}`")
        lines += ["", "| tool | n | valid JSON | schema-valid | right tool | right args | exact |", "|---|---|---|---|---|---|---|"]
        for tool, t in m["per_tool"].items():
            lines.append(f"| {tool} | {t['n']} | " + " | ".join(_pct(t[k]) for k in LABELS) + " |")
        if m["failures"]:
            lines += ["", "Calls that did not execute, by stage: " +
                      ", ".join(f"{stage} {count}" for stage, count in m["failures"].items()) + "."]
    return "\n".join(lines) + "\n"


def write_report(out: Path, runs: dict[str, dict], info: dict[str, dict], title: str = "webslm evaluation") -> Path:
    out = Path(out)
    write_chart(runs, out / "metrics.png")
    atomic.write_text(out / "report.md", render_markdown(runs, info, title, "metrics.png"))
    return out / "report.md"
