"""LoRA supervised fine-tuning on chat records: trl's SFTTrainer + peft, loss on the assistant's reply only.

The recipe, top to bottom in `train_lora`; its pieces: settings (train/config.py), records -> token ids under the
training chat template (train/data.py), the trainer's loss, progress and checkpoints (train/trainer.py), and CPU
workers (train/workers.py). The output directory is a standard PEFT adapter plus `webslm-run.json` (base model, data hash, config, steps, final
loss, time), `loss.png`, and `checkpoints/checkpoint-N/` that `--resume` continues from.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spin-waiting threads make 2-core boxes 6-12x slower

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

from train.config import SAMPLING_STRATEGIES, TrainConfig
from train.data import load_conversations, tokenize_records, training_chat_template
from train.trainer import (CHECKPOINTS, latest_checkpoint, plot_loss_curve, progress_callback, release_large_blocks,
                           sft_trainer_class)
from train.workers import in_worker, is_main_worker, launch, micro_batches_per_worker
from webslm import atomic
from webslm.digest import sha256_file
from webslm.runs import RUN_MANIFEST, pick_device
from webslm.errors import WebslmError

RUN_FORMAT = "webslm-run/1"
OOM_HINT = ("out of memory: lower --batch-size (and raise --grad-accum to keep the effective batch), lower "
            "--max-length, or lower --lora-r")


def train_lora(config: TrainConfig, resume: bool = False, progress: bool = True, force: bool = False) -> dict:
    """Fine-tune and write the adapter directory; returns the run manifest."""
    from webslm.q4 import BASE_WEIGHTS
    from webslm.checkpoint import use_quantized_base
    from webslm.base_model import resolve_model
    from webslm.domain import load_domain

    started = time.time()
    if config.base_weights not in BASE_WEIGHTS:
        raise WebslmError(f"--base-weights {config.base_weights!r}: expected one of {', '.join(BASE_WEIGHTS)}")
    out = Path(config.out)
    if not config.train_file:
        raise WebslmError("no training file given")
    domain = load_domain(config.domain)
    conversations = load_conversations(Path(config.train_file), domain.system_prompt)  # errors before any loading
    checkpoint = latest_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        print(f"--resume: no checkpoint in {out / CHECKPOINTS}; starting from step 0", flush=True)
    if checkpoint is None and not in_worker():
        old_checkpoints = (out / CHECKPOINTS).is_dir() and any((out / CHECKPOINTS).iterdir())
        if old_checkpoints and not (out / RUN_MANIFEST).is_file():
            raise WebslmError(f"{out} already holds checkpoints of an unfinished run; pass --resume to continue it, "
                              "or choose a new --out")
        atomic.check_output(out, RUN_MANIFEST, inputs=[Path(config.train_file)], force=force, what="training run",
                            ignore=[CHECKPOINTS])
        if old_checkpoints:
            shutil.rmtree(out / CHECKPOINTS)  # --force on a finished run of ours: its checkpoints go with it
    model_path = resolve_model(config.model)
    device = pick_device(config.device)
    if config.workers > 1 and not in_worker():
        if device == "cpu":
            return launch(config, resume, progress)
        print(f"--workers {config.workers} is for CPU training; training in one process on {device}", flush=True)
        config = dataclasses.replace(config, workers=1)

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    release_large_blocks()
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    base_template = tokenizer.chat_template
    tokenizer.chat_template = training_chat_template(tokenizer, conversations)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    use_quantized_base(model, Path(model_path), config.base_weights)
    layers = model.config.num_hidden_layers
    if config.lora_layers > layers:
        raise WebslmError(f"--lora-layers {config.lora_layers}: {model_path} has only {layers} decoder layers")
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in config.target_modules if m not in present]
    if missing:
        raise WebslmError(f"--target-modules: {missing} are not module names of {model_path} "
                          f"(linear layers there: {sorted(n for n in present if n.endswith('proj'))})")

    steps_per_epoch = -(-len(conversations) // (config.batch_size * config.grad_accum))
    total = config.max_steps if config.max_steps > 0 else int(steps_per_epoch * config.epochs + 0.999)
    sft = SFTConfig(
        output_dir=str(out / CHECKPOINTS),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=micro_batches_per_worker(config.grad_accum, config.workers),
        ddp_backend="gloo" if in_worker() else None,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=max(0, round(config.warmup_ratio * total)),
        weight_decay=config.weight_decay,
        max_length=None,  # tokenize_records enforces it
        # Records side by side in one row per micro-batch instead of padded to the longest: on the cesium data a
        # padded step computes ~28 % pad tokens.
        padding_free=True,
        train_sampling_strategy=SAMPLING_STRATEGIES[config.batching],
        activation_checkpointing=False,  # trl turns it on by default; on CPU memory is not the limit, time is
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        disable_tqdm=True,  # our own bar shows the loss
        use_cpu=device == "cpu",
        bf16=False,
        dataloader_num_workers=0,
        dataset_num_proc=1,
    )
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM", bias="none",
                      layers_to_transform=list(range(layers - config.lora_layers, layers)) if config.lora_layers
                      else None)
    dataset = Dataset.from_list(tokenize_records(tokenizer, conversations, config.max_length,
                                                 Path(config.train_file)))
    trainer = sft_trainer_class()(model=model, args=sft, train_dataset=dataset, processing_class=tokenizer,
                                   peft_config=lora, callbacks=[progress_callback(total)] if progress else [])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints every log dict; the bar shows the loss instead
    try:
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except torch.OutOfMemoryError:
        raise WebslmError(OOM_HINT) from None
    except RuntimeError as e:
        if "out of memory" in str(e).lower() or "not enough memory" in str(e).lower():
            raise WebslmError(OOM_HINT) from None
        raise

    if not is_main_worker():
        return {}
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    peft_model = trainer.model
    peft_model.peft_config["default"].base_model_name_or_path = str(Path(model_path).resolve()) \
        if Path(model_path).is_dir() else model_path
    out.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(out)
    tokenizer.chat_template = base_template  # the adapter ships the model's own template, not the training one
    tokenizer.save_pretrained(out)
    plot_loss_curve(trainer.state.log_history, out / "loss.png")
    manifest = {
        "format": RUN_FORMAT,
        "base_model": config.model,
        "base_model_path": str(Path(model_path).resolve()) if Path(model_path).is_dir() else model_path,
        "data": {"file": str(config.train_file), "sha256": sha256_file(Path(config.train_file)),
                 "records": len(conversations)},
        "domain": domain.name,
        "base_weights": config.base_weights,
        "config": dataclasses.asdict(config),
        "device": device,
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0, 3),
        "final_loss": losses[-1] if losses else None,
        "mean_train_loss": result.training_loss,
        "resumed_from": checkpoint.name if checkpoint else None,
        "seconds": round(time.time() - started, 1),
        "trainable_parameters": sum(p.numel() for p in peft_model.parameters() if p.requires_grad),
    }
    atomic.write_json(out / RUN_MANIFEST, manifest)
    return manifest


def worker_main(settings_path: str) -> int:
    """One training worker (train/workers.py `launch` starts `python -m train.lora SETTINGS` per rank)."""
    import torch

    from webslm import hide_known_third_party_warnings

    hide_known_third_party_warnings()
    settings = json.loads(Path(settings_path).read_text())
    torch.set_num_threads(settings["threads"])
    try:
        train_lora(TrainConfig(**settings["config"]), resume=settings["resume"],
                   progress=settings["progress"] and is_main_worker())
    except WebslmError as e:
        if is_main_worker():
            print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1]))
