"""Synthetic instruction -> tool-call records from a domain's phrase templates (a data file, see templates.json).

The engine knows nothing about globes: a template is a sentence pattern for one tool, with

  {name}      a phrase list (one entry is picked and expanded in turn) or a slot (a value generator),
  [ ... ]     an optional part (kept with probability settings.optional_rate),
  (a|b|c)     an inline choice,

and `args` says which slot fills which argument ("*" spreads an object slot, such as a location, into the
arguments). Optional parts that are dropped take their arguments with them, so optional arguments come out both
present and absent. Slot kinds (choice, number, quantity, vector, color, label, place, coordinates, location,
locations, datetime) are described in `SLOT_KINDS` below; their settings are data. Any slot may say
"like": OTHER (take OTHER's settings, overriding some) and "distinct_from": [SLOTS] (draw again while its value
equals one of theirs, e.g. the two operands of a boolean).

Text a slot produces (place names, numbers, colors) is never touched by the typo and casing noise, because the
output copies it exactly. Quantities with a unit are copied too ("15 miles"): grounding converts them, not the model.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from train.dataset.places import PlacePicker
from train.dataset.templates import load_templates, parse_pattern
from webslm.domain import Domain
from webslm.errors import WebslmError
from webslm.rulebook import RuleError, constant, parse_when

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


@dataclass
class Piece:
    text: str
    protected: bool  # slot text: copied into the output, so no typos or case changes


@dataclass(frozen=True)
class Quantity:
    """A number as the sentence wrote it, with its unit as written (" feet", "km", "" for a bare number)."""

    number: float
    text: str
    unit: str

    def scaled(self, factor: float) -> "Quantity":
        """The argument a sentence implies (half a diameter, minus a downward move), in the same unit."""
        if factor == 1:
            return self
        number = _number(self.number * factor)
        return Quantity(number, str(number), self.unit)

    def emitted(self):
        """What the model writes: the quantity string ("16,000 feet"), or the number when no unit was written."""
        return self.text + self.unit if self.unit.strip() else _number(self.number)


@dataclass(frozen=True)
class When:
    """A date as the sentence wrote it ("noon on May 4 1999") and the instant it means (ISO 8601): the answer copies
    the text, so grounding must read it as that instant."""

    text: str
    iso: str

    def __post_init__(self):
        try:
            read = parse_when(self.text)
        except RuleError as e:
            raise WebslmError(f"a datetime slot format wrote a date grounding cannot read: {e}") from None
        if read != self.iso:
            raise WebslmError(f"a datetime slot format wrote {self.text!r} for {self.iso}, which reads as {read}")


def _emitted(value):
    if isinstance(value, Quantity):
        return value.emitted()
    if isinstance(value, When):  # copied as written; grounding reads it (webslm.dates)
        return value.text
    if isinstance(value, dict):
        return {k: _emitted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_emitted(v) for v in value]
    return value


@dataclass
class Expansion:
    pieces: list[Piece] = field(default_factory=list)
    values: dict = field(default_factory=dict)  # slot name -> value
    places: list[str] = field(default_factory=list)  # canonical "Name, CC" of every place used


# ---------------------------------------------------------------------------------------------------- generator


class RecordGenerator:
    def __init__(self, domain: Domain, spec: dict, seed: int):
        self.domain = domain
        self.spec = spec
        self.settings = spec.get("settings", {})
        self.rng = random.Random(seed)
        self.phrases = {k: [parse_pattern(v) for v in vs] for k, vs in spec.get("phrases", {}).items()}
        self.slots = spec.get("slots", {})
        self.templates = [dict(t, patterns=[parse_pattern(p) for p in _as_list(t["text"])])
                          for t in spec["templates"]]
        self.template_weights = [t.get("weight", 1.0) for t in self.templates]
        self._pattern_cache: dict[str, list] = {}
        self.places = PlacePicker(domain, spec.get("places", {}), self.rng) if "places" in spec else None

    def generate(self, template: dict | None = None) -> dict:
        t = template or self.rng.choices(self.templates, weights=self.template_weights)[0]
        exp = Expansion()
        self._expand(self.rng.choice(t["patterns"]), exp)
        arguments = {}
        for arg, source in t.get("args", {}).items():
            value = self._arg_value(source, exp)
            if value is None:
                continue
            if arg == "*":
                arguments.update(value)
            else:
                arguments[arg] = value
        arguments = _emitted(arguments)
        order = list(self.domain.tools[t["tool"]].parameters.get("properties", {}))
        arguments = dict(sorted(arguments.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1))
        instruction = self._finish(exp.pieces)
        output = json.dumps({"tool": t["tool"], "arguments": arguments}, ensure_ascii=False)
        return {"instruction": instruction, "output": output,
                "meta": {"template": t["id"], "places": exp.places}}

    def _arg_value(self, source, exp: Expansion):
        if isinstance(source, list):  # the first of these slots that the sentence used
            return next((v for v in (self._arg_value(s, exp) for s in source) if v is not None), None)
        if isinstance(source, dict):
            if "const" in source:
                needs = source.get("when")
                return source["const"] if needs is None or needs in exp.values else None
            value = exp.values.get(source["slot"])
            if value is None:
                return None
            scale = source.get("scale", 1)
            return value.scaled(scale) if isinstance(value, Quantity) else _number(value * scale)
        return exp.values.get(source)

    # expansion ---------------------------------------------------------------------------------------------

    def _expand(self, nodes: list, exp: Expansion) -> None:
        for node in nodes:
            if isinstance(node, str):
                exp.pieces.append(Piece(node, False))
            elif node[0] == "opt":
                if self.rng.random() < self.settings.get("optional_rate", 0.5):
                    self._expand(node[1], exp)
            elif node[0] == "alt":
                self._expand(self.rng.choice(node[1]), exp)
            else:
                self._expand_ref(node[1], exp)

    def _expand_ref(self, name: str, exp: Expansion) -> None:
        if name in self.phrases:
            self._expand(self.rng.choice(self.phrases[name]), exp)
        elif name in self.slots:
            if name in exp.values:
                raise WebslmError(f"templates: slot {{{name}}} used twice in one sentence")
            slot = self._resolve_like(name)
            others = [exp.values[o] for o in slot.get("distinct_from", []) if o in exp.values]
            text, value = self._fill_slot(slot, exp)
            for _ in range(50):
                if value not in others:
                    break
                text, value = self._fill_slot(slot, exp)
            else:
                raise WebslmError(f"templates: slot {{{name}}} cannot draw a value distinct from {slot['distinct_from']}")
            exp.values[name] = value
            exp.pieces.append(Piece(text, True))
        else:
            raise WebslmError(f"templates: {{{name}}} is neither a phrase list nor a slot")

    def _resolve_like(self, name: str) -> dict:
        slot, seen = self.slots[name], [name]
        while "like" in slot:
            base = slot["like"]
            if base not in self.slots or base in seen:
                raise WebslmError(f"templates: slot {{{seen[-1]}}} is 'like' {base!r}, which is "
                                  + ("not a slot" if base not in self.slots else "a cycle"))
            seen.append(base)
            slot = {**self.slots[base], **{k: v for k, v in slot.items() if k != "like"}}
        return slot

    def _fill_slot(self, slot: dict, exp: Expansion) -> tuple[str, object]:
        kind = slot["kind"]
        if kind not in SLOT_KINDS:
            raise WebslmError(f"templates: unknown slot kind {kind!r}; known: {sorted(SLOT_KINDS)}")
        return SLOT_KINDS[kind](self, slot, exp)

    # noise ---------------------------------------------------------------------------------------------------

    def _finish(self, pieces: list[Piece]) -> str:
        s, rng = self.settings, self.rng
        pieces = [Piece(p.text, p.protected) for p in pieces if p.text]
        if rng.random() < s.get("typo_rate", 0.0):
            _inject_typo(pieces, rng)
        style = rng.random()
        if style < s.get("lowercase_rate", 0.0):
            pieces = [p if p.protected else Piece(p.text.lower(), False) for p in pieces]
        elif pieces and not pieces[0].protected and style < s.get("lowercase_rate", 0.0) + s.get("capitalize_rate", 0.0):
            pieces[0] = Piece(pieces[0].text[:1].upper() + pieces[0].text[1:], False)
        text = "".join(p.text for p in pieces)
        endings = s.get("endings", {"": 1})
        text = re.sub(r"\s+", " ", text).strip() + rng.choices(list(endings), weights=list(endings.values()))[0]
        return text


def _inject_typo(pieces: list[Piece], rng: random.Random) -> None:
    words = [(i, m) for i, p in enumerate(pieces) if not p.protected
             for m in re.finditer(r"[A-Za-z]{4,}", p.text)]
    if not words:
        return
    i, m = rng.choice(words)
    w = m.group()
    k = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        typo = w[:k] + w[k + 1] + w[k] + w[k + 2:]  # swap two letters
    elif kind == 1:
        typo = w[:k] + w[k + 1:]  # drop one
    else:
        typo = w[:k] + w[k] + w[k:]  # double one
    text = pieces[i].text
    pieces[i] = Piece(text[:m.start()] + typo + text[m.end():], False)


def _as_list(x):
    return x if isinstance(x, list) else [x]


def _number(x: float):
    """A JSON number as a person would write it: 5000 not 5000.0, 4876.8 not 4876.800000001."""
    x = round(float(x), 6)
    return int(x) if x == int(x) else x


def _format_number(rng: random.Random, value: float, decimals: int, spec: dict) -> str:
    text = f"{value:.{decimals}f}"
    if decimals == 0 and abs(value) >= 1000 and rng.random() < spec.get("thousands_rate", 0.3):
        text = f"{int(value):,}"
    return text


def _draw(rng: random.Random, spec: dict) -> tuple[float, int]:
    """A number in [min, max], log-uniform when spec.log, rounded to one of spec.decimals (a 'nice' number)."""
    lo, hi = spec["min"], spec["max"]
    if spec.get("log"):
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        v = rng.uniform(lo, hi)
    decimals = rng.choice(spec.get("decimals", [0]))
    if decimals == 0 and spec.get("round_to"):
        step = rng.choice(spec["round_to"])
        v = max(step, round(v / step) * step)
    v = min(max(round(v, decimals), lo), hi)
    while round(v, decimals) != v:  # clamped to a bound with more decimals (0.1 drawn with 0): write them out
        decimals += 1
    return v, decimals


# ---------------------------------------------------------------------------------------------------- slot kinds


def slot_choice(gen: RecordGenerator, slot: dict, exp: Expansion):
    """options: {"text": value} or ["text", ...] (text is the value); or options_from: "TOOL.FIELD", the field's
    cue words that say a value ("x-cues": {"huge": 40}), so the data says what the contract's vocabulary says."""
    options = slot["options"] if "options_from" not in slot else _cue_options(gen.domain, slot["options_from"])
    if isinstance(options, list):
        text = gen.rng.choice(options)
        return text, text
    text = gen.rng.choice(list(options))
    return text, options[text]


def _cue_options(domain: Domain, field: str) -> dict:
    tool, _, name = field.partition(".")
    field_schema = domain.tools[tool].parameters.get("properties", {}).get(name, {}) if tool in domain.tools else {}
    cues_key = constant("emission", "CUES_KEY")
    cues = field_schema.get(cues_key)
    if not isinstance(cues, dict):
        raise WebslmError(f"options_from {field!r}: no {cues_key} object at the tool schema's properties.{name}")
    return {word: value for word, value in cues.items() if value is not None}  # "times" says no value


def slot_number(gen: RecordGenerator, slot: dict, exp: Expansion):
    """min, max, decimals: [0, 1], log: bool, round_to: [steps]; the text is the number as written."""
    value, decimals = _draw(gen.rng, slot)
    return _format_number(gen.rng, value, decimals, slot), _number(value)


def slot_quantity(gen: RecordGenerator, slot: dict, exp: Expansion):
    """units: {unit: {"names": [" km", "km", ...], "min", "max", ...}}; the value is a Quantity ('16,000 feet'),
    which grounding converts to the unit the tool schema names ("x-unit")."""
    unit_name = gen.rng.choices(list(slot["units"]), weights=[u.get("weight", 1) for u in slot["units"].values()])[0]
    unit = slot["units"][unit_name]
    number, decimals = _draw(gen.rng, {**slot, **unit})
    quantity = Quantity(_number(number), _format_number(gen.rng, number, decimals, unit), gen.rng.choice(unit["names"]))
    return quantity.text + quantity.unit, quantity


def slot_vector(gen: RecordGenerator, slot: dict, exp: Expansion):
    """Several numbers in one unit, e.g. '20 x 30 x 10 mm' or '(10, 0, -5)': keys: ["x", "y", "z"] name the
    value's entries (each a Quantity in the unit written, e.g. "20 mm"); notations: ["({0}, {1}, {2}){unit}", ...];
    units as in quantity (one drawn for all numbers; {unit} is one of its names); min/max bound each number's size,
    negative_rate and zero_rate its sign."""
    rng = gen.rng
    unit = slot["units"][rng.choices(list(slot["units"]), weights=[u.get("weight", 1) for u in slot["units"].values()])[0]]
    spec = {**slot, **unit}
    unit_text = rng.choice(unit["names"])
    texts, value = [], {}
    for key in slot["keys"]:
        if rng.random() < spec.get("zero_rate", 0.0):
            number, decimals = 0, 0
        else:
            number, decimals = _draw(rng, spec)
            number = -number if rng.random() < spec.get("negative_rate", 0.0) else number
        texts.append(_format_number(rng, number, decimals, spec))
        value[key] = Quantity(_number(number), texts[-1], unit_text)
    text = rng.choice(slot["notations"]).format(*texts, unit=unit_text)
    return text, value


def slot_color(gen: RecordGenerator, slot: dict, exp: Expansion):
    """names: {"dark green": "darkgreen"}, hex_rate: share written as #RRGGBB (value copied as written)."""
    if gen.rng.random() < slot.get("hex_rate", 0.2):
        text = "#" + "".join(gen.rng.choice("0123456789abcdef") for _ in range(6))
        text = text.upper() if gen.rng.random() < 0.5 else text
        return text, text
    return slot_choice(gen, {"options": slot["names"]}, exp)


def slot_label(gen: RecordGenerator, slot: dict, exp: Expansion):
    """options: ["Home", ...]; quotes: ['"', "'"] wrap the text sometimes; the value is the bare label."""
    label = gen.rng.choice(slot["options"])
    if gen.rng.random() < slot.get("quote_rate", 0.3):
        q = gen.rng.choice(slot.get("quotes", ['"', "'"]))
        return f"{q}{label}{q}", label
    return label, label


def slot_place(gen: RecordGenerator, slot: dict, exp: Expansion):
    text, canonical = gen.places.pick(slot)
    while slot.get("no_comma") and "," in text:  # "Bangkok, Thailand, Chandler" cannot be read as a list
        text, canonical = gen.places.pick(slot)
    exp.places.append(canonical)
    return text, {"place": text}


def slot_coordinates(gen: RecordGenerator, slot: dict, exp: Expansion):
    """notations: ["{lat_abs}{ns} {lon_abs}{ew}", "lat {lat} lon {lon}", "({lon}, {lat})", ...]"""
    rng = gen.rng
    decimals = rng.choice(slot.get("decimals", [1, 2, 3, 4]))
    lat = round(rng.uniform(-85, 85), decimals)
    lon = round(rng.uniform(-180, 180), decimals)
    if gen.places and rng.random() < slot.get("near_place_rate", 0.5):
        place = gen.places.random_place()  # coordinates of real cities look like what people type
        lat, lon = round(place.latitude, decimals), round(place.longitude, decimals)
    fmt = lambda v: f"{v:.{decimals}f}"  # noqa: E731
    text = rng.choice(slot["notations"]).format(
        lat=fmt(lat), lon=fmt(lon), lat_abs=fmt(abs(lat)), lon_abs=fmt(abs(lon)),
        ns="N" if lat >= 0 else "S", ew="E" if lon >= 0 else "W",
        ns_word="north" if lat >= 0 else "south", ew_word="east" if lon >= 0 else "west")
    return text, {"longitude": _number(lon), "latitude": _number(lat)}


def slot_location(gen: RecordGenerator, slot: dict, exp: Expansion):
    """A place (most of the time) or explicit coordinates: coordinates_rate, place: {...}, coordinates: {...}."""
    if gen.rng.random() < slot.get("coordinates_rate", 0.2):
        return slot_coordinates(gen, gen.slots[slot["coordinates"]], exp)
    place_slot = gen.slots[slot["place"]] if "place" in slot else {}
    return slot_place(gen, {**place_slot, "no_comma": slot.get("no_comma", False)}, exp)


def slot_locations(gen: RecordGenerator, slot: dict, exp: Expansion):
    """min..max locations joined as a list: item (a location slot name), joiners: [[", ", " and "], ...]."""
    n = gen.rng.randint(slot["min"], slot["max"])
    item = gen.slots[slot["item"]]
    as_coordinates = gen.rng.random() < item.get("coordinates_rate", 0.2)
    texts, values = [], []
    for _ in range(n):
        one = dict(item, coordinates_rate=1.0 if as_coordinates else 0.0, no_comma=True)
        text, value = slot_location(gen, one, exp)
        if not as_coordinates and text.lower() in (t.lower() for t in texts):
            exp.places.pop()  # a route through the same place twice reads oddly: draw that one again
            text, value = slot_location(gen, one, exp)
        texts.append(text)
        values.append(value)
    sep, last = gen.rng.choice(slot["joiners"])
    return sep.join(texts[:-1]) + last + texts[-1], values


def _degrees(rng: random.Random, v: float, axis: str, hemisphere_rate: float) -> str:
    """A coordinate as people write it: signed ("-20"), or with its hemisphere letter ("20W")."""
    if v != 0 and rng.random() < hemisphere_rate:
        return f"{abs(v):g}" + ("NS" if axis == "lat" else "EW")[0 if v > 0 else 1]
    return f"{v:g}"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def slot_coordinate_box(gen: RecordGenerator, slot: dict, exp: Expansion):
    """A box given as longitude and latitude ranges: notations: ["longitude {w} to {e}, latitude {s} to {n}", ...]
    (either range may come first); the value is its four corners, west-south first, counter-clockwise (the
    rulebook's coordinatesDescribed reads them the same way)."""
    rng = gen.rng
    w = rng.randrange(-180, 170)
    e = min(180, w + rng.choice([1, 2, 5, 10, 15, 20, 30]))
    s_ = rng.randrange(-80, 75)
    n = min(85, s_ + rng.choice([1, 2, 5, 10, 15, 20]))
    rate = slot.get("hemisphere_rate", 0.3)
    text = rng.choice(slot["notations"]).format(w=_degrees(rng, w, "lon", rate), e=_degrees(rng, e, "lon", rate),
                                                s=_degrees(rng, s_, "lat", rate), n=_degrees(rng, n, "lat", rate))
    corners = [(w, s_), (e, s_), (e, n), (w, n)]
    return text, [{"longitude": _number(lon), "latitude": _number(lat)} for lon, lat in corners]


def slot_line_along(gen: RecordGenerator, slot: dict, exp: Expansion):
    """A line along a parallel or a meridian between two values of the other coordinate: parallels / meridians:
    {"the equator": 0, "latitude {v}": null, "the {ord} parallel": null, ...} (null: a value drawn and written as
    {v}, or {ord} "49th"), spans_lon / spans_lat: ["from {a} to {b}", ...]; the value is the line's two ends."""
    rng = gen.rng
    rate = slot.get("hemisphere_rate", 0.3)
    along_lat = rng.random() < slot.get("parallel_rate", 0.6)
    names = slot["parallels"] if along_lat else slot["meridians"]
    name = rng.choice(list(names))
    fixed = names[name]
    if fixed is None:
        fixed = rng.randrange(-70, 71) if along_lat else rng.randrange(-179, 180)
        if "{ord}" in name:  # "the 49th parallel" is north of the equator
            fixed = abs(fixed) or 1
    a = rng.randrange(-180, 170) if along_lat else rng.randrange(-80, 70)
    b = min(180 if along_lat else 85, a + rng.choice([5, 10, 20, 30, 45, 60, 90]))
    if rng.random() < 0.3:
        a, b = b, a
    line = name.format(v=_degrees(rng, fixed, "lat" if along_lat else "lon", rate), ord=_ordinal(int(fixed)))
    axis = "lon" if along_lat else "lat"
    span = rng.choice(slot["spans_lon" if along_lat else "spans_lat"]).format(
        a=_degrees(rng, a, axis, rate), b=_degrees(rng, b, axis, rate))
    text = f"{line} {span}"
    ends = [(a, fixed), (b, fixed)] if along_lat else [(fixed, a), (fixed, b)]
    return text, [{"longitude": _number(lon), "latitude": _number(lat)} for lon, lat in ends]


def slot_datetime(gen: RecordGenerator, slot: dict, exp: Expansion):
    """formats: patterns with {month} {mon} {day} {day_ord} {year} {mm} {dd} {h12} {ampm} {HH} {MM} and
    {noon}/{midnight}; a format without a time of day means midnight. The value is the text and its instant in
    ISO 8601 UTC ('...Z'); the answer copies the text."""
    rng = gen.rng
    fmt = rng.choice(slot["formats"])
    year = rng.randint(slot.get("min_year", 1990), slot.get("max_year", 2035))
    month = rng.randint(1, 12)
    day = rng.randint(1, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
    hour, minute = 0, 0
    if "{noon}" in fmt:
        hour = 12
    elif "{h12}" in fmt:
        hour, minute = rng.randint(0, 23), rng.choice([0, 0, 0, 15, 30, 45])
    elif "{HH}" in fmt:
        hour, minute = rng.randint(0, 23), rng.choice([0, 0, 5, 10, 15, 20, 30, 40, 45, 50])
    h12 = hour % 12 or 12
    ordinal = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    text = fmt.format(
        month=MONTHS[month - 1], mon=MONTHS[month - 1][:3], day=day, day_ord=f"{day}{ordinal}", year=year,
        mm=f"{month:02d}", dd=f"{day:02d}", HH=f"{hour:02d}", MM=f"{minute:02d}",
        h12=f"{h12}" if minute == 0 else f"{h12}:{minute:02d}", ampm="am" if hour < 12 else "pm",
        noon="noon", midnight="midnight")
    return text, When(text, f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00Z")


SLOT_KINDS = {
    "choice": slot_choice, "number": slot_number, "quantity": slot_quantity, "vector": slot_vector,
    "color": slot_color,
    "label": slot_label, "place": slot_place, "coordinates": slot_coordinates, "location": slot_location,
    "locations": slot_locations, "datetime": slot_datetime, "coordinate_box": slot_coordinate_box,
    "line_along": slot_line_along,
}


# ---------------------------------------------------------------------------------------------------- entry point


def generate_records(domain: Domain, n: int, seed: int, progress: bool = False) -> list[dict]:
    """n records, the same for the same (domain files, n, seed). Every record is checked against the contract;
    a failure is a bug in the templates and stops generation with the template's id."""
    from train.dataset.verify import BATCH, RecordChecker

    gen = RecordGenerator(domain, load_templates(domain), seed)
    checker = RecordChecker(domain)
    steps = range(n)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="generate", unit=" rec", mininterval=1.0, leave=False)
    records: list[dict] = []

    def check(batch: list[dict]) -> None:
        first = len(records) - len(batch)
        items = [(r, f"record {first + i + 1} (template {r['meta']['template']})") for i, r in enumerate(batch)]
        for (record, _), problems in zip(items, checker.check_many(items)):
            if problems:
                raise WebslmError(f"generated record fails the contract: {problems[0]}\n  {json.dumps(record)}")

    for i in steps:
        records.append(gen.generate())
        if len(records) % BATCH == 0:
            check(records[-BATCH:])
    check(records[len(records) - len(records) % BATCH:] if len(records) % BATCH else [])
    return records


def write_generated(domain: Domain, n: int, seed: int, out: Path, progress: bool = True) -> int:
    from webslm.records import write_records

    return write_records(out, generate_records(domain, n, seed, progress=progress))

