"""The demo page runs the rulebook from /static/rules/ (the same files Python runs in Node: tests/test_rulebook.py),
Cesium draws every colour the rulebook accepts, and a call carrying a key that changes what an object inherits is
refused in the page before anything moves."""

from __future__ import annotations

import urllib.request

import pytest

from conftest import open_demo
from webslm import REPO_ROOT

pytestmark = pytest.mark.browser

RULES_DIR = REPO_ROOT / "web" / "static" / "rules"
# what the page's `import { Rulebook } from "./rules/rulebook.js"` loads
PAGE_MODULES = ["rulebook", "emission", "copying", "grounding", "show", "validate", "colors", "dates", "locations",
                "quantities"]


@pytest.fixture(scope="module")
def demo(served_app, chromium):
    requests = []
    context, page = open_demo(chromium, served_app.url, "?lite=1&model=none", requests=requests)
    yield page, requests
    context.close()


def test_the_page_imports_the_rule_modules_from_static_rules(demo, served_app):
    page, requests = demo
    loaded = {url[len(served_app.url):] for url in requests if url.startswith(served_app.url)}
    assert {f"/static/rules/{name}.js" for name in PAGE_MODULES} <= loaded
    assert not {"/static/grounding.js", "/static/schema.js", "/static/copying.js"} & loaded
    for path in sorted(RULES_DIR.glob("*.js")):  # served exactly as on disk
        with urllib.request.urlopen(f"{served_app.url}/static/rules/{path.name}") as reply:
            assert reply.read() == path.read_bytes(), path.name
    imported = page.evaluate("""async () => {
        const rules = await import('/static/rules/rulebook.js');
        const text = await (await fetch('/static/rules/rulebook.js')).text();
        const gone = await Promise.all(['/static/schema.js', '/static/grounding.js'].map(
            async (u) => (await fetch(u)).status));
        return [typeof rules.Rulebook, rules.FORBIDDEN_KEYS, text, gone];
    }""")
    assert imported == ["function", ["__proto__", "constructor", "prototype"],
                        (RULES_DIR / "rulebook.js").read_text(encoding="utf-8"), [404, 404]]


def test_cesium_parses_every_colour_name(demo):
    page, _ = demo
    names, unparsed = page.evaluate("""async () => {
        const { CSS_COLOR_NAMES } = await import('/static/rules/colors.js');
        return [CSS_COLOR_NAMES, CSS_COLOR_NAMES.filter((n) => !Cesium.Color.fromCssColorString(n))];
    }""")
    assert len(names) == 145 and unparsed == []  # every name the rulebook accepts is one Cesium draws


def _scene(page) -> dict:
    state = page.evaluate("window.webslm.state()")
    return {"camera": state["camera"], "entities": state["entities"], "sceneMode": state["sceneMode"],
            "multiplier": state["clock"]["multiplier"]}


@pytest.mark.parametrize("answer, key", [
    ('{"tool": "flyTo", "arguments": {"place": "Paris", "__proto__": {"height": 5e9}}}', "__proto__"),
    ('{"tool": "addPoint", "arguments": {"place": "Paris", "__proto__": {"size": 100000}}}', "__proto__"),
    ('{"tool": "addPoint", "arguments": {"place": "Paris", "constructor": {"prototype": {"size": 1}}}}', "constructor"),
])
def test_a_key_that_changes_inheritance_is_refused_and_nothing_moves(demo, answer, key):
    page, _ = demo
    before = _scene(page)
    result = page.evaluate("a => window.webslm.execute(a)", answer)
    assert result["ok"] is False and result["stage"] == "json" and result["call"] is None
    assert key in result["error"], result
    page.wait_for_timeout(200)  # a flight would have started by now
    assert _scene(page) == before
    assert page.evaluate("window.webslm.state().history.at(-1)")["ok"] is False


def test_the_same_calls_without_it_do_move(demo):
    page, _ = demo
    before = _scene(page)
    assert page.evaluate("""() => window.webslm.execute(
        '{"tool": "flyTo", "arguments": {"place": "Paris", "height": 5000, "duration": 0}}')""")["ok"]
    assert page.evaluate("""() => window.webslm.execute(
        '{"tool": "addPoint", "arguments": {"place": "Paris", "size": 12}}')""")["ok"]
    after = _scene(page)
    assert after["camera"] != before["camera"] and abs(after["camera"]["latitude"] - 48.85) < 0.1
    assert len(after["entities"]) == len(before["entities"]) + 1


TIMES = ["2024-06-21T12:00:00Z", "2024-06-21", "2024-06-21 12:00", "2024-06-21T12", "2024-06-21T12:00:00.5+05:30",
         "2024-02-29T00:00:00Z", "2024-06-21T12:00:00+0530", "2024-06-21T12:00:00,5", "1999-12-31T23:59:59z"]


def test_the_page_executes_every_time_the_contract_accepts(demo):
    """tests/test_rulebook.py: the tool contract accepts these ISO 8601 forms; the globe's clock can be set to each."""
    page, _ = demo
    for t in TIMES:
        result = page.evaluate("c => window.webslm.execute(c)",
                               {"tool": "setTime", "arguments": {"time": t, "multiplier": 0}})
        assert result["ok"], (t, result)
        assert page.evaluate("window.webslm.state().clock.time")[:4] in ("2024", "1999", "2000")
