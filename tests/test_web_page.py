"""The demo page in headless Chromium (SwiftShader): offline loading, the eight tools through window.webslm.execute,
and rejection of invalid calls. Waits are on page state, never on fixed sleeps."""

from __future__ import annotations

import io
import json

import pytest

pytestmark = pytest.mark.browser

STATE = "window.webslm.state()"


@pytest.fixture(scope="module")
def page_and_requests(served_app, chromium):
    requests, failures, errors = [], [], []
    context = chromium.new_context(viewport={"width": 800, "height": 600})
    context.on("request", lambda r: requests.append(r.url))
    context.on("response", lambda r: r.status >= 400 and failures.append((r.status, r.url)))
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served_app.url + "/?lite=1")
    page.wait_for_function("window.webslm !== undefined", timeout=60_000)
    page.evaluate("window.webslm.ready")
    page.evaluate("window.webslm.modelReady")
    yield page, requests, failures, errors
    context.close()


@pytest.fixture
def page(page_and_requests):
    page = page_and_requests[0]
    page.evaluate("window.webslm.clear()")
    page.evaluate("window.webslm.execute({tool: 'setSceneMode', arguments: {mode: '3D'}})")
    return page


def execute(page, call):
    return page.evaluate("c => window.webslm.execute(c)", call)


def wait_state(page, predicate_js: str, timeout=30_000):
    """Wait until `predicate_js` (an expression over `s`, the page state) holds; return the state."""
    page.wait_for_function(f"(() => {{ const s = {STATE}; return {predicate_js}; }})()", timeout=timeout)
    return page.evaluate(STATE)


def test_page_loads_offline_and_draws_a_globe(page_and_requests, served_app):
    page, requests, failures, errors = page_and_requests
    wait_state(page, "s.tilesLoaded", timeout=60_000)
    outside = [u for u in requests if not u.startswith((served_app.url + "/", "blob:" + served_app.url, "data:"))]
    assert outside == []
    assert not any("cesium.com" in u for u in requests)
    assert failures == [] and errors == []
    assert "No model loaded" in page.inner_text("#model-status")

    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(page.locator("#globe").screenshot())).convert("L")
    assert ImageStat.Stat(image).stddev[0] > 10, "the globe looks blank"


def test_fly_to_paris_by_name_and_by_numbers(page):
    result = execute(page, {"tool": "flyTo", "arguments": {"place": "Paris", "duration": 0}})
    assert result["ok"], result
    s = page.evaluate(STATE)
    assert abs(s["camera"]["longitude"] - 2.3488) < 0.01 and abs(s["camera"]["latitude"] - 48.85341) < 0.01
    assert abs(s["camera"]["height"] - 1.5e6) < 1

    # A real flight (1 s) ends at the target with the requested height; it advances with rendered frames.
    result = execute(page, {"tool": "flyTo", "arguments": {"longitude": -73.98, "latitude": 40.75,
                                                           "height": 20000, "duration": 1}})
    assert result["ok"], result
    s = wait_state(page, "Math.abs(s.camera.longitude + 73.98) < 0.01 && Math.abs(s.camera.latitude - 40.75) < 0.01"
                         " && Math.abs(s.camera.height - 20000) < 1")
    assert s["sceneMode"] == "3D"


def test_add_point_with_every_argument(page):
    result = execute(page, {"tool": "addPoint", "arguments": {"place": "Tokyo", "name": "HQ", "color": "Red", "size": 24}})
    assert result["ok"], result
    assert result["call"]["arguments"]["longitude"] == pytest.approx(139.69171)
    (e,) = page.evaluate(STATE)["entities"]
    assert e["kind"] == "point" and e["name"] == "HQ" and e["color"] == "#ff0000" and e["size"] == 24
    assert e["longitude"] == pytest.approx(139.69171, abs=1e-6) and e["latitude"] == pytest.approx(35.6895, abs=1e-6)
    assert execute(page, {"tool": "addPoint", "arguments": {"longitude": 10, "latitude": 20, "color": "#00ff00"}})["ok"]
    s = page.evaluate(STATE)
    assert len(s["entities"]) == 2 and s["entities"][1]["color"] == "#00ff00" and s["entities"][1]["size"] == 10


def test_add_polyline_polygon_and_circle(page):
    assert execute(page, {"tool": "addPolyline", "arguments": {
        "positions": [{"place": "Paris"}, {"place": "Berlin"}, {"longitude": 21.0, "latitude": 52.2}],
        "name": "route", "color": "blue", "width": 6}})["ok"]
    assert execute(page, {"tool": "addPolygon", "arguments": {
        "positions": [{"longitude": 0, "latitude": 0}, {"longitude": 10, "latitude": 0}, {"longitude": 5, "latitude": 8}],
        "name": "tri", "color": "#ff00ff", "extrudedHeight": 5000}})["ok"]
    assert execute(page, {"tool": "addCircle", "arguments": {"place": "Rome", "radius": 50000, "name": "c",
                                                             "color": "orange"}})["ok"]
    line, polygon, circle = page.evaluate(STATE)["entities"]
    assert line["kind"] == "polyline" and len(line["positions"]) == 3 and line["width"] == 6
    assert line["color"] == "#0000ff" and line["positions"][1]["longitude"] == pytest.approx(13.41053, abs=1e-6)
    assert polygon["kind"] == "polygon" and len(polygon["positions"]) == 3
    assert polygon["extrudedHeight"] == 5000 and polygon["color"] == "#ff00ff" and polygon["name"] == "tri"
    assert circle["kind"] == "circle" and circle["radius"] == 50000 and circle["color"] == "#ffa500"
    assert circle["latitude"] == pytest.approx(41.89193, abs=1e-6)
    assert page.evaluate("window.webslm.clear()") == "removed 3 entities"
    assert page.evaluate(STATE)["entities"] == []


def test_zoom_in_and_out(page):
    execute(page, {"tool": "flyTo", "arguments": {"longitude": 0, "latitude": 0, "height": 1e6, "duration": 0}})
    assert execute(page, {"tool": "zoom", "arguments": {"amount": 1}})["ok"]
    assert page.evaluate(STATE)["camera"]["height"] == pytest.approx(5e5, rel=0.01)
    assert execute(page, {"tool": "zoom", "arguments": {"amount": -2}})["ok"]
    assert page.evaluate(STATE)["camera"]["height"] == pytest.approx(2e6, rel=0.01)


def test_scene_modes_keep_the_camera_position(page):
    execute(page, {"tool": "flyTo", "arguments": {"place": "Cairo", "height": 3e6, "duration": 0}})
    for mode in ("2D", "COLUMBUS_VIEW", "3D"):
        assert execute(page, {"tool": "setSceneMode", "arguments": {"mode": mode}})["ok"]
        s = wait_state(page, f"s.sceneMode === {json.dumps(mode)}")
        assert s["camera"]["longitude"] == pytest.approx(31.24967, abs=0.05), mode
        assert s["camera"]["latitude"] == pytest.approx(30.06263, abs=0.05), mode


def test_set_time_and_multiplier(page):
    assert execute(page, {"tool": "setTime", "arguments": {"time": "2024-06-21T12:00:00Z", "multiplier": 3600}})["ok"]
    s = page.evaluate(STATE)
    assert s["clock"]["multiplier"] == 3600 and s["clock"]["time"].startswith("2024-06-21T1")
    # The clock runs with rendered frames: wait until it has moved forward at the new speed.
    wait_state(page, "s.clock.time > '2024-06-21T12:00:30'")
    assert execute(page, {"tool": "setTime", "arguments": {"multiplier": 1}})["ok"]
    assert page.evaluate(STATE)["clock"]["multiplier"] == 1
    assert execute(page, {"tool": "setTime", "arguments": {"time": "2000-01-01T00:00:00+02:00"}})["ok"]
    assert page.evaluate(STATE)["clock"]["time"] < "1999-12-31T22:01"


INVALID = [
    ({"tool": "flyTo", "arguments": {"longitude": 200, "latitude": 0}}, "maximum"),
    ({"tool": "flyTo", "arguments": {"place": "Atlantis Prime"}}, "unknown place"),
    ({"tool": "flyTo", "arguments": {"longitude": 1}}, "latitude"),
    ({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "colour": "red"}}, "unexpected"),
    ({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "color": "not-a-color"}}, "not a CSS color name"),
    ({"tool": "addPoint", "arguments": {"longitude": 1, "latitude": 2, "size": 0}}, "minimum"),
    ({"tool": "addPolyline", "arguments": {"positions": [{"longitude": 1, "latitude": 2}]}}, "at least 2"),
    ({"tool": "addPolygon", "arguments": {"positions": [{"place": "Paris"}, {"place": "Nowhere Town"},
                                                        {"place": "Rome"}]}}, "unknown place"),
    ({"tool": "addCircle", "arguments": {"longitude": 1, "latitude": 2, "radius": -5}}, "minimum"),
    ({"tool": "addCircle", "arguments": {"longitude": "1", "latitude": 2, "radius": 5}}, "type"),
    ({"tool": "zoom", "arguments": {"amount": 0}}, "should not be valid"),
    ({"tool": "setSceneMode", "arguments": {"mode": "4D"}}, "not one of"),
    ({"tool": "setTime", "arguments": {}}, "at least 1"),
    ({"tool": "setTime", "arguments": {"time": "yesterday"}}, "'yesterday' is not a date"),
    ({"tool": "setTime", "arguments": {"time": "2024-02-30T00:00:00Z"}}, "no day 30 in month 2 of 2024"),
    ({"tool": "teleport", "arguments": {}}, "unknown tool"),
    ({"tool": "zoom", "arguments": {"amount": 1}, "extra": 1}, "unexpected key"),
    ({"tool": "zoom"}, "arguments"),
    ([1, 2], "JSON object"),
    ("{not json", "not valid JSON"),
]


@pytest.mark.parametrize("call, reason", INVALID, ids=[str(i) for i in range(len(INVALID))])
def test_invalid_calls_are_rejected_and_change_nothing(page, call, reason):
    execute(page, {"tool": "setTime", "arguments": {"multiplier": 0}})  # a still clock: state must not move
    before = page.evaluate(STATE)
    result = execute(page, call)
    assert not result["ok"] and reason in result["error"], result
    after = page.evaluate(STATE)
    for key in ("camera", "entities", "sceneMode", "clock"):
        assert after[key] == before[key], key
    assert not after["history"][-1]["ok"]  # shown in the log
    assert page.locator("#log li.error").first.inner_text().count("rejected") == 1


def test_submit_without_a_model(page):
    result = page.evaluate("window.webslm.submit('{\"tool\": \"addPoint\", \"arguments\": {\"place\": \"Lima\"}}')")
    assert result["ok"] and result["call"]["arguments"]["latitude"] == pytest.approx(-12.04318, abs=1e-4)
    result = page.evaluate("window.webslm.submit('fly to Paris')")
    assert not result["ok"] and "no model is loaded" in result["error"]
    # The command box does the same as submit().
    page.fill("#command", '{"tool": "zoom", "arguments": {"amount": 1}}')
    page.press("#command", "Enter")
    wait_state(page, "s.history.length > 0 && s.history[s.history.length - 1].text.includes('zoom')")
    assert page.evaluate(STATE)["history"][-1]["ok"]
