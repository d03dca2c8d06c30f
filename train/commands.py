"""`webslm train` (LoRA SFT) and `webslm merge` (adapter -> plain HF checkpoint)."""

from __future__ import annotations

from pathlib import Path

from webslm.q4 import BASE_WEIGHTS
from train.config import SAMPLING_STRATEGIES, TrainConfig

_DEFAULTS = TrainConfig()


def run_train(args) -> int:
    from train.config import make_config
    from train.lora import train_lora

    flags = {name: getattr(args, name, None) for name in TrainConfig.field_names()}
    flags["train_file"] = str(args.train_file)
    flags["out"] = str(args.out)
    if flags.get("target_modules"):
        flags["target_modules"] = [m.strip() for m in flags["target_modules"].split(",") if m.strip()]
    config = make_config(args.config, **flags)
    manifest = train_lora(config, resume=args.resume, force=args.force)
    print(f"wrote adapter to {config.out}: {manifest['steps']} steps, final loss {manifest['final_loss']:.4f}, "
          f"{manifest['seconds']:.0f} s (loss curve {Path(config.out) / 'loss.png'})")
    return 0


def run_merge(args) -> int:
    from train.merge import merge_adapter

    out = merge_adapter(args.adapter, args.out, args.model, args.base_weights, force=args.force)
    print(f"wrote merged model to {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="LoRA fine-tune a chat model on chat or seed JSONL records")
    p.add_argument("train_file", type=Path, metavar="TRAIN.jsonl", help="chat {messages} or seed {instruction, output}")
    p.add_argument("--out", type=Path, required=True, help="adapter directory to write")
    p.add_argument("--config", type=Path, default=None, help="JSON or TOML file of settings (flags override it)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT/checkpoints")
    p.add_argument("--force", action="store_true", help="train again into an OUT that holds a finished run")
    d = _DEFAULTS
    p.add_argument("--model", default=None, help=f"base model: 'default', a local HF dir or a hub id ({d.model})")
    p.add_argument("--domain", default=None, help=f"domain pack ({d.domain})")
    p.add_argument("--lora-r", dest="lora_r", type=int, default=None, help=f"LoRA rank ({d.lora_r})")
    p.add_argument("--lora-alpha", dest="lora_alpha", type=int, default=None, help=f"LoRA alpha ({d.lora_alpha})")
    p.add_argument("--lora-dropout", dest="lora_dropout", type=float, default=None, help=f"({d.lora_dropout})")
    p.add_argument("--lora-layers", dest="lora_layers", type=int, default=None,
                   help="LoRA in the last N decoder layers only; the backward pass stops below them (0 = all)")
    p.add_argument("--target-modules", dest="target_modules", default=None,
                   help=f"comma-separated ({','.join(d.target_modules)})")
    p.add_argument("--lr", dest="learning_rate", type=float, default=None, help=f"learning rate ({d.learning_rate})")
    p.add_argument("--lr-scheduler", dest="lr_scheduler", default=None, help=f"({d.lr_scheduler})")
    p.add_argument("--warmup-ratio", dest="warmup_ratio", type=float, default=None, help=f"({d.warmup_ratio})")
    p.add_argument("--epochs", type=float, default=None, help=f"({d.epochs})")
    p.add_argument("--max-steps", dest="max_steps", type=int, default=None, help="stop after N steps (overrides epochs)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=None, help=f"({d.batch_size})")
    p.add_argument("--grad-accum", dest="grad_accum", type=int, default=None, help=f"({d.grad_accum})")
    p.add_argument("--max-length", dest="max_length", type=int, default=None, help=f"tokens per record ({d.max_length})")
    p.add_argument("--batching", default=None, choices=list(SAMPLING_STRATEGIES),
                   help="random: random batches; rebalance: each step's records at random, split by length into "
                        "--grad-accum micro-batches that pad little; grouped: batches of similar length (one tool "
                        f"each: tool accuracy drops) ({d.batching})")
    p.add_argument("--weight-decay", dest="weight_decay", type=float, default=None, help=f"({d.weight_decay})")
    p.add_argument("--save-steps", dest="save_steps", type=int, default=None, help=f"checkpoint every N steps ({d.save_steps})")
    p.add_argument("--save-total-limit", dest="save_total_limit", type=int, default=None, help=f"({d.save_total_limit})")
    p.add_argument("--logging-steps", dest="logging_steps", type=int, default=None, help=f"({d.logging_steps})")
    p.add_argument("--seed", type=int, default=None, help=f"({d.seed})")
    p.add_argument("--device", default=None, choices=["auto", "cpu", "cuda", "mps"], help="(auto: cuda, mps, cpu)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--workers", type=int, default=None,
                   help="CPU processes sharing each step's micro-batches; must divide --grad-accum (on 2 cores, 2 "
                        f"workers train ~2x faster than 1) ({d.workers})")
    p.add_argument("--base-weights", dest="base_weights", default=None, choices=BASE_WEIGHTS,
                   help=f"train against the float base or the q4 round trip the browser runs ({d.base_weights})")
    p.set_defaults(run=run_train)

    m = sub.add_parser("merge", help="merge a LoRA adapter into its base model (a plain HF checkpoint)")
    m.add_argument("adapter", type=Path, metavar="ADAPTER", help="adapter directory from `webslm train`")
    m.add_argument("--out", type=Path, required=True, help="merged model directory to write")
    m.add_argument("--force", action="store_true", help="replace --out if it holds a previous merge")
    m.add_argument("--model", default=None, help="base model (default: the one the adapter was trained on)")
    m.add_argument("--base-weights", default=None, choices=BASE_WEIGHTS,
                   help="merge into the float base or its q4 round trip (default: what the adapter was trained on)")
    m.set_defaults(run=run_merge)
