"""Place names the model was meant to copy from the request: a slip in the copy is read as the request's words."""

from __future__ import annotations

import pytest

from rules import spelling
from webslm.domain import load_domain

ROUTE = "hey, plot a polygon around Las Vegas / Shunyi / arabi / Ongole / Cologne / Rio de Janeiro extruded to 150 m"


@pytest.fixture(scope="module")
def rules():
    return load_domain("cesium").rules


def resolve(rules, name):
    return rules.resolve([name])[0]


def resolve_copied(rules, name, request):
    return rules.resolve([name], request)[0]


@pytest.mark.parametrize("a, b, distance", [
    ("", "", 0), ("ongole", "ongole", 0), ("orgole", "ongole", 1), ("shuni", "shunyi", 1), ("ab", "ba", 1),
    ("caleld", "called", 1), ("abc", "ca", 3),
    ("", "abc", 3), ("kitten", "sitting", 3),
])
def test_edit_distance(a, b, distance):
    assert spelling.editDistance(a, b) == distance == spelling.editDistance(b, a)


@pytest.mark.parametrize("written, meant", [
    ("Orgole", "Ongole"),                 # a substituted letter
    ("Shuni", "Shunyi"),                  # a dropped one
    ("Rio de Janiero", "Rio de Janeiro"),  # two swapped, in a three-word name
    ("Las Vega", "Las Vegas"),
    ("Ongole", "Ongole"),                 # copied right
])
def test_a_slip_in_a_copied_name_reads_as_the_request_words(rules, written, meant):
    assert resolve_copied(rules, written, ROUTE) == resolve(rules, meant) is not None


def test_names_far_from_every_span_resolve_as_written(rules):
    assert resolve_copied(rules, "Paris", ROUTE) == resolve(rules, "Paris") is not None  # not in the request: kept
    assert resolve_copied(rules, "Orgole", None) is None  # no request, no repair
    assert resolve_copied(rules, "Ozzzzz", ROUTE) is None  # too far from "Ongole"
    # a short name allows one slip only
    assert resolve_copied(rules, "Lama", "fly to Lima") == resolve(rules, "Lima") is not None
    assert resolve_copied(rules, "Lxmx", "fly to Lima") is None


def test_ground_call_repairs_slips_only_with_the_request():
    domain = load_domain("cesium")
    output = {"tool": "addPolygon", "arguments": {"positions": [{"place": "Orgole"}, {"place": "Shunyi"},
                                                                {"place": "Cologn"}]}}
    call, problems = domain.rules.ground(output, ROUTE)
    assert problems == []
    assert call["arguments"]["positions"][0]["latitude"] == resolve(domain.rules, "Ongole").latitude
    _, problems = domain.rules.ground(output)
    assert [p.field for p in problems] == ["arguments.positions[0].place", "arguments.positions[2].place"]
