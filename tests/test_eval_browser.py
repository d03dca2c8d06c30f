"""`webslm eval --backend browser`: the demo page itself (its worker, web-llm, rulebook and executor) answers every
test command in headless Chromium; the same metrics score it, plus web-llm's speed figures. `--parity` runs the
model alone on the harness page against torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.tiny_models import make_tiny_model, write_tiny_dataset

pytestmark = pytest.mark.browser


def test_browser_eval_writes_predictions_metrics_and_speed(tmp_path):
    from convert.bundle import convert_model

    model = make_tiny_model(tmp_path / "tiny", arch="qwen2", seed=4)
    bundle = convert_model(model, tmp_path / "bundles" / "tiny-q4f32_1", "q4f32_1", model_id="tiny-q4f32_1")
    test_file = write_tiny_dataset(tmp_path / "test.jsonl", n=3)
    # the first command speaks of a scene: its given call runs first, without the model
    records = [json.loads(line) for line in test_file.read_text().splitlines()]
    given = {"tool": "addPoint", "arguments": {"longitude": 10.5, "latitude": 20.5, "name": "given point"}}
    records[0]["given"] = [given]
    test_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "eval"
    # its own process: Playwright's sync API allows one driver per thread and pytest's browser is already running
    proc = subprocess.run([sys.executable, "-m", "webslm.cli", "eval", str(test_file), "--backend", "browser",
                           "--bundle", str(bundle), "--out", str(out), "--max-new-tokens", "48", "--quiet"],
                          capture_output=True, text=True, timeout=1500, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    named = [[e for e in row["page"]["entities"] if e["name"] == "given point"] for row in rows]
    assert [len(n) for n in named] == [1, 0, 0], "the given scene is made before its command, and cleared after"
    assert (named[0][0]["longitude"], named[0][0]["latitude"]) == pytest.approx((10.5, 20.5))
    for row in rows:
        assert row["stage"] != "backend", row["reason"]  # the engine answered every example
        # the page's own path: it recorded the globe after the command, and what it executed is what it says
        assert row["page"]["domain"] == "cesium" and "camera" in row["page"]
        if row["stage"] == "ok":
            assert row["call"] and row["reason"] is None
        assert row["speed"]["decode_tokens_per_s"] > 0 and row["speed"]["time_to_first_token_s"] > 0
        assert row["prompt_tokens"] > 10
        if row["output_tokens"] < 48:  # a finished constrained answer is JSON whatever the (random) model
            assert row["valid_json"], row["raw"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 3 and metrics["quantization"] == "q4f32_1" and metrics["engine_load_s"] > 0
    assert metrics["speed"]["decode_tokens_per_s"]["median"] > 0
    report = (out / "report.md").read_text()
    assert "decode_tokens_per_s" in report and (out / "speed.png").stat().st_size > 1000


def test_a_given_call_the_page_refuses_stops_the_evaluation_naming_the_command(tmp_path):
    from convert.bundle import convert_model

    model = make_tiny_model(tmp_path / "tiny", arch="qwen2", seed=4)
    bundle = convert_model(model, tmp_path / "bundles" / "tiny-q4f32_1", "q4f32_1", model_id="tiny-q4f32_1")
    test_file = write_tiny_dataset(tmp_path / "test.jsonl", n=1)
    record = json.loads(test_file.read_text())
    record["given"] = [{"tool": "addPoint", "arguments": {"longitude": 500, "latitude": 0}}]
    test_file.write_text(json.dumps(record) + "\n")
    proc = subprocess.run([sys.executable, "-m", "webslm.cli", "eval", str(test_file), "--backend", "browser",
                           "--bundle", str(bundle), "--out", str(tmp_path / "eval"), "--max-new-tokens", "8",
                           "--quiet"], capture_output=True, text=True, timeout=1500)
    assert proc.returncode != 0 and "given[0]" in proc.stderr and "longitude" in proc.stderr, proc.stderr[-2000:]
    assert record["instruction"] in proc.stderr


def test_browser_eval_needs_a_bundle(tmp_path):
    test_file = write_tiny_dataset(tmp_path / "test.jsonl", n=2)
    proc = subprocess.run([sys.executable, "-m", "webslm.cli", "eval", str(test_file), "--backend", "browser",
                           "--bundle", str(tmp_path), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a bundle (no webslm-bundle.json)" in proc.stderr


def test_browser_and_torch_parity_on_the_bundle_weights(tmp_path):
    from convert.bundle import convert_model

    from tests.test_compiler_browser import _sharpen

    model = make_tiny_model(tmp_path / "tiny", arch="llama", seed=6)
    _sharpen(model)  # clear argmax margins: float noise must not decide a near-tie
    bundle = convert_model(model, tmp_path / "bundles" / "tiny-q4f32_1", "q4f32_1", model_id="tiny-q4f32_1")
    test_file = write_tiny_dataset(tmp_path / "test.jsonl", n=2)
    out = tmp_path / "eval"
    proc = subprocess.run([sys.executable, "-m", "webslm.cli", "eval", str(test_file), "--backend", "browser",
                           "--bundle", str(bundle), "--parity", "--out", str(out), "--max-new-tokens", "12",
                           "--quiet"], capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    parity = json.loads((out / "parity.json").read_text())
    assert parity["runs"] == ["browser", "torch"] and parity["n"] == 2
    # the compiler reproduces torch on the same weights: every greedy output identical
    assert parity["identical_count"] == 2, parity["diverging_examples"]
    assert "## Parity browser vs torch" in (out / "report.md").read_text()
