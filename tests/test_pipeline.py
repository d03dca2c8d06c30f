"""The demo pipeline: the steps it runs, skipping what is done, and stopping with the failed step's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from webslm.errors import WebslmError
from webslm.pipeline import PipelineConfig, pipeline_steps, run_pipeline


def test_steps_cover_both_domains_one_base_and_an_adapter_per_domain(tmp_path):
    steps = pipeline_steps(PipelineConfig(workdir=tmp_path, quantizations=("q4f32_1",), evaluate=True))
    verbs = [args[0] if args[0] != "data" else f"data {args[1]}" for _, _, args in steps]
    assert verbs == ["data generate", "data split", "train"] * 2 + ["convert", "convert-adapter",
                                                                     "convert-adapter", "eval", "eval"]
    convert = next(args for _, _, args in steps if args[0] == "convert")
    assert convert[convert.index("--lora-rank") + 1] == "16"
    train = [args for _, _, args in steps if args[0] == "train"]
    assert all(a[a.index("--lora-r") + 1] == "16" for a in train), "adapters must fit the compiled rank"


def test_finished_steps_are_skipped(tmp_path, capsys):
    config = PipelineConfig(workdir=tmp_path, quantizations=("q4f32_1",))
    for _, done, _ in pipeline_steps(config):
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text("{}")
    assert run_pipeline(config) == tmp_path / "bundles"
    assert capsys.readouterr().out.count("done already") == len(pipeline_steps(config))


def test_a_failing_step_stops_the_pipeline_with_its_name(tmp_path):
    config = PipelineConfig(workdir=tmp_path, examples=-1, quantizations=("q4f32_1",))
    with pytest.raises(WebslmError, match="step 1 \\(generate cesium data\\) failed"):
        run_pipeline(config)
    assert not Path(tmp_path / "data" / "cesium" / "all.jsonl").exists()


def test_record_vocabulary_is_the_rulebook_s():
    from webslm import rulebook
    from webslm.domain import COORDINATE_KEYS, PLACE_KEY

    assert rulebook.constant("locations", "PLACE_KEY") == PLACE_KEY
    assert tuple(rulebook.constant("locations", "COORDINATE_KEYS")) == COORDINATE_KEYS
