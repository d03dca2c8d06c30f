"""The embedded base model: import from the packaged GGUF, reload offline, and model arguments that fail fast."""

from __future__ import annotations

import time

import pytest

from webslm.base_model import resolve_model
from webslm.errors import WebslmError


def test_hub_id_without_network_fails_fast_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))  # an empty cache
    started = time.monotonic()
    with pytest.raises(WebslmError, match=r"model 'Qwen/Qwen3-0.6B' is a hub id but the Hugging Face hub cannot be "
                                          r"reached from here \(HF_HUB_OFFLINE is set\) and the model is not in the "
                                          r"local cache; pass a local model directory .*or 'default'"):
        resolve_model("Qwen/Qwen3-0.6B")
    assert time.monotonic() - started < 5


def test_unreachable_hub_is_named_when_offline_mode_is_not_set(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("webslm.base_model._hub_reachable", lambda: False)
    with pytest.raises(WebslmError, match=r"huggingface.co:443 does not answer\) and the model is not in the local "
                                          r"cache; pass a local model directory \(for example one written .* by "
                                          r"`hf download acme/missing --local-dir DIR`\)"):
        resolve_model("acme/missing")


def test_a_hub_model_in_the_local_cache_resolves_offline_to_its_snapshot(monkeypatch, tmp_path):
    from tests.tiny_models import make_tiny_model

    snapshot = tmp_path / "cache" / "models--acme--tiny-qwen3" / "snapshots" / "0123abc"
    make_tiny_model(snapshot, arch="qwen3")
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abc")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "cache"))
    assert resolve_model("acme/tiny-qwen3") == str(snapshot)


def test_cli_reports_an_unreachable_hub_model_without_a_traceback(monkeypatch, tmp_path, capsys):
    from webslm.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    for argv in (["demo", "--model", "Qwen/Qwen2.5-0.5B-Instruct", "--workdir", str(tmp_path / "w")],
                 ["convert", "Qwen/Qwen2.5-0.5B-Instruct", "--out", str(tmp_path / "bundle")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"webslm {argv[0]}: error: model 'Qwen/Qwen2.5-0.5B-Instruct' is a hub id but"), err
        assert "Traceback" not in err and "pass a local model directory" in err
    assert not (tmp_path / "w").exists() and not (tmp_path / "bundle").exists()


def test_model_names_for_artefacts():
    from webslm.base_model import model_name, model_short_name

    assert model_name("Qwen/Qwen3-0.6B") == "Qwen3-0.6B" and model_short_name("Qwen/Qwen3-0.6B") == "qwen3-0.6b"
    assert model_name("default") == "SmolLM2-135M-Instruct" and model_short_name("default") == "smollm2"
    assert model_short_name("/models/My Model (v2)/") == "my-model-v2"


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
