"""report.md (a comparison table per run, per-tool breakdown, failure stages, latency) and a bar chart PNG."""

from __future__ import annotations

from pathlib import Path

from webslm import atomic

LABELS = {"valid_json": "valid JSON", "schema_valid": "schema-valid call", "right_tool": "right tool",
          "right_args": "right arguments", "exact_match": "exact match"}

REPORT_FILE = "report.md"  # written last: marks a finished evaluation folder


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


def write_speed_chart(runs: dict[str, dict], rows_by_run: dict[str, list[dict]], path: Path) -> bool:
    """Histograms of decode tokens/s and time to first token per example, for runs with engine speeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {name: rows for name, rows in rows_by_run.items() if any(r.get("speed") for r in rows)}
    if not series:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    for name, rows in series.items():
        for ax, field, label in ((axes[0], "decode_tokens_per_s", "decode tokens/s"),
                                 (axes[1], "time_to_first_token_s", "time to first token (s)")):
            values = [r["speed"][field] for r in rows if isinstance((r.get("speed") or {}).get(field), (int, float))]
            if values:
                ax.hist(values, bins=min(20, max(3, len(values) // 2)), alpha=0.7, label=name)
            ax.set_xlabel(label)
            ax.set_ylabel("examples")
    axes[0].legend()
    fig.tight_layout()
    with atomic.atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return True


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
        speed = runs[name].get("speed")
        if speed:
            lines += ["", f"Engine speed, {name} (web-llm `usage.extra`; p90 is the slow end):", "",
                      "| | median | p90 | mean | min | max |", "|---|---|---|---|---|---|"]
            for field, v in speed.items():
                lines.append(f"| {field} | " + " | ".join(f"{v[k]:.3g}" for k in ("median", "p90", "mean", "min", "max"))
                             + " |")
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
        if "refusals_expected" in m:
            lines += ["", f"Commands that must be refused: {m['refusals_expected']}; executed anyway: "
                          f"**{m['executed_when_refusal_expected']}**."]
    return "\n".join(lines) + "\n"


def write_report(out: Path, runs: dict[str, dict], info: dict[str, dict], title: str = "webslm evaluation",
                 rows_by_run: dict[str, list[dict]] | None = None) -> Path:
    out = Path(out)
    write_chart(runs, out / "metrics.png")
    text = render_markdown(runs, info, title, "metrics.png")
    if rows_by_run and write_speed_chart(runs, rows_by_run, out / "speed.png"):
        text += "\n![engine speed](speed.png)\n"
    atomic.write_text(out / REPORT_FILE, text)
    return out / REPORT_FILE
