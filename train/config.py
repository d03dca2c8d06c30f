"""`webslm train` settings: one dataclass of values (defaults, a JSON/TOML file, flags on top), no control flow."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from train.workers import micro_batches_per_worker
from webslm.errors import WebslmError
from webslm.strict_json import parse_json


SAMPLING_STRATEGIES = {"random": "random", "rebalance": "batch_rebalance", "grouped": "group_by_length"}



@dataclass
class TrainConfig:
    """Every value a run needs. Defaults < config file (--config, JSON or TOML) < command-line flags."""

    model: str = "default"
    train_file: str = ""
    out: str = ""
    domain: str = "cesium"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj",
                                                               "gate_proj", "up_proj", "down_proj"])
    # LoRA in the last N decoder layers only (0 = every layer). Nothing below them needs a gradient, so the backward
    # pass stops there (the last 20 of SmolLM2-135M's 30: CPU steps 1.4x faster, but 8 points fewer right tools).
    lora_layers: int = 0
    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512
    # How records become batches. "random": each batch drawn at random, padded to its longest record (cesium records
    # run 40-340 tokens). "rebalance": each optimizer step's records (batch_size x grad_accum) are drawn at random,
    # then split by length into micro-batches that pad little (transformers' batch_rebalance). "grouped": batches of
    # similar length across hundreds of records; similar length means the same tool (routes are long, scene modes
    # short), so the tool choice swings batch to batch: 150 steps grouped gave 50 % right tool on held-out cesium.
    batching: str = "random"
    weight_decay: float = 0.0
    save_steps: int = 50
    save_total_limit: int = 2
    logging_steps: int = 1
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    threads: int = 0  # torch threads on CPU; 0 = torch's default (with workers: the cores shared between them)
    # CPU processes that share each step's micro-batches (train/workers.py); must divide grad_accum.
    workers: int = 1
    # The base weights the adapter learns against: the q4 round trip the browser runs (an adapter trained on the
    # float base loses most of its accuracy on the q4 base), or 'float' for a float deployment.
    base_weights: str = "q4f32_1"

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]



def load_config_file(path: Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WebslmError(f"{path}: no such config file") from None
    if path.suffix == ".toml":
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise WebslmError(f"{path}: invalid TOML: {e}") from None
    else:
        values = parse_json(text, str(path))
    if not isinstance(values, dict):
        raise WebslmError(f"{path}: expected a table (object) of settings, got {type(values).__name__}")
    values = values.get("train", values)  # a [train] table or a flat file
    unknown = sorted(set(values) - set(TrainConfig.field_names()))
    if unknown:
        raise WebslmError(f"{path}: unknown setting(s) {unknown}; known: {TrainConfig.field_names()}")
    return values



def make_config(file: Path | None = None, **flags) -> TrainConfig:
    """Defaults, then the config file, then every flag that is not None."""
    values = load_config_file(file) if file else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    config = TrainConfig(**values)
    for name in ("batch_size", "grad_accum", "max_length", "save_steps", "lora_r"):
        if getattr(config, name) < 1:
            raise WebslmError(f"{name.replace('_', '-')} must be at least 1, got {getattr(config, name)}")
    if config.learning_rate <= 0 or (config.max_steps <= 0 and config.epochs <= 0):
        raise WebslmError("learning rate and epochs (or --max-steps) must be positive")

    micro_batches_per_worker(config.grad_accum, config.workers)
    if config.lora_layers < 0:
        raise WebslmError(f"lora-layers must be 0 (every layer) or a count of layers, got {config.lora_layers}")
    if config.batching not in SAMPLING_STRATEGIES:
        raise WebslmError(f"batching {config.batching!r} is not one of {', '.join(SAMPLING_STRATEGIES)}")
    return config
