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


def test_another_model_gets_its_own_runs_bundles_and_adapters(tmp_path):
    from webslm.cli import build_parser
    from webslm.pipeline import pipeline_config
    from tests.tiny_models import make_tiny_model

    model = make_tiny_model(tmp_path / "Tiny-Qwen3", arch="qwen3")
    args = build_parser().parse_args(["demo", "--model", str(model), "--workdir", str(tmp_path / "w"),
                                      "--quantizations", "q4f16_1"])
    steps = pipeline_steps(pipeline_config(args))
    by_verb = {}
    for _, done, step in steps:
        by_verb.setdefault(step[0], []).append((done, step))
    assert all(step[step.index("--model") + 1] == str(model) for _, step in by_verb["train"])
    assert all(step[step.index("--out") + 1].startswith(str(tmp_path / "w" / "runs" / "tiny-qwen3"))
               for _, step in by_verb["train"]), "the default model's runs are not reused for another model"
    (_, convert), = by_verb["convert"]
    assert convert[1] == str(model) and convert[convert.index("--model-id") + 1] == "tiny-qwen3-lora16-q4f16_1"
    assert [s[s.index("--adapter-id") + 1] for _, s in by_verb["convert-adapter"]] == [
        "cesium-tiny-qwen3-lora16-q4f16_1", "cad-tiny-qwen3-lora16-q4f16_1"]
    default = pipeline_steps(PipelineConfig(workdir=tmp_path / "w", quantizations=("q4f16_1",)))
    assert ([done for what, done, _ in default if what.endswith(" data")]
            == [done for what, done, _ in steps if what.endswith(" data")]), "data is shared between models"


def test_a_bad_model_stops_before_the_first_step(tmp_path):
    from webslm.cli import build_parser
    from webslm.pipeline import pipeline_config

    args = build_parser().parse_args(["demo", "--model", str(tmp_path), "--workdir", str(tmp_path / "w")])
    with pytest.raises(WebslmError, match="not a Hugging Face model directory"):
        pipeline_config(args)


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


@pytest.mark.slow
def test_the_whole_pipeline_runs_on_a_local_model_directory(tmp_path):
    """`webslm demo --model DIR` end to end on a tiny Qwen3 (its Qwen3-style template, thinking off): data, training,
    the base bundle and both adapters."""
    from tests.tiny_models import make_tiny_model

    model = make_tiny_model(tmp_path / "tiny-qwen3", arch="qwen3")
    config = PipelineConfig(workdir=tmp_path / "w", model=str(model), examples=80, train_steps=2, lora_rank=4,
                            quantizations=("q4f32_1",))
    bundles = run_pipeline(config)
    assert sorted(p.name for p in bundles.iterdir()) == ["cad-tiny-qwen3-lora4-q4f32_1",
                                                         "cesium-tiny-qwen3-lora4-q4f32_1", "tiny-qwen3-lora4-q4f32_1"]
    import json

    conv = json.loads((bundles / "tiny-qwen3-lora4-q4f32_1" / "mlc-chat-config.json").read_text())["conv_template"]
    assert conv["role_empty_sep"] == "\n<think>\n\n</think>\n\n"


def test_outputs_made_from_another_model_of_the_same_name_are_refused_not_reused(tmp_path):
    """Two local models in folders of one name get one run and bundle id; the second must not be served the first's
    adapter and weights as 'done already'."""
    import json

    from tests.tiny_models import make_tiny_model
    from webslm.runs import RUN_MANIFEST

    first = make_tiny_model(tmp_path / "a" / "tiny", arch="qwen3")
    second = make_tiny_model(tmp_path / "b" / "tiny", arch="qwen3")
    config = PipelineConfig(workdir=tmp_path / "w", model=str(second), quantizations=("q4f32_1",))
    steps = pipeline_steps(config)
    for what, done, _ in steps:
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps({"base_model_path": str(second)} if done.name == RUN_MANIFEST else {}))
    assert run_pipeline(config) == tmp_path / "w" / "bundles", "outputs made from this model are reused"
    run = next(done for what, done, _ in steps if done.name == RUN_MANIFEST)
    run.write_text(json.dumps({"base_model": str(first), "base_model_path": str(first.resolve())}))
    with pytest.raises(WebslmError, match=f"{run}: made from the base model {first.resolve()}, not {second}"):
        run_pipeline(config)
    assert json.loads(run.read_text())["base_model_path"] == str(first.resolve()), "the other model's run is kept"
