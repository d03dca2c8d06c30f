"""`webslm data verify`: every bad input is reported with its file, line and field."""

import json

import pytest

from train.dataset.verify import verify_files
from webslm.cli import main
from webslm.domain import load_domain

GOOD = {"instruction": "fly to Paris", "output": json.dumps({"tool": "flyTo", "arguments": {"place": "Paris"}})}


def _call(tool, **arguments):
    return json.dumps({"tool": tool, "arguments": arguments})


@pytest.fixture(scope="module")
def domain():
    return load_domain("cesium")


def _write(tmp_path, lines, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _problems(paths, domain):
    return [(p.where, p.field, p.message) for p in verify_files(paths, domain)[1]]


@pytest.mark.parametrize("bad_line, field, message", [
    ('{"instruction": "fly to Paris", "output": ', "", "invalid JSON"),
    (json.dumps({"instruction": "fly", "output": _call("teleport", place="Paris")}), "output.tool", "unknown tool"),
    (json.dumps({"instruction": "draw a circle at Paris", "output": _call("addCircle", place="Paris")}),
     "output.arguments.radius", "'radius' is a required property"),
    (json.dumps({"instruction": "zoom", "output": _call("zoom", amount="lots")}), "output.arguments.amount",
     "is not of type 'number'"),
    (json.dumps({"instruction": "go", "output": _call("flyTo", longitude=10, latitude=200)}),
     "output.arguments.latitude", "200 is greater than the maximum of 90"),
    (json.dumps({"instruction": "go", "output": _call("flyTo", place="Nowhereville Zzz")}),
     "output.arguments.place", "unknown place"),
    (json.dumps({"instruction": "fly to Paris"}), "output", "missing"),
    (json.dumps({"instruction": "fly", "output": "{flyTo"}), "output", "not valid JSON"),
    (json.dumps({"instruction": "fly", "output": _call("addPolyline", positions=[{"place": "Paris"},
                                                                              {"longitude": 1, "latitude": 95}])}),
     "output.arguments.positions[1].latitude", "greater than the maximum"),
])
def test_bad_record_reported_at_its_line_and_field(tmp_path, domain, bad_line, field, message):
    path = _write(tmp_path, [json.dumps(GOOD), json.dumps(GOOD), bad_line, json.dumps(GOOD)])
    problems = _problems([path], domain)
    assert len(problems) == 1, problems
    where, got_field, got_message = problems[0]
    assert (where, got_field) == (f"{path}:3", field)
    assert message in got_message


def test_all_problems_of_all_files_are_reported(tmp_path, domain):
    a = _write(tmp_path, [json.dumps(GOOD), "not json", json.dumps({"instruction": "x", "output": _call("zoom")})], "a.jsonl")
    b = _write(tmp_path, ["[1, 2]"], "b.jsonl")
    wheres = [p[0] for p in _problems([a, b, tmp_path / "missing.jsonl"], domain)]
    assert wheres == [f"{a}:2", f"{a}:3", f"{b}:1", str(tmp_path / "missing.jsonl")]


def test_empty_file(tmp_path, domain):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert _problems([path], domain) == [(f"{path}:1", "", "file is empty: expected one JSON record per line")]


def test_file_not_found(tmp_path, domain):
    problems = _problems([tmp_path / "nope.jsonl"], domain)
    assert problems == [(str(tmp_path / "nope.jsonl"), "", "no such file")]


def test_latin1_byte_reported_on_its_line(tmp_path, domain):
    path = tmp_path / "latin1.jsonl"
    good = json.dumps(GOOD).encode()
    bad = json.dumps({"instruction": "fly to Zürich", "output": _call("flyTo", place="Zürich")},
                     ensure_ascii=False).encode("latin-1")
    path.write_bytes(good + b"\n" + bad + b"\n")
    [(where, field, message)] = _problems([path], domain)
    assert where == f"{path}:2" and field == "" and "not UTF-8" in message and "0xfc" in message


def test_utf16_file(tmp_path, domain):
    path = tmp_path / "utf16.jsonl"
    path.write_text(json.dumps(GOOD) + "\n", encoding="utf-16")
    [(where, field, message)] = _problems([path], domain)
    assert where == f"{path}:1" and "UTF-16" in message


def test_chat_records_verify_and_wrong_system_prompt_is_caught(tmp_path, domain):
    messages = [{"role": "system", "content": domain.system_prompt}, {"role": "user", "content": "fly to Paris"},
                {"role": "assistant", "content": _call("flyTo", place="Paris", height=-5)}]
    other = [dict(messages[0], content="You are a pirate."), *messages[1:2],
             dict(messages[2], content=_call("flyTo", place="Paris"))]
    path = _write(tmp_path, [json.dumps({"messages": messages}), json.dumps({"messages": other})])
    assert [p[:2] for p in _problems([path], domain)] == [
        (f"{path}:1", "messages[2].content.arguments.height"), (f"{path}:2", "messages[0].content")]


def test_cli_exit_codes(tmp_path, capsys):
    good = _write(tmp_path, [json.dumps(GOOD)], "good.jsonl")
    bad = _write(tmp_path, [json.dumps(GOOD), "{"], "bad.jsonl")
    assert main(["data", "verify", str(good)]) == 0
    assert main(["data", "verify", str(good), str(bad)]) != 0
    err = capsys.readouterr().err
    assert f"{bad}:2: invalid JSON" in err and "1 problem(s)" in err
