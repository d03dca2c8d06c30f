"""Seed <-> chat conversion, xLAM import, the unseen-place/unseen-template split, and dataset stats."""

import csv
import json
from pathlib import Path

import pytest

from train.dataset.generate import generate_records
from webslm.records import read_records
from train.dataset.split import record_places, split_records
from webslm.atomic import write_jsonl
from webslm.cli import main
from webslm.domain import load_domain

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def domain():
    return load_domain("cesium")


@pytest.fixture(scope="module")
def records(domain):
    return generate_records(domain, 1500, seed=2)


def test_seed_chat_seed_round_trip_is_byte_identical(tmp_path, records):
    seed = tmp_path / "seed.jsonl"
    extra = {"instruction": "fly to Rome", "output": json.dumps({"tool": "flyTo", "arguments": {"place": "Rome"}}),
             "meta": {"template": "hand", "places": ["Rome, IT"]}, "note": "kept"}
    write_jsonl(seed, records[:300] + [extra])
    assert main(["data", "convert", str(seed), "--to", "chat", "--out", str(tmp_path / "chat.jsonl")]) == 0
    chat = read_records(tmp_path / "chat.jsonl")
    assert chat[0]["messages"][1]["content"] == records[0]["instruction"]
    assert chat[-1]["note"] == "kept" and chat[-1]["meta"] == extra["meta"]
    assert main(["data", "verify", str(tmp_path / "chat.jsonl")]) == 0
    assert main(["data", "convert", str(tmp_path / "chat.jsonl"), "--to", "seed", "--out", str(tmp_path / "back.jsonl")]) == 0
    assert (tmp_path / "back.jsonl").read_bytes() == seed.read_bytes()


def test_chat_with_its_own_system_prompt_round_trips(tmp_path, domain):
    chat = {"messages": [{"role": "system", "content": "Custom prompt."}, {"role": "user", "content": "zoom in"},
                         {"role": "assistant", "content": json.dumps({"tool": "zoom", "arguments": {"amount": 1}})}]}
    write_jsonl(tmp_path / "c.jsonl", [chat])
    main(["data", "convert", str(tmp_path / "c.jsonl"), "--to", "seed", "--out", str(tmp_path / "s.jsonl")])
    main(["data", "convert", str(tmp_path / "s.jsonl"), "--to", "chat", "--out", str(tmp_path / "c2.jsonl")])
    assert read_records(tmp_path / "c2.jsonl") == [chat]


def test_xlam_import_maps_matching_tools_and_reports_skips(tmp_path, capsys):
    out = tmp_path / "xlam.jsonl"
    assert main(["data", "import-xlam", str(DATA / "xlam_sample.json"), "--out", str(out)]) == 0
    imported = read_records(out)
    assert [r["instruction"] for r in imported] == ["Fly to Paris at 5 km", "zoom out a lot", "switch to columbus view"]
    assert json.loads(imported[1]["output"]) == {"tool": "zoom", "arguments": {"amount": -5}}
    err = capsys.readouterr().err
    sample = DATA / "xlam_sample.json"
    assert f"{sample}[2]: tool 'get_weather' is not in domain 'cesium'" in err
    assert f"{sample}[3]: 2 calls in one answer" in err
    assert f"{sample}[4]: arguments break the contract" in err and "latitude" in err
    assert f"{sample}[5]: 'answers' is not valid JSON" in err
    assert main(["data", "verify", str(out)]) == 0


def test_split_keeps_test_places_and_templates_out_of_training(records):
    splits, manifest = split_records(records, seed=1, validation=0.1, holdout_places=0.1, holdout_templates=0.1,
                                     keep_templates=frozenset({"zoom.steps"}))
    assert sum(len(v) for v in splits.values()) == len(records)
    held_places, held_templates = set(manifest["held_out_places"]), set(manifest["held_out_templates"])
    assert held_places and held_templates and "zoom.steps" not in held_templates
    for name in ("train", "validation"):
        for r in splits[name]:
            assert not held_places.intersection(record_places(r))
            assert r["meta"]["template"] not in held_templates
    for r in splits["test"]:
        assert held_places.intersection(record_places(r)) or r["meta"]["template"] in held_templates
    train_templates = {r["meta"]["template"] for r in splits["train"]}
    assert all(any(t.startswith(tool + ".") for t in train_templates) for tool in
               {t.split(".")[0] for t in held_templates})  # every tool still has a training template
    assert 0.1 < len(splits["test"]) / len(records) < 0.35
    again, _ = split_records(records, seed=1, validation=0.1, holdout_places=0.1, holdout_templates=0.1,
                             keep_templates=frozenset({"zoom.steps"}))
    assert again == splits


def test_split_cli_writes_three_files_and_manifest(tmp_path, records):
    write_jsonl(tmp_path / "all.jsonl", records)
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "split"), "--seed", "3"]) == 0
    manifest = json.loads((tmp_path / "split" / "split.json").read_text())
    for name in ("train", "validation", "test"):
        assert len(read_records(tmp_path / "split" / f"{name}.jsonl")) == manifest["counts"][name]
    assert not {"flyTo.minutes", "setTime.reverse"} & set(manifest["held_out_templates"])  # "holdout": false


def test_stats_outputs(tmp_path, records):
    write_jsonl(tmp_path / "all.jsonl", records)
    assert main(["data", "stats", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "stats")]) == 0
    stats = json.loads((tmp_path / "stats" / "stats.json").read_text())
    assert stats["records"] == len(records) and sum(stats["tools"].values()) == len(records)
    flyto = [json.loads(r["output"])["arguments"] for r in records if '"flyTo"' in r["output"]]
    assert stats["argument_coverage"]["flyTo"]["height"]["present"] == sum("height" in a for a in flyto)
    assert stats["argument_coverage"]["flyTo"]["location"]["share"] == 1.0
    assert stats["locations"]["place"] > stats["locations"]["coordinates"] > 0
    assert stats["lengths"]["instruction_chars"]["max"] == max(len(r["instruction"]) for r in records)
    rows = list(csv.reader((tmp_path / "stats" / "stats.csv").open()))
    assert rows[0] == ["section", "key", "subkey", "value"]
    assert ["tool", "flyTo", "count", str(stats["tools"]["flyTo"])] in rows
    assert (tmp_path / "stats" / "tools.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    variety = stats["variety"]  # distinct templates per tool and the kinds of place the data names
    assert variety["templates_per_tool"]["flyTo"] == len({r["meta"]["template"] for r in records
                                                          if '"flyTo"' in r["output"]})
    assert sum(variety["place_kinds"].values()) == stats["locations"]["place"] and "city" in variety["place_kinds"]
    assert ["templates", "flyTo", "distinct", str(variety["templates_per_tool"]["flyTo"])] in rows


def test_generate_cli_is_deterministic(tmp_path):
    for name in ("a", "b"):
        assert main(["data", "generate", "-n", "50", "--seed", "5", "--out", str(tmp_path / f"{name}.jsonl")]) == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
