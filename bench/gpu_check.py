"""One command for a machine with a real GPU: the card's q4f16_1 and the CPU's q4f32_1 in headless Chromium on the GPU,
next to torch on the same GPU.

    bench/gpu_check.sh [--dry-run] [--workdir artifacts] [--limit 50] [--models M1,M2] [--torch-device auto|cuda|cpu]
                       [--out artifacts/bench/gpu_check]

Every step is a command that exists on its own (the dry run prints them):
1. `webslm demo`'s pipeline for the cesium domain with both quantizations (webslm/pipeline.py): data, the LoRA
   adapter, the base bundles with LoRA slots, the adapter bundles. Steps already done in --workdir are skipped, so
   after `make demo` only the q4f16_1 conversions are left.
2. Per quantization, bench/lora_swap.py: engine load, the adapter's first and second swap, one command.
3. Per quantization, `webslm eval --backend browser --webgpu gpu` on the first --limit held-out commands: the demo
   page's own path; accuracy, time to first token, prefill and decode tok/s (web-llm's usage.extra).
4. `webslm eval --backend torch` with the same adapter on the same commands, on the GPU.
5. For every other model given or found locally (the documented hub models, if in the Hugging Face cache):
   bench/compiler.py --webgpu gpu --model M: both quantizations converted and run in Chromium, torch beside them.
Then one table from the steps' JSON. Without a GPU it stops at once and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from webslm.base_model import DEFAULT_MODEL, model_short_name  # noqa: E402
from webslm.pipeline import PipelineConfig, base_bundle_id, pipeline_steps, run_dir  # noqa: E402

QUANTIZATIONS = ("q4f16_1", "q4f32_1")
DOMAIN = "cesium"
COMMAND = "fly to Paris"
# The hub models docs/cli.md documents; benchmarked when already in the local Hugging Face cache (never downloaded).
HUB_MODELS = ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-0.6B")
BUDGET_S = 8 * 60


@dataclass
class Step:
    what: str
    argv: list[str]
    done: Path | None = None  # a pipeline step whose output exists is skipped, as `webslm demo` skips it


def webslm(*args) -> list[str]:
    return [sys.executable, "-m", "webslm.cli", *map(str, args)]


def bench(script: str, *args) -> list[str]:
    return [sys.executable, str(REPO / "bench" / script), *map(str, args)]


def plan(workdir: Path, out: Path, limit: int, models: list[str], torch_device: str) -> list[Step]:
    cfg = PipelineConfig(workdir=workdir, quantizations=QUANTIZATIONS, domains=(DOMAIN,))
    steps = [Step(what, webslm(*args), done) for what, done, args in pipeline_steps(cfg)]
    bundles = workdir / "bundles"
    test = workdir / "data" / DOMAIN / "split" / "test.jsonl"
    for q in QUANTIZATIONS:
        base = base_bundle_id(cfg, q)
        adapter = f"{DOMAIN}-{base}"
        steps.append(Step(f"LoRA swap, {q}", bench("lora_swap.py", "--models-dir", bundles, "--base", base, "--adapter",
                                                  adapter, "--command", COMMAND, "--webgpu", "gpu", "--out",
                                                  out / f"lora_swap-{q}.json")))
        steps.append(Step(f"browser eval, {q}", webslm("eval", test, "--domain", DOMAIN, "--backend", "browser",
                                                       "--bundle", bundles / base, "--lora", bundles / adapter,
                                                       "--webgpu", "gpu", "--limit", limit, "--quiet", "--force",
                                                       "--out", out / f"eval-browser-{q}")))
    steps.append(Step(f"torch eval, {torch_device}", webslm("eval", test, "--domain", DOMAIN, "--adapter",
                                                           run_dir(cfg, DOMAIN), "--device", torch_device, "--limit",
                                                           limit, "--quiet", "--force", "--out", out / "eval-torch")))
    for model in models:
        steps.append(Step(f"compiler bench, {model}", bench("compiler.py", "--webgpu", "gpu", "--model", model,
                                                            "--torch-device", torch_device, "--max-tokens", 32,
                                                            "--sampler-runs", 3, "--work", out / "bundles", "--out",
                                                            out / f"compiler-{model_short_name(model)}.json")))
    return steps


def gpu_problem() -> str | None:
    """Why this machine has no GPU to measure, or None."""
    smi = shutil.which("nvidia-smi")
    if smi:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True)
        if listed.returncode == 0 and "GPU" in listed.stdout:
            return None
    if shutil.which("rocm-smi") and subprocess.run(["rocm-smi", "--showid"], capture_output=True).returncode == 0:
        return None
    if torch_has_cuda():
        return None
    return "no GPU found (nvidia-smi and rocm-smi list none, torch sees no CUDA device)"


def torch_has_cuda() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def chromium_gpu() -> dict:
    """The WebGPU adapter headless Chromium gets with --webgpu gpu (fails like the benchmarks would)."""
    import tempfile

    from evalharness.browser_session import BrowserSession

    with tempfile.TemporaryDirectory() as empty, BrowserSession(Path(empty), webgpu="gpu") as session:
        return session.gpu


def cached_hub_models() -> list[str]:
    from webslm.base_model import resolve_model
    from webslm.errors import WebslmError

    found, offline = [], os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # look in the cache only: this check never downloads
    try:
        for model in HUB_MODELS:
            try:
                resolve_model(model)
                found.append(model)
            except WebslmError:
                pass
    finally:
        if offline is None:
            os.environ.pop("HF_HUB_OFFLINE")
        else:
            os.environ["HF_HUB_OFFLINE"] = offline
    return found


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _median(metrics: dict, field: str):
    return ((metrics.get("speed") or {}).get(field) or {}).get("median")


def _fmt(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summary(workdir: Path, out: Path, models: list[str]) -> list[dict]:
    """One row per run from the steps' JSON files."""
    cfg = PipelineConfig(workdir=workdir, quantizations=QUANTIZATIONS, domains=(DOMAIN,))
    rows = []
    for q in QUANTIZATIONS:
        metrics, swap = _json(out / f"eval-browser-{q}" / "metrics.json"), _json(out / f"lora_swap-{q}.json")
        swaps = (swap.get("adapters") or {}).get(f"{DOMAIN}-{base_bundle_id(cfg, q)}") or {}
        rows.append({"run": f"browser {q} + adapter", "load_s": metrics.get("engine_load_s", swap.get("load")),
                     "ttft_s": _median(metrics, "time_to_first_token_s"),
                     "prefill_tok_s": _median(metrics, "prefill_tokens_per_s"),
                     "decode_tok_s": _median(metrics, "decode_tokens_per_s"),
                     "swap_s": [(swaps.get(k) or {}).get("total_s") for k in ("first_swap", "second_swap")],
                     "metrics": metrics})
    torch_metrics = _json(out / "eval-torch" / "metrics.json")
    rows.append({"run": "torch + adapter", "decode_tok_s": torch_metrics.get("output_tokens_per_s"),
                 "metrics": torch_metrics})
    for model in models:
        result = _json(out / f"compiler-{model_short_name(model)}.json")
        for key, name in (("browser", "q4f32_1"), ("browser_q4f16_1", "q4f16_1"), ("torch", "torch")):
            r = result.get(key) or {}
            rows.append({"run": f"{model} {name} (fixed prompt)", "load_s": r.get("load_s"),
                         "ttft_s": r.get("time_to_first_token_s"), "prefill_tok_s": r.get("prefill_tokens_per_s"),
                         "decode_tok_s": r.get("decode_tokens_per_s"), "metrics": {}})
    return rows


def print_summary(rows: list[dict], limit: int) -> None:
    torch_decode = next((r["decode_tok_s"] for r in rows if r["run"] == "torch + adapter"), None)
    header = (f"{'run':<44} {'load s':>7} {'TTFT s':>7} {'prefill':>8} {'decode':>8} {'vs torch':>8} "
              f"{'swap s (1st/2nd)':>16} {'s/cmd':>6}  JSON / schema / tool / args % (first {limit} held-out)")
    print("\n" + header)
    for r in rows:
        m = r["metrics"]
        accuracy = " / ".join(f"{100 * m[k]:.0f}" for k in ("valid_json", "schema_valid", "right_tool", "right_args")
                              ) if "right_args" in m else "—"
        swap = " / ".join(_fmt(s) for s in r.get("swap_s") or []) or "—"
        versus = (r["decode_tok_s"] / torch_decode if r.get("decode_tok_s") and torch_decode
                  and r["run"].startswith("browser") else None)
        per_command = (m.get("latency") or {}).get("p50_s")
        print(f"{r['run']:<44} {_fmt(r.get('load_s')):>7} {_fmt(r.get('ttft_s')):>7} "
              f"{_fmt(r.get('prefill_tok_s'), 1):>8} {_fmt(r.get('decode_tok_s'), 1):>8} {_fmt(versus):>8} "
              f"{swap:>16} {_fmt(per_command):>6}  {accuracy}")
    print("decode tok/s: web-llm's usage.extra (median per command) in the browser; output tokens per second of "
          "batched generation for torch.\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the checks and the steps, run nothing")
    parser.add_argument("--workdir", type=Path, default=REPO / "artifacts",
                        help="the pipeline's folder (`webslm demo --workdir`); done steps are reused")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench" / "gpu_check")
    parser.add_argument("--limit", type=int, default=50, help="held-out commands evaluated per run (50)")
    parser.add_argument("--models", default=None,
                        help="other models for the compiler bench, comma-separated (default: those of "
                             f"{', '.join(HUB_MODELS)} already in the local Hugging Face cache)")
    parser.add_argument("--torch-device", default="auto", choices=("auto", "cuda", "cpu"),
                        help="torch reference (auto: cuda when this torch build has it, else cpu, said so)")
    args = parser.parse_args()
    if args.models is not None:
        models = [m.strip() for m in args.models.split(",") if m.strip() and m.strip() != DEFAULT_MODEL]
    else:
        models = cached_hub_models()

    if args.dry_run:
        device = "cuda" if args.torch_device == "auto" else args.torch_device
        print("checks: a GPU (nvidia-smi -L, rocm-smi, or torch.cuda); Chromium's WebGPU adapter with --webgpu gpu "
              "is not a CPU one")
        for i, step in enumerate(plan(args.workdir, args.out, args.limit, models, device), 1):
            note = " (done already: skipped)" if step.done is not None and step.done.exists() else ""
            print(f"[{i}] {step.what}{note}\n    {shlex.join(step.argv)}")
        return 0

    problem = gpu_problem()
    if problem:
        print(f"gpu_check: error: {problem}. This check measures a real GPU; on a CPU machine use "
              f"`python bench/compiler.py --webgpu lavapipe` or `--webgpu dawn-node` (bench/README.md).",
              file=sys.stderr)
        return 2
    device = args.torch_device
    if device == "auto":
        device = "cuda" if torch_has_cuda() else "cpu"
        if device == "cpu":
            print("note: this torch build has no CUDA (the project pins the CPU wheel), so the torch rows run on the "
                  "CPU; for torch on the GPU install a CUDA build of the same torch version into .venv "
                  "(https://pytorch.org/get-started/locally/) and run again", flush=True)
    gpu = chromium_gpu()
    print(f"Chromium WebGPU adapter: {gpu}", flush=True)
    described = json.dumps(gpu).lower()
    if "swiftshader" in described or "llvmpipe" in described:
        print("gpu_check: error: Chromium's --webgpu gpu adapter is a CPU one (a Vulkan driver for the GPU is "
              "missing?): the numbers would not be the GPU's", file=sys.stderr)
        return 2

    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    steps = plan(args.workdir, args.out, args.limit, models, device)
    timings = {}
    for i, step in enumerate(steps, 1):
        if step.done is not None and step.done.exists():
            print(f"[{i}/{len(steps)}] {step.what}: done already", flush=True)
            continue
        print(f"[{i}/{len(steps)}] {step.what}: {shlex.join(step.argv)}", flush=True)
        started = time.monotonic()
        if subprocess.run(step.argv, cwd=REPO).returncode != 0:
            print(f"gpu_check: error: step {i} ({step.what}) failed; the lines above say why", file=sys.stderr)
            return 1
        timings[step.what] = round(time.monotonic() - started, 1)
        print(f"[{i}/{len(steps)}] {step.what}: {timings[step.what]} s", flush=True)
    total = round(time.monotonic() - began, 1)
    rows = summary(args.workdir, args.out, models)
    print_summary(rows, args.limit)
    print(f"total {total} s ({'within' if total <= BUDGET_S else 'over'} the {BUDGET_S // 60}-minute budget); "
          f"WebGPU adapter {gpu}; torch on {device}")
    (args.out / "gpu_check.json").write_text(json.dumps(
        {"gpu": gpu, "torch_device": device, "limit": args.limit, "total_s": total, "step_s": timings,
         "rows": [{k: v for k, v in r.items() if k != "metrics"} | {"accuracy": {
             k: r["metrics"].get(k) for k in ("valid_json", "schema_valid", "right_tool", "right_args")}}
             for r in rows]}, indent=2) + "\n")
    print(f"wrote {args.out / 'gpu_check.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
