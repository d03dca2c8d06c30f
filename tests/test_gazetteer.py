"""`webslm data gazetteer`: the gazetteer built from packaged data plus a curated file, checked against the
packaged data, resolved by the rulebook, and areas framed by flyTo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from train.dataset.gazetteer import FORMAT, box_contains, build_gazetteer, write_gazetteer
from webslm.domain import load_domain
from webslm.errors import WebslmError
from webslm.rulebook import resolve_in

REPO = Path(__file__).resolve().parents[1]
PLACES = [
    {"name": "Grand Canyon", "kind": "canyon", "country": "US", "lon": -112.1129, "lat": 36.1069,
     "bbox": [-113.9, 35.7, -111.6, 36.6], "aliases": ["Grand Canyon National Park"]},
    {"name": "Eiffel Tower", "kind": "building", "country": "FR", "lon": 2.2945, "lat": 48.8584, "near": "Paris, FR"},
    {"name": "Georgia", "kind": "state", "country": "US", "lon": -83.4, "lat": 32.7,
     "bbox": [-85.6, 30.36, -80.84, 35.0]},
    {"name": "Mount Fuji", "kind": "volcano", "country": "JP", "lon": 138.7274, "lat": 35.3606,
     "aliases": ["Fuji", "Mt Fuji"]},
    {"name": "Washington", "kind": "state", "country": "US", "lon": -120.5, "lat": 47.4,
     "bbox": [-124.8, 45.5, -116.9, 49.0]},
    {"name": "Fiji Sea", "kind": "sea", "country": "", "lon": 179.5, "lat": -18.0, "bbox": [177.0, -20.0, -178.0, -16.0]},
]


def curated(tmp_path: Path, places=None, **extra) -> Path:
    data = {"format": "webslm-curated-places/1", "provenance": "test", "places": PLACES if places is None else places,
            "known_as": [{"place": "New York City, US", "names": ["New York", "Big Apple"]}],
            "corrections": [{"place": "Antarctica", "bbox": [-180, -90, 180, -60], "lat": -82.0, "lon": 0.0,
                             "why": "GeoNames' box is Kerguelen's"}], **extra}
    path = tmp_path / "curated.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gaz")
    out = tmp / "gazetteer.json"
    data, shadowed = write_gazetteer(curated(tmp), out)
    return data, shadowed, out


def _where(place):
    return (place.name, place.kind, place.country) if place else None


def test_names_resolve_by_prominence_with_known_as_and_qualifiers(built):
    _, _, out = built
    names = ["the Grand Canyon", "Grand Canyon National Park", "Eiffel Tower", "Fuji", "mt fuji", "France",
             "Georgia", "Georgia, US", "Washington", "New York", "big apple", "Paris", "Antarctica", "Europe",
             "Xanadu", "the"]
    got = [_where(p) for p in resolve_in(out, names)]
    assert got == [
        ("Grand Canyon", "canyon", "US"), ("Grand Canyon", "canyon", "US"), ("Eiffel Tower", "building", "FR"),
        ("Mount Fuji", "volcano", "JP"),  # the mountain (curated), not the city of 250,000
        ("Mount Fuji", "volcano", "JP"), ("France", "country", "FR"),
        ("Georgia", "country", "GE"), ("Georgia", "state", "US"),  # the country, unless qualified
        ("Washington", "city", "US"),  # the capital (689,000) outranks the state
        ("New York City", "city", "US"), ("New York City", "city", "US"), ("Paris", "city", "FR"),
        ("Antarctica", "continent", ""), ("Europe", "continent", ""), None, None]


def test_checked_against_packaged_data(built):
    data, shadowed, _ = built
    assert data["format"] == FORMAT
    by = {(p["name"], p["kind"]): p for p in data["places"]}
    # a country is framed by its home part: the United States without Alaska, France without French Guiana
    us, fr, no = by[("United States", "country")], by[("France", "country")], by[("Norway", "country")]
    assert us["bbox"][0] > -126 and us["bbox"][3] < 50 and fr["bbox"][0] > -6 and fr["bbox"][1] > 41
    for country in (us, fr, no):
        assert box_contains(country["bbox"], country["lon"], country["lat"])
    assert no["lon"] < 12  # Norway's point is its people's (Oslo, Bergen), not the centre of its box (in Sweden)
    assert by[("Antarctica", "continent")]["bbox"] == [-180, -90, 180, -60]  # the correction was applied
    assert ("Antarctica", "country") not in by  # once, as the continent
    tower = by[("Eiffel Tower", "building")]
    assert box_contains(tower["bbox"], tower["lon"], tower["lat"]) and tower["bbox"][2] - tower["bbox"][0] < 0.02
    assert any("'Georgia' (state Georgia, US) resolves to country Georgia, GE" in s for s in shadowed)
    kinds = [p["kind"] for p in data["places"]]
    assert kinds.index("continent") < kinds.index("country") < kinds.index("city")
    assert sum(k == "city" for k in kinds) > 6000


def test_an_area_is_framed_and_a_point_is_not(built, tmp_path):
    """flyTo's height carries "x-frame": naming an area without a height puts the camera above its box's centre,
    high enough to show it all; a city keeps the default height; a written height wins."""
    _, _, out = built
    pack = tmp_path / "pack"
    (pack / "tools").mkdir(parents=True)
    for tool in ("flyTo", "addPoint"):
        (pack / "tools" / f"{tool}.json").write_text((REPO / "domains/cesium/tools" / f"{tool}.json").read_text())
    (pack / "system_prompt.txt").write_text("globe")
    (pack / "gazetteer.json").write_text(out.read_text())
    (pack / "domain.json").write_text(json.dumps({"name": "framing", "system_prompt_file": "system_prompt.txt",
                                                  "gazetteer": {"file": "gazetteer.json"}}))
    rules = load_domain(pack).rules
    fly = lambda place, **a: {"tool": "flyTo", "arguments": {"place": place, **a}}  # noqa: E731
    country = next(p for p in json.loads(out.read_text())["places"] if (p["name"], p["kind"]) == ("France", "country"))
    france, _ = rules.ground(fly("France"))
    box = country["bbox"]
    assert france["arguments"]["longitude"] == pytest.approx((box[0] + box[2]) / 2, abs=1e-4)
    assert 1.2e6 < france["arguments"]["height"] < 3e6  # ~1,000 km of France, top to bottom
    tower, _ = rules.ground(fly("the Eiffel Tower"))
    assert 500 < tower["arguments"]["height"] < 3000
    across, _ = rules.ground(fly("Fiji Sea"))  # a box across the antimeridian: centre near 180, not near 0
    assert abs(abs(across["arguments"]["longitude"]) - 179.5) < 1 and across["arguments"]["height"] < 2e6
    paris, _ = rules.ground(fly("Paris"))
    assert "height" not in paris["arguments"]
    low, _ = rules.ground(fly("France", height=5000))
    assert low["arguments"]["height"] == 5000
    pin, _ = rules.ground({"tool": "addPoint", "arguments": {"place": "France"}})  # a pin goes on its point
    assert (pin["arguments"]["longitude"], pin["arguments"]["latitude"]) == (country["lon"], country["lat"])


@pytest.mark.parametrize("change, message", [
    ({"lon": 200}, "'lon' must be a number in [-180, 180], got 200"),
    ({"kind": "castle"}, "kind 'castle' is not one of"),
    ({"bbox": [-111, 35.7, -110, 36.6]}, "is outside its bbox"),
    ({"near": "Paris, FR"}, "from Paris, FR, more than 60 km: check its coordinates"),
    ({"near": "Atlantis, XX"}, "near 'Atlantis, XX' is not a city in the gazetteer"),
    ({"aliases": "Grand"}, "'aliases' must be a list of names"),
])
def test_bad_curated_entries_are_named(tmp_path, change, message):
    path = curated(tmp_path, [{**PLACES[0], **change}])
    with pytest.raises(WebslmError) as err:
        build_gazetteer(path)
    assert message in str(err.value) and str(path) in str(err.value) and "Grand Canyon" in str(err.value)


def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "webslm.cli", "data", "gazetteer", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_replaces_only_its_own_output(tmp_path):
    source = curated(tmp_path)
    other = tmp_path / "notes.json"
    other.write_text('{"mine": true}')
    result = _cli("--curated", str(source), "--out", str(other))
    assert result.returncode != 0 and "the file exists; nothing was written" in result.stderr
    assert other.read_text() == '{"mine": true}'
    out = tmp_path / "g.json"
    first = _cli("--curated", str(source), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "places to" in first.stdout and "note: 'Georgia' (state Georgia, US)" in first.stdout
    again = _cli("--curated", str(source), "--out", str(out))  # a gazetteer: ours to replace
    assert again.returncode == 0, again.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_committed_gazetteer_is_what_the_builder_writes(tmp_path):
    """domains/cesium/gazetteer.json is the builder's output for the committed curated file (rebuild it with
    `webslm data gazetteer` after editing domains/cesium/curated_places.json)."""
    out = tmp_path / "g.json"
    write_gazetteer(REPO / "domains/cesium/curated_places.json", out)
    assert out.read_bytes() == (REPO / "domains/cesium/gazetteer.json").read_bytes()
