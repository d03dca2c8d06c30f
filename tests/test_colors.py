"""Colours: a CSS name Cesium draws or #RRGGBB / #RGB, written canonically by grounding (web/static/rules/colors.js)."""

from __future__ import annotations

import re

import pytest

from rules import colors
from webslm.domain import load_domain


@pytest.mark.parametrize("text, ok", [
    ("red", True), ("Red", True), ("darkslategrey", True), ("#A0E51D", True), ("#abc", True), ("#abcd", False),
    ("#ggg", False), ("#", False), ("", False), ("tense", False), ("light blue", False), (5, False), (None, False),
])
def test_is_color(text, ok):
    assert colors.isColor(text) is ok


def test_canonical_spelling():
    assert [colors.canonicalColor(t) for t in ("Grey", "darkslategrey", "#A0E51D", "navy")] == [
        "gray", "darkslategray", "#a0e51d", "navy"]


def test_the_emission_pattern_admits_exactly_the_lower_case_names_and_hex():
    pattern = re.compile(colors.COLOR_PATTERN)
    assert all(pattern.match(name) for name in colors.CSS_COLOR_NAMES)
    assert pattern.match("#A0E51D") and pattern.match("#abc")
    assert not any(pattern.match(t) for t in ("tense", "redd", "#abcd", "40m", "red ", "rEd"))


def test_the_emission_pattern_takes_a_name_in_one_case_as_a_person_types_it():
    # lower case (the training data's), Title or UPPER (a typed call); grounding writes them in lower case
    for name in ("red", "Red", "RED", "Darkblue", "DARKBLUE"):
        assert re.match(colors.COLOR_PATTERN, name), name
    for name in ("rEd", "DarkBlue", "tense"):
        assert not re.match(colors.COLOR_PATTERN, name), name


def test_bad_colours_are_named_in_both_checks_and_good_ones_grounded():
    domain = load_domain("cesium")
    bad = {"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 2, "color": "tense"}}
    assert [(p.field, p.message) for p in domain.check_emission(bad)] == [
        ("arguments.color", "'tense' is not a CSS color name or #RRGGBB")]
    (problem,) = domain.check_call(bad)  # jsonschema said "'tense' is not a 'color'"; the rulebook words it its way
    assert problem.field == "arguments.color" and "'tense' is not" in problem.message and "color" in problem.message
    call, problems = domain.rules.ground({**bad, "arguments": {**bad["arguments"], "color": "Grey"}})
    assert problems == [] and call["arguments"]["color"] == "gray" and domain.check_call(call) == []
