"""The demo page's adapter selector and CAD panel, without a model: a fake adapter tagged "cad" switches the domain
(the domain follows the adapter) for calls typed as JSON, and `?domain=cad` starts in it. Swapping a real adapter
through the demo's worker is in test_web_lora_demo.py."""

from __future__ import annotations

import pytest

from conftest import open_demo, start_server
from test_web_adapters import write_fake_models

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with start_server(write_fake_models(tmp_path_factory.mktemp("models"))) as served:
        yield served


CAD_STATE = "window.webslm.cadState()"


@pytest.fixture(scope="module")
def page(server, chromium):
    errors = []
    context, page = open_demo(chromium, server.url, "?lite=1")
    page.on("pageerror", lambda e: errors.append(str(e)))
    assert page.evaluate("window.webslm.modelReady") is None  # the fake bundle cannot load
    yield page
    assert errors == []
    context.close()


def execute(page, call):
    return page.evaluate("c => window.webslm.execute(c)", call)


def test_selector_lists_adapters_and_none(page):
    adapters = page.evaluate("window.webslm.adapters()")
    # no model loaded: every adapter is listed (a loaded model lists only its own; see the real-model test)
    assert {a["adapter_id"] for a in adapters} == {"globe-skill", "cad-skill", "old-skill", "other-base"}
    options = page.eval_on_selector_all("#adapter option", "os => os.map(o => [o.value, o.textContent])")
    assert options[0] == ["", "none (base model)"]
    assert {v for v, _ in options[1:]} == {a["adapter_id"] for a in adapters}
    assert any(v == "cad-skill" and "cad" in text for v, text in options)
    assert not page.is_disabled("#adapter")
    s = page.evaluate("window.webslm.state()")
    assert s["adapter"] is None and s["domain"] == "cesium"


def test_filter_by_base_model(page):
    listed = page.evaluate("""async () => {
        const { adaptersForModel } = await import('/static/adapters.js');
        const { fetchAdapters } = await import('/static/site.js');
        const adapters = await fetchAdapters();
        return adaptersForModel(adapters, 'tiny-q4f32_1').map(a => a.adapter_id);
    }""")
    assert sorted(listed) == ["cad-skill", "globe-skill", "old-skill"]


def test_cad_adapter_switches_the_domain_and_the_panel_executes_valid_calls(page):
    assert page.is_hidden("#cad-panel")
    result = page.evaluate("window.webslm.setAdapter('cad-skill')")
    assert result["ok"], result
    assert result["result"]["domain"] == "cad" and result["result"]["swapped"] is False
    s = page.evaluate("window.webslm.state()")
    assert s["adapter"] == "cad-skill" and s["domain"] == "cad"
    assert page.is_visible("#cad-panel") and page.input_value("#adapter") == "cad-skill"
    page.evaluate("window.webslm.clear()")

    calls = [
        {"tool": "createBox", "arguments": {"width": 40, "depth": 20, "height": 10, "name": "base"}},
        {"tool": "createCylinder", "arguments": {"radius": 5, "height": 30, "position": {"x": 10, "y": 0, "z": 5}}},
        {"tool": "createSphere", "arguments": {"radius": 8}},
        {"tool": "move", "arguments": {"target": "sphere1", "dx": -15, "dz": 2.5}},
        {"tool": "rotate", "arguments": {"target": "base", "axis": "z", "angle": 30}},
        {"tool": "extrude", "arguments": {"target": "base", "distance": 5}},
        {"tool": "boolean", "arguments": {"operation": "subtract", "a": "base", "b": "cylinder1", "name": "plate"}},
    ]
    for call in calls:
        r = execute(page, call)
        assert r["ok"], (call, r)
    cad = page.evaluate(CAD_STATE)
    objects = {o["name"]: o for o in cad["objects"]}
    assert set(objects) == {"sphere1", "plate"}
    assert objects["sphere1"]["position"] == {"x": -15, "y": 0, "z": 2.5} and objects["sphere1"]["radius"] == 8
    plate = objects["plate"]
    assert plate["kind"] == "boolean" and plate["operation"] == "subtract"
    assert plate["a"]["name"] == "base" and plate["a"]["height"] == 15 and plate["a"]["rotation"]["z"] == 30
    assert plate["a"]["position"]["z"] == 2.5 and plate["b"]["kind"] == "cylinder"
    assert len(cad["operations"]) == len(calls) and cad["operations"][0]["call"] == calls[0]
    # the panel shows the objects as JSON and draws a top view of each
    assert '"name":"plate"' in page.inner_text("#cad-objects")
    assert page.locator("#cad-preview g[data-name]").count() == 2
    assert page.locator("#cad-preview .cad-cut").count() == 1
    # typed into the command box, a CAD call goes to the panel, not the globe
    entities = len(page.evaluate("window.webslm.state()")["entities"])
    r = page.evaluate("window.webslm.submit('{\"tool\": \"delete\", \"arguments\": {\"target\": \"sphere1\"}}')")
    assert r["ok"] and r["domain"] == "cad", r
    assert [o["name"] for o in page.evaluate(CAD_STATE)["objects"]] == ["plate"]
    assert len(page.evaluate("window.webslm.state()")["entities"]) == entities


CAD_INVALID = [
    ({"tool": "createBox", "arguments": {"width": 10, "depth": 10}}, "'height' is a required property"),
    ({"tool": "createBox", "arguments": {"width": 0, "depth": 10, "height": 10}}, "minimum"),
    ({"tool": "createSphere", "arguments": {"radius": 5, "colour": "red"}}, "unexpected property"),
    ({"tool": "createSphere", "arguments": {"radius": 5, "position": {"x": 1, "y": 2}}}, "'z' is a required"),
    ({"tool": "move", "arguments": {"target": "keep"}}, "at least one of"),
    ({"tool": "rotate", "arguments": {"target": "keep", "axis": "w", "angle": 10}}, "not one of"),
    ({"tool": "rotate", "arguments": {"target": "keep", "axis": "x", "angle": 400}}, "maximum"),
    ({"tool": "boolean", "arguments": {"operation": "xor", "a": "keep", "b": "keep2"}}, "not one of"),
    ({"tool": "flyTo", "arguments": {"place": "Paris"}}, "unknown tool"),            # a globe tool in the CAD domain
    ({"tool": "move", "arguments": {"target": "ghost", "dx": 1}}, "no object named \"ghost\""),
    ({"tool": "createBox", "arguments": {"width": 1, "depth": 1, "height": 1, "name": "keep"}}, "already exists"),
    ({"tool": "extrude", "arguments": {"target": "ball", "distance": 3}}, "cannot extrude"),
    ({"tool": "boolean", "arguments": {"operation": "union", "a": "keep", "b": "keep"}}, "two different objects"),
    ("{not json", "not valid JSON"),
]


@pytest.mark.parametrize("call, reason", CAD_INVALID, ids=[str(i) for i in range(len(CAD_INVALID))])
def test_invalid_cad_calls_are_rejected_and_change_nothing(page, call, reason):
    if page.evaluate("window.webslm.state().domain") != "cad":
        assert page.evaluate("window.webslm.setAdapter('cad-skill')")["ok"]
    page.evaluate("window.webslm.clear()")
    for setup in ({"tool": "createBox", "arguments": {"width": 10, "depth": 10, "height": 10, "name": "keep"}},
                  {"tool": "createBox", "arguments": {"width": 5, "depth": 5, "height": 5, "name": "keep2"}},
                  {"tool": "createSphere", "arguments": {"radius": 4, "name": "ball"}}):
        assert execute(page, setup)["ok"]
    before = page.evaluate(CAD_STATE)
    result = execute(page, call)
    assert not result["ok"] and reason in result["error"], result
    assert page.evaluate(CAD_STATE) == before
    assert "rejected" in page.locator("#log li.error").first.inner_text()


def test_back_to_the_base_model_returns_to_the_globe(page):
    assert page.evaluate("window.webslm.setAdapter('cad-skill')")["ok"]
    page.select_option("#adapter", "")  # the selector does what setAdapter(null) does
    page.wait_for_function("window.webslm.state().domain === 'cesium'")
    s = page.evaluate("window.webslm.state()")
    assert s["adapter"] is None and s["history"][-1]["kind"] == "adapter" and s["history"][-1]["ok"]
    assert page.is_hidden("#cad-panel")
    assert execute(page, {"tool": "zoom", "arguments": {"amount": 1}})["ok"]
    assert not execute(page, {"tool": "createSphere", "arguments": {"radius": 1}})["ok"]
    r = page.evaluate("window.webslm.setAdapter('no-such-adapter')")
    assert not r["ok"] and "no adapter" in r["error"] and page.evaluate("window.webslm.state().adapter") is None


def test_domain_query_starts_in_cad(server, chromium):
    context, page = open_demo(chromium, server.url, "?lite=1&model=none&domain=cad")
    s = page.evaluate("window.webslm.state()")
    assert s["domain"] == "cad" and s["adapter"] is None and page.is_visible("#cad-panel")
    assert execute(page, {"tool": "createSphere", "arguments": {"radius": 3}})["ok"]
    assert page.evaluate(CAD_STATE)["objects"][0]["name"] == "sphere1"
    r = page.evaluate("window.webslm.submit('make a cube')")
    assert not r["ok"] and "createBox" in r["error"]  # the no-model hint shows a call of this domain
    context.close()
    context, page = open_demo(chromium, server.url, "?lite=1&model=none&domain=nope")
    s = page.evaluate("window.webslm.state()")
    assert s["domain"] == "cesium" and "no domain" in s["history"][0]["error"]
    context.close()

