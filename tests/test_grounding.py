"""Place names the model was meant to copy from the request: a slip in the copy is read as the request's words."""

from __future__ import annotations

import pytest

from webslm.domain import load_domain
from webslm.grounding import Gazetteer, edit_distance, ground_call

ROUTE = "hey, plot a polygon around Las Vegas / Shunyi / arabi / Ongole / Cologne / Rio de Janeiro extruded to 150 m"


@pytest.fixture(scope="module")
def gazetteer():
    return Gazetteer.load(load_domain("cesium").gazetteer_path)


@pytest.mark.parametrize("a, b, distance", [
    ("", "", 0), ("ongole", "ongole", 0), ("orgole", "ongole", 1), ("shuni", "shunyi", 1), ("ab", "ba", 2),
    ("", "abc", 3), ("kitten", "sitting", 3),
])
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance == edit_distance(b, a)


@pytest.mark.parametrize("written, meant", [
    ("Orgole", "Ongole"),                 # a substituted letter
    ("Shuni", "Shunyi"),                  # a dropped one
    ("Rio de Janiero", "Rio de Janeiro"),  # two swapped, in a three-word name
    ("Las Vega", "Las Vegas"),
    ("Ongole", "Ongole"),                 # copied right
])
def test_a_slip_in_a_copied_name_reads_as_the_request_words(gazetteer, written, meant):
    assert gazetteer.resolve_copied(written, ROUTE) == gazetteer.resolve(meant) is not None


def test_names_far_from_every_span_resolve_as_written(gazetteer):
    assert gazetteer.resolve_copied("Paris", ROUTE) == gazetteer.resolve("Paris")  # not in the request: kept
    assert gazetteer.resolve_copied("Orgole", None) is None  # no request, no repair
    assert gazetteer.resolve_copied("Ozzzzz", ROUTE) is None  # too far from "Ongole"
    # a short name allows one slip only
    assert gazetteer.resolve_copied("Lama", "fly to Lima") == gazetteer.resolve("Lima")
    assert gazetteer.resolve_copied("Lxmx", "fly to Lima") is None


def test_ground_call_repairs_slips_only_with_the_request():
    domain = load_domain("cesium")
    gazetteer = Gazetteer.load(domain.gazetteer_path)
    output = {"tool": "addPolygon", "arguments": {"positions": [{"place": "Orgole"}, {"place": "Shunyi"},
                                                                {"place": "Cologn"}]}}
    call, problems = ground_call(output, domain, gazetteer, ROUTE)
    assert problems == []
    assert call["arguments"]["positions"][0]["latitude"] == gazetteer.resolve("Ongole").latitude
    _, problems = ground_call(output, domain, gazetteer)
    assert [p.field for p in problems] == ["arguments.positions[0].place", "arguments.positions[2].place"]
