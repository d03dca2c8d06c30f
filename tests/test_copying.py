"""Names copied from the request: the spans a model may choose among, and the per-request emission schema."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from conftest import edited_domain
from rules import colors, copying, emission, spelling
from webslm.domain import load_domain
from webslm.errors import WebslmError
from webslm.rulebook import request_of
from train.dataset.generate import generate_records

COPY_KEY, CUES_KEY, BARE_KEY = emission.COPY_KEY, emission.CUES_KEY, emission.BARE_KEY
for_request = copying.forRequest  # the emission schema narrowed with no gazetteer: any span may be a place


def narrowed(domain, request):
    """The domain's emission schema narrowed to `request`, places being spans its gazetteer knows."""
    return domain.rules.narrow([request])[0]


def _marked(schema, path: str, key: str):
    """(field path, schema node) for every node of a tool schema that holds `key` (x-unit, x-copy, x-cues, x-bare)."""
    if not isinstance(schema, dict):
        return
    if key in schema:
        yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _marked(sub, f"{path}.properties.{name}", key)
    if "items" in schema:
        yield from _marked(schema["items"], f"{path}.items", key)


def test_request_spans_are_word_runs_without_edge_punctuation():
    spans = copying.requestSpans('pin "Base Camp" at Paris, France!', 3)
    assert spans[:3] == ["pin", 'pin "Base', 'pin "Base Camp']  # inner punctuation stays, the ends are stripped
    assert "Base Camp" in spans and "Paris, France" in spans and "France" in spans
    assert all(len(s.split()) <= 3 for s in spans)
    assert len(spans) == len(set(spans))
    assert copying.requestSpans("  ") == [] and copying.requestSpans("... !") == []
    assert copying.requestSpans("box1 + box1") == ["box1", "box1 +", "box1 + box1", "+", "+ box1"]  # repeats once


def test_apostrophes_at_the_ends_of_a_span_are_kept_both_ways():
    spans = copying.requestSpans("route Ryazan\u2019, 's-Hertogenbosch, \u2018Ajlun", 1)
    assert spans == ["route", "Ryazan", "Ryazan\u2019", "s-Hertogenbosch", "'s-Hertogenbosch", "Ajlun", "\u2018Ajlun"]


@pytest.mark.parametrize("request_text, named", [
    ("make a dark blue line coloured grey", ["blue", "darkblue", "gray"]),
    ("Ring Budapest r=3 mi #95d840 or #ABC. #12", ["#95d840", "#ABC"]),
    ("hot pink box, Light-Blue", ["blue", "hotpink", "lightblue", "pink"]),
    ("draw a circle centred on Paris, tanned", []),  # "red" and "tan" inside words are not colours
])
def test_colors_named(request_text, named):
    assert copying.colorsNamed(request_text) == named


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
    required = {"type": "object", "properties": {"c": {"type": "string", "pattern": colors.COLOR_PATTERN}},
                "required": ["c"]}
    assert for_request(required, "no colour here") == required  # a required colour is never made unwritable


def test_for_request_limits_copy_fields_to_the_request_words():
    domain = load_domain("cesium")
    schema = domain.emission_schema()
    request = "drop a pin called HQ on Ciudad Guzmán"
    asked = for_request(schema, request)
    text = json.dumps(asked)
    assert COPY_KEY in json.dumps(schema) and COPY_KEY not in text and schema == domain.emission_schema()
    before, _, after = domain.rules.narrow(["fly to Lima", request, "fly to Lima"])  # narrowing changes no schema
    assert before == after and COPY_KEY not in json.dumps(before)
    valid = jsonschema.Draft202012Validator(asked)
    assert valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzmán", "name": "HQ"}})
    assert not valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzman", "name": "HQ"}})
    assert not valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzmán", "name": "Depot"}})
    assert not valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzmán", "name": "pin called"}})
    assert not valid.is_valid({"tool": "addPoint", "arguments": {"place": "Ciudad Guzmán"}})  # "called" asks a name
    assert not valid.is_valid({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "HQ"}})


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
def test_generated_answers_satisfy_their_request_schema(name):
    """The training data never writes what its request gives no evidence for. The only exceptions: a place whose
    name holds a colour or a cue word ("Peru", "Big Apple") announces a colour or a size the answer does not have;
    a flight time in minutes ("taking 3 min") is 180 seconds, a number the request does not write (durations are
    not yet quantities with units, as lengths are); a CAD move "18 in negative z" reads as 18 inches; a word of
    three or four letters with a typo other than two swapped letters ("dwn", "pth") is not the cue it was."""
    domain = load_domain(name)
    schema = domain.emission_schema()
    cues = {cue for tool in domain.tools.values() for _, node in _marked(tool.parameters, "", CUES_KEY)
            for cue in node[CUES_KEY]}
    announcing = set(colors.CSS_COLOR_NAMES) | cues
    cues |= {w for tool in domain.tools.values() for _, node in _marked(tool.parameters, "", emission.DIRECTION_KEY)
             for w in node[emission.DIRECTION_KEY]}
    exceptions = 0
    records = generate_records(domain, 1500, seed=7)
    schemas = domain.rules.narrow([record["instruction"] for record in records])
    assert len(schemas) == len(records) == 1500
    for record, narrowed_schema in zip(records, schemas):
        valid = jsonschema.Draft202012Validator(narrowed_schema)
        output = json.loads(record["output"])
        if not valid.is_valid(output):
            if re.search(r"[0-9] min", record["instruction"]):
                assert output["arguments"]["duration"] % 60 == 0, record
                continue
            words = set(re.findall(r"[a-z]+", record["instruction"].lower()))
            short_slip = any(len(c) in (3, 4) and c not in words and spelling.editDistance(w, c) == 1
                             for w in words for c in cues if isinstance(c, str) and " " not in c)
            assert (short_slip or re.search(r"[0-9] in negative", record["instruction"])
                    or announcing & set(" ".join(_places(output)).lower().split())), record
            exceptions += 1
    assert exceptions <= 4


def test_a_cue_announces_a_copied_name_and_its_absence_removes_it():
    schema = load_domain("cesium").emission_schema()
    point = lambda request: _arguments(for_request(schema, request), "addPoint")  # noqa: E731
    called = point("pin Lima called 'Base Camp' please")
    for branch in called["anyOf"]:
        assert "name" in branch["required"] and branch["properties"]["name"]["enum"][:3] == ["Base", "'Base",
                                                                                           "Base Camp"]
    assert all("name" not in b["properties"] for b in point("pin Lima, Base Camp")["anyOf"])
    assert "name" in point("put a pin in Luohe titld Zone 1")["anyOf"][0]["required"]  # one slip in a long cue
    assert all("name" not in b["properties"] for b in point("pin Lima as")["anyOf"])  # a cue with nothing after


def test_a_bare_name_may_go_without_a_cue_and_a_cue_still_requires_it():
    """CAD names are cued ("called", "for the") but also written bare ("box 30x40x50 lid"): x-bare."""
    schema = load_domain("cad").emission_schema()
    box = lambda request: _arguments(for_request(schema, request), "createBox")  # noqa: E731
    cued = box("make a box 30x40x50 mm for the lid")
    assert "name" in cued["required"] and cued["properties"]["name"]["enum"][0] == "lid"
    bare = box("box 30x40x50 lid")
    assert "name" not in bare.get("required", []) and "lid" in bare["properties"]["name"]["enum"]
    assert "30x40x50" in bare["properties"]["name"]["enum"]  # any run of the request's words, as before cues
    for request, name in [("the top plate is a box 3x4x5", "top plate"), ("make the pillar as a block 3x4x5", "pillar")]:
        gapped = box(request)  # a cue with a gap: the name is written inside it
        assert "name" in gapped["required"] and gapped["properties"]["name"]["enum"] == [name]


@pytest.mark.parametrize("text, cues, spans", [
    ("the top plate is a sphere", ["the ... is a"], ["top plate"]),
    ("The 'Top Plate' IS A sphere", ["the ... is a"], ["Top Plate", "'Top Plate'"]),
    ("the lid is the lid is a box", ["the ... is a"], ["lid is the lid", "lid"]),
    ("the lid is a", ["... is a"], ["the lid", "lid"]),
    ("box called", ["called ..."], []),
    ("the a b c d e f g is a box", ["the ... is a"], []),  # longer than a name (6 words)
])
def test_gap_spans_are_the_runs_inside_a_cue(text, cues, spans):
    assert copying.gapSpans(text, cues) == spans
    assert copying.cueMatches(text, cues) == []  # a gapped cue is not a cue that something follows


@pytest.mark.parametrize("text, numbers", [
    ("9.936N 43.183E / 0.7831 degrees south, 24.6837 Degrees West", [9.936, 43.183, -0.7831, -24.6837]),
    ("lon -66.1 lat 6.1 (\u22125, 08)", [-66.1, 6.1, -5, 8]),
    ("74.41°N 122.82°E r=1.9 mi", [74.41, 122.82, 1.9]),
    ("fly to S 33.9", [33.9, -33.9]),             # a hemisphere only before the number: either sign
])
def test_numbers_are_read_with_the_sign_written(text, numbers):
    assert copying.numbersWritten(text) == numbers


def _exactly(n):
    return {"type": "number", "minimum": n, "maximum": n}


def test_typed_coordinates_are_numbers_the_request_writes():
    schema = load_domain("cesium").emission_schema()
    typed = _arguments(for_request(schema, "pin 12.5 -0.2 and 200"), "addPoint")
    coordinates = typed["anyOf"][0]["properties"]
    exactly = [_exactly(n) for n in (12.5, -0.2)]
    assert coordinates["longitude"] == {"anyOf": exactly}  # 200 is not a longitude
    assert coordinates["latitude"] == {"anyOf": exactly}
    named = _arguments(for_request(schema, "pin Lima"), "addPoint")
    assert [list(b["properties"]) for b in named["anyOf"]] == [["place"]]  # nothing typed: only a place


def test_a_written_pair_is_copied_as_a_pair():
    schema = load_domain("cesium").emission_schema()
    paired = _arguments(for_request(schema, "pin 12.5N 0.2W size 20"), "addPoint")["anyOf"][0]
    assert paired["required"][:2] == ["longitude", "latitude"]
    assert (paired["properties"]["longitude"], paired["properties"]["latitude"]) == (_exactly(-0.2), _exactly(12.5))
    either = _arguments(for_request(schema, "pin (3.5, 12)"), "addPoint")["anyOf"]  # order not said: both
    assert [(b["properties"]["longitude"], b["properties"]["latitude"]) for b in either[:2]] == [
        (_exactly(3.5), _exactly(12)), (_exactly(12), _exactly(3.5))]


def test_places_are_names_the_gazetteer_knows():
    domain = load_domain("cesium")
    named = _arguments(narrowed(domain, "a marker called Hotel at Fuzhou"), "addPoint")
    assert named["anyOf"][0]["properties"]["place"] == {"enum": ["Fuzhou"]}
    tools = lambda text: [b["properties"]["tool"]["const"]  # noqa: E731
                          for b in narrowed(domain, text)["anyOf"]]
    assert "flyTo" not in tools("show everything in Columbus view")  # the words of a cue phrase are not a place
    assert "flyTo" in tools("fly to Columbus") and "setSceneMode" in tools("fly to Columbus")


def test_a_listed_route_is_copied_whole_and_in_order():
    domain = load_domain("cesium")
    request = "draw a track from Ulan Bator -> Jayapura -> 12N 3.5W named Start"
    positions = _arguments(narrowed(domain, request), "addPolyline")["properties"]["positions"]
    assert (positions["minItems"], positions["maxItems"], positions["items"]) == (3, 3, False)
    items = [item["anyOf"] for item in positions["prefixItems"]]
    assert [b["properties"].get("place") for b in items[0] + items[1]] == [{"enum": ["Ulan Bator"]},
                                                                           {"enum": ["Jayapura"]}]
    assert items[2][0]["properties"]["longitude"] == _exactly(-3.5)
    unlisted = _arguments(narrowed(domain, "line to Lima"), "addPolyline")
    assert "prefixItems" not in unlisted["properties"]["positions"]


@pytest.mark.parametrize("request_text, height, duration", [
    ("fly to Denver now", None, None),            # no number, no cue: neither is written
    ("fly to Denver at 5 km", "required", None),  # 5 is the height's: a length, written with its unit
    ("fly to Denver very slowly", None, "required"),  # a cue word announces the number
    ("fly to Denver slowly in 40 s", "optional", "required"),
    ("fly to 12N 3W at 2029-12-08", None, None),  # the numbers of a pair and a date are theirs
])
def test_optional_numbers_need_a_number_or_a_cue(request_text, height, duration):
    flight = _arguments(for_request(load_domain("cesium").emission_schema(), request_text), "flyTo")
    for branch in flight["anyOf"]:
        for field, expected in (("height", height), ("duration", duration)):
            state = None if field not in branch["properties"] else (
                "required" if field in branch.get("required", ()) else "optional")
            assert state == expected, (field, branch)
    if request_text.endswith("5 km"):
        assert flight["anyOf"][0]["properties"]["height"] == {"anyOf": [{"enum": ["5 km"]}]}  # as typed


@pytest.mark.parametrize("request_text, durations", [
    ("fly to Denver very slowly", [20]),          # the longer cue, not "slowly" inside it
    ("fly to Denver slowly and smoothly", [10, 5]),
    ("fly to Denver slowly in 40 s", [40, 10]),   # the number written, and the cue's
    ("fly to Denver in 0.5 s, rotate -3", [0.5, 3]),  # either sign the schema allows
])
def test_copied_numbers_are_written_or_said(request_text, durations):
    flight = _arguments(for_request(load_domain("cesium").emission_schema(), request_text), "flyTo")
    duration = flight["anyOf"][0]["properties"]["duration"]
    assert duration == {"anyOf": [_exactly(d) for d in durations]}


@pytest.mark.parametrize("request_text, tools", [
    ("ring Cairo r=9,950m, thanks", ["addCircle", "flyTo"]),  # a length needs a field to hold it
    ("Poly: Singapore, Guacara, Facatativa, Vegas h 20.9 km", ["addPolygon"]),
    ("drop a placemark on Thenali titled Warehouse 3 in gold",  # "in" is a word, not inches: no tool is left out
     ["addPoint", "flyTo", "zoom"]),                             # for it (shapes need their own words)
    ("path through lon -18.1 lat -53.7 -> 12N 3E in light blue",  # nor is a pair's number a length
     ["addPolyline", "flyTo", "zoom"]),
])
def test_a_length_with_a_unit_word_needs_a_field_to_hold_it(request_text, tools):
    domain = load_domain("cesium")
    schema = narrowed(domain, request_text)
    offered = {b["properties"]["tool"]["const"]: b["properties"]["arguments"] for b in schema["anyOf"]}
    assert sorted(offered) == tools
    if "radius" in request_text or "r=" in request_text:
        assert all("radius" in b["required"] for b in offered["addCircle"]["anyOf"])


@pytest.mark.parametrize("request_text, multiplier", [
    ("set the clock to May 4 1999 running 60 times faster", [60, -60]),  # "times" announces it
    ("run time backwards 100x", [100, -100]),     # "x" written onto its number
    ("set time to 12 May 2020", None),            # "time" is not "times"
    ("Add a point named Camp on lon -66.1 lat 6.1", None),
])
def test_clock_rates_are_copied_and_announced(request_text, multiplier):
    schema = for_request(load_domain("cesium").emission_schema(), request_text)
    tools = {b["properties"]["tool"]["const"]: b["properties"]["arguments"] for b in schema["anyOf"]}
    clock = tools.get("setTime", {"properties": {}})
    if multiplier is None:
        assert "multiplier" not in clock["properties"]
    else:
        assert clock["properties"]["multiplier"] == {"anyOf": [_exactly(m) for m in multiplier]}
        assert "multiplier" in clock["required"]


def test_a_named_colour_is_required():
    circle = _arguments(for_request(load_domain("cesium").emission_schema(), "ring Milan r=20km navy"), "addCircle")
    assert all("color" in b["required"] for b in circle["anyOf"])


def _places(node):
    if isinstance(node, dict):
        return ([node["place"]] if "place" in node else []) + [p for v in node.values() for p in _places(v)]
    return [p for v in node for p in _places(v)] if isinstance(node, list) else []


def _arguments(schema, tool):
    return next(b for b in schema["anyOf"] if b["properties"]["tool"]["const"] == tool)["properties"]["arguments"]


def test_copy_mark_only_on_strings(tmp_path):
    root = edited_domain(tmp_path, "cesium", "tools/zoom.json",
                         lambda spec: spec["parameters"]["properties"]["amount"].update({COPY_KEY: 1}))
    with pytest.raises(WebslmError, match=r"zoom.json: parameters.properties.amount.x-copy is 1; .*type string or"):
        load_domain(root)


@pytest.mark.parametrize("cues", [["called", ""], "called", [3], {"called": 1}])
def test_cues_are_a_list_of_words(tmp_path, cues):
    root = edited_domain(tmp_path, "cesium", "tools/addPoint.json",
                         lambda spec: spec["parameters"]["properties"]["name"].update({CUES_KEY: cues}))
    with pytest.raises(WebslmError, match=r"addPoint.json: parameters.properties.name.x-cues is .*non-empty strings"):
        load_domain(root)


@pytest.mark.parametrize("cues", [["the ... is ..."], ["..."], ["the...is a"]])
def test_a_gap_only_in_a_copied_strings_cue_and_only_one(tmp_path, cues):
    root = edited_domain(tmp_path, "cesium", "tools/addPoint.json",
                         lambda spec: spec["parameters"]["properties"]["name"].update({CUES_KEY: cues}))
    if cues == ["the...is a"]:  # no gap: the cue is those words
        load_domain(root)
        return
    gap = r"one gap [\"']\.\.\.[\"']"  # Python wrote the gap '...', JavaScript "..."
    with pytest.raises(WebslmError, match=r"addPoint.json: parameters.properties.name.x-cues is .*" + gap):
        load_domain(root)
    root = edited_domain(tmp_path / "number", "cesium", "tools/addPoint.json",
                         lambda spec: spec["parameters"]["properties"]["size"].update({CUES_KEY: ["the ... is"]}))
    with pytest.raises(WebslmError, match=r"parameters.properties.size.x-cues is "):
        load_domain(root)


@pytest.mark.parametrize("edit", [{BARE_KEY: 1}, {BARE_KEY: True, CUES_KEY: {"called": 1}}])
def test_bare_mark_only_on_cued_copied_strings(tmp_path, edit):
    root = edited_domain(tmp_path, "cesium", "tools/addPoint.json",
                         lambda spec: spec["parameters"]["properties"]["name"].update(edit))
    with pytest.raises(WebslmError, match=r"addPoint.json: parameters.properties.name.x-(bare|cues) is "):
        load_domain(root)
    load_domain(edited_domain(tmp_path / "fine", "cesium", "tools/addPoint.json",
                              lambda spec: spec["parameters"]["properties"]["name"].update({BARE_KEY: True})))


def test_objects_left_unsatisfiable_are_removed():
    """setTime needs one of its two optional properties; CAD's move one of dx/dy/dz (an anyOf of `required`)."""
    cesium = for_request(load_domain("cesium").emission_schema(), "fly to Lima")
    assert "setTime" not in [b["properties"]["tool"]["const"] for b in cesium["anyOf"]]
    node = {"type": "object", "properties": {"dx": {"type": "number", CUES_KEY: []},
                                             "dy": {"type": "number", CUES_KEY: ["up"]}},
            "anyOf": [{"required": ["dx"]}, {"required": ["dy"]}], "additionalProperties": False}
    assert for_request({"anyOf": [node, {"const": 1}]}, "move it up")["anyOf"][0]["anyOf"] == [{"required": ["dy"]}]
    assert for_request({"anyOf": [node, {"const": 1}]}, "move it") == {"anyOf": [{"const": 1}]}


@pytest.mark.parametrize("name", ["cesium", "cad"])
def test_every_request_schema_compiles_for_constrained_decoding(name):
    """xgrammar refuses some unsatisfiable schemas outright (minProperties above what is left): every request's
    schema must compile, or the page and the torch backend fail on that request."""
    from evalharness.constrained import SchemaConstraint
    from tests.tiny_models import make_tiny_tokenizer

    tokenizer = make_tiny_tokenizer()
    domain = load_domain(name)
    schema = domain.emission_schema()
    constraint = SchemaConstraint(tokenizer, len(tokenizer), schema, [tokenizer.eos_token_id],
                                  narrow=domain.rules.narrow)
    requests = [r["instruction"] for r in generate_records(domain, 60, seed=3)]
    requests += ["fly to Lima", "move it", "", "??", "route: Lima, Quito and 12N 3W"]
    schemas = constraint.narrow(requests)
    assert len(schemas) == len(requests) and constraint.copy_from_request
    for request_schema in schemas:
        constraint._compile(request_schema)


def test_valued_cues_only_on_numbers(tmp_path):
    root = edited_domain(tmp_path, "cesium", "tools/addPoint.json",
                         lambda spec: spec["parameters"]["properties"]["size"].update({CUES_KEY: {"huge": "40"}}))
    with pytest.raises(WebslmError, match=r"addPoint.json: parameters.properties.size.x-cues is .*values they mean"):
        load_domain(root)


@pytest.mark.parametrize("request_text, modes", [
    ("render the world as top-down map", ["2D"]),   # the longest cue: not "map" things, not 3D
    ("I prefer the round earth", ["3D"]),
    ("I want Columbus view", ["COLUMBUS_VIEW"]),
    ("Chandler", None),                              # no cue: no scene mode to write
])
def test_valued_cues_choose_the_enum_values_a_request_says(request_text, modes):
    schema = for_request(load_domain("cesium").emission_schema(), request_text)
    tools = {b["properties"]["tool"]["const"]: b["properties"]["arguments"] for b in schema["anyOf"]}
    if modes is None:
        assert "setSceneMode" not in tools
    else:
        assert tools["setSceneMode"]["properties"]["mode"] == {"type": "string", "enum": modes}


def test_enum_cues_must_be_enum_values(tmp_path):
    root = edited_domain(tmp_path, "cesium", "tools/setSceneMode.json",
                         lambda spec: spec["parameters"]["properties"]["mode"][CUES_KEY].update({"flat": "FLAT"}))
    with pytest.raises(WebslmError, match=r"setSceneMode.json: parameters.properties.mode.x-cues is .*an enum"):
        load_domain(root)


@pytest.mark.parametrize("field", ["addPoint.nosuch", "noTool.size", "addPoint.name"])
def test_options_from_names_a_field_with_valued_cues(tmp_path, field):
    root = edited_domain(tmp_path, "cesium", "templates.json",
                         lambda templates: templates["slots"]["size_word"].update({"options_from": field}))
    with pytest.raises(WebslmError, match=f"options_from '{field}': no x-cues object"):
        generate_records(load_domain(root), 300, seed=1)


def _cad_arguments(request_text, tool):
    return _arguments(for_request(load_domain("cad").emission_schema(), request_text), tool)


def _quantities(node):
    """The quantity strings and numbers a copied number may be written as."""
    return sorted(str(v) for form in node["anyOf"] for v in form.get("enum", [form.get("minimum")]))


@pytest.mark.parametrize("request_text, fields", [
    ("move box1 10 mm right and 5 mm up", {"dx": ["10 mm"], "dz": ["5 mm"]}),  # each word labels its number
    ("lower the shelf by 25mm", {"dz": ["-25mm"]}),                   # the sign its direction word says
    ("move the head in z by -40", {"dz": ["-40"]}),                   # an axis named: the sign written
    ("move wall_2 left 4 ft and back 2 ft", {"dx": ["-4 ft"], "dy": ["-2 ft"]}),
    ("move bracket by (10, -20, 5)", {k: ["-20", "10", "5"] for k in ("dx", "dy", "dz")}),  # signs as written
    ("move the lid up by 12 and forward by 4", {"dy": ["4"], "dz": ["12"]}),  # each direction word's own number
    ("nudge core 199.0mm along -x, 11 along -y", {"dx": ["-199mm"], "dy": ["-11", "-11mm"]}),
])
def test_a_move_writes_the_axes_its_direction_words_name_with_their_signs(request_text, fields):
    for move in _cad_arguments(request_text, "move")["anyOf"]:  # one whole object per "at least one of" branch
        assert sorted(k for k in move["properties"] if k != "target") == sorted(fields)
        for field, values in fields.items():
            assert _quantities(move["properties"][field]) == sorted(values), field
        if len(fields) == 2:
            assert set(fields) <= set(move["required"])  # a number written for each axis named: both are written


def test_an_axis_word_inside_a_name_does_not_require_that_axis():
    branches = _cad_arguments("lift the left wall by 0.7 in", "move")["anyOf"]  # one number, two axes' words
    assert [b["required"] for b in branches] == [["target", "dx"], ["target", "dz"]]
    assert all(set(b["properties"]) == {"target", "dx", "dz"} for b in branches)
    assert _quantities(branches[1]["properties"]["dz"]) == ["0.7 in"]


def test_at_least_one_of_is_one_whole_object_per_branch():
    """xgrammar reads an anyOf branch that is only {"required": [...]} as any object at all: a move came out as
    {"dz": "40}}user{"}. The emission schema spells each branch out."""
    move = _arguments(load_domain("cad").emission_schema(), "move")
    assert [b["required"] for b in move["anyOf"]] == [["target", "dx"], ["target", "dy"], ["target", "dz"]]
    assert all(b["additionalProperties"] is False and set(b["properties"]) == {"target", "dx", "dy", "dz"}
               for b in move["anyOf"])


@pytest.mark.parametrize("request_text, radii", [
    ("a cylinder with diameter 3 cm and height 10 cm", ["1.5 cm"]),  # half of what its label labels
    ("cyl 40 dia 80 tall", ["20", "40"]),   # "dia" labels the 40 before it and the 80 after it
    ("can you make a bead 14.8 mm across", ["7.4 mm"]),
    ("cylinder r=10 h=50", ["10"]),                                   # no diameter word: as written
])
def test_a_diameter_word_halves_a_copied_radius(request_text, radii):
    radius = _cad_arguments(request_text, "createCylinder")["properties"]["radius"]
    assert _quantities(radius) == sorted(radii)


def test_every_number_of_a_product_or_list_is_written_with_the_unit_after_it():
    box = _cad_arguments("box 30x40x50 mm at (-110,100,0)", "createBox")
    assert _quantities(box["properties"]["width"]) == sorted(  # a width is above 0: neither 0 nor a minus
        ["100", "110", "30", "40", "50", "100 mm", "110 mm", "30 mm", "40 mm", "50 mm"])
    assert _quantities(box["properties"]["position"]["properties"]["x"]) == sorted(
        ["-100", "-110", "-30", "-40", "-50", "0", "100", "110", "30", "40", "50",
         "-100 mm", "-110 mm", "-30 mm", "-40 mm", "-50 mm", "0 mm", "100 mm", "110 mm", "30 mm", "40 mm", "50 mm"])
    assert copying.freeNumbers("20,700 and 2028-07-13, 1,842x and (0,10,450)", []) == [20700, 2028, 7, 13, 1842, 0, 10, 450]
    assert copying.unitsAfterNumbers('box 30 by 75 by 4.9 mm, 3 feet, 15-mile 16" (7, -0.6, 3)cm 5x4') == \
        [" by", " mm", " feet", "-mile", '"', "cm"]


@pytest.mark.parametrize("field, mark, value, message", [
    ("height", "x-half", ["across"], "x-half is .*on a number with x-copy: true"),
    ("radius", "x-half", [], "x-half is"),
    ("radius", "x-direction", {"up": 0}, "x-direction is .*0, a word that names a copied number"),
    ("radius", "x-label", ["Radius"], "x-label is .*lower-case words that label a copied number"),
])
def test_half_and_axis_marks_only_on_copied_numbers(tmp_path, field, mark, value, message):
    def edit(spec):
        node = spec["parameters"]["properties"][field]
        node[mark] = value
        if field == "height" or mark == "x-direction":
            node.pop("x-copy", None)
            node.pop("x-label", None)
    root = edited_domain(tmp_path, "cad", "tools/createCylinder.json", edit)
    with pytest.raises(WebslmError, match=message):
        load_domain(root)


@pytest.mark.parametrize("request_text, tool, field, values", [
    ("cylinder radius 3, no sorry, radius 4, height 40", "createCylinder", "radius", ["4"]),
    ("make a box 10x10x10, no wait, 20x20x20", "createBox", "width", ["20"]),
    ("make a sphere with radius 5, actually make it 8", "createSphere", "radius", ["8"]),
    ("box 100 wide, 50 deep, no, 60 deep, 20 high", "createBox", "depth", ["60"]),  # one clause back
    ("rotate knob 15 degrees on z", "rotate", "angle", ["15"]),  # nothing taken back
])
def test_a_correction_takes_back_the_numbers_of_the_clause_before_it(request_text, tool, field, values):
    node = _cad_arguments(request_text, tool)["properties"][field]
    assert _quantities(node) == sorted(values)


@pytest.mark.parametrize("request_text, angles", [
    ("rotate part3 30 degrees clockwise about z", ["-30"]),        # clockwise is negative (right-hand rule)
    ("give the lid a quarter turn clockwise about x", ["-90"]),  # a cue's value takes the sign too
    ("rotate knob 45 ccw on z", ["45"]),
    ("rot C1 z -30", ["-30"]),                                     # no direction word: the sign written
])
def test_a_rotation_takes_its_sign_from_clockwise_words(request_text, angles):
    assert _quantities(_cad_arguments(request_text, "rotate")["properties"]["angle"]) == sorted(angles)


@pytest.mark.parametrize("request_text, tool, field, values", [
    ("create a box heigth 40 width 20 depth 10", "createBox", "height", ["40"]),  # a label with a slip
    ("make a box, width 0.5 m depth 0.3 m height 0.8 m", "createBox", "height", ["0.8 m"]),
    ("can you add a cylinder 10 cm across and 25 cm high?", "createCylinder", "radius", ["5 cm"]),
    ("can you add a cylinder 10 cm across and 25 cm high?", "createCylinder", "height", ["25 cm"]),
    ("I need a pipe, 2 inch diameter, 3 feet long", "createCylinder", "radius", ["1 inch"]),
    ("make a box 3 x 4 x 1 inches at x 0 y 0 z 50", "createBox", "width", ["1 inches", "3", "3 inches",
                                                                          "4", "4 inches", "50", "50 inches"]),
])
def test_a_labelled_number_belongs_to_its_field(request_text, tool, field, values):
    assert _quantities(_cad_arguments(request_text, tool)["properties"][field]) == sorted(values)


def test_labels_after_x_in_a_product_are_not_the_x_axis():
    position = _cad_arguments("make a box 3 x 4 x 1 inches at x 0 y 0 z 50", "createBox")["properties"]["position"]
    assert [_quantities(position["properties"][k]) for k in "xyz"] == [["0", "0 inches"], ["0", "0 inches"],
                                                                       ["-50", "-50 inches", "50", "50 inches"]]


@pytest.mark.parametrize("request_text, position", [
    ("cylinder at the origin, radius 15, height 60", "required"),  # a position cue: written, and required
    ("box 30x40x50 centred at (1, 2, 3)", "required"),
    ("add a cylinder for the peg, r 4 mm, h 20 mm", None),         # no cue: no position invented from 4 and 20
])
def test_a_position_is_written_exactly_when_a_word_announces_it(request_text, position):
    tool = "createCylinder" if "cylinder" in request_text else "createBox"
    arguments = _cad_arguments(request_text, tool)
    state = None if "position" not in arguments["properties"] else (
        "required" if "position" in arguments["required"] else "optional")
    assert state == position


@pytest.mark.parametrize("request_text, tools", [
    ("where is the statue of liberty?", ["flyTo", "zoom"]),   # no shape or marker word: no shape or marker
    ("show me the whole of Africa", ["flyTo", "zoom"]),
    ("Mrak Warsaw as 'Site B'", ["addPoint", "flyTo", "zoom"]),  # a four-letter word with two letters swapped
    ("Lima -> Quito -> Bogota", ["addPolygon", "addPolyline", "zoom"]),  # no word, but a list the shapes hold
])
def test_a_tool_with_cue_words_needs_one_or_a_list_it_holds(request_text, tools):
    schema = narrowed(load_domain("cesium"), request_text)
    assert sorted(b["properties"]["tool"]["const"] for b in schema["anyOf"]) == tools


@pytest.mark.parametrize("request_text, tool, field, values", [
    ("pls make a box 8 cm wide 4 cm deep 2 cm high", "createBox", "depth", ["4 cm"]),  # extent words follow
    ("rectangular block 250mm long 100mm deep 50mm tall", "createBox", "depth", ["100mm"]),
])
def test_a_word_of_extent_labels_the_number_before_it(request_text, tool, field, values):
    assert _quantities(_cad_arguments(request_text, tool)["properties"][field]) == sorted(values)


def test_a_valued_cue_on_a_labelled_field_is_its_value():
    position = _cad_arguments("box 12 by 12 by 3 cm at the origin called tile", "createBox")["properties"]["position"]
    assert [_quantities(position["properties"][k]) for k in "xyz"] == [["0"], ["0"], ["0"]]
