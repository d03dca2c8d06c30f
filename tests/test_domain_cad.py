"""The CAD domain pack: a second skill with no places, driven by the same generic generator, verifier and split."""

import json
import re

import pytest

from train.dataset.generate import RecordGenerator, generate_records
from train.dataset.templates import load_templates
from webslm.records import read_records
from train.dataset.verify import RecordChecker, verify_files
from webslm.atomic import write_jsonl
from webslm.cli import main
from webslm.domain import load_domain
from webslm.errors import WebslmError

TOOLS = {"createBox", "createCylinder", "createSphere", "move", "rotate", "extrude", "boolean", "delete"}


@pytest.fixture(scope="module")
def domain():
    return load_domain("cad")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("cad") / "all.jsonl"
    assert main(["data", "generate", "--domain", "cad", "--seed", "1", "-n", "2000", "--out", str(out)]) == 0
    return out


def test_pack_loads_without_a_gazetteer(domain):
    assert set(domain.tools) == TOOLS
    assert domain.gazetteer_path is None
    assert "mm" in domain.system_prompt and "degrees" in domain.system_prompt
    # the emission schema is the tool schemas unchanged: no {"place"} branch for a domain without coordinates
    assert "place" not in json.dumps(domain.emission_schema())


def test_generate_then_verify_is_clean(generated, domain, capsys):
    assert main(["data", "verify", "--domain", "cad", str(generated)]) == 0
    records = read_records(generated)
    assert len(records) == 2000
    assert {json.loads(r["output"])["tool"] for r in records} == TOOLS
    assert {r["meta"]["template"] for r in records} == {t["id"] for t in load_templates(domain)["templates"]}
    assert all(r["meta"]["places"] == [] for r in records)


def test_same_seed_same_records_other_seed_differs(domain):
    a = generate_records(domain, 300, seed=7)
    assert a == generate_records(domain, 300, seed=7)
    assert a != generate_records(domain, 300, seed=8)


def test_split_holds_out_phrasings_and_keeps_unique_meanings(generated, tmp_path, capsys):
    out = tmp_path / "split"
    assert main(["data", "split", "--domain", "cad", str(generated), "--out", str(out)]) == 0
    manifest = json.loads((out / "split.json").read_text())
    assert sum(manifest["counts"].values()) == 2000
    assert manifest["held_out_places"] == [] and manifest["held_out_templates"]
    assert not {"createBox.cube", "createCylinder.diameter", "rotate.clockwise"} & set(manifest["held_out_templates"])
    train_templates = {r["meta"]["template"] for r in read_records(out / "train.jsonl")}
    assert not train_templates & set(manifest["held_out_templates"])
    assert main(["data", "stats", "--domain", "cad", str(generated), "--out", str(tmp_path / "stats")]) == 0


def test_lengths_ground_to_millimetres_and_diameters_to_radii(domain):
    """The output keeps the unit written ("3.5 cm"), halving a diameter in that unit; grounding makes millimetres."""
    spec = load_templates(domain)
    cm = {"cm": {**spec["slots"]["length"]["units"]["cm"], "names": [" cm"]}}
    only_cm = dict(spec, slots={**spec["slots"], "length": {**spec["slots"]["length"], "units": cm}})
    gen = RecordGenerator(domain, only_cm, seed=3)
    by_id = {t["id"]: t for t in gen.templates}
    for _ in range(100):
        r = gen.generate(by_id["createCylinder.diameter"])
        output = json.loads(r["output"])
        assert output["arguments"]["radius"].endswith(" cm") and output["arguments"]["height"] in r["instruction"]
        args = domain.rules.ground(output)[0]["arguments"]
        written_mm = {round(float(n) * 10, 2) for n in re.findall(r"(\d+(?:\.\d+)?) cm", r["instruction"])}
        assert round(args["radius"] * 2, 2) in written_mm and args["height"] in written_mm, r
    for _ in range(20):
        cube = json.loads(gen.generate(by_id["createBox.cube"])["output"])["arguments"]
        assert cube["width"] == cube["depth"] == cube["height"]


def test_boolean_operands_differ(generated):
    for r in read_records(generated):
        call = json.loads(r["output"])
        if call["tool"] == "boolean":
            assert call["arguments"]["a"] != call["arguments"]["b"]


@pytest.mark.parametrize("call, field", [
    ({"tool": "createSphere", "arguments": {"radius": -5}}, "output.arguments.radius"),
    ({"tool": "createCylinder", "arguments": {"radius": 0, "height": 10}}, "output.arguments.radius"),
    ({"tool": "rotate", "arguments": {"target": "box1", "axis": "w", "angle": 90}}, "output.arguments.axis"),
    ({"tool": "rotate", "arguments": {"target": "box1", "axis": "z", "angle": 720}}, "output.arguments.angle"),
    # no offset at all (the schema's anyOf: at least one of dx, dy, dz), reported at the arguments
    ({"tool": "move", "arguments": {"target": "box1"}}, "output.arguments"),
    ({"tool": "boolean", "arguments": {"operation": "xor", "a": "a1", "b": "b1"}}, "output.arguments.operation"),
    ({"tool": "createBox", "arguments": {"width": 1, "depth": 1, "height": 1, "position": {"x": 0, "y": 0}}},
     "output.arguments.position.z"),
    ({"tool": "delete", "arguments": {"target": "box1", "force": True}}, "output.arguments.force"),
    ({"tool": "flyTo", "arguments": {"place": "Paris"}}, "output.tool"),
])
def test_bad_records_are_caught(domain, call, field):
    problems = RecordChecker(domain).check({"instruction": "x", "output": json.dumps(call)}, "line 1")
    assert problems and problems[0].field == field, problems


def test_verify_lists_bad_lines(domain, tmp_path):
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [
        {"instruction": "sphere r -5", "output": json.dumps({"tool": "createSphere", "arguments": {"radius": -5}})},
        {"instruction": "delete box1", "output": json.dumps({"tool": "delete", "arguments": {"target": "box1"}})},
        {"instruction": "rotate box1 on w", "output": '{"tool": "rotate", "arguments": {"target": "box1", "axis": "w", "angle": 9}}'},
    ])
    count, problems = verify_files([path], domain)
    assert count == 3 and [p.where.split(":")[-1] for p in problems] == ["1", "3"]


def test_template_slot_errors_are_clear(domain):
    spec = load_templates(domain)
    bad = dict(spec, slots={**spec["slots"], "obj_b": {"like": "nowhere"}})
    gen = RecordGenerator(domain, bad, seed=1)
    union = next(t for t in gen.templates if t["id"] == "boolean.union")
    with pytest.raises(WebslmError, match="obj_b.*'like' 'nowhere', which is not a slot"):
        for _ in range(50):
            gen.generate(union)
