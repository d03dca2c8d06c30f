"""`webslm train` / `webslm merge` on tiny models: answer-only labels, determinism, resume after a killed process,
merged logits equal base+adapter, clear errors on bad data and OOM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tiny_models import cached_tiny_model, write_tiny_dataset
from train.config import TrainConfig, make_config
from train.data import CHATML_TRAINING_TEMPLATE, load_conversations, tokenize_records, training_chat_template
from train.lora import train_lora
from train.trainer import answer_only_loss, latest_checkpoint
from webslm.errors import WebslmError

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path, name="run", **overrides) -> TrainConfig:
    data = write_tiny_dataset(tmp_path / "train.jsonl", n=24)
    values = dict(model=str(cached_tiny_model("llama")), train_file=str(data), out=str(tmp_path / name),
                  max_steps=4, save_steps=2, batch_size=4, seed=7)
    values.update(overrides)
    return make_config(None, **values)


def _adapter_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def test_training_template_renders_like_the_models_and_labels_only_the_answer(tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(cached_tiny_model("llama"))
    conversations = load_conversations(write_tiny_dataset(tmp_path / "d.jsonl", n=4, fmt="chat"), "SYSTEM")
    assert training_chat_template(tokenizer, conversations) == CHATML_TRAINING_TEMPLATE
    messages = conversations[0]
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                        chat_template=CHATML_TRAINING_TEMPLATE)
    labelled = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tokenizer.decode(labelled) == messages[2]["content"] + "<|im_end|>"  # the answer and its stop token


def test_train_writes_a_peft_adapter_and_manifest_and_is_deterministic(tmp_path):
    first = train_lora(_config(tmp_path, "a"), progress=False)
    second = train_lora(_config(tmp_path, "b"), progress=False)
    out = tmp_path / "a"
    for name in ("adapter_config.json", "adapter_model.safetensors", "webslm-run.json", "loss.png",
                 "tokenizer.json", "chat_template.jinja"):
        assert (out / name).is_file(), name
    assert first["steps"] == 4 and first["final_loss"] > 0 and first["data"]["records"] == 24
    assert len(first["data"]["sha256"]) == 64 and first["config"]["lora_r"] == 16
    assert latest_checkpoint(out).name == "checkpoint-4"
    a, b = _adapter_tensors(out), _adapter_tensors(tmp_path / "b")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), "same seed, different adapter"
    assert first["final_loss"] == second["final_loss"]
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 16 and config["lora_alpha"] == 32
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_padding_free_batches_give_the_padded_loss_and_gradients(tmp_path, kind):
    """Records side by side in one row (position ids restarting per record) must attend only within their record:
    the loss and every gradient equal those of the same records padded into a batch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = cached_tiny_model(kind)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = CHATML_TRAINING_TEMPLATE
    conversations = load_conversations(write_tiny_dataset(tmp_path / "d.jsonl", n=3), "SYSTEM")
    conversations[1][1]["content"] += " and then some more words to make this record longer"
    records = tokenize_records(tokenizer, conversations, 512, tmp_path / "d.jsonl")
    assert len({len(r["input_ids"]) for r in records}) > 1, "records of one length would hide padding mistakes"
    width = max(len(r["input_ids"]) for r in records)

    def pad(key, value):
        return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in records])

    padded = {"input_ids": pad("input_ids", 0), "labels": pad("labels", -100),
              "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"]))
                                              for r in records])}
    packed = {"input_ids": torch.tensor([sum((r["input_ids"] for r in records), [])]),
              "labels": torch.tensor([sum((r["labels"] for r in records), [])]),
              "position_ids": torch.tensor([sum((list(range(len(r["input_ids"]))) for r in records), [])])}
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    results = []
    for inputs in (padded, packed):
        model.zero_grad()
        loss = answer_only_loss(model, inputs)
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (padded_loss, padded_grads), (packed_loss, packed_grads) = results
    assert packed_loss == pytest.approx(padded_loss, rel=1e-5)
    assert len(packed_grads) == len(padded_grads) > 0
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(padded_grads, packed_grads))


def test_a_record_longer_than_max_length_is_named_before_training(tmp_path):
    data = write_tiny_dataset(tmp_path / "train.jsonl", n=6)
    lines = data.read_text().splitlines()
    record = json.loads(lines[4])
    record["instruction"] += " very" * 200
    lines[4] = json.dumps(record)
    data.write_text("\n".join(lines) + "\n")
    with pytest.raises(WebslmError) as info:
        train_lora(_config(tmp_path, train_file=str(data), max_length=128), progress=False)
    assert "train.jsonl:5" in str(info.value) and "more than --max-length 128" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_lora_layers_trains_only_the_last_layers(tmp_path):
    from transformers import AutoConfig

    layers = AutoConfig.from_pretrained(cached_tiny_model("llama")).num_hidden_layers
    assert layers >= 2, "the tiny model needs layers below the trained ones"
    manifest = train_lora(_config(tmp_path, max_steps=2, lora_layers=1), progress=False)
    assert manifest["config"]["lora_layers"] == 1
    trained = {int(name.split(".layers.")[1].split(".")[0]) for name in _adapter_tensors(tmp_path / "run")}
    assert trained == {layers - 1}
    with pytest.raises(WebslmError, match=f"only {layers} decoder layers"):
        train_lora(_config(tmp_path, "too-many", lora_layers=layers + 1), progress=False)
    with pytest.raises(WebslmError, match="lora-layers"):
        make_config(None, lora_layers=-1)


def test_two_workers_train_like_one_process(tmp_path):
    """Each step's micro-batches shared by two CPU processes: the same records per step, the same losses and, up to
    float summation order, the same adapter as one process accumulating them all."""
    import torch

    common = dict(max_steps=3, batch_size=2, grad_accum=2, save_steps=3, lora_dropout=0.0)  # dropout masks differ
    one = train_lora(_config(tmp_path, "one", **common), progress=False)
    two = train_lora(_config(tmp_path, "two", workers=2, **common), progress=False)
    assert two["steps"] == 3 and two["config"]["workers"] == 2 and latest_checkpoint(tmp_path / "two")
    assert two["final_loss"] == pytest.approx(one["final_loss"], rel=1e-4)
    assert two["mean_train_loss"] == pytest.approx(one["mean_train_loss"], rel=1e-4)
    a, b = _adapter_tensors(tmp_path / "one"), _adapter_tensors(tmp_path / "two")
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    with pytest.raises(WebslmError, match="must divide --grad-accum 2"):
        make_config(None, workers=3, grad_accum=2)


def test_qwen2_trains(tmp_path):
    manifest = train_lora(_config(tmp_path, model=str(cached_tiny_model("qwen2")), max_steps=2), progress=False)
    assert manifest["steps"] == 2


def test_rebalanced_batches_train_deterministically(tmp_path):
    """batching=rebalance (random records per step, split by length into micro-batches) with gradient accumulation."""
    runs = [train_lora(_config(tmp_path, name, max_steps=3, batch_size=4, grad_accum=2, batching="rebalance"),
                       progress=False) for name in ("r1", "r2")]
    assert runs[0]["steps"] == 3 and runs[0]["config"]["batching"] == "rebalance"
    a, b = _adapter_tensors(tmp_path / "r1"), _adapter_tensors(tmp_path / "r2")
    assert all((a[k] == b[k]).all() for k in a) and runs[0]["final_loss"] == runs[1]["final_loss"]


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_a_killed_process_reaches_the_same_step_count(tmp_path, workers):
    """Killed like Ctrl-C kills it (the whole process group, workers included), then resumed."""
    config = _config(tmp_path, max_steps=30, save_steps=3, batch_size=2, grad_accum=workers, workers=workers)
    cmd = [sys.executable, "-m", "webslm.cli", "train", config.train_file, "--out", config.out, "--model",
           config.model, "--max-steps", "30", "--save-steps", "3", "--batch-size", "2", "--seed", "7",
           "--grad-accum", str(workers), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while latest_checkpoint(Path(config.out)) is None:
            assert proc.poll() is None, "training ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    interrupted_at = int(latest_checkpoint(Path(config.out)).name.split("-")[1])
    assert interrupted_at < 30
    with pytest.raises(WebslmError, match="--resume"):
        train_lora(config, progress=False)
    manifest = train_lora(config, resume=True, progress=False)
    assert manifest["steps"] == 30 and manifest["resumed_from"].startswith("checkpoint-")
    state = json.loads((latest_checkpoint(Path(config.out)) / "trainer_state.json").read_text())
    assert state["global_step"] == 30


@pytest.mark.parametrize("base_weights", ["float", "q4f32_1"])
def test_merged_model_logits_equal_base_plus_adapter(tmp_path, base_weights):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from webslm.checkpoint import use_quantized_base
    from train.merge import merge_adapter

    config = _config(tmp_path, learning_rate=5e-3, max_steps=3, base_weights=base_weights)
    manifest = train_lora(config, progress=False)
    assert manifest["base_weights"] == base_weights
    merged_dir = merge_adapter(Path(config.out), tmp_path / "merged")  # into the base it was trained against
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "webslm-merge.json"):
        assert (merged_dir / name).is_file(), name
    assert json.loads((merged_dir / "webslm-merge.json").read_text())["base_weights"] == base_weights
    ids = torch.tensor([[5, 17, 42, 99, 7, 300, 12]])
    base = AutoModelForCausalLM.from_pretrained(config.model, dtype=torch.float32)
    use_quantized_base(base, Path(config.model), base_weights)
    with torch.no_grad():
        plain = base(ids).logits
        with_adapter = PeftModel.from_pretrained(base, config.out).eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()(ids).logits
    assert (with_adapter - plain).abs().max() > 1e-3, "the adapter changes nothing; the test would prove nothing"
    assert (merged - with_adapter).abs().max() < 1e-4


def test_quantized_base_reaches_the_projections_under_peft(tmp_path):
    """The q4 round trip must replace the weights PEFT wraps too (their keys become `...base_layer.weight`)."""
    import torch

    from webslm.q4 import get_quantization
    from webslm.checkpoint import dequantized_state, load_hf_state, use_quantized_base
    from evalharness.torch_backend import load_model

    config = _config(tmp_path, max_steps=1, base_weights="float")
    train_lora(config, progress=False)
    expected = dequantized_state(load_hf_state(Path(config.model)), get_quantization("q4f32_1"))
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(torch.from_numpy(expected[name]), torch.from_numpy(load_hf_state(Path(config.model))[name]))
    model, _, _ = load_model(config.model, config.out, "cpu", base_weights="q4f32_1")
    q_proj = model.get_base_model().model.layers[0].self_attn.q_proj.base_layer.weight
    assert torch.equal(q_proj, torch.from_numpy(expected[name]))
    with pytest.raises(WebslmError, match="before PEFT"):
        use_quantized_base(model, Path(config.model), "q4f32_1")
    with pytest.raises(WebslmError, match="base weights 'q3'"):
        use_quantized_base(model.get_base_model(), Path(config.model), "q3")


def test_bad_data_fails_before_training(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(WebslmError, match="empty"):
        train_lora(_config(tmp_path, train_file=str(empty)), progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "fly to Paris", "output": "{}"}\n{"instruction": "x"}\nnot json\n')
    with pytest.raises(WebslmError) as info:
        train_lora(_config(tmp_path, train_file=str(bad)), progress=False)
    assert "bad.jsonl:2" in str(info.value) and "bad.jsonl:3" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_config_file_and_flags(tmp_path):
    (tmp_path / "c.toml").write_text('[train]\nlora_r = 8\nlearning_rate = 1e-4\n')
    config = make_config(tmp_path / "c.toml", learning_rate=3e-4, train_file="x", out="y")
    assert config.lora_r == 8 and config.learning_rate == 3e-4 and config.lora_alpha == 32
    (tmp_path / "bad.json").write_text('{"lora_rank": 8}')
    with pytest.raises(WebslmError, match="unknown setting"):
        make_config(tmp_path / "bad.json")
    with pytest.raises(WebslmError, match="batch-size"):
        make_config(None, batch_size=0)
    with pytest.raises(WebslmError, match="batching 'sorted' is not one of random, rebalance, grouped"):
        make_config(None, batching="sorted")


def test_out_of_memory_names_the_flags_to_lower(tmp_path, monkeypatch):
    import torch
    from transformers import Trainer

    def boom(self, *a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(Trainer, "train", boom)
    with pytest.raises(WebslmError, match="--batch-size.*--max-length"):
        train_lora(_config(tmp_path), progress=False)
