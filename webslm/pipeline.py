"""The whole pipeline on a base model (the embedded SmolLM2 unless --model names another), as `webslm demo` runs it:

  data (both domains) -> train a LoRA adapter per domain -> convert the base once with a runtime-LoRA branch
  -> convert each adapter -> (optionally) evaluate -> serve the demo with the base and both adapters.

Every step runs as its own `webslm` command (what a person would type; each reads the previous step's artefact
from disk) and is skipped when its output already exists, so an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from webslm.artifacts import ADAPTER_MANIFEST, BUNDLE_MANIFEST
from webslm.base_model import DEFAULT_MODEL, model_short_name, resolve_model
from webslm.errors import WebslmError
from webslm.q4 import QUANTIZATIONS
from webslm.runs import RUN_MANIFEST
from webslm.strict_json import read_json_object

DOMAINS = ("cesium", "cad")


# The default adapter's recipe: steps of 16 records (4 x 4 accumulated, rebalanced by length) at lr 1e-3, shared by
# two CPU workers (one process keeps only about one of 2 cores busy), measured in docs/results.md (cesium: 12 min on 2
# cores, 99 % right tool on the first 100 held-out commands). bench/train_default.py uses it too.
DEFAULT_TRAIN_STEPS = 85


def train_recipe(steps: int = DEFAULT_TRAIN_STEPS) -> list[str]:
    """`webslm train` flags of the default recipe."""
    return ["--max-steps", str(steps), "--batch-size", "4", "--grad-accum", "4", "--batching", "rebalance",
            "--lr", "1e-3", "--workers", "2"]


@dataclass
class PipelineConfig:
    workdir: Path = Path("artifacts")
    model: str = DEFAULT_MODEL  # 'default', a local HF model directory, or a hub id
    examples: int = 3000        # generated records per domain
    train_steps: int = DEFAULT_TRAIN_STEPS
    lora_rank: int = 16         # compiled runtime-LoRA rank = training rank
    quantizations: tuple[str, ...] = ("q4f32_1", "q4f16_1")
    evaluate: bool = False      # torch eval of each adapter on its held-out split
    eval_limit: int = 200
    seed: int = 1
    domains: tuple[str, ...] = DOMAINS


def base_bundle_id(cfg: PipelineConfig, quantization: str) -> str:
    """The id of the base bundle the pipeline converts (adapters are '<domain>-<this>')."""
    return f"{model_short_name(cfg.model)}-lora{cfg.lora_rank}-{quantization}"


def run_dir(cfg: PipelineConfig, domain: str) -> Path:
    """Where the domain's adapter is trained. Data is the same for every model; runs are per model (the default's
    keep their first layout)."""
    return cfg.workdir / "runs" / ("" if cfg.model == DEFAULT_MODEL else model_short_name(cfg.model)) / domain


def pipeline_steps(cfg: PipelineConfig) -> list[tuple[str, Path, list[str]]]:
    """(what, output that proves it is done, webslm arguments) for every step, in order."""
    w = cfg.workdir
    bundles = w / "bundles"
    base_ids = {q: base_bundle_id(cfg, q) for q in cfg.quantizations}
    steps = []
    for domain in cfg.domains:
        data = w / "data" / domain
        steps.append((f"generate {domain} data", data / "all.jsonl",
                      ["data", "generate", "--domain", domain, "--seed", str(cfg.seed), "-n", str(cfg.examples),
                       "--out", str(data / "all.jsonl")]))
        steps.append((f"split {domain} data", data / "split" / "test.jsonl",
                      ["data", "split", str(data / "all.jsonl"), "--domain", domain, "--seed", str(cfg.seed),
                       "--out", str(data / "split")]))
        run = run_dir(cfg, domain)
        steps.append((f"train the {domain} adapter", run / RUN_MANIFEST,
                      ["train", str(data / "split" / "train.jsonl"), "--domain", domain, "--model", cfg.model,
                       "--out", str(run), *train_recipe(cfg.train_steps), "--lora-r", str(cfg.lora_rank),
                       "--lora-alpha", str(2 * cfg.lora_rank), "--seed", str(cfg.seed)]
                      + (["--resume"] if (run / "checkpoints").is_dir() else [])))
    for quant, base_id in base_ids.items():
        steps.append((f"convert the base ({quant}, LoRA rank {cfg.lora_rank})",
                      bundles / base_id / BUNDLE_MANIFEST,
                      ["convert", cfg.model, "-q", quant, "--lora-rank", str(cfg.lora_rank), "--model-id", base_id,
                       "--out", str(bundles / base_id)]))
        for domain in cfg.domains:
            adapter_id = f"{domain}-{base_id}"
            steps.append((f"convert the {domain} adapter for {base_id}", bundles / adapter_id / ADAPTER_MANIFEST,
                          ["convert-adapter", str(run_dir(cfg, domain)), "--base", str(bundles / base_id),
                           "--adapter-id", adapter_id, "--domain", domain, "--out", str(bundles / adapter_id)]))
    if cfg.evaluate:
        for domain in cfg.domains:
            evaluation = w / "eval" / run_dir(cfg, domain).relative_to(w / "runs")
            steps.append((f"evaluate the {domain} adapter (torch)", evaluation / "metrics.json",
                          ["eval", str(w / "data" / domain / "split" / "test.jsonl"), "--domain", domain,
                           "--adapter", str(run_dir(cfg, domain)), "--compare", "--limit", str(cfg.eval_limit),
                           "--out", str(evaluation)]))
    return steps


def check_made_from(done: Path, model: str) -> None:
    """Refuse a finished step's output made from another base model than `model`: two local models whose folders
    share a name share a run and a bundle id, and skipping the step would serve the first model's adapter and
    weights as the second's. Outputs that record no base (data, older runs) are taken as they are."""
    recorded = read_json_object(done) if done.name in (RUN_MANIFEST, BUNDLE_MANIFEST) else {}
    made_from = recorded.get("base_model_path") or recorded.get("base_model")
    if not made_from or made_from == model:
        return
    wanted = Path(resolve_model(model)).resolve()
    if Path(made_from).resolve() != wanted:
        raise WebslmError(f"{done}: made from the base model {made_from}, not {wanted}; it is kept as it is: pass "
                          f"another --workdir for this model (or move {done.parent} away)")


def run_pipeline(cfg: PipelineConfig) -> Path:
    """Run every step not yet done; returns the bundles directory to serve."""
    steps = pipeline_steps(cfg)
    for i, (what, done, args) in enumerate(steps, 1):
        if done.exists():
            check_made_from(done, cfg.model)
            print(f"[demo {i}/{len(steps)}] {what}: done already ({done})", flush=True)
            continue
        command = [sys.executable, "-m", "webslm.cli", *args]
        print(f"[demo {i}/{len(steps)}] {what}: webslm {shlex.join(args)}", flush=True)
        started = time.monotonic()
        if subprocess.run(command).returncode != 0:
            raise WebslmError(f"step {i} ({what}) failed; fix the cause and run `webslm demo` again to continue "
                              f"from there")
        print(f"[demo {i}/{len(steps)}] {what}: {time.monotonic() - started:.0f} s", flush=True)
    return cfg.workdir / "bundles"


def add_pipeline_arguments(parser) -> None:
    d = PipelineConfig()
    parser.add_argument("--workdir", type=Path, default=d.workdir, help=f"where artefacts go ({d.workdir})")
    parser.add_argument("--model", default=d.model,
                        help="base model: 'default' (the embedded SmolLM2-135M-Instruct), a local Hugging Face model "
                             "directory, or a hub id such as Qwen/Qwen2.5-0.5B-Instruct (downloaded once)")
    parser.add_argument("--examples", type=int, default=d.examples, help=f"records per domain ({d.examples})")
    parser.add_argument("--train-steps", type=int, default=d.train_steps, help=f"LoRA steps per domain ({d.train_steps})")
    parser.add_argument("--lora-rank", type=int, default=d.lora_rank, help=f"({d.lora_rank})")
    parser.add_argument("--quantizations", default=",".join(d.quantizations),
                        help="bundles to build (q4f32_1 runs everywhere; q4f16_1 needs shader-f16)")
    parser.add_argument("--evaluate", action="store_true", help="also evaluate each adapter with torch")
    parser.add_argument("--skip-pipeline", action="store_true", help="only serve what exists")


def pipeline_config(args) -> PipelineConfig:
    """The flags as a config, every value checked here: a bad one fails before the first (long) step runs."""
    for flag, value in (("--examples", args.examples), ("--train-steps", args.train_steps),
                        ("--lora-rank", args.lora_rank)):
        if value < 1:
            raise WebslmError(f"{flag} {value}: must be at least 1")
    quantizations = tuple(q.strip() for q in args.quantizations.split(",") if q.strip())
    unknown = [q for q in quantizations if q not in QUANTIZATIONS]
    if not quantizations or unknown:
        raise WebslmError(f"--quantizations {args.quantizations!r}: expected a comma-separated list of "
                          f"{', '.join(QUANTIZATIONS)}")
    workdir = Path(args.workdir)
    if workdir.exists() and not workdir.is_dir():
        raise WebslmError(f"--workdir {workdir}: exists and is not a folder")
    if args.model != DEFAULT_MODEL:
        resolve_model(args.model)  # a directory is checked, a hub model downloaded (or refused) before step 1
    return PipelineConfig(workdir=workdir, model=args.model, examples=args.examples, train_steps=args.train_steps,
                          lora_rank=args.lora_rank, quantizations=quantizations, evaluate=args.evaluate)
