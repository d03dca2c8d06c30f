"""The browser's grounding and schema checks agree with Python's (webslm/grounding.py, webslm/quantities.py,
Domain.check_call).

Both sides read the same gazetteer.json; the JS runs in the demo page (web/static/grounding.js, quantities.js,
schema.js)."""

from __future__ import annotations

import json

import pytest

from conftest import open_demo
from webslm.domain import load_domain
from webslm.grounding import Gazetteer, ground_call, normalize_place_name
from webslm.quantities import LENGTH_UNITS, QUANTITY_PATTERN, convert_quantity

pytestmark = pytest.mark.browser

HAND_PICKED = [
    # own names, with case, accents, punctuation and spacing
    "Paris", "paris", "  PARIS!! ", "Tokyo", "New York City", "São Paulo", "Sao Paulo", "Zürich", "Kraków",
    "Ho Chi Minh City", "Montréal", "St. Petersburg", "Saint Petersburg", "Washington", "Rio de Janeiro",
    "Reykjavík", "Málaga", "Düsseldorf", "Xi'an", "N'Djamena", "Port-au-Prince",
    # aliases
    "Bombay", "NYC", "Peking", "Saigon", "Calcutta", "Madras", "Constantinople", "Canton", "Leningrad",
    # countries -> capitals
    "France", "Japan", "Brazil", "Australia", "United States", "Germany", "united kingdom", "Iceland",
    # qualified forms
    "Paris, FR", "Paris, United States", "London, CA", "London, Canada", "Portland, US", "Springfield, US",
    "Cambridge, GB", "Valencia, VE", "Hyderabad, PK", "Paris, Nowhere", "Tokyo,JP",
    # unknowns and edge cases
    "Atlantis", "", "   ", ",", "Paris,", ", FR", "北京", "Москва", "Ñuñoa", "123", "a,b,c",
]


def sampled_names(gazetteer_path, n=40):
    """Every k-th place's name and first alias: broad coverage beyond the hand-picked list."""
    data = json.loads(gazetteer_path.read_text(encoding="utf-8"))
    places = data["places"]
    step = max(1, len(places) // n)
    names = []
    for p in places[::step][:n]:
        names.append(p["name"])
        if p["aliases"]:
            names.append(p["aliases"][0])
        names.append(f"{p['name']}, {p['country']}")
    return names


@pytest.fixture(scope="module")
def page(served_app, chromium):
    context, page = open_demo(chromium, served_app.url, "?lite=1&model=none")
    page.evaluate("""async () => {
        window.__g = await import('/static/grounding.js');
        window.__s = await import('/static/schema.js');
        window.__q = await import('/static/quantities.js');
        window.__c = await import('/static/copying.js');
        window.__d = await import('/static/dates.js');
        window.__l = await import('/static/locations.js');
        window.__colors = await import('/static/colors.js');
        window.__gaz = new window.__g.Gazetteer(await (await fetch('/domain/gazetteer.json')).json());
        window.__isPlace = (name) => window.__gaz.resolve(name) !== null;
        window.__tools = (await (await fetch('/api/domain')).json()).tools;
    }""")
    yield page
    context.close()


def test_js_grounding_agrees_with_python(page):
    domain = load_domain("cesium")
    gazetteer = Gazetteer.load(domain.gazetteer_path)
    names = HAND_PICKED + sampled_names(domain.gazetteer_path)
    js = page.evaluate("""names => names.map(n => {
        const p = window.__gaz.resolve(n);
        return [window.__g.normalizePlaceName(n), p ? [p.name, p.country, p.longitude, p.latitude] : null];
    })""", names)
    disagreements = []
    resolved = 0
    for name, (js_key, js_place) in zip(names, js):
        place = gazetteer.resolve(name)
        py = [place.name, place.country, place.longitude, place.latitude] if place else None
        resolved += py is not None
        if js_key != normalize_place_name(name) or js_place != py:
            disagreements.append((name, normalize_place_name(name), py, js_key, js_place))
    assert disagreements == []
    assert len(names) >= 50 and resolved >= 40  # the list exercises real matches, not only misses


ROUTE = "plot a polygon around Las Vegas / Shunyi / arabi / Ongole / Cologne / Rio de Janeiro, thanks!"


def test_js_ground_call_agrees_with_python(page):
    domain = load_domain("cesium")
    gazetteer = Gazetteer.load(domain.gazetteer_path)
    cases = [  # (model output, the request it answers)
        ({"tool": "flyTo", "arguments": {"place": "Bombay", "height": 5000}}, None),
        ({"tool": "flyTo", "arguments": {"place": "Bombay", "height": "4.4 km"}}, "fly to Bombay at 4.4 km"),
        ({"tool": "addPolyline", "arguments": {"positions": [{"place": "Paris"}, {"place": "Japan"},
                                                             {"longitude": 1, "latitude": 2}], "color": "red"}}, None),
        ({"tool": "addCircle", "arguments": {"place": "Nowhere Land", "radius": "15-mile"}}, None),
        ({"tool": "addCircle", "arguments": {"place": "Lima", "radius": "15 parsecs"}}, None),
        ({"tool": "addPolygon", "arguments": {"positions": [{"place": "Lima"}] * 3, "extrudedHeight": "high"}}, None),
        ({"tool": "addPoint", "arguments": {"place": 42}}, None),
        ({"tool": "addPoint", "arguments": {"place": "Lima", "longitude": 5}}, None),
        ({"tool": "noSuchTool", "arguments": {"place": "Lima", "radius": "1 km"}}, None),
        (["not", "a", "call"], None),
        # slips in copied names: repaired from the request's words, or left (too far, no request)
        ({"tool": "addPolygon", "arguments": {"positions": [
            {"place": "Orgole"}, {"place": "Shuni"}, {"place": "Rio de Janiero"}, {"place": "Cologn"},
            {"place": "Las Vega"}, {"place": "Ozzzzz"}, {"place": "Paris"}]}}, ROUTE),
        ({"tool": "flyTo", "arguments": {"place": "Orgole"}}, None),
        ({"tool": "flyTo", "arguments": {"place": "Lama"}}, "  fly to \u201cLima\u201d!  "),
        # colours: written canonically when they are colours, left for the contract to refuse when not
        ({"tool": "addPoint", "arguments": {"place": "Lima", "color": "Grey"}}, None),
        ({"tool": "addCircle", "arguments": {"place": "Lima", "radius": 5, "color": "#A0E51D"}}, None),
        ({"tool": "addPolyline", "arguments": {"positions": [{"place": "Lima"}] * 2, "color": "tense"}}, None),
        # dates copied as typed: read, left for the contract (ISO), refused with the reason
        ({"tool": "setTime", "arguments": {"time": "noon on May 4 1999", "multiplier": 5}}, None),
        ({"tool": "setTime", "arguments": {"time": "2024-06-21T12:00:00+02:00"}}, None),
        ({"tool": "setTime", "arguments": {"time": "soon"}}, None),
    ]
    js = page.evaluate("cases => cases.map(([o, r]) => window.__g.groundCall(o, window.__tools, window.__gaz, r))",
                       cases)
    for (output, request), result in zip(cases, js):
        call, problems = ground_call(output, domain, gazetteer, request)
        assert result["call"] == call
        same_quotes = lambda message: message.replace('"', "'")  # noqa: E731 (JSON.stringify vs repr)
        assert [(p["field"], same_quotes(p["message"])) for p in result["problems"]] == [
            (p.field, same_quotes(p.message)) for p in problems]
    assert js[1]["call"]["arguments"]["height"] == 4400
    assert [p["field"] for r in js[3:6] for p in r["problems"]] == [
        "arguments.place", "arguments.radius", "arguments.extrudedHeight"]
    assert [p["field"] for p in js[10]["problems"]] == ["arguments.positions[5].place"]  # the rest repaired
    assert js[12]["problems"] == [] and js[11]["problems"] != []
    assert [r["call"]["arguments"]["color"] for r in js[13:16]] == ["gray", "#a0e51d", "tense"]
    assert [r["call"]["arguments"]["time"] for r in js[16:19]] == [
        "1999-05-04T12:00:00Z", "2024-06-21T12:00:00+02:00", "soon"]
    assert [len(r["problems"]) for r in js[16:19]] == [0, 0, 1]
    assert page.evaluate("c => window.__s.checkCall(c, window.__tools)", js[15]["call"]) == [
        {"path": "arguments.color", "message": '"tense" is not a \'color\''}]


def test_js_colors_agree_with_python_and_cesium(page):
    from webslm.colors import CSS_COLOR_NAMES, canonical_color, is_color

    assert page.evaluate("() => window.__colors.CSS_COLOR_NAMES") == list(CSS_COLOR_NAMES)
    unparsed = page.evaluate("names => names.filter(n => !Cesium.Color.fromCssColorString(n))", CSS_COLOR_NAMES)
    assert unparsed == []  # every name is one Cesium draws
    texts = ["red", "Red", "GREY", "darkslategrey", "#A0E51D", "#abc", "#abcd", "#ggg", "#", "", "tense", "40m",
             "light blue", 5, None]
    js = page.evaluate("ts => ts.map(t => [window.__colors.isColor(t), window.__colors.isColor(t) ? "
                       "window.__colors.canonicalColor(t) : null])", texts)
    assert js == [[is_color(t), canonical_color(t) if is_color(t) else None] for t in texts]


def test_js_copying_agrees_with_python(page):
    """The same spans of a request, the same cue spans and typed numbers, the same per-request emission schema
    (cesium and CAD), the same edit distance."""
    from webslm.colors import COLOR_PATTERN
    from webslm.copying import (colors_named, cue_matches, cue_values, edit_distance, for_request, free_numbers,
                                gap_spans, numbers_written, quantities_written, request_spans, spans_after_cues)

    texts = [ROUTE, 'pin "Base Camp" at Paris, France!', "  ", "(-176.22, -78.26) r=15-mile", "a\tb\n c;",
             "\u201cZone 1\u201d \u2018x\u2019 [y] {z} <w> Ciudad Guzm\u00e1n", "union box1 and box1 into part_7",
             " ".join(["word"] * 3 + ["x" * 70]), "route Ryazan\u2019, 's-Hertogenbosch, \u2018Ajlun dark blue",
             "Ring Budapest r=3 mi #95d840 or #ABC, light-grey GREY Hot Pink centred tanned",
             # cues, typed numbers, evidence for optional numbers
             "pin 12.5N 0.2W titld 'Zone 1' huge", "put the camera above Denver now", "fly to Lima very slowly",
             "draw a bold line through Lima to Quito named Route 66 as well", "lat=-0 lon 08 then 180.5 and 2029",
             "tag Big Apple as", "WITH THE LABEL Base Camp, Peru", "set the clock to noon on May 4 1999 at 20x",
             "render the world as top-down map", "Chandler", "I want Columbus view",
             "poly: 9.936N 43.183E / 0.7831 degrees south, 24.6837 Degrees West; S 33.9 (-176.22, \u221278.26) 35s",
             # copied numbers and quantities, clock-rate cues, lists of places
             "Start the clock at 2029-12-08T12:45:00Z running 60 times faster", "rewind 50x; set time to 12 May 2020",
             "box1 #2410CC x100 20,700 m 7.1 px ring Milan r=20km 1.9 mi. 3 min -0", "h 6,500 m 11000 ft tall",
             "route: Agra to Greece to Monywa to Zaozhuang to Brazil.", "Add a point named Camp on lon -66.1 lat 6.1",
             "ring Cairo r=9,950m, thanks", "a placemark titled Warehouse 3 in gold", "lon -18.1 lat -53.7 in blue",
             # CAD names: cued, bare (x-bare), a cue with nothing after it
             "make a box 30x40x50 mm for the lid", "box 30x40x50 lid", "subtract peg from plate and call it",
             "the lid is a sphere with radius 5mm", "make The 'Base Plate' as a slab 3x4x5", "the the is a is a"]
    assert page.evaluate("texts => texts.map(t => window.__c.requestSpans(t))", texts) == [
        request_spans(t) for t in texts]
    assert page.evaluate("() => window.__colors.COLOR_PATTERN") == COLOR_PATTERN
    assert page.evaluate("texts => texts.map(t => window.__c.colorsNamed(t))", texts) == [
        colors_named(t) for t in texts]
    cues = ["called", "with the label", "titled", "as", "huge", "slowly", "the ... is a", "... as a", "called ..."]
    valued = {"slowly": 10, "very slowly": 20, "huge": 40, "as": 1}
    assert page.evaluate("""([texts, cues, valued]) => texts.map(t => {
        const [matches, valuedMatches] = [window.__c.cueMatches(t, cues), window.__c.cueMatches(t, valued)];
        return [matches, window.__c.spansAfterCues(t, matches), window.__c.gapSpans(t, cues),
                window.__c.numbersWritten(t), window.__c.cueValues(valuedMatches, valued)];
    })""", [texts, cues, valued]) == [
        [[list(m) for m in cue_matches(t, cues)], spans_after_cues(t, cue_matches(t, cues)), gap_spans(t, cues),
         numbers_written(t), cue_values(cue_matches(t, valued), valued)] for t in texts]
    assert page.evaluate("""([texts, pattern]) => texts.map(t => [window.__c.freeNumbers(t, [[0, 3]]),
        window.__c.numbersWritten(t, [[0, 3]]), window.__c.quantitiesWritten(t, pattern)])""",
                         [texts, QUANTITY_PATTERN]) == [
        [free_numbers(t, [(0, 3)]), numbers_written(t, [(0, 3)]),
         [list(q) for q in quantities_written(t, QUANTITY_PATTERN)]] for t in texts]
    for name in ("cesium", "cad"):
        schema = load_domain(name).emission_schema()
        js = page.evaluate("([schema, texts]) => texts.map(t => window.__c.forRequest(schema, t))", [schema, texts])
        assert js == [for_request(schema, t) for t in texts]
    cesium = load_domain("cesium")
    js = page.evaluate("([schema, texts]) => texts.map(t => window.__c.forRequest(schema, t, window.__isPlace))",
                       [cesium.emission_schema(), texts])
    assert js == [for_request(cesium.emission_schema(), t, cesium.is_place) for t in texts]
    pairs = [["orgole", "ongole"], ["", "abc"], ["kitten", "sitting"], ["rio de janiero", "rio de janeiro"]]
    assert page.evaluate("pairs => pairs.map(([a, b]) => window.__c.editDistance(a, b))", pairs) == [
        edit_distance(a, b) for a, b in pairs]


def test_js_locations_agree_with_python(page):
    """The same coordinate pairs, places and lists, on hand-written requests and 300 generated ones."""
    from dataclasses import asdict

    from train.dataset.generate import generate_records
    from webslm.locations import coordinate_pairs, listed_locations, locations_written

    domain = load_domain("cesium")
    texts = [ROUTE, "route: 22.350 N 114.100 E; 51.5673\u00b0 N 0.1341\u00b0 W; 8.1280 degrees south, 147 degrees east",
             "Poly: coordinates 23.710 north 90.407 east / 5.52N, 5.75E / longitude 121.526 latitude 25.053 / "
             "lat 74.288 lon 88.690", "(3.5, 12) lon/lat (1, 2) lat/lon 3, 4 (200, 5) (5, 5) lat 1 lat 2",
             "from Ulan Bator -> Jayapura -> 's-Hertogenbosch & \u2018Ajlun", "Donostia / San Sebastian; Tokyo / Lima",
             "Tsuen Wan, Hong Kong", "Agra to Greece to Monywa then Brazil, or Peru", "12.5N 0.2W", ""]
    texts += [r["instruction"] for r in generate_records(domain, 300, seed=11)]
    js = page.evaluate("""texts => texts.map(t => [window.__l.coordinatePairs(t), window.__l.locationsWritten(t,
        window.__isPlace), window.__l.listedLocations(t, window.__isPlace)])""", texts)

    def plain(locations):
        return [{**asdict(loc), "pairs": [list(p) for p in loc.pairs]} for loc in locations]

    python = [[plain(coordinate_pairs(t)), plain(locations_written(t, domain.is_place)),
               plain(listed_locations(t, domain.is_place))] for t in texts]
    for text, a, b in zip(texts, js, python):
        assert a == b, text


def test_js_dates_agree_with_python(page):
    """The same dates read, the same reasons refused, the same dates offered by a request."""
    from tests.test_dates import READ, REFUSED
    from webslm.copying import dates_written
    from webslm.dates import parse_when

    def python(text):
        try:
            return [parse_when(text), None]
        except ValueError as e:
            return [None, str(e).replace('"', "'")]

    texts = [t for t, _ in READ + REFUSED] + ["13th of December 2024 at 8:45PM", "May 5 2020 at 0:30", "٣ May 2020",
                                                "2020-1-2t03:04z", "jan 2 2020 noon", "May 5 20200", 7]
    js = page.evaluate("""texts => texts.map(t => {
        try { return [window.__d.parseWhen(t), null]; } catch (e) { return [null, e.message.replaceAll('"', "'")]; }
    })""", texts)
    assert js == [python(t) for t in texts]
    requests = ["start the clock at noon on May 4 1999 running 50 times faster", "go to 2010/09/12 then March 1 2011",
                "Set the time to the 13th of December 2024 at 8:45pm and speed up x50", "fly to Lima"]
    assert page.evaluate("rs => rs.map(r => window.__c.datesWritten(r))", requests) == [
        dates_written(r) for r in requests]


QUANTITIES = ["4.4 km", "16,000 feet", "15-mile", "0.6m", '16"', "500'", "-209.8mm", "1,250.5 metres", " 3 yd ",
              "12 KM", "2.5 Miles", "0 in", "7 inches",
              # refused by both
              "4,4 km", "1,00 m", "5", "km", "5 km 3 m", "5 parsecs", "five km", "1e3 m", "", "--5 m", "5..2 m"]


def test_js_quantities_agree_with_python(page):
    """The same unit table on both sides, and the same value or the same refusal for every string."""
    assert page.evaluate("() => Object.fromEntries(Object.entries(window.__q.LENGTH_UNITS).map("
                         "([k, [f, names]]) => [k, [f, names]]))") == {k: [f, list(n)] for k, (f, n) in LENGTH_UNITS.items()}
    for target in ("m", "mm"):
        js = page.evaluate("""([texts, target]) => texts.map(t => {
            try { return window.__q.convertQuantity(t, target); } catch (e) { return 'error: ' + e.message; }
        })""", [QUANTITIES, target])
        for text, got in zip(QUANTITIES, js):
            try:
                expected = convert_quantity(text, target)
            except ValueError:
                assert isinstance(got, str) and got.startswith("error: "), (text, got)
                continue
            assert got == expected, (text, target, got, expected)
    assert page.evaluate("window.__q.convertQuantity('4.4 km', 'm')") == 4400


CALLS = [
    {"tool": "flyTo", "arguments": {"longitude": 2.35, "latitude": 48.85}},
    {"tool": "flyTo", "arguments": {"longitude": 2.35, "latitude": 48.85, "height": 0}},
    {"tool": "flyTo", "arguments": {"longitude": 180, "latitude": -90, "height": 1e8, "duration": 600}},
    {"tool": "flyTo", "arguments": {"longitude": 180.0001, "latitude": 0}},
    {"tool": "flyTo", "arguments": {"longitude": True, "latitude": 0}},
    {"tool": "flyTo", "arguments": {"longitude": 1, "latitude": 1, "duration": -1}},
    {"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "", "size": 5}},
    {"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "x" * 101}},
    {"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "name": "é" * 100, "size": 200}},
    {"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "color": 5}},
    {"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 20, "width": 100}},
    {"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 21}},
    {"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}, {"longitude": 1}]}},
    {"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2},
                                                        {"longitude": 1, "latitude": 2, "height": 3}]}},
    {"tool": "addPolygon", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 3, "extrudedHeight": 0}},
    {"tool": "addPolygon", "arguments": {"positions": [{"longitude": 1, "latitude": 2}] * 3, "extrudedHeight": 1}},
    {"tool": "addPolygon", "arguments": {"positions": "none"}},
    {"tool": "addCircle", "arguments": {"longitude": 1, "latitude": 2, "radius": 1e7}},
    {"tool": "addCircle", "arguments": {"longitude": 1, "latitude": 2, "radius": 1e7 + 1}},
    {"tool": "addCircle", "arguments": {"longitude": 1, "latitude": 2}},
    {"tool": "zoom", "arguments": {"amount": 0}},
    {"tool": "zoom", "arguments": {"amount": 0.0}},
    {"tool": "zoom", "arguments": {"amount": -100}},
    {"tool": "zoom", "arguments": {"amount": 101}},
    {"tool": "zoom", "arguments": {"amount": "1"}},
    {"tool": "setSceneMode", "arguments": {"mode": "2D"}},
    {"tool": "setSceneMode", "arguments": {"mode": "2d"}},
    {"tool": "setTime", "arguments": {}},
    {"tool": "setTime", "arguments": {"multiplier": -100000}},
    {"tool": "setTime", "arguments": {"multiplier": 1, "speed": 2}},
    {"tool": "setTime", "arguments": {"time": 2024}},
    {"tool": "nope", "arguments": {}},
    {"tool": "zoom", "arguments": []},
    {"tool": "zoom", "arguments": {"amount": 1}, "why": "x"},
    {"arguments": {"amount": 1}},
    "zoom",
    None,
]
# Forms both sides accept or both refuse. Python alone also takes basic (20240621T1200) and week (2024-W25-5)
# dates; the browser refuses those (stricter, never laxer).
TIMES_BOTH = ["2024-06-21T12:00:00Z", "2024-06-21", "2024-06-21 12:00", "2024-06-21T12", "2024-06-21T12:00:00.5+05:30",
              "2024-02-29T00:00:00Z", "2024-06-21T12:00:00+0530", "2024-06-21T12:00:00,5", "1999-12-31T23:59:59z",
              "2024-06-21T25:00", "2023-02-29", "2024-6-1", "2024-13-01", "yesterday", "", "2024-06-21T12:60"]


def test_js_schema_checks_agree_with_python(page):
    domain = load_domain("cesium")
    calls = CALLS + [{"tool": "setTime", "arguments": {"time": t}} for t in TIMES_BOTH]
    js = page.evaluate("calls => calls.map(c => window.__s.checkCall(c, window.__tools))", calls)
    disagreements = [(call, [str(p) for p in domain.check_call(call)], errors)
                     for call, errors in zip(calls, js) if bool(errors) != bool(domain.check_call(call))]
    assert disagreements == []
    accepted = [t for t, errors in zip(TIMES_BOTH, js[len(CALLS):]) if not errors]
    assert len(accepted) == 9  # and the browser can execute every time it accepts
    for t in accepted:
        result = page.evaluate("c => window.webslm.execute(c)", {"tool": "setTime", "arguments": {"time": t, "multiplier": 0}})
        assert result["ok"], (t, result)
        assert page.evaluate("window.webslm.state().clock.time")[:4] in ("2024", "1999", "2000")
