"""Colours: a CSS name Cesium draws or #RRGGBB / #RGB, written canonically by grounding."""

from __future__ import annotations

import re

import pytest

from webslm.colors import COLOR_PATTERN, CSS_COLOR_NAMES, canonical_color, is_color
from webslm.domain import load_domain
from webslm.grounding import ground_call


@pytest.mark.parametrize("text, ok", [
    ("red", True), ("Red", True), ("darkslategrey", True), ("#A0E51D", True), ("#abc", True), ("#abcd", False),
    ("#ggg", False), ("#", False), ("", False), ("tense", False), ("light blue", False), (5, False), (None, False),
])
def test_is_color(text, ok):
    assert is_color(text) is ok


def test_canonical_spelling():
    assert [canonical_color(t) for t in ("Grey", "darkslategrey", "#A0E51D", "navy")] == [
        "gray", "darkslategray", "#a0e51d", "navy"]


def test_the_emission_pattern_admits_exactly_the_lower_case_names_and_hex():
    pattern = re.compile(COLOR_PATTERN)
    assert all(pattern.match(name) for name in CSS_COLOR_NAMES)
    assert pattern.match("#A0E51D") and pattern.match("#abc")
    assert not any(pattern.match(t) for t in ("Red", "tense", "redd", "#abcd", "40m", "red "))


def test_bad_colours_are_named_in_both_checks_and_good_ones_grounded():
    domain = load_domain("cesium")
    bad = {"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 2, "color": "tense"}}
    assert [(p.field, p.message) for p in domain.check_emission(bad)] == [
        ("arguments.color", "'tense' is not a CSS color name or #RRGGBB")]
    assert [(p.field, p.message) for p in domain.check_call(bad)] == [("arguments.color", "'tense' is not a 'color'")]
    call, problems = ground_call({**bad, "arguments": {**bad["arguments"], "color": "Grey"}}, domain, None)
    assert problems == [] and call["arguments"]["color"] == "gray" and domain.check_call(call) == []
