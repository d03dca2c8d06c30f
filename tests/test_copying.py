"""Names copied from the request: the spans a model may choose among, and the per-request emission schema."""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest

from webslm.colors import COLOR_PATTERN
from webslm.copying import COPY_KEY, colors_named, for_request, request_of, request_spans
from webslm.domain import load_domain
from webslm.errors import WebslmError
from train.dataset.generate import generate_records


def test_request_spans_are_word_runs_without_edge_punctuation():
    spans = request_spans('pin "Base Camp" at Paris, France!', max_words=3)
    assert spans[:3] == ["pin", 'pin "Base', 'pin "Base Camp']  # inner punctuation stays, the ends are stripped
    assert "Base Camp" in spans and "Paris, France" in spans and "France" in spans
    assert all(len(s.split()) <= 3 for s in spans)
    assert len(spans) == len(set(spans))
    assert request_spans("  ") == [] and request_spans("... !") == []
    assert request_spans("box1 + box1") == ["box1", "box1 +", "box1 + box1", "+", "+ box1"]  # repeats once


def test_apostrophes_at_the_ends_of_a_span_are_kept_both_ways():
    spans = request_spans("route Ryazan\u2019, 's-Hertogenbosch, \u2018Ajlun", max_words=1)
    assert spans == ["route", "Ryazan", "Ryazan\u2019", "s-Hertogenbosch", "'s-Hertogenbosch", "Ajlun", "\u2018Ajlun"]


@pytest.mark.parametrize("request_text, colors", [
    ("make a dark blue line coloured grey", ["blue", "darkblue", "gray"]),
    ("Ring Budapest r=3 mi #95d840 or #ABC. #12", ["#95d840", "#ABC"]),
    ("hot pink box, Light-Blue", ["blue", "hotpink", "lightblue", "pink"]),
    ("draw a circle centred on Paris, tanned", []),  # "red" and "tan" inside words are not colours
])
def test_colors_named(request_text, colors):
    assert colors_named(request_text) == colors


def test_for_request_limits_colours_to_those_named_and_drops_unnamed_ones():
    domain = load_domain("cesium")
    schema = domain.emission_schema()
    navy = jsonschema.Draft202012Validator(for_request(schema, "ring Milan r=20km navy"))
    unnamed = jsonschema.Draft202012Validator(for_request(schema, "ring Milan r=20km"))
    circle = {"tool": "addCircle", "arguments": {"place": "Milan", "radius": "20km"}}
    assert navy.is_valid({**circle, "arguments": {**circle["arguments"], "color": "navy"}})
    assert not navy.is_valid({**circle, "arguments": {**circle["arguments"], "color": "red"}})
    assert unnamed.is_valid(circle) and not unnamed.is_valid({**circle, "arguments": {**circle["arguments"],
                                                                                       "color": "navy"}})
    required = {"type": "object", "properties": {"c": {"type": "string", "pattern": COLOR_PATTERN}}, "required": ["c"]}
    assert for_request(required, "no colour here") == required  # a required colour is never made unwritable


def test_for_request_limits_copy_fields_to_the_request_words():
    domain = load_domain("cesium")
    schema = domain.emission_schema()
    request = "drop a pin called HQ on Ciudad Guzmán"
    asked = for_request(schema, request)
    text = json.dumps(asked)
    assert COPY_KEY in json.dumps(schema) and COPY_KEY not in text and schema == domain.emission_schema()
    valid = jsonschema.Draft202012Validator(asked)
    assert valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzmán", "name": "HQ"}})
    assert not valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzman", "name": "HQ"}})
    assert not valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzmán", "name": "Depot"}})
    assert valid.is_valid({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "pin called"}})


def test_a_field_no_span_fits_keeps_its_schema():
    node = {"type": "string", "minLength": 1, "maxLength": 5, COPY_KEY: True}
    assert for_request(node, "abcdefgh") == node
    assert for_request(node, "abc abcdefgh") == {"enum": ["abc"]}
    assert for_request([node, 3], "") == [node, 3]


def test_request_of_is_the_last_user_message():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"}, {"role": "user", "content": "fly to Lima"}]
    assert request_of(messages) == "fly to Lima" and request_of(messages[:1]) == ""


@pytest.mark.parametrize("name", ["cesium", "cad"])
def test_generated_answers_only_copy_the_request_words(name):
    """The training data never asks for a name or colour the constraint would forbid."""
    domain = load_domain(name)
    schema = domain.emission_schema()
    for record in generate_records(domain, 1500, seed=7):
        valid = jsonschema.Draft202012Validator(for_request(schema, record["instruction"]))
        assert valid.is_valid(json.loads(record["output"])), record


def test_copy_mark_only_on_strings(tmp_path):
    root = tmp_path / "cesium"
    shutil.copytree(load_domain("cesium").root, root)
    path = root / "tools" / "zoom.json"
    spec = json.loads(path.read_text())
    spec["parameters"]["properties"]["amount"][COPY_KEY] = True
    path.write_text(json.dumps(spec))
    with pytest.raises(WebslmError, match=r"zoom.json: parameters.properties.amount.x-copy is True; .*type string"):
        load_domain(root)
