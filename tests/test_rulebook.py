"""Contract tests of the rulebook (web/static/rules/*.js), run in Node through the product's own process
(webslm/rulebook.py): place names, grounding, quantities, colours, copying, locations, dates, the tool contract and
the keys refused before anything is checked. The page's side (the same files served and imported, the demo refusing
what the rulebook refuses) is tests/test_web_rulebook.py."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from rules import colors, copying, dates, grounding, locations, quantities, spelling
from tests.test_dataset_generate import _locations as _located  # the location objects in a call
from webslm import REPO_ROOT
from webslm.domain import load_domain
from webslm.rulebook import Gazetteer, RuleError


@pytest.fixture(scope="module")
def domain():
    return load_domain("cesium")


def _where(place):
    return (place.name, place.country) if place else None


# ---- place names -------------------------------------------------------------------------------------------------

NAMES = [  # (name as written, its normalised key, (place, country) it resolves to, or None)
    # own names, with case, accents, punctuation and spacing
    ("Paris", "paris", ("Paris", "FR")), ("paris", "paris", ("Paris", "FR")), ("  PARIS!! ", "paris", ("Paris", "FR")),
    ("Tokyo", "tokyo", ("Tokyo", "JP")), ("New York City", "new york city", ("New York City", "US")),
    ("São Paulo", "sao paulo", ("São Paulo", "BR")), ("Sao Paulo", "sao paulo", ("São Paulo", "BR")),
    ("Zürich", "zurich", ("Zürich", "CH")), ("Kraków", "krakow", ("Kraków", "PL")),
    ("Ho Chi Minh City", "ho chi minh city", ("Ho Chi Minh City", "VN")),
    ("Montréal", "montreal", ("Montréal", "CA")),
    ("St. Petersburg", "st petersburg", ("St. Petersburg", "US")),
    ("Saint Petersburg", "saint petersburg", ("Saint Petersburg", "RU")),
    ("Washington", "washington", ("Washington", "US")), ("Rio de Janeiro", "rio de janeiro", ("Rio de Janeiro", "BR")),
    ("Reykjavík", "reykjavik", ("Reykjavík", "IS")), ("Málaga", "malaga", ("Málaga", "ES")),
    ("Düsseldorf", "dusseldorf", ("Düsseldorf", "DE")), ("Xi'an", "xi an", ("Xi\u2019an", "CN")),
    ("N'Djamena", "n djamena", ("N'Djamena", "TD")), ("Port-au-Prince", "port au prince", ("Port-au-Prince", "HT")),
    ("Ñuñoa", "nunoa", ("Ñuñoa", "CL")),
    # aliases
    ("Bombay", "bombay", ("Mumbai", "IN")), ("NYC", "nyc", ("New York City", "US")),
    ("Peking", "peking", ("Beijing", "CN")),
    ("Saigon", "saigon", ("Ho Chi Minh City", "VN")), ("Calcutta", "calcutta", ("Kolkata", "IN")),
    ("Madras", "madras", ("Chennai", "IN")), ("Constantinople", "constantinople", ("Istanbul", "TR")),
    ("Canton", "canton", ("Guangzhou", "CN")), ("Leningrad", "leningrad", ("Saint Petersburg", "RU")),
    # countries are places of their own (framed by their box), continents, oceans, states, features, landmarks
    ("France", "france", ("France", "FR")), ("Japan", "japan", ("Japan", "JP")),
    ("United States", "united states", ("United States", "US")), ("united kingdom", "united kingdom", ("United Kingdom", "GB")),
    ("Europe", "europe", ("Europe", "")), ("the Pacific", "the pacific", ("Pacific Ocean", "")),
    ("California", "california", ("California", "US")), ("Georgia, US", "georgia,us", ("Georgia", "US")),
    ("Georgia", "georgia", ("Georgia", "GE")), ("the Grand Canyon", "the grand canyon", ("Grand Canyon", "US")),
    ("Everest", "everest", ("Mount Everest", "NP")), ("the Eiffel Tower", "the eiffel tower", ("Eiffel Tower", "FR")),
    ("Venice", "venice", ("Venice", "IT")),  # a famous town under the cut, not Dayton (GeoNames: "Venice")
    ("Big Apple", "big apple", ("New York City", "US")),
    # qualified forms: the country picks among places of one name; an unknown pairing falls back to the name alone
    ("Paris, FR", "paris,fr", ("Paris", "FR")), ("Tokyo,JP", "tokyo,jp", ("Tokyo", "JP")),
    ("Portland, US", "portland,us", ("Portland", "US")), ("Springfield, US", "springfield,us", ("Springfield", "US")),
    ("Cambridge, GB", "cambridge,gb", ("Cambridge", "GB")), ("Valencia, VE", "valencia,ve", ("Valencia", "VE")),
    ("Paris, United States", "paris,united states", ("Paris", "FR")), ("London, CA", "london,ca", ("London", "CA")),
    ("London, Canada", "london,canada", ("London", "CA")), ("Hyderabad, PK", "hyderabad,pk", ("Hyderabad", "PK")),
    ("Paris, Nowhere", "paris,nowhere", ("Paris", "FR")), ("Paris,", "paris", ("Paris", "FR")),
    # unknowns and edge cases
    ("Atlantis", "atlantis", None), ("", "", None), ("   ", "", None), (",", "", None), (", FR", "fr", None),
    ("北京", "", None), ("Москва", "", None), ("123", "123", None), ("a,b,c", "a,b,c", None),
]


def test_place_names_resolve_to_their_places(domain):
    names = [name for name, _, _ in NAMES]
    got = [(name, grounding.normalizePlaceName(name), _where(place))
           for name, place in zip(names, domain.rules.resolve(names))]
    assert got == NAMES


def test_every_sampled_place_resolves_by_name_alias_and_country(domain):
    """Every k-th city of the gazetteer: its name and first alias resolve (to it or a bigger namesake), and its
    name qualified by its country resolves to it where it is the biggest place of that name."""
    data = json.loads(domain.gazetteer_path.read_text(encoding="utf-8"))
    cities = [p for p in data["places"] if p["kind"] == "city"]  # curated places: tests/test_gazetteer.py
    sampled = cities[::max(1, len(cities) // 40)][:40]
    names = [p["name"] for p in sampled]
    aliases = [next(a for a in p["aliases"] if not re.fullmatch("[A-Z]{3}", a))  # airport codes are never read
               for p in sampled if any(not re.fullmatch("[A-Z]{3}", a) for a in p["aliases"])]
    qualified = [f"{p['name']}, {p['country']}" for p in sampled]
    named, aliased, in_country = (domain.rules.resolve(n) for n in (names, aliases, qualified))
    assert None not in named and None not in aliased and len(aliases) >= 10
    # the biggest place of a name answers for it: qualified by its own country, that place again
    biggest = [(p.name, p.country) == (s["name"], s["country"]) for p, s in zip(named, sampled)]
    assert sum(biggest) >= 30
    assert [p for p, b in zip(in_country, biggest) if b] == [p for p, b in zip(named, biggest) if b]
    assert all(p.country == s["country"] and (p.longitude, p.latitude) == (s["lon"], s["lat"])
               for p, s, b in zip(in_country, sampled, biggest) if b)
    gazetteer = Gazetteer(domain)  # the same places as data, for drawing them at random
    assert gazetteer.resolve("Bombay") == gazetteer.places[[p.name for p in gazetteer.places].index("Mumbai")]
    assert gazetteer.countries["France"] == "FR"


# ---- grounding ---------------------------------------------------------------------------------------------------

ROUTE = "plot a polygon around Las Vegas / Shunyi / arabi / Ongole / Cologne / Rio de Janeiro, thanks!"
MUMBAI, PARIS, TOKYO, LIMA = [72.88261, 19.07283], [2.3488, 48.85341], [139.69171, 35.6895], [-77.02824, -12.04318]


def _at(lon_lat, **rest):
    return {"longitude": lon_lat[0], "latitude": lon_lat[1], **rest}


def test_ground_call_replaces_places_quantities_colours_and_dates(domain):
    def ground(output, request=None):
        call, problems = domain.rules.ground(output, request)
        return call["arguments"], problems

    assert ground({"tool": "flyTo", "arguments": {"place": "Bombay", "height": 5000}}) == (_at(MUMBAI, height=5000), [])
    assert ground({"tool": "flyTo", "arguments": {"place": "Bombay", "height": "4.4 km"}},
                  "fly to Bombay at 4.4 km") == (_at(MUMBAI, height=4400), [])
    assert ground({"tool": "addPolyline", "arguments": {
        "positions": [{"place": "Paris"}, {"place": "Tokyo"}, {"longitude": 1, "latitude": 2}], "color": "red"}}) == (
        {"positions": [_at(PARIS), _at(TOKYO), {"longitude": 1, "latitude": 2}], "color": "red"}, [])
    # colours written canonically when they are colours, left for the contract to refuse when not
    assert ground({"tool": "addPoint", "arguments": {"place": "Lima", "color": "Grey"}})[0]["color"] == "gray"
    assert ground({"tool": "addCircle", "arguments": {"place": "Lima", "radius": 5, "color": "#A0E51D"}})[0][
        "color"] == "#a0e51d"
    tense = {"tool": "addPolyline", "arguments": {"positions": [{"place": "Lima"}] * 2, "color": "tense"}}
    call, problems = domain.rules.ground(tense)
    assert call["arguments"] == {"positions": [_at(LIMA)] * 2, "color": "tense"} and problems == []
    [problem] = domain.check_call(call)
    assert problem.field == "arguments.color" and "'tense'" in problem.message and "color" in problem.message
    # dates copied as typed: read, left for the contract (already ISO), or refused with the reason
    assert ground({"tool": "setTime", "arguments": {"time": "noon on May 4 1999", "multiplier": 5}}) == (
        {"time": "1999-05-04T12:00:00Z", "multiplier": 5}, [])
    assert ground({"tool": "setTime", "arguments": {"time": "2024-06-21T12:00:00+02:00"}}) == (
        {"time": "2024-06-21T12:00:00+02:00"}, [])
    args, [problem] = ground({"tool": "setTime", "arguments": {"time": "soon"}})
    assert args == {"time": "soon"} and problem.field == "arguments.time" and "'soon' is not a date" in problem.message


@pytest.mark.parametrize("output, field, words", [
    ({"tool": "addCircle", "arguments": {"place": "Nowhere Land", "radius": "15-mile"}}, "arguments.place",
     ["unknown place", "Nowhere Land"]),
    ({"tool": "addCircle", "arguments": {"place": "Lima", "radius": "15 parsecs"}}, "arguments.radius",
     ["unknown length unit", "parsecs"]),
    ({"tool": "addPolygon", "arguments": {"positions": [{"place": "Lima"}] * 3, "extrudedHeight": "high"}},
     "arguments.extrudedHeight", ["high", "not a quantity"]),
    ({"tool": "addPoint", "arguments": {"place": 42}}, "arguments.place", ["unknown place", "42"]),
])
def test_ground_call_names_what_it_cannot_ground(domain, output, field, words):
    _, problems = domain.rules.ground(output)
    assert [p.field for p in problems] == [field]
    assert all(w in problems[0].message for w in words), problems


def test_ground_call_leaves_what_is_not_a_call_for_the_contract(domain):
    for output in (["not", "a", "call"], {"tool": "noSuchTool", "arguments": {"radius": "1 km"}}):
        assert domain.rules.ground(output) == (output, [])
    call, problems = domain.rules.ground({"tool": "addCircle", "arguments": {"place": "Lima", "radius": "15-mile"}})
    assert call["arguments"] == _at(LIMA, radius=24140.16) and problems == []


def test_ground_call_repairs_slips_in_copied_names_from_the_request(domain):
    route = {"tool": "addPolygon", "arguments": {"positions": [
        {"place": "Orgole"}, {"place": "Shuni"}, {"place": "Rio de Janiero"}, {"place": "Cologn"},
        {"place": "Las Vega"}, {"place": "Ozzzzz"}, {"place": "Paris"}]}}
    call, problems = domain.rules.ground(route, ROUTE)
    expected = domain.rules.resolve(["Ongole", "Shunyi", "Rio de Janeiro", "Cologne", "Las Vegas"])
    assert call["arguments"]["positions"][:5] == [_at([p.longitude, p.latitude]) for p in expected]
    assert call["arguments"]["positions"][6] == _at(PARIS)
    assert [p.field for p in problems] == ["arguments.positions[5].place"]  # too far from every word: unknown
    assert [p.field for p in domain.rules.ground({"tool": "flyTo", "arguments": {"place": "Orgole"}})[1]] == [
        "arguments.place"]  # no request, no repair
    call, problems = domain.rules.ground({"tool": "flyTo", "arguments": {"place": "Lama"}},
                                         "  fly to \u201cLima\u201d!  ")
    assert call["arguments"] == _at(LIMA) and problems == []


# ---- quantities --------------------------------------------------------------------------------------------------

QUANTITIES = [("4.4 km", 4400), ("16,000 feet", 4876.8), ("15-mile", 24140.16), ("0.6m", 0.6), ('16"', 0.4064),
              ("500'", 152.4), ("-209.8mm", -0.2098), ("1,250.5 metres", 1250.5), (" 3 yd ", 2.7432),
              ("12 KM", 12000), ("2.5 Miles", 4023.36), ("0 in", 0), ("7 inches", 0.1778)]
NOT_QUANTITIES = ["4,4 km", "1,00 m", "5", "km", "5 km 3 m", "5 parsecs", "five km", "1e3 m", "", "--5 m", "5..2 m"]


def test_quantities_convert_to_the_schema_unit():
    assert {unit: factor for unit, (factor, _) in quantities.LENGTH_UNITS.items()} == {
        "mm": 0.001, "cm": 0.01, "m": 1, "km": 1000, "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344}
    for text, metres in QUANTITIES:
        assert quantities.convertQuantity(text, "m") == pytest.approx(metres, abs=1e-9), text
        assert quantities.convertQuantity(text, "mm") == pytest.approx(metres * 1000, abs=1e-6), text
    for text in NOT_QUANTITIES:
        with pytest.raises(RuleError):
            quantities.convertQuantity(text, "m")
    with pytest.raises(RuleError, match="unknown length unit .*parsecs"):
        quantities.convertQuantity("5 parsecs", "m")
    pattern = re.compile(quantities.QUANTITY_PATTERN)  # what constrained decoding lets a model write
    assert all(pattern.match(t) for t in ["4.4 km", "16,000 feet", "15-mile", "0.6m", "12 KM", "2.5 Miles"])
    assert not any(pattern.match(t) for t in ["4,4 km", "5", "km", "5 bananas", "1e3 m", "--5 m"])


# ---- colours -----------------------------------------------------------------------------------------------------

def test_colours_are_css_names_or_hex_written_canonically():
    names = colors.CSS_COLOR_NAMES
    assert len(names) == len(set(names)) == 145 and names == sorted(names)
    assert {"red", "gray", "grey", "hotpink", "yellowgreen"} <= set(names)
    assert not {"rebeccapurple", "lavenderblush", "lightsalmon"} & set(names)  # Cesium lacks them
    texts = ["red", "Red", "GREY", "darkslategrey", "#A0E51D", "#abc", "#abcd", "#ggg", "#", "", "tense", "40m",
             "light blue", 5, None]
    assert [[colors.isColor(t), colors.canonicalColor(t) if colors.isColor(t) else None] for t in texts] == [
        [True, "red"], [True, "red"], [True, "gray"], [True, "darkslategray"], [True, "#a0e51d"], [True, "#abc"],
        [False, None], [False, None], [False, None], [False, None], [False, None], [False, None], [False, None],
        [False, None], [False, None]]
    pattern = re.compile(colors.COLOR_PATTERN)
    assert all(pattern.match(s) for n in names for s in (n, n.title(), n.upper()))
    assert all(pattern.match(s) for s in ["#A0E51D", "#abc"])
    assert not any(pattern.match(s) for s in ["tense", "light blue", "#abcd", "#ggg", "rEd", ""])


# ---- copying: what a request offers --------------------------------------------------------------------------------

CUES = ["called", "with the label", "titled", "as", "huge", "slowly", "the ... is a", "... as a", "called ..."]
VALUED = {"slowly": 10, "very slowly": 20, "huge": 40, "as": 1}


def test_request_spans_are_runs_of_words_without_edge_punctuation():
    spans = copying.requestSpans('pin "Base Camp" at Paris, France!')
    assert spans[:8] == ["pin", 'pin "Base', 'pin "Base Camp', 'pin "Base Camp" at', 'pin "Base Camp" at Paris',
                         'pin "Base Camp" at Paris, France', "Base", "Base Camp"]
    assert {"Paris", "France", "Paris, France", "Base Camp"} <= set(spans) and "France!" not in spans
    assert len(spans) == len(set(spans))
    assert copying.requestSpans("  ") == []
    assert copying.requestSpans("a\tb\n c;") == ["a", "a b", "a b c", "b", "b c", "c"]  # any white space; no repeats
    assert copying.requestSpans("word word word") == ["word", "word word", "word word word"]
    assert all(len(s.split()) <= locations.MAX_SPAN_WORDS for s in copying.requestSpans(ROUTE))


def test_cues_typed_numbers_and_quantities_a_request_writes():
    text = "pin 12.5N 0.2W titld 'Zone 1' huge"
    matches = copying.cueMatches(text, CUES)
    assert matches == [[3, 4, "titled"], [6, 7, "huge"]]  # "titld": a slip in a long cue still counts
    assert copying.spansAfterCues(text, matches) == ["Zone", "'Zone", "Zone 1", "'Zone 1'", "Zone 1' huge",
                                                     "'Zone 1' huge"]
    assert copying.numbersWritten(text) == [12.5, -0.2, 1]
    assert copying.cueValues(copying.cueMatches(text, VALUED), VALUED) == [40]
    assert copying.cueValues(copying.cueMatches("fly to Lima very slowly", VALUED), VALUED) == [20]  # longest cue
    assert copying.cueMatches("WITH THE LABEL Base Camp, Peru", CUES) == [[0, 3, "with the label"]]
    assert copying.gapSpans("the lid is a sphere with radius 5mm", CUES) == ["lid"]
    assert "Base Plate" in copying.gapSpans("make The 'Base Plate' as a slab 3x4x5", CUES)
    text = "box1 #2410CC x100 20,700 m 7.1 px ring Milan r=20km 1.9 mi. 3 min -0"
    assert copying.freeNumbers(text, [[0, 3]]) == [100, 20700, 7.1, 20, 1.9, 3, 0]
    assert copying.quantitiesWritten(text, quantities.QUANTITY_PATTERN) == [
        [18, 26, "20,700 m"], [47, 51, "20km"], [52, 58, "1.9 mi"]]
    assert copying.quantitiesWritten("h 6,500 m 11000 ft tall", quantities.QUANTITY_PATTERN) == [
        [2, 9, "6,500 m"], [10, 18, "11000 ft"]]
    assert copying.numbersWritten("lat=-0 lon 08 then 180.5 and 2029") == [0, 8, 180.5, 2029]


def test_colours_and_dates_a_request_names():
    assert copying.colorsNamed("Ring Budapest r=3 mi #95d840 or #ABC, light-grey GREY Hot Pink centred tanned") == [
        "gray", "hotpink", "lightgray", "pink", "#95d840", "#ABC"]
    assert copying.colorsNamed("WITH THE LABEL Base Camp, Peru") == ["peru"]
    assert copying.colorsNamed("fly to Lima") == []
    assert [copying.datesWritten(r) for r in [
        "start the clock at noon on May 4 1999 running 50 times faster", "go to 2010/09/12 then March 1 2011",
        "Set the time to the 13th of December 2024 at 8:45pm and speed up x50", "fly to Lima"]] == [
        ["noon on May 4 1999"], ["2010/09/12", "March 1 2011"], ["the 13th of December 2024 at 8:45pm"], []]


def test_edit_distance():
    assert [spelling.editDistance(a, b) for a, b in [("orgole", "ongole"), ("", "abc"), ("kitten", "sitting"),
                                                    ("rio de janiero", "rio de janeiro")]] == [1, 3, 3, 1]


def test_narrowed_schema_offers_only_the_requests_evidence(domain):
    """rules.narrow (copying.js forRequest with the gazetteer) lets the model name only places the request writes,
    and a schema without a gazetteer (CAD) is narrowed the same way by forRequest."""
    import jsonschema

    fly, slowly, line = domain.rules.narrow(["fly to Lima", "fly to Lima very slowly",
                                             "draw a line from Lima to Quito"])

    def valid(schema, arguments, tool="flyTo"):
        return jsonschema.Draft202012Validator(schema).is_valid({"tool": tool, "arguments": arguments})

    assert valid(fly, {"place": "Lima"}) and not valid(fly, {"place": "Paris"})
    # a valued cue ("very slowly": 20 s) is the only duration the request offers
    assert valid(slowly, {"place": "Lima", "duration": 20}) and not valid(slowly, {"place": "Lima", "duration": 10})
    assert valid(line, {"positions": [{"place": "Lima"}, {"place": "Quito"}]}, "addPolyline")
    assert not valid(line, {"positions": [{"place": "Quito"}, {"place": "Lima"}]}, "addPolyline")  # the listed order
    assert not valid(line, {"positions": [{"place": "Lima"}, {"place": "Quito"}], "color": "red"}, "addPolyline")
    cad = load_domain("cad")
    for request in ["make a box 30x40x50 mm for the lid", "box 30x40x50 lid"]:
        assert cad.rules.narrow([request]) == [copying.forRequest(cad.emission_schema(), request)]


# ---- locations ---------------------------------------------------------------------------------------------------

NODE_LOCATIONS = """
import { readFileSync } from "node:fs";
const rules = process.argv[1];
const { Gazetteer } = await import(rules + "/grounding.js");
const { coordinatePairs, locationsWritten, listedLocations } = await import(rules + "/locations.js");
const [gazetteerPath, texts] = JSON.parse(readFileSync(0, "utf8"));
const gazetteer = new Gazetteer(JSON.parse(readFileSync(gazetteerPath, "utf8")));
const isPlace = (name) => gazetteer.resolve(name) !== null;
process.stdout.write(JSON.stringify(texts.map((t) =>
  [coordinatePairs(t), locationsWritten(t, isPlace), listedLocations(t, isPlace)])));
"""


def _locations(domain, texts):
    """[coordinatePairs, locationsWritten, listedLocations] of each text, with the gazetteer as isPlace (a function,
    which the rulebook process cannot be handed: so a Node script of its own)."""
    rules_url = (REPO_ROOT / "web" / "static" / "rules").as_uri()
    done = subprocess.run(["node", "--input-type=module", "-e", NODE_LOCATIONS, rules_url], cwd=REPO_ROOT,
                          input=json.dumps([str(domain.gazetteer_path), texts]), capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout)


def _read(found):
    return [loc["place"] if loc["place"] is not None else loc["pairs"] for loc in found]


def test_coordinate_pairs_read_longitude_and_latitude():
    assert locations.coordinatePairs("route: 22.350 N 114.100 E; 51.5673\u00b0 N 0.1341\u00b0 W; "
                                     "8.1280 degrees south, 147 degrees east") == [
        {"start": 7, "end": 25, "place": None, "pairs": [[114.1, 22.35]]},
        {"start": 27, "end": 47, "place": None, "pairs": [[-0.1341, 51.5673]]},
        {"start": 49, "end": 87, "place": None, "pairs": [[147, -8.128]]}]
    assert _read(locations.coordinatePairs(
        "Poly: coordinates 23.710 north 90.407 east / 5.52N, 5.75E / longitude 121.526 latitude 25.053 / "
        "lat 74.288 lon 88.690")) == [[[90.407, 23.71]], [[5.75, 5.52]], [[121.526, 25.053]], [[88.69, 74.288]]]
    # an unlabelled (a, b) is read both ways; off the globe is no pair; two latitudes are no pair
    assert _read(locations.coordinatePairs("(3.5, 12) lon/lat (1, 2) lat/lon 3, 4 (200, 5) (5, 5) lat 1 lat 2")) == [
        [[3.5, 12], [12, 3.5]], [[1, 2]], [[4, 3]], [[5, 5]]]
    assert _read(locations.coordinatePairs("12.5N 0.2W")) == [[[-0.2, 12.5]]]
    assert locations.coordinatePairs("") == [] and locations.coordinatePairs(ROUTE) == []


def test_places_and_lists_a_request_writes(domain):
    texts = [ROUTE, "from Ulan Bator -> Jayapura -> 's-Hertogenbosch & \u2018Ajlun",
             "Donostia / San Sebastian; Tokyo / Lima", "Tsuen Wan, Hong Kong",
             "Agra to Greece to Monywa then Brazil, or Peru", "(3.5, 12) lon/lat (1, 2)", "12.5N 0.2W", ""]
    found = _locations(domain, texts)
    route = ["Las Vegas", "Shunyi", "arabi", "Ongole", "Cologne", "Rio de Janeiro"]
    assert [(_read(written), _read(listed)) for _, written, listed in found] == [
        (route, route),
        (["Ulan Bator", "Jayapura", "'s-Hertogenbosch", "\u2018Ajlun"],) * 2,
        (["Donostia / San Sebastian", "Tokyo", "Lima"],) * 2,
        (["Tsuen Wan", "Hong Kong"],) * 2,
        (["Agra", "Greece", "Monywa", "Brazil", "Peru"], ["Agra", "Greece", "Monywa", "Brazil"]),  # "or": another list
        ([[[3.5, 12], [12, 3.5]], [[1, 2]]], []),  # pairs side by side are no list
        ([[[-0.2, 12.5]]], []),
        ([], [])]
    assert found[0][1][0] == {"start": 22, "end": 31, "place": "Las Vegas", "pairs": []}


def test_generated_requests_write_the_places_pairs_and_lists_their_calls_hold(domain):
    from train.dataset.generate import generate_records

    records = generate_records(domain, 300, seed=11)
    found = _locations(domain, [r["instruction"] for r in records])
    routes = 0
    for record, (pairs, written, listed) in zip(records, found):
        arguments = json.loads(record["output"])["arguments"]
        located = list(_located(arguments))
        places = [loc["place"] for loc in written if loc["place"]]
        for loc in located:
            if "place" in loc:  # "Leiria, Portugal" is written as the places "Leiria" and "Portugal"
                assert loc["place"].split(",")[0] in places, (record["instruction"], loc)
            else:  # a pair written, or a corner of a box given as ranges / an end of a line along a parallel
                described = [p for found in pairs + listed for p in found["pairs"]]
                assert [loc["longitude"], loc["latitude"]] in described, record
        if "positions" in arguments and len(located) >= 2:
            assert [loc.get("place") for loc in located] == [loc["place"] for loc in listed], record["instruction"]
            routes += 1
    assert routes >= 30


# ---- dates -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, iso", [
    ("13th of December 2024 at 8:45PM", "2024-12-13T20:45:00Z"), ("May 5 2020 at 0:30", "2020-05-05T00:30:00Z"),
    ("2020-1-2t03:04z", "2020-01-02T03:04:00Z"), ("jan 2 2020 noon", "2020-01-02T12:00:00Z"),
    ("noon on May 4 1999", "1999-05-04T12:00:00Z"),
])
def test_dates_read(text, iso):
    assert dates.parseWhen(text) == iso


@pytest.mark.parametrize("text, reason", [
    ("\u0663 May 2020", "cannot read"), ("May 5 20200", "cannot read '20200'"), (7, "7 is not a date"),
    ("soon", "neither a month nor a time"),
])
def test_dates_refused_with_the_reason(text, reason):
    with pytest.raises(RuleError, match=reason):
        dates.parseWhen(text)


# ---- the tool contract -------------------------------------------------------------------------------------------

ACCEPTED = [
    {"tool": "flyTo", "arguments": {"longitude": 2.35, "latitude": 48.85}},
    {"tool": "flyTo", "arguments": {"longitude": 180, "latitude": -90, "height": 1e8, "duration": 600}},
    {"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "é" * 100, "size": 200}},
    {"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 20, "width": 100}},
    {"tool": "addPolygon", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 3, "extrudedHeight": 1}},
    {"tool": "addCircle", "arguments": {"longitude": 1, "latitude": 2, "radius": 1e7}},
    {"tool": "zoom", "arguments": {"amount": -100}},
    {"tool": "setSceneMode", "arguments": {"mode": "2D"}},
    {"tool": "setTime", "arguments": {"multiplier": -100000}},
]
REFUSED = [  # (call, the field refused, words of the reason)
    ({"tool": "flyTo", "arguments": {"longitude": 2.35, "latitude": 48.85, "height": 0}}, "arguments.height",
     "minimum"),
    ({"tool": "flyTo", "arguments": {"longitude": 180.0001, "latitude": 0}}, "arguments.longitude",
     "180.0001 is greater than the maximum of 180"),
    ({"tool": "flyTo", "arguments": {"longitude": True, "latitude": 0}}, "arguments.longitude", "not of type 'number'"),
    ({"tool": "flyTo", "arguments": {"longitude": 1, "latitude": 1, "duration": -1}}, "arguments.duration",
     "less than the minimum of 0"),
    ({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "", "size": 5}}, "arguments.name",
     "too short"),
    ({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "x" * 101}}, "arguments.name",
     "too long"),
    ({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "color": 5}}, "arguments.color",
     "not of type 'string'"),
    ({"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 21}},
     "arguments.positions", "at most 20 items"),
    ({"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}, {"longitude": 1}]}},
     "arguments.positions[1].latitude", "'latitude' is a required property"),
    ({"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2},
                                                         {"longitude": 1, "latitude": 2, "height": 3}]}},
     "arguments.positions[1].height", "unexpected property 'height'"),
    ({"tool": "addPolygon", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 3, "extrudedHeight": 0}},
     "arguments.extrudedHeight", "minimum"),
    ({"tool": "addPolygon", "arguments": {"positions": "none"}}, "arguments.positions", "not of type 'array'"),
    ({"tool": "addCircle", "arguments": {"longitude": 1, "latitude": 2, "radius": 1e7 + 1}}, "arguments.radius",
     "greater than the maximum"),
    ({"tool": "addCircle", "arguments": {"longitude": 1, "latitude": 2}}, "arguments.radius",
     "'radius' is a required property"),
    ({"tool": "zoom", "arguments": {"amount": 0}}, "arguments.amount", "0"),
    ({"tool": "zoom", "arguments": {"amount": 0.0}}, "arguments.amount", "0"),
    ({"tool": "zoom", "arguments": {"amount": 101}}, "arguments.amount", "greater than the maximum of 100"),
    ({"tool": "zoom", "arguments": {"amount": "1"}}, "arguments.amount", "not of type 'number'"),
    ({"tool": "setSceneMode", "arguments": {"mode": "2d"}}, "arguments.mode", "not one of"),
    ({"tool": "setTime", "arguments": {}}, "arguments", "at least 1 propert"),
    ({"tool": "setTime", "arguments": {"multiplier": 1, "speed": 2}}, "arguments.speed", "unexpected property 'speed'"),
    ({"tool": "setTime", "arguments": {"time": 2024}}, "arguments.time", "not of type 'string'"),
    ({"tool": "nope", "arguments": {}}, "tool", "unknown tool 'nope'"),
    ({"tool": "zoom", "arguments": []}, "arguments", "not an object"),
    ({"tool": "zoom", "arguments": {"amount": 1}, "why": "x"}, "why", "unexpected key"),
    ({"arguments": {"amount": 1}}, "tool", "unknown tool"),
    ("zoom", "", "must be a JSON object"),
    (None, "", "must be a JSON object"),
]
# ISO 8601 forms the contract takes, and forms it refuses (basic 20240621T1200 and week 2024-W25-5 dates too)
TIMES_ACCEPTED = ["2024-06-21T12:00:00Z", "2024-06-21", "2024-06-21 12:00", "2024-06-21T12",
                  "2024-06-21T12:00:00.5+05:30", "2024-02-29T00:00:00Z", "2024-06-21T12:00:00+0530",
                  "2024-06-21T12:00:00,5", "1999-12-31T23:59:59z"]
TIMES_REFUSED = ["2024-06-21T25:00", "2023-02-29", "2024-6-1", "2024-13-01", "yesterday", "", "2024-06-21T12:60",
                 "20240621T1200", "2024-W25-5"]


def test_tool_contract_accepts_and_refuses(domain):
    assert [domain.check_call(call) for call in ACCEPTED] == [[]] * len(ACCEPTED)
    for call, field, words in REFUSED:
        problems = domain.check_call(call)
        assert problems and problems[0].field == field and words in problems[0].message, (call, problems)
    times = [{"tool": "setTime", "arguments": {"time": t}} for t in TIMES_ACCEPTED + TIMES_REFUSED]
    assert [not domain.check_call(c) for c in times] == [True] * len(TIMES_ACCEPTED) + [False] * len(TIMES_REFUSED)
    [problem] = domain.check_call(times[len(TIMES_ACCEPTED)])
    assert problem.field == "arguments.time" and "2024-06-21T25:00" in problem.message


# ---- keys that change what an object inherits ----------------------------------------------------------------------

@pytest.mark.parametrize("answer, field", [
    ('{"tool": "flyTo", "arguments": {"place": "Paris", "__proto__": {"height": 5e9}}}', "arguments.__proto__"),
    ('{"tool": "flyTo", "arguments": {"place": "Paris", "constructor": {"prototype": {"height": 5}}}}',
     "arguments.constructor"),
    ('{"tool": "flyTo", "arguments": {"place": "Paris", "prototype": 1}}', "arguments.prototype"),
    ('{"tool": "addPolyline", "arguments": {"positions": [{"place": "Paris"}, {"place": "Lima", "constructor": 1}]}}',
     "arguments.positions[1].constructor"),
    ('{"constructor": "x", "tool": "zoom", "arguments": {"amount": 2}}', "constructor"),
])
def test_forbidden_keys_are_refused_before_anything_is_checked(domain, answer, field):
    [outcome] = domain.rules.execute([(answer, "fly to Paris")])
    key = field.rsplit(".", 1)[-1]
    assert (outcome["stage"], outcome["call"], outcome["parsed"]) == ("json", None, None)
    assert [p["field"] for p in outcome["problems"]] == [field] and key in outcome["reason"]
    [problems] = domain.rules.check_records([json.loads(answer)])  # `data verify` refuses it too
    assert [(p.field, key in p.message) for p in problems] == [(field, True)]


def test_the_same_call_without_them_executes(domain):
    [outcome] = domain.rules.execute([('{"tool": "flyTo", "arguments": {"place": "Paris"}}', "fly to Paris")])
    assert outcome["stage"] == "ok" and outcome["call"] == {"tool": "flyTo", "arguments": _at(PARIS)}


# ---- never a confidently wrong place (issue #19, item 2) --------------------------------------------------------

@pytest.mark.parametrize("word", ["the", "The", "can", "CAN", "add", "for", "pin", "turn", "as", "orange", "UTC"])
def test_common_words_and_airport_codes_are_never_places(domain, word):
    """GeoNames lists airport codes and words as alternate names: "THE" is Teresina's airport, "CAN" Guangzhou's."""
    assert Gazetteer(domain).resolve(word) is None


def test_a_qualified_common_word_and_the_kept_abbreviations_still_resolve(domain):
    g = Gazetteer(domain)
    assert _where(g.resolve("Orange, US")) == ("Orange", "US")
    assert _where(g.resolve("NYC")) == ("New York City", "US")  # the gazetteer's own abbreviations
    assert _where(g.resolve("the Hague")) == _where(g.resolve("The Hague")) is not None
    assert _where(g.resolve("the Paris")) == ("Paris", "FR")


@pytest.mark.parametrize("request_, offered", [
    ("fly me to the Crystal Canyon please", {"the Crystal Canyon", "Crystal Canyon", "the Crystal", "Crystal"}),
    ("add a pin over Xanadu", {"Xanadu"}),
    ("take me to the Statue of Zorbo!", {"the Statue of Zorbo", "Statue of Zorbo", "the Statue", "Statue", "Zorbo"}),
    ("polygon: Narnia, Gondor, Rohan", {"Narnia", "Gondor", "Rohan"}),  # capitalised names, no locative needed
    ("can you fly to el dorado", {"el dorado"}),
    ("go to the isle of avalon", {"the isle of avalon", "isle of avalon", "the isle", "isle"}),
])
def test_a_request_naming_no_known_place_offers_the_name_it_gives(domain, request_, offered):
    """Narrowing offers the name the user wrote (to be refused by name), not a word the gazetteer happens to know."""
    assert set(locations.placeLikeSpans(request_)) == offered
    flights = [b for b in domain.rules.narrow([request_])[0]["anyOf"] if b["properties"]["tool"]["const"] == "flyTo"]
    names = {n for branch in flights for n in _place_enums(branch)}
    assert names == offered


@pytest.mark.parametrize("request_", ["zoom in to street level", "set the time to noon on June 5",
                                      "move the camera to lat 10 lon 20", "fly to 48.85, 2.35"])
def test_words_that_are_not_names_are_not_offered_as_places(request_):
    assert locations.placeLikeSpans(request_) == []


def test_an_unknown_place_is_refused_by_name_and_nothing_else_is_flown_to(domain):
    for name in ("Xanadu", "the Crystal Canyon", "Atlantis Prime", "Narnia"):
        request_ = f"fly me to {name}"
        verdict = domain.rules.execute([(json.dumps({"tool": "flyTo", "arguments": {"place": name}}), request_)])[0]
        assert verdict["stage"] == "grounding" and verdict["call"] is None
        assert f"I don't know where '{name}' is" in verdict["reason"]


def test_a_known_place_keeps_the_request_from_offering_unknown_ones(domain):
    """Only a request with no known place gets place-like spans: "fly to Paris at noon" offers Paris alone."""
    flights = [b for b in domain.rules.narrow(["fly to Paris over Xanadu"])[0]["anyOf"]
               if b["properties"]["tool"]["const"] == "flyTo"]
    assert {n for branch in flights for n in _place_enums(branch)} == {"Paris"}


@pytest.mark.parametrize("request_, offered", [
    ("pin Zanzibar Prime", {"Zanzibar Prime"}),  # Zanzibar is known; "Zanzibar Prime" is not Zanzibar
    ("fly to London Heathrow please", {"London Heathrow"}),
    ("fly to Paris France", {"Paris", "France"}),  # a qualifier that is a place itself
    ("Fly To Paris Now", {"Paris"}),  # a common word after the name
    ("pin Zanzibar. Prime time", {"Zanzibar"}),  # punctuation ends the name
    ("pin Zanzibar", {"Zanzibar"}),
])
def test_a_known_name_continued_by_an_unknown_word_is_not_that_place(domain, request_, offered):
    """A request's name is all of its capitalised run: the gazetteer knowing a first part of it does not make the
    part the place meant, and the part it knows is then not offered (grounding refuses the whole name by name)."""
    branches = [b for b in domain.rules.narrow([request_])[0]["anyOf"]
                if b["properties"]["tool"]["const"] in ("flyTo", "addPoint")]
    assert {n for branch in branches for n in _place_enums(branch)} == offered


@pytest.mark.parametrize("request_, tools", [
    ("zoom to Gotham", {"flyTo"}),  # a zoom would act on a request naming a place we cannot ground
    ("zoom in twice", {"flyTo", "zoom"}),  # "twice" is offered as a name, but it is not capitalised
    ("Zoom In Twice", {"flyTo", "zoom"}),  # title case: capitals say nothing
    ("set time to Monday 9am", {"flyTo", "setTime", "zoom"}),  # a date's words are not names
    ("set the date to Febuary 14 2025", {"flyTo", "setTime", "zoom"}),  # nor a long month name with one slip
    ("zoom in", {"zoom"}),
])
def test_a_request_naming_only_an_unknown_place_is_answered_by_a_tool_that_takes_one(domain, request_, tools):
    """Then grounding refuses the name ("I don't know where 'Gotham' is") instead of the page zooming."""
    assert {b["properties"]["tool"]["const"] for b in domain.rules.narrow([request_])[0]["anyOf"]} == tools


def _place_enums(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        place = node.get("properties", {}).get("place")
        if isinstance(place, dict) and "enum" in place:
            found |= set(place["enum"])
        for value in node.values():
            found |= _place_enums(value)
    elif isinstance(node, list):
        for value in node:
            found |= _place_enums(value)
    return found


@pytest.mark.parametrize("request_, marks_at", [
    ("fly to Paris? no, Rome", "Rome"), ("fly to Lima, I mean Quito", "Quito"), ("scratch that, Oslo", "Oslo"),
    ("go to Paris, actually, Berlin", "Berlin"), ("add a point with no label at Paris", None),
    ("no labels here", None), ("fly to Paris no Rome", None), ("zoom to Vienna or rather Prague", "Prague"),
])
def test_where_a_request_corrects_itself(request_, marks_at):
    at = locations.correctedFrom(request_)
    assert (request_[at:].strip() if at else None) == marks_at


def test_a_self_correction_offers_only_the_place_named_after_it(domain):
    """'X? no, at Y' took X (issue #19): after a correction the places named before it are not offered."""
    for request_, wanted in (("fly to Paris? no, Rome", {"Rome"}), ("pin Lima, I mean Quito", {"Quito"}),
                             ("fly to Paris and Rome", {"Paris", "Rome"})):
        flights = [b for b in domain.rules.narrow([request_])[0]["anyOf"]
                   if b["properties"]["tool"]["const"] in ("flyTo", "addPoint")]
        assert {n for branch in flights for n in _place_enums(branch)} == wanted, request_


# ---- phrasings beyond lists of places (#19 item 3) ----------------------------------------------------------------

@pytest.mark.parametrize("text, ends", [
    ("draw a box from longitude 10 to 20 and latitude 40 to 50", [[10, 40], [20, 40], [20, 50], [10, 50]]),
    ("shade lon 10W-20E lat 5S to 15N", [[-10, -5], [20, -5], [20, 15], [-10, 15]]),
    ("polygon covering latitudes 30 to 40 and longitudes -100 to -90", [[-100, 30], [-90, 30], [-90, 40], [-100, 40]]),
    ("area: lon 40 to 70 lat 62 to 63N", [[40, 62], [70, 62], [70, 63], [40, 63]]),  # not "40 to 70 lat"
    ("a rectangle between 10 and 20 degrees longitude and 40 to 50 latitude", [[10, 40], [20, 40], [20, 50], [10, 50]]),
    ("line along the equator from longitude -20 to 40", [[-20, 0], [40, 0]]),
    ("draw the 49th parallel from 123W to 95W", [[-123, 49], [-95, 49]]),
    ("trace the prime meridian from latitude 50 to 60", [[0, 50], [0, 60]]),
    ("draw a line along longitude 20E from 10S to 30N", [[20, -10], [20, 30]]),
    ("line along the tropic of cancer from -10 to 30", [[-10, 23.44], [30, 23.44]]),
    ("lon 10E to 20E lat 5E to 15E", []),  # "5E" is no latitude
    ("along the equator", []),  # no extent: no line
    ("zoom in 5 steps", []), ("fly to Paris", []),
])
def test_boxes_as_ranges_and_lines_along_parallels_are_read(text, ends):
    assert [loc["pairs"][0] for loc in locations.coordinatesDescribed(text)] == ends


def test_described_coordinates_are_the_only_positions_offered(domain):
    """Narrowing offers exactly the box's corners (or the line's ends), so the model only picks the tool."""
    schema = domain.rules.narrow(["shade lon 10W-20E lat 5S to 15N"])[0]
    polygon = [b for b in schema["anyOf"] if b["properties"]["tool"]["const"] == "addPolygon"][0]
    items = polygon["properties"]["arguments"]["properties"]["positions"]["prefixItems"]
    corners = [[i["anyOf"][0]["properties"][k]["minimum"] for k in ("longitude", "latitude")] for i in items]
    assert corners == [[-10, -5], [20, -5], [20, 15], [-10, 15]]


def test_routes_through_and_via_keep_their_first_place(domain):
    found = _locations(domain, ["a route from Paris through Lyon to Nice", "from Lima via Quito, then on to Bogota",
                                "Oslo by way of Bergen to Trondheim"])
    assert [_read(listed) for _, _, listed in found] == [["Paris", "Lyon", "Nice"], ["Lima", "Quito", "Bogota"],
                                                         ["Oslo", "Bergen", "Trondheim"]]


def test_label_it_names_and_with_is_not_width():
    cues = ["called", "named", "label", "label it", "call it"]
    text = "put a pin on Paris and label it Home base"
    assert copying.spansAfterCues(text, copying.cueMatches(text, cues)) == ["Home", "Home base"]
    assert copying.cueMatches("a line with color red", {"width": None}) == []  # a common word is no slip of a cue
    assert copying.cueMatches("a line widht 3", {"width": None}) == [[2, 3, "width"]]  # a slip is


@pytest.mark.parametrize("written, place", [
    ("grand canyn", "Grand Canyon"), ("the grand canyn", "Grand Canyon"), ("barcelna", "Barcelona"),
    ("niagra falls", "Niagara Falls"), ("eifel tower", "Eiffel Tower"), ("Stonehendge", "Stonehenge"),
    # one slip is read only in a long name, never at its first or last letter, and never between two places
    ("Atlantis", None), ("Gondor", None), ("Pariss", None), ("Xanadu", None), ("Winterfell", None),
    ("street levels", None),
])
def test_a_long_name_with_one_slip_is_that_place_and_nothing_else_is(domain, written, place):
    (got,) = domain.rules.resolve([written])
    assert (got.name if got else None) == place


@pytest.mark.parametrize("request_, amounts", [
    ("zoom in 3 steps", [3]), ("closer", [1]), ("zom in", [1]), ("zoom in a bit", [0.5]), ("zoom way in", [5]),
    ("zoom out a lot please", [-5]), ("Hey, back out heaps.", [-6]), ("pull the camera up", [-1]),
    ("rise up slightly", [-0.5]), ("zoom in 10 times", [10]),
    ("zoom in, no, out", None), ("zoom 3", None),  # both directions, or none: the model decides
])
def test_a_zoom_takes_its_sign_from_the_requests_direction_words(domain, request_, amounts):
    schema = domain.rules.narrow([request_])[0]
    zoom = [b for b in schema["anyOf"] if b["properties"]["tool"]["const"] == "zoom"][0]
    amount = zoom["properties"]["arguments"]["properties"]["amount"]
    assert ([a["minimum"] for a in amount["anyOf"]] if "anyOf" in amount else None) == amounts
