"""Where a request says: the places and coordinate pairs it writes, in order, and the list they form.

A 135M model writing a route of six places skips one, repeats one, or cuts "Ulan Bator" to "Bator"; handed the
numbers of "9.936N 43.183E / 0.7831 degrees south, 24.6837 degrees west" it pairs them wrongly. The request already
says both: `coordinate_pairs` reads each pair with its longitude and latitude (hemisphere letters and words, "lat"/
"lon" labels; an unlabelled "(a, b)" is read both ways), `places_written` the spans a gazetteer knows, and
`listed_locations` the longest run of them joined as a list ("A, B and C", "A -> B -> C", "A; B; C", "from A to
B"). `webslm.copying.for_request` turns them into the only places, pairs and sequences the model may write.
The browser reads the same (web/static/locations.js; tests/test_web_grounding.py checks both agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An object with both coordinate keys may hold {"place": NAME} instead in what the model writes (webslm.domain).
COORDINATE_KEYS = ("longitude", "latitude")
PLACE_KEY = "place"
MAX_SPAN_WORDS = 6  # longer than any gazetteer name the generator writes ("Rio de Janeiro, Brazil" is 4)

_NUMBER = r"[-\u2212]?[0-9]+(?:\.[0-9]+)?"
# one coordinate: "12.5N", "12.5 ° N", "12.5 degrees south", "lat 12.5", "latitude=12.5", "long -3"
_COORDINATE = (
    r"(?:(?P<label{i}>lat|latitude|lon|long|lng|longitude) *[=:]? *(?P<labelled{i}>" + _NUMBER + r"))"
    r"|(?:(?P<marked{i}>" + _NUMBER + r") *°? *(?:degrees? *)?(?P<hemisphere{i}>north|south|east|west|n|s|e|w)"
    r"(?![a-z]))"
)
_PAIR = re.compile(
    r"(?<![a-z0-9.])(?:coordinates? *)?(?:" + _COORDINATE.format(i=1) + r") *,? *(?:" + _COORDINATE.format(i=2) + r")",
    re.IGNORECASE | re.ASCII)
# "(a, b)", "lon/lat (a, b)", "lat/lon a, b": no mark on the numbers; the order word says which is which
_BARE_PAIR = re.compile(
    r"(?:(?P<order>lon/lat|lat/lon|lng/lat|lat/lng) *)?\( *(?P<a>" + _NUMBER + r") *, *(?P<b>" + _NUMBER + r") *\)"
    r"|(?P<order2>lon/lat|lat/lon|lng/lat|lat/lng) *(?P<a2>" + _NUMBER + r") *, *(?P<b2>" + _NUMBER + r")",
    re.IGNORECASE | re.ASCII)

# what joins the items of a list of locations: "A, B and C", "A -> B", "A; B", "A / B", "A & B", "from A to B"
LIST_JOINERS = [",", ";", "/", "&", "->", "and", "to", "then", "or", ", and", ", then"]
_JOINER = re.compile(r"^\s*(?:" + "|".join(re.escape(j) for j in sorted(LIST_JOINERS, key=len, reverse=True))
                     + r")\s*$", re.IGNORECASE)
# a list's marks inside a span ("A -> B", "A & B") or a slash at its edge ("Donostia / San Sebastian" is one place)
_LIST_MARK = re.compile(r"(?:^|\s)(?:-+>?|&)(?:\s|$)|^/|/$")
_BREAK = re.compile(r"[,;]|" + _LIST_MARK.pattern)  # within a list, a comma or semicolon ends a name too
# what is stripped from the ends of a span of words; apostrophes also start or end some names ("Ryazan\u2019",
# "'s-Hertogenbosch", "\u2018Ajlun"), so spans are also tried with them kept
SPAN_EDGES = " \t\"'`.,;:!?()[]{}<>\u201c\u201d\u2018\u2019"
SPAN_EDGES_BUT_APOSTROPHES = "".join(c for c in SPAN_EDGES if c not in "'\u2018\u2019")


@dataclass(frozen=True)
class Location:
    """A place or a coordinate pair the request writes, at text[start:end]. `place` is the name as written;
    `pairs` the (longitude, latitude) readings of a pair (two when the order is not said)."""

    start: int
    end: int
    place: str | None = None
    pairs: tuple[tuple[float, float], ...] = ()


def overlaps(start: int, end: int, taken) -> bool:
    """Whether text[start:end] overlaps any of the (start, end) character ranges `taken`."""
    return any(s < end and start < e for s, e in taken)


def _value(text: str) -> int | float:
    text = text.replace("\u2212", "-")
    return float(text) if "." in text else int(text)


def _role(m: re.Match, i: int) -> tuple[str, int | float]:
    """('lat' or 'lon', signed value) of coordinate i of a _PAIR match."""
    if m[f"label{i}"]:
        return ("lat" if m[f"label{i}"].lower().startswith("lat") else "lon"), _value(m[f"labelled{i}"])
    hemisphere = m[f"hemisphere{i}"][0].lower()
    value = _value(m[f"marked{i}"])
    return ("lat" if hemisphere in "ns" else "lon"), (-abs(value) if hemisphere in "sw" else value)


def _fits(lon, lat) -> bool:
    return -180 <= lon <= 180 and -90 <= lat <= 90


def coordinate_pairs(text: str) -> list[Location]:
    """The coordinate pairs `text` writes, in order: "12.5N 3.2W" -> (-3.2, 12.5); "lon 3 lat 12" -> (3, 12);
    "(3, 12)" -> both (3, 12) and (12, 3) where both fit."""
    found = []
    for m in _PAIR.finditer(text):
        first, second = _role(m, 1), _role(m, 2)
        if first[0] == second[0]:
            continue
        lon, lat = (first[1], second[1]) if first[0] == "lon" else (second[1], first[1])
        if _fits(lon, lat):
            found.append(Location(m.start(), m.end(), pairs=((lon, lat),)))
    taken = [(loc.start, loc.end) for loc in found]
    for m in _BARE_PAIR.finditer(text):
        if overlaps(m.start(), m.end(), taken):
            continue
        order = (m["order"] or m["order2"] or "").lower()
        a, b = _value(m["a"] or m["a2"]), _value(m["b"] or m["b2"])
        readings = [(a, b)] if order.startswith(("lon", "lng")) else [(b, a)] if order else [(a, b), (b, a)]
        readings = tuple(dict.fromkeys(r for r in readings if _fits(*r)))  # "(5, 5)" is one reading
        if readings:
            found.append(Location(m.start(), m.end(), pairs=readings))
    return sorted(found, key=lambda loc: loc.start)


def may_name_place(span: str) -> bool:
    """Whether a span of the request can be one place's name as written: "Tsuen Wan, Hong Kong" can,
    "-> Jayapura" cannot."""
    return _LIST_MARK.search(span) is None


def places_written(text: str, is_place, taken=()) -> list[Location]:
    """The places `text` names, left to right, each the longest run of up to 6 words that `is_place` accepts, with
    no list mark inside (a comma, a semicolon, "->", "&"), outside the character ranges `taken`."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    found, i = [], 0
    while i < len(words):
        for n in range(min(MAX_SPAN_WORDS, len(words) - i), 0, -1):
            start, end = words[i][0], words[i + n - 1][1]
            raw = text[start:end]
            inner = next((s for s in (raw.strip(SPAN_EDGES_BUT_APOSTROPHES), raw.strip(SPAN_EDGES))
                          if s and not _BREAK.search(s) and is_place(s)), None)
            if inner is None:
                continue
            start += raw.index(inner)
            end = start + len(inner)
            if overlaps(start, end, taken):
                continue
            found.append(Location(start, end, place=inner))
            i += n
            break
        else:
            i += 1
    return found


def locations_written(text: str, is_place) -> list[Location]:
    """Coordinate pairs and places, in the order `text` writes them."""
    pairs = coordinate_pairs(text)
    places = places_written(text, is_place, [(p.start, p.end) for p in pairs])
    return sorted(pairs + places, key=lambda loc: loc.start)


def listed_locations(text: str, is_place) -> list[Location]:
    """The longest run of two or more locations joined as a list ("Lima, Quito and Cusco"); [] when there is none."""
    best, run = [], []
    for loc in locations_written(text, is_place):
        if run and _JOINER.match(text[run[-1].end:loc.start]):
            run.append(loc)
        else:
            run = [loc]
        if len(run) > len(best):
            best = list(run)
    return best if len(best) >= 2 else []
