"""The embedded base model: import from the packaged GGUF, reload offline, and model arguments that fail fast."""

from __future__ import annotations

import time

import pytest

from webslm.base_model import resolve_model
from webslm.errors import WebslmError


def test_hub_id_without_network_fails_fast_with_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(WebslmError, match="cannot be reached from here; pass a local model directory, or 'default'"):
        resolve_model("Qwen/Qwen2.5-0.5B-Instruct")
    assert time.monotonic() - started < 5


def test_bad_model_arguments_are_named(tmp_path):
    with pytest.raises(WebslmError, match="no such directory, and not a hub id"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(WebslmError, match="not a Hugging Face model directory \\(no config.json\\)"):
        resolve_model(str(tmp_path))


@pytest.mark.slow
def test_imported_checkpoint_reloads_offline_and_answers(tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from webslm.base_model import import_base_model

    out = import_base_model(tmp_path / "smollm2")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        reply = model.generate(**ids, max_new_tokens=16, do_sample=False)
    text = tokenizer.decode(reply[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in text, text
