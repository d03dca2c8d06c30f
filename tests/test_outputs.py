"""No command destroys what it did not write (issue #18, items 1-3): every `--out` is checked before any work, ids are
checked where they become file names, and the temporary folders a killed run leaves are removed by the next run.

Each case runs the real CLI (`webslm.cli.main`) on small local files; the checks fire before any model is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny_models import cached_tiny_model, write_tiny_dataset
from webslm import atomic
from webslm.artifacts import ADAPTER_MANIFEST, BUNDLE_MANIFEST, is_artifact_id
from webslm.cli import main


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def data_folder(tmp_path) -> Path:
    """A user's folder: a dataset and a note of theirs beside it."""
    folder = tmp_path / "mine"
    write_tiny_dataset(folder / "all.jsonl", n=40)
    (folder / "NOTES.txt").write_text("my notes\n")
    return folder


def test_split_into_the_folder_holding_its_input_is_refused_and_nothing_is_touched(capsys, data_folder):
    before = snapshot(data_folder)
    code, err = run(capsys, "data", "split", data_folder / "all.jsonl", "--out", data_folder)
    assert code == 2
    assert "contains the input" in err and str(data_folder) in err
    assert snapshot(data_folder) == before


def test_split_into_a_folder_of_other_files_is_refused_even_with_force(capsys, data_folder, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("keep me")
    for extra in ([], ["--force"]):
        code, err = run(capsys, "data", "split", data_folder / "all.jsonl", "--out", other, *extra)
        assert code == 2 and "not a previous split (no split.json)" in err
    assert snapshot(other) == {"keep.txt": b"keep me"}


def test_a_previous_split_is_replaced_only_with_force(capsys, data_folder, tmp_path):
    out = tmp_path / "split"
    assert run(capsys, "data", "split", data_folder / "all.jsonl", "--out", out)[0] == 0
    first = snapshot(out)
    code, err = run(capsys, "data", "split", data_folder / "all.jsonl", "--out", out, "--seed", "7")
    assert code == 2 and "holds a previous split" in err and "--force" in err
    assert snapshot(out) == first
    assert run(capsys, "data", "split", data_folder / "all.jsonl", "--out", out, "--seed", "7", "--force")[0] == 0
    assert snapshot(out) != first and set(snapshot(out)) == set(first)


def test_an_existing_output_file_is_kept_unless_forced_and_never_the_input(capsys, data_folder):
    mine = data_folder / "all.jsonl"
    before = mine.read_bytes()
    code, err = run(capsys, "data", "generate", "-n", "3", "--out", mine)
    assert code == 2 and "the file exists" in err
    code, err = run(capsys, "data", "convert", mine, "--to", "chat", "--out", mine, "--force")
    assert code == 2 and "is the input" in err
    assert mine.read_bytes() == before
    assert run(capsys, "data", "generate", "-n", "3", "--out", data_folder / "NOTES.txt", "--force")[0] == 0
    assert len((data_folder / "NOTES.txt").read_text().splitlines()) == 3


def test_stats_and_eval_refuse_a_folder_they_did_not_write(capsys, data_folder):
    before = snapshot(data_folder)
    code, err = run(capsys, "data", "stats", data_folder / "all.jsonl", "--out", data_folder)
    assert code == 2 and "contains the input" in err
    code, err = run(capsys, "eval", data_folder / "all.jsonl", "--out", data_folder.parent, "--limit", "1")
    assert code == 2 and "contains the input" in err
    notes_only = data_folder.parent / "notes"
    notes_only.mkdir()
    (notes_only / "report.txt").write_text("mine")
    code, err = run(capsys, "eval", data_folder / "all.jsonl", "--out", notes_only, "--limit", "1")
    assert code == 2 and "not a previous evaluation (no report.md)" in err
    assert snapshot(data_folder) == before and snapshot(notes_only) == {"report.txt": b"mine"}


@pytest.fixture()
def bundles(tmp_path) -> Path:
    """A bundles folder as `webslm demo` leaves it: a base bundle and another adapter (contents are stand-ins: the
    output checks run before either is read)."""
    root = tmp_path / "bundles"
    (root / "base").mkdir(parents=True)
    (root / "base" / BUNDLE_MANIFEST).write_text(json.dumps({"model_id": "base"}))
    (root / "base" / "weights.bin").write_bytes(b"\0" * 64)
    (root / "other-adapter").mkdir()
    (root / "other-adapter" / ADAPTER_MANIFEST).write_text(json.dumps({"adapter_id": "other-adapter"}))
    peft = tmp_path / "run"
    peft.mkdir()
    (peft / "adapter_config.json").write_text("{}")
    return root


def test_convert_adapter_never_writes_over_the_bundles_folder_or_its_base(capsys, bundles):
    before = snapshot(bundles)
    peft = bundles.parent / "run"
    for out in (bundles, bundles / "base"):
        code, err = run(capsys, "convert-adapter", peft, "--base", bundles / "base", "--out", out, "--force")
        assert code == 2 and "the input" in err
    code, err = run(capsys, "convert-adapter", peft, "--base", bundles / "base", "--out", bundles / "other-adapter")
    assert code == 2 and "holds a previous adapter bundle" in err
    assert snapshot(bundles) == before


@pytest.mark.parametrize("flag,value", [("--adapter-id", "../../escape"), ("--adapter-id", "x y"),
                                        ("--adapter-id", ".hidden"), ("--domain", "no-such-domain")])
def test_convert_adapter_checks_ids_and_domains_before_writing(capsys, bundles, tmp_path, flag, value):
    out = tmp_path / "new-adapter"
    code, err = run(capsys, "convert-adapter", bundles.parent / "run", "--base", bundles / "base", "--out", out,
                    flag, value)
    assert code == 2 and value in err
    assert not out.exists() and not (tmp_path.parent / "escape").exists()


def test_convert_refuses_a_model_id_that_would_leave_its_folder(capsys, tmp_path):
    model = cached_tiny_model()
    out = tmp_path / "deep" / "bundle"
    code, err = run(capsys, "convert", model, "--model-id", "../../escape", "--out", out)
    assert code == 2 and "--model-id '../../escape'" in err
    assert not (tmp_path / "escape-webgpu.wasm").exists() and not out.exists()
    code, err = run(capsys, "convert", model, "--out", model)
    assert code == 2 and "is the input" in err


def test_the_id_rule_is_the_one_the_server_uses():
    from web import server

    for value in ("smollm2-lora16-q4f32_1", "cesium-a.b_c", "../x", "x y", "", ".x", "a/b", "x" * 129):
        assert is_artifact_id(value) == server.is_artifact_id(value)
    assert is_artifact_id("smollm2-lora16-q4f32_1") and not is_artifact_id("../../x y")


def test_train_refuses_a_folder_that_is_not_a_training_run(capsys, data_folder):
    before = snapshot(data_folder)
    code, err = run(capsys, "train", data_folder / "all.jsonl", "--out", data_folder, "--max-steps", "1")
    assert code == 2 and "contains the input" in err
    other = data_folder.parent / "results"
    other.mkdir()
    (other / "old.txt").write_text("x")
    code, err = run(capsys, "train", data_folder / "all.jsonl", "--out", other, "--max-steps", "1", "--force")
    assert code == 2 and "not a previous training run (no webslm-run.json)" in err
    assert snapshot(data_folder) == before and snapshot(other) == {"old.txt": b"x"}


def test_merge_refuses_to_write_over_its_adapter(capsys, tmp_path):
    adapter = tmp_path / "run"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(cached_tiny_model())}))
    code, err = run(capsys, "merge", adapter, "--out", adapter, "--force")
    assert code == 2 and "is the input" in err
    assert snapshot(adapter) == {"adapter_config.json": (adapter / "adapter_config.json").read_bytes()}


def test_a_killed_writer_leaves_a_temporary_folder_the_next_run_removes(capsys, data_folder, tmp_path):
    out = tmp_path / "split"
    # a child killed while writing (SIGKILL: no cleanup runs)
    child = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from webslm import atomic\n"
        f"with atomic.atomic_dir(Path({str(out)!r}), 'split.json') as tmp:\n"
        "    (tmp / 'train.jsonl').write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")], cwd=Path(__file__).parents[1])
    assert child.returncode == -9
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".split.")]
    assert len(stale) == 1 and stale[0].is_dir() and not out.exists()
    live = tmp_path / f".split.{os.getpid()}-live.tmp"  # a writer still running must keep its folder
    live.mkdir()
    assert run(capsys, "data", "split", data_folder / "all.jsonl", "--out", out)[0] == 0
    assert not stale[0].exists() and live.is_dir()
    assert sorted(p.name for p in out.iterdir()) == ["split.json", "test.jsonl", "train.jsonl", "validation.jsonl"]


def test_atomic_dir_insists_on_its_marker(tmp_path):
    with pytest.raises(RuntimeError, match="marker"):
        with atomic.atomic_dir(tmp_path / "out", "done.json") as tmp:
            (tmp / "half.txt").write_text("x")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ item 7: every flag checked before the first step

def test_demo_refuses_a_remote_host_and_bad_flags_before_any_step(capsys, tmp_path):
    work = tmp_path / "work"
    for extra, expected in ((["--host", "0.0.0.0"], "--allow-remote"), (["--train-steps", "0"], "--train-steps 0"),
                            (["--quantizations", "q4f16"], "--quantizations 'q4f16'"),
                            (["--port", "70000"], "--port 70000")):
        code, err = run(capsys, "demo", "--workdir", work, *extra)
        assert code == 2 and expected in err
    assert not work.exists()  # no step ran


def test_a_busy_port_is_refused_before_the_banner_with_a_free_one_named(capsys, tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["demo", "--workdir", str(tmp_path / "work"), "--port", str(port)])
        out = capsys.readouterr()
        assert code == 2 and f"--port {port}: already in use" in out.err and "e.g. --port" in out.err
        code = main(["serve", "--models-dir", str(tmp_path), "--port", str(port)])
        out = capsys.readouterr()
        assert code == 2 and "already in use" in out.err and "demo:" not in out.out
    assert not (tmp_path / "work").exists()
