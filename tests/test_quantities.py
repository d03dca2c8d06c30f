"""Quantity strings the model copies ("4.4 km") and how grounding turns them into the schema's unit."""

from __future__ import annotations

import json
import re

import pytest

from rules import quantities
from webslm.domain import load_domain
from webslm.errors import WebslmError
from webslm.rulebook import RuleError


@pytest.mark.parametrize("text, number, unit", [
    ("4.4 km", 4.4, "km"), ("16,000 feet", 16000, "ft"), ("15-mile", 15, "mi"), ("0.6m", 0.6, "m"),
    ('16"', 16, "in"), ("500'", 500, "ft"), ("-209.8mm", -209.8, "mm"), ("1,250.5 metres", 1250.5, "m"),
    (" 3 yd ", 3, "yd"), ("12 KM", 12, "km"), ("2.5 Miles", 2.5, "mi"),
])
def test_parse_quantity(text, number, unit):
    assert quantities.parseQuantity(text) == [number, unit]


@pytest.mark.parametrize("text, why", [
    ("4,4 km", "not a quantity"), ("1,00 m", "not a quantity"), ("5", "not a quantity"), ("km", "not a quantity"),
    ("5 km 3 m", "not a quantity"), ("five km", "not a quantity"), ("1e3 m", "not a quantity"),
    ("5 parsecs", "unknown length unit [\"']parsecs[\"']"),  # Python quoted 'parsecs', JavaScript "parsecs"
    ("", "not a quantity"), (None, "not a quantity"),
])
def test_parse_quantity_refuses(text, why):
    with pytest.raises(RuleError, match=why):
        quantities.parseQuantity(text)


@pytest.mark.parametrize("text, target, value", [
    ("4.4 km", "m", 4400), ("15 miles", "m", 24140.16), ("10100 feet", "m", 3078.48), ("0.6 m", "mm", 600),
    ('16"', "mm", 406.4), ("2.4cm", "mm", 24), ("150 metres", "m", 150), ("-5 cm", "mm", -50), ("1 mm", "m", 0.001),
])
def test_convert_quantity(text, target, value):
    got = quantities.convertQuantity(text, target)
    assert got == value and type(got) is type(value)


def test_emission_schema_allows_quantities_only_where_a_unit_is_named():
    domain = load_domain("cesium")
    ok = {"tool": "flyTo", "arguments": {"place": "Berlin", "height": "4.4 km"}}
    assert domain.check_emission(ok) == []
    assert domain.check_emission({"tool": "flyTo", "arguments": {"place": "Berlin", "height": 4400}}) == []
    bad = domain.check_emission({"tool": "flyTo", "arguments": {"place": "Berlin", "height": "very high"}})
    assert [p.field for p in bad] == ["arguments.height"] and "'very high' is not a length" in bad[0].message
    no_unit = domain.check_emission({"tool": "flyTo", "arguments": {"place": "Berlin", "duration": "3 s"}})
    assert [p.field for p in no_unit] == ["arguments.duration"] and "not of type 'number'" in no_unit[0].message
    pattern = quantities.QUANTITY_PATTERN
    assert pattern.startswith("^") and pattern.endswith("$")


@pytest.mark.parametrize("text, ok", [
    ("4.4 km", True), ("16,000 feet", True), ("15-mile", True), ('16"', True), ("12 KM", True), ("2.5 Miles", True),
    ("1,250.5 metres", True), ("999999999999 m", True),
    ("26.71S", False), ("95d", False), ("3 s", False), ("5 kM", False), ("5 bananas", False),
    ("5 parsecs", True), ("3 nautical miles", True),  # written only to be refused by name at grounding
    ("5000000000000000000000 m", False), ("1.1234567 km", False),  # bounded: a drifting model must stop
])
def test_the_quantity_pattern_admits_only_known_unit_spellings(text, ok):
    """A hemisphere letter ("26.71S") or a stray letter cannot pass for a unit under constrained decoding; a length
    unit the rules cannot convert can, so that grounding refuses it by name."""
    assert bool(re.match(quantities.QUANTITY_PATTERN, text)) is ok


def test_ground_call_converts_quantities_and_places():
    domain = load_domain("cesium")
    call, problems = domain.rules.ground({"tool": "addCircle", "arguments": {"place": "Berlin", "radius": "15-mile"}})
    assert problems == [] and call["arguments"]["radius"] == 24140.16 and "place" not in call["arguments"]
    _, problems = domain.rules.ground({"tool": "addCircle", "arguments": {"place": "Berlin", "radius": "15 parsecs"}})
    assert [p.field for p in problems] == ["arguments.radius"]
    assert re.match("unknown length unit [\"']parsecs[\"'] in ", problems[0].message)


def test_ground_call_without_gazetteer_converts_nested_quantities():
    cad = load_domain("cad")
    assert cad.gazetteer_path is None
    call, problems = cad.rules.ground({"tool": "createBox", "arguments": {
        "width": "2 cm", "depth": 30, "height": '1"', "position": {"x": "0.5 m", "y": 0, "z": "-5mm"}}})
    assert problems == []
    assert call["arguments"] == {"width": 20, "depth": 30, "height": 25.4, "position": {"x": 500, "y": 0, "z": -5}}
    assert cad.check_call(call) == []


def test_unknown_unit_in_a_tool_schema_is_refused(tmp_path):
    import shutil

    root = tmp_path / "pack"
    shutil.copytree(load_domain("cad").root, root)
    path = root / "tools" / "extrude.json"
    path.write_text(path.read_text().replace('"x-unit": "mm"', '"x-unit": "furlong"'))
    with pytest.raises(WebslmError, match=r"extrude.json: parameters.properties.distance.x-unit is [\"']furlong[\"']"):
        load_domain(root)


@pytest.mark.parametrize("request_text, typed", [
    ("draw a circle of 5 leagues around Paris", "5 leagues"),
    ("circle Paris 3 nautical miles", "3 nautical miles"),
])
def test_a_length_in_a_unit_the_rules_cannot_read_is_refused_not_read_as_metres(request_text, typed):
    domain = load_domain("cesium")
    schema = domain.rules.narrow([request_text])[0]
    circle = next(b for b in schema["anyOf"] if b["properties"]["tool"]["const"] == "addCircle")
    for branch in circle["properties"]["arguments"]["anyOf"]:
        assert branch["properties"]["radius"] == {"anyOf": [{"enum": [typed]}]}  # never the bare number
    answer = json.dumps({"tool": "addCircle", "arguments": {"place": "Paris", "radius": typed}})
    [result] = domain.rules.execute([(answer, request_text)])
    assert result["stage"] == "grounding" and result["call"] is None
    assert f'unknown length unit "{typed.split(" ", 1)[1]}" in "{typed}"' in result["reason"]
