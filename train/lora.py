"""LoRA supervised fine-tuning on chat records: trl's SFTTrainer + peft, loss on the assistant's reply only.

Read top to bottom: configuration -> data -> training chat template -> trainer (with the CPU-friendly loss) -> run.
The output directory is a standard PEFT adapter plus `webslm-run.json` (base model, data hash, config, steps, final
loss, time), `loss.png`, and `checkpoints/checkpoint-N/` that `--resume` continues from.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spin-waiting threads make 2-core boxes 6-12x slower

import dataclasses
import shutil
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from webslm import atomic
from webslm.digest import sha256_file
from webslm.errors import WebslmError

RUN_MANIFEST = "webslm-run.json"
RUN_FORMAT = "webslm-run/1"
CHECKPOINTS = "checkpoints"
OOM_HINT = ("out of memory: lower --batch-size (and raise --grad-accum to keep the effective batch), lower "
            "--max-length, or lower --lora-r")


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
    try:
        values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise WebslmError(f"{path}: invalid {'TOML' if path.suffix == '.toml' else 'JSON'}: {e}") from None
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
    from train.workers import micro_batches_per_worker

    micro_batches_per_worker(config.grad_accum, config.workers)
    if config.lora_layers < 0:
        raise WebslmError(f"lora-layers must be 0 (every layer) or a count of layers, got {config.lora_layers}")
    if config.batching not in SAMPLING_STRATEGIES:
        raise WebslmError(f"batching {config.batching!r} is not one of {', '.join(SAMPLING_STRATEGIES)}")
    return config


# ---------------------------------------------------------------------------------------------------------- data

def load_conversations(path: Path, system_prompt: str) -> list[list[dict]]:
    """[system, user, assistant] message lists from a chat or seed JSONL file; every bad line is reported at once,
    before any model is loaded."""
    from train.dataset.records import SEED_KEYS, read_lines, record_format, seed_to_chat
    from webslm.errors import Problem, ProblemsError

    conversations, problems = [], []
    for line in read_lines(path):
        if line.problem:
            problems.append(line.problem)
            continue
        record = line.record
        if record_format(record) == "seed":
            missing = [k for k in SEED_KEYS if not isinstance(record.get(k), str) or not record.get(k).strip()]
            if missing:
                problems.append(Problem(line.where, missing[0], "missing, empty or not a string (a record is "
                                        "{\"instruction\", \"output\"} or {\"messages\": [...]})"))
                continue
            record = seed_to_chat(record, system_prompt)
        messages = record["messages"]
        roles = [m.get("role") if isinstance(m, dict) else None for m in messages] if isinstance(messages, list) else None
        if roles != ["system", "user", "assistant"]:
            problems.append(Problem(line.where, "messages", f"expected system, user, assistant messages, got {roles}"))
            continue
        bad = [i for i, m in enumerate(messages) if not isinstance(m.get("content"), str) or not m["content"].strip()]
        if bad:
            problems.append(Problem(line.where, f"messages[{bad[0]}].content", "missing, empty or not a string"))
            continue
        conversations.append([{"role": m["role"], "content": m["content"]} for m in messages])
    if problems:
        raise ProblemsError(problems, f"{path}: {len(problems)} bad record(s); nothing was trained")
    if not conversations:
        raise WebslmError(f"{path}: no training records")
    return conversations


# ----------------------------------------------------------------------------------------- training chat template

# ChatML with trl's {% generation %} markers around the assistant's reply and its <|im_end|>, so the loss covers the
# answer and the stop token, never the prompt. SmolLM2's own template has no markers; it must render identically.
CHATML_TRAINING_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def training_chat_template(tokenizer, conversations: list[list[dict]]) -> str:
    """The marked template, checked to render exactly like the model's own on these conversations, and checked
    that the tokens of prompt-and-answer start with exactly the ids web-llm's prompt builder makes."""
    from webslm.prompting import conv_template_for, encode_prompt

    own = tokenizer.chat_template
    if not own or "<|im_start|>" not in own:
        raise WebslmError("the base model's chat template is not ChatML; only ChatML models (SmolLM2, Qwen2.5) "
                          "are supported so far")
    conv = conv_template_for(tokenizer)
    for messages in conversations[:16]:
        expected = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=own)
        ours = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=CHATML_TRAINING_TEMPLATE)
        if ours != expected:
            raise WebslmError(f"the training template renders differently from the model's chat template:\n"
                              f"  ours:     {ours!r}\n  template: {expected!r}")
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            chat_template=CHATML_TRAINING_TEMPLATE)["input_ids"]
        prompt = encode_prompt(tokenizer, conv, messages[0]["content"], messages[1:2])
        if list(ids[:len(prompt)]) != prompt:
            raise WebslmError("training tokens differ from the prompt tokens web-llm would build; the trained "
                              "model would see different ids at inference")
    return CHATML_TRAINING_TEMPLATE


def tokenize_records(tokenizer, conversations: list[list[dict]], max_length: int, path: Path) -> list[dict]:
    """`input_ids` and `labels` (-100 outside the assistant's reply and its stop token) per record, with the
    tokenizer's (training) chat template. A record longer than `max_length` is an error naming its line: cutting it
    would cut the answer the loss is about. (load_conversations refuses a file with any bad line, so record i is
    line i + 1.)"""
    from webslm.errors import Problem, ProblemsError

    records, problems = [], []
    for number, messages in enumerate(conversations, start=1):
        out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
        ids = list(out["input_ids"])
        if len(ids) > max_length:
            problems.append(Problem(f"{path}:{number}", "messages", f"{len(ids)} tokens, more than --max-length "
                                    f"{max_length}; raise --max-length or shorten the record"))
            continue
        labels = [token if answer else -100 for token, answer in zip(ids, out["assistant_masks"])]
        records.append({"input_ids": ids, "labels": labels})
    if problems:
        raise ProblemsError(problems, f"{path}: {len(problems)} record(s) too long; nothing was trained")
    return records


# ------------------------------------------------------------------------------------------------------- device

def pick_device(name: str = "auto") -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise WebslmError("--device cuda: no CUDA GPU is visible to torch")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise WebslmError("--device mps: Apple MPS is not available")
    if name not in ("cpu", "cuda", "mps"):
        raise WebslmError(f"--device must be auto, cpu, cuda or mps, got {name!r}")
    return name


# ------------------------------------------------------------------------------------------------------ trainer

def answer_only_loss(model, inputs: dict, num_items_in_batch=None):
    """Mean cross-entropy over the labelled (answer) tokens, projecting only those positions onto the vocabulary.

    With ~33 answer tokens in a ~75-token record, this skips most of the (tokens x 49k) LM-head work and its memory:
    ~1.5x faster steps on CPU (trl's own fused head compacts positions only on CUDA/XPU). `inputs` is a padded batch
    (attention_mask) or a padding-free one (records side by side in one row, position_ids restarting at 0 per record:
    transformers then masks attention to each record's own tokens). The model is called through its own forward (a
    DDP wrapper's too, which syncs gradients only then), asked for the logits of the labelled positions alone.
    """
    import torch
    import torch.nn.functional as F

    targets = inputs["labels"][:, 1:]
    labelled = targets != -100
    keep = torch.cat([labelled, torch.zeros_like(labelled[:, :1])], dim=1)  # position p predicts token p + 1
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
                   position_ids=inputs.get("position_ids"), use_cache=False, logits_to_keep=keep).logits
    count = num_items_in_batch if num_items_in_batch is not None else labelled.sum().clamp(min=1)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets[labelled], reduction="sum") / count


def _sft_trainer_class():
    import torch
    from trl import SFTTrainer

    class AnswerOnlyLMHeadTrainer(SFTTrainer):
        """SFTTrainer with `answer_only_loss`."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = answer_only_loss(model, inputs, num_items_in_batch)
            if num_items_in_batch is not None and self.args.average_tokens_across_devices:
                # num_items_in_batch counts every worker's tokens and DDP averages the workers' gradients: scale
                # back up so the step's gradient is the mean over all its answer tokens (as Trainer does).
                loss = loss * self.accelerator.num_processes
            return (loss, {"loss": loss}) if return_outputs else loss

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            with torch.no_grad():
                loss = self.compute_loss(model, inputs)
            return loss.detach(), None, None

    return AnswerOnlyLMHeadTrainer


def _progress_callback(total_hint: int):
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class LossProgressBar(TrainerCallback):
        """One progress bar over optimizer steps, showing the latest loss and learning rate."""

        def __init__(self):
            self.bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = tqdm(total=state.max_steps or total_hint, initial=state.global_step, unit="step",
                            dynamic_ncols=True, desc="train")

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is not None and logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{logs['loss']:.4f}", lr=f"{logs.get('learning_rate', 0):.2e}")

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()

    return LossProgressBar()


def latest_checkpoint(out: Path) -> Path | None:
    root = Path(out) / CHECKPOINTS
    done = [p for p in root.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def plot_loss_curve(log_history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if points:
        ax.plot(*zip(*points), marker="." if len(points) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (answer tokens)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic.atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------- run

def release_large_blocks(threshold: int = 1 << 20) -> bool:
    """Have glibc serve allocations of `threshold` bytes and more with mmap, so freed activations go back to the OS.

    By default glibc raises that threshold as large blocks are freed, after which activations come from its heap and
    stay there: measured on the cesium default's longest batch, peak RSS 11.2 GB with glibc's default, 8.3 GB with a
    fixed 1 MiB threshold, identical losses. Returns False where there is no glibc `mallopt` (macOS, musl).
    """
    import ctypes
    import ctypes.util

    m_mmap_threshold = -3  # from <malloc.h>
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(m_mmap_threshold, threshold))
    except (OSError, AttributeError):
        return False


def train_lora(config: TrainConfig, resume: bool = False, progress: bool = True, force: bool = False) -> dict:
    """Fine-tune and write the adapter directory; returns the run manifest."""
    from convert.quantize import BASE_WEIGHTS
    from convert.weights import use_quantized_base
    from train.workers import in_worker, is_main_worker, launch, micro_batches_per_worker
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
    trainer = _sft_trainer_class()(model=model, args=sft, train_dataset=dataset, processing_class=tokenizer,
                                   peft_config=lora, callbacks=[_progress_callback(total)] if progress else [])
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


def read_run_manifest(adapter_dir: Path) -> dict:
    path = Path(adapter_dir) / RUN_MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def adapter_base_weights(adapter_dir: Path | None) -> str:
    """The base weights an adapter was trained against ('float' for runs from before the choice existed)."""
    return read_run_manifest(adapter_dir).get("base_weights", "float") if adapter_dir else "float"


def adapter_base_model(adapter_dir: Path) -> str:
    """The base model an adapter was trained on: from webslm-run.json, else from PEFT's adapter_config.json."""
    adapter_dir = Path(adapter_dir)
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.is_file():
        raise WebslmError(f"{adapter_dir}: not a PEFT adapter directory (no adapter_config.json)")
    manifest = read_run_manifest(adapter_dir)
    base = manifest.get("base_model_path") or json.loads(config_path.read_text())["base_model_name_or_path"]
    if not base:
        raise WebslmError(f"{adapter_dir}: the adapter does not name its base model; pass --model")
    return base
