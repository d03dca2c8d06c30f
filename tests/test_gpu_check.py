"""bench/gpu_check.sh: the dry run lists every step (existing commands, --webgpu gpu, both quantizations), and without a
GPU the check stops at once with what to do instead."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import pytest

from webslm import REPO_ROOT

SCRIPT = REPO_ROOT / "bench" / "gpu_check.sh"


@pytest.fixture
def gpu_check(monkeypatch):
    """bench/gpu_check.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("gpu_check", REPO_ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", module)  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def dry_run(tmp_path, *extra) -> str:
    out = subprocess.run([str(SCRIPT), "--dry-run", "--workdir", str(tmp_path / "w"), "--out", str(tmp_path / "o"),
                          *extra], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_dry_run_prints_every_step_as_a_command(tmp_path):
    text = dry_run(tmp_path, "--models", "")
    steps = [line for line in text.splitlines() if line.startswith("[")]
    assert [s.split("] ", 1)[1] for s in steps] == [
        "generate cesium data", "split cesium data", "train the cesium adapter",
        "convert the base (q4f16_1, LoRA rank 16)", "convert the cesium adapter for smollm2-lora16-q4f16_1",
        "convert the base (q4f32_1, LoRA rank 16)", "convert the cesium adapter for smollm2-lora16-q4f32_1",
        "LoRA swap, q4f16_1", "browser eval, q4f16_1", "LoRA swap, q4f32_1", "browser eval, q4f32_1",
        "torch eval, cuda"]
    for q in ("q4f16_1", "q4f32_1"):
        assert (f"-m webslm.cli eval {tmp_path}/w/data/cesium/split/test.jsonl --domain cesium --backend browser "
                f"--bundle {tmp_path}/w/bundles/smollm2-lora16-{q} --lora {tmp_path}/w/bundles/cesium-smollm2-lora16-"
                f"{q} --webgpu gpu --limit 50") in text
        assert f"bench/lora_swap.py --models-dir {tmp_path}/w/bundles --base smollm2-lora16-{q}" in text
    assert f"--adapter {tmp_path}/w/runs/cesium --device cuda --limit 50" in text
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists(), "a dry run writes nothing"


def test_dry_run_marks_done_steps_and_adds_other_models(tmp_path):
    done = tmp_path / "w" / "data" / "cesium" / "all.jsonl"
    done.parent.mkdir(parents=True)
    done.write_text("")
    text = dry_run(tmp_path, "--models", "Qwen/Qwen3-0.6B", "--torch-device", "cpu", "--limit", "10")
    assert "[1] generate cesium data (done already: skipped)" in text
    assert "[2] split cesium data\n" in text
    assert (f"bench/compiler.py --webgpu gpu --model Qwen/Qwen3-0.6B --torch-device cpu --max-tokens 32 "
            f"--sampler-runs 3 --work {tmp_path}/o/bundles --out {tmp_path}/o/compiler-qwen3-0.6b.json") in text
    assert "--device cpu --limit 10" in text


def test_without_a_gpu_it_stops_at_once_and_says_what_to_do(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check.shutil, "which", lambda name: None)
    monkeypatch.setattr(gpu_check, "torch_has_cuda", lambda: False)
    monkeypatch.setattr(gpu_check, "chromium_gpu", lambda: (_ for _ in ()).throw(AssertionError("no browser")))
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", "--models", ""])
    started = time.monotonic()
    assert gpu_check.main() == 2
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err.startswith("gpu_check: error: no GPU found (nvidia-smi and rocm-smi list none, torch sees no CUDA "
                          "device). This check measures a real GPU; on a CPU machine use `python bench/compiler.py "
                          "--webgpu lavapipe`"), err


def test_the_table_reads_what_the_steps_wrote(gpu_check, tmp_path, capsys):
    import json

    out = tmp_path / "o"
    rates = {"valid_json": 1.0, "schema_valid": 0.98, "right_tool": 0.96, "right_args": 0.9, "latency": {"p50_s": 1.5}}
    medians = {"time_to_first_token_s": 0.2, "prefill_tokens_per_s": 900.0, "decode_tokens_per_s": 120.0}
    speed = {name: {"median": value} for name, value in medians.items()}
    for q in ("q4f16_1", "q4f32_1"):
        (out / f"eval-browser-{q}").mkdir(parents=True)
        (out / f"eval-browser-{q}" / "metrics.json").write_text(json.dumps({**rates, "engine_load_s": 2.5,
                                                                            "speed": speed}))
        (out / f"lora_swap-{q}.json").write_text(json.dumps({"load": 2.4, "adapters": {
            f"cesium-smollm2-lora16-{q}": {"first_swap": {"total_s": 0.5}, "second_swap": {"total_s": 0.1}}}}))
    (out / "eval-torch").mkdir()
    (out / "eval-torch" / "metrics.json").write_text(json.dumps({**rates, "output_tokens_per_s": 240.0}))
    gpu_check.print_summary(gpu_check.summary(tmp_path / "w", out, []), 50)
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("browser q4f16_1 + adapter"))
    assert row.split()[4:] == ["2.50", "0.20", "900.0", "120.0", "0.50", "0.50", "/", "0.10", "1.50", "100", "/",
                               "98", "/", "96", "/", "90"]
    torch_row = next(line for line in lines if line.startswith("torch + adapter"))
    assert torch_row.split()[3:7] == ["—", "—", "—", "240.0"]
