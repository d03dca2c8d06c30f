"""What a request can mean: the emission schema narrowed, per request, to arguments the request gives evidence for.

A 135M model copies rare names badly ("Chandler" came out as "Chamberlin"), writes numbers no one typed ("13.8" for
13.807, a colour or a width of 1 nobody asked for) and drops what was asked ("named Camp"). `for_request` narrows
the emission schema for one request, and constrained decoding then cannot write what the request gives no
evidence for:
- a string marked `"x-copy": true` is a run of up to 6 of the request's words; a {"place": NAME} is such a run
  that the gazetteer knows ("pin called Hotel at Fuzhou": only "Fuzhou") and that is not inside a cue phrase of
  two or more words ("show everything in Columbus view": no place);
- longitude and latitude are a coordinate pair the request writes, as a pair ("9.936N 43.183E": longitude 43.183,
  latitude 9.936; "(3.5, 12)": either order), when it writes one (webslm.locations);
- an array of locations is the request's list, whole and in order, when it writes one ("route: Lima -> Quito ->
  12N 3W": exactly those three);
- with `"x-cues": [words]` as well, a run that starts right after a cue ("called HQ", "with the label Site A"): the
  field is written exactly when the request has a cue (required then, removed otherwise); with `"x-bare": true`
  too, a request without a cue may still write it as any run of its words ("box 30x40x50 lid"), while a cue still
  makes it required ("a box ... for the lid"); a cue written with a gap ("the ... is a") gives the run in its gap
  ("the top plate is a sphere": "top plate");
- otherwise a number marked `"x-copy": true` (a typed coordinate) is a number the request writes, with the sign
  it writes ("-", or S/W after it), within the schema's minimum and maximum;
- a number (or a quantity string) marked `"x-copy": true` and `"x-cues"` is a number the request writes outside
  coordinate pairs, dates and quantities (either sign the schema allows: "rewind 50x" is -50), a value its cue
  words say, or a quantity as typed ("h 1,000m"): "7.1 pixels wide" is never 71; a cue word or a quantity with a
  unit word makes it required, and a cue worth null announces it without saying it ("60 times faster", "100x");
- a request that writes a quantity with a unit word ("ring Cairo r=10 mi") keeps only the alternatives of the
  schema's top-level anyOf (the tools) that can hold a quantity, when any can;
- a date-time marked `"x-copy": true` is the request's date as typed ("noon on May 4 1999", the longest span that
  reads as one date, webslm.dates): required when the request writes one, removed when not;
- a colour is one the request names ("dark blue" -> "darkblue", "grey" -> "gray", #hex as typed), required when
  one is named, removed when none is;
- any other number (or quantity string, "15 miles") marked `"x-cues"` is written only when the request has a digit
  or a cue word, and always when it has a cue word ("bold" for a width); cues written as {word: value} also say the
  number when the request has no digit ("huge" -> 40; "very slowly" is 20, not "slowly"'s 10);
- an `enum` marked `"x-cues"` is written only when the request has a cue; cues written as {word: value} keep only
  the values the request's cues say ("top-down map" -> "2D"); a required one left with nothing removes its tool;
- a field, a required property or an `anyOf` branch left with nothing to write removes its object in turn, and
  so does an object left with fewer properties than its minProperties or none of its anyOf `required` lists.
The browser builds the same schema (web/static/copying.js; tests/test_web_grounding.py checks both agree).
"""

from __future__ import annotations

import re

from webslm.colors import COLOR_PATTERN, CSS_COLOR_NAMES
from webslm.dates import WHEN_FORMAT, is_when
from webslm.locations import (COORDINATE_KEYS, MAX_SPAN_WORDS, SPAN_EDGES, SPAN_EDGES_BUT_APOSTROPHES, Location,
                              coordinate_pairs, listed_locations, may_name_place, overlaps)

COPY_KEY = "x-copy"
MIN_ROUTE = 3  # a list this long is a route or an area, not one place ("from Lima to Quito" may be a flight)
PLACE_COPY = "place"  # the x-copy of a {"place": NAME}: a span the gazetteer knows, when there is one
CUES_KEY = "x-cues"
BARE_KEY = "x-bare"  # on a cued copied string: it may also be written without a cue
GAP = "..."  # in a cue of a copied string, where the string is written: "the ... is a"
TYPO_CUE_LENGTH = 5
MAX_DATE_WORDS = 8  # "the 30th of June 1996 at 7:45am" is 7


def _word_runs(words: list[str], runs) -> list[str]:
    """The text of each (start, end) run of `words`, punctuation at its ends stripped (an apostrophe both ways)."""
    spans: dict[str, None] = {}
    for start, end in runs:
        words_run = " ".join(words[start:end])
        span = words_run.strip(SPAN_EDGES)
        if span:
            spans.setdefault(span)
            with_apostrophes = words_run.strip(SPAN_EDGES_BUT_APOSTROPHES)
            if with_apostrophes != span:
                spans.setdefault(with_apostrophes)
    return list(spans)


def _runs_from(starts, n_words: int, max_words: int):
    return ((start, end) for start in starts for end in range(start + 1, min(n_words, start + max_words) + 1))


def request_spans(text: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Every run of 1 to `max_words` words of `text`, in order of appearance, without repeats, with punctuation at
    its ends stripped: the names a model copying from the request can mean."""
    words = text.split()
    return _word_runs(words, _runs_from(range(len(words)), len(words), max_words))


def _is_cue_word(word: str, cue_word: str) -> bool:
    if word == cue_word:
        return True
    plural = word + "s" == cue_word or cue_word + "s" == word  # "time" is another word than "times", not a slip
    return len(cue_word) >= TYPO_CUE_LENGTH and not plural and edit_distance(word, cue_word) <= 1


_GLUED_X = re.compile(r"[0-9][0-9.,]*x|x[0-9][0-9.,]*")  # "100x", "x100": the cue "x" written onto its number


def _cue_words(text: str) -> list[str]:
    words = [w.strip(SPAN_EDGES).lower() for w in text.split()]
    return ["x" if _GLUED_X.fullmatch(w) else w for w in words]


def _matches_at(words: list[str], i: int, cue_words: list[str]) -> bool:
    return i + len(cue_words) <= len(words) and all(_is_cue_word(w, c) for w, c in zip(words[i:], cue_words))


def cue_matches(text: str, cues) -> list[tuple[int, int, str]]:
    """(first word, word after the cue, cue) for each occurrence of a cue ("called", "with the label") among the
    words of `text` (text.split()); a cue word of 5 or more letters also when typed with one slip ("titld"), and
    "x" also when written onto a number ("100x"). Cues with a gap (`gap_spans`) are left to `gap_spans`."""
    words = _cue_words(text)
    matches = []
    for cue in cues:
        cue_words = cue.lower().split()
        if GAP not in cue_words:
            matches += [(i, i + len(cue_words), cue) for i in range(len(words)) if _matches_at(words, i, cue_words)]
    return matches


def gap_spans(text: str, cues, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """The runs of 1 to `max_words` words of `text` that fill the gap of a cue written with one ("the ... is a":
    "the top plate is a sphere" gives "top plate"); the words around the gap match as in `cue_matches`."""
    words, runs = _cue_words(text), []
    for cue in cues:
        cue_words = cue.lower().split()
        if GAP in cue_words:
            before, after = cue_words[:cue_words.index(GAP)], cue_words[cue_words.index(GAP) + 1:]
            runs += [(i + len(before), end) for i in range(len(words)) if _matches_at(words, i, before)
                     for end in range(i + len(before) + 1, min(len(words), i + len(before) + max_words) + 1)
                     if _matches_at(words, end, after)]
    return _word_runs(text.split(), runs)


def cue_values(matches, cues: dict) -> list:
    """The values of the cues matched (`cue_matches`), a cue inside a longer one left out ("very slowly" is not
    "slowly"), and a cue that says no value (null: "times" announces a clock rate the request writes) left out."""
    values: dict = {}
    for start, end, cue in matches:
        if cues[cue] is not None and not any((s, e) != (start, end) and s <= start and end <= e
                                             for s, e, _ in matches):
            values.setdefault(cues[cue])
    return list(values)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions of one character each cost 1."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def spans_after_cues(text: str, matches, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """The spans of `text` that start right after a cue matched (`cue_matches`): "pin called 'Base Camp' at Lima"
    and ["called"] give "Base Camp", "Base Camp' at" (stripped to "Base Camp' at"), ..."""
    words = text.split()
    return _word_runs(words, _runs_from(sorted({end for _, end, _ in matches}), len(words), max_words))


# A number as written: "-3", "7.1", "20,700"; not one inside a name or a colour ("box1", "#2410CC"), though "x100"
# is a clock rate.
_PLAIN_NUMBER = re.compile(
    r"(?:(?<![A-Za-z0-9_.,#])|(?<=(?<![A-Za-z0-9_#])x))(?P<minus>[-\u2212])?"
    r"(?P<digits>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)(?![0-9])")


def free_numbers(text: str, taken) -> list[int | float]:
    """The numbers `text` writes outside the character ranges `taken` (a coordinate pair, a date, a quantity with
    its unit): "lon -66.1 lat 6.1 size 8" with the pair taken -> [8]."""
    out: dict = {}
    for m in _PLAIN_NUMBER.finditer(text):
        if not overlaps(m.start(), m.end(), taken):
            digits = m["digits"].replace(",", "")
            value = float(digits) if "." in digits else int(digits)
            out.setdefault(-value if m["minus"] else value)
    return list(out)


def quantities_written(text: str, pattern: str) -> list[tuple[int, int, str]]:
    """(start, end, quantity) for each quantity `text` writes that the anchored `pattern` (the emission schema's
    quantity string) reads: "ring Milan r=20km" -> [(12, 16, "20km")]."""
    core = pattern.removeprefix("^").removesuffix("$")
    return [(m.start(), m.end(), m.group())
            for m in re.finditer(r"(?<![A-Za-z0-9_.,#-])(?:" + core + r")(?![A-Za-z0-9])", text)]


def _nodes(node):
    """Every object in a schema, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _quantity_patterns(schema) -> list[str]:
    """The patterns of the quantity strings in `schema` (the string form of a number with a unit)."""
    return list(dict.fromkeys(form["pattern"] for node in _nodes(schema) if _is_numeric(node)
                              for form in node.get("anyOf", ()) if "pattern" in form))


def _cue_phrases(schema) -> list[str]:
    """The cues of two or more words in `schema` ("Columbus view", "very slowly")."""
    return list(dict.fromkeys(cue for node in _nodes(schema) if isinstance(node.get(CUES_KEY), (list, dict))
                              for cue in node[CUES_KEY] if len(cue.split()) >= 2))


def _within(span: str, phrases: list[str]) -> bool:
    """Whether `span` is a run of words of one of `phrases`."""
    run = span.split()
    return any(words[i:i + len(run)] == run for words in (p.split() for p in phrases) for i in range(len(words)))


def _measured(quantity: str) -> bool:
    """A length written with a unit word, which a call must hold somewhere: "r=10 mi", not "Zone 1'" or "Warehouse
    3 in gold"."""
    return re.search(r"[A-Za-z]$", quantity) is not None and re.search(r"(?<![A-Za-z])in$", quantity, re.I) is None


def _where(text: str, spans) -> list[tuple[int, int]]:
    """The character range of the first occurrence of each span."""
    return [(i, i + len(span)) for span in spans for i in [text.find(span)] if i >= 0]


def _in_bounds(node: dict, n) -> bool:
    return (node.get("minimum", n) <= n <= node.get("maximum", n)
            and node.get("exclusiveMinimum", n - 1) < n < node.get("exclusiveMaximum", n + 1))


_HEMISPHERE = r"(?:n|s|e|w|north|south|east|west)"
_SIGNED_NUMBER = re.compile(  # spaces only (not \s), so the page's regex reads the same
    r"(?:(?<![a-z])(?P<prefix>" + _HEMISPHERE + r") *)?(?P<minus>[-\u2212])?(?P<digits>[0-9]+(?:\.[0-9]+)?)"
    r"(?: *°)?(?: *degrees?)?(?: *(?P<suffix>" + _HEMISPHERE + r")(?![a-z]))?",
    re.IGNORECASE | re.ASCII)


def numbers_written(text: str, taken=()) -> list[int | float]:
    """The numbers `text` writes outside the character ranges `taken`, with the sign it writes: "-" or a
    hemisphere after the number (S, W, "degrees south") makes it negative, N/E positive; a hemisphere only before
    it ("S 33.9") leaves both signs. "12.5N 0.2W" -> [12.5, -0.2]."""
    out: dict = {}
    for m in _SIGNED_NUMBER.finditer(text):
        if overlaps(m.start(), m.end(), taken):
            continue
        value = float(m["digits"]) if "." in m["digits"] else int(m["digits"])
        hemisphere = (m["suffix"] or "").lower()[:1]
        if hemisphere:
            signs = [-1] if hemisphere in "sw" else [1]
        elif m["minus"]:
            signs = [-1]
        else:
            signs = [1, -1] if m["prefix"] else [1]
        for sign in signs:
            out.setdefault(sign * value)
    return list(out)


def dates_written(text: str) -> list[str]:
    """The spans of `text` that read as a date (webslm.dates) and are not part of a longer one."""
    dates = [s for s in request_spans(text, MAX_DATE_WORDS) if is_when(s)]
    return [s for s in dates if not any(s != longer and s in longer for longer in dates)]


def colors_named(request: str) -> list[str]:
    """The colours `request` names, as the emission schema writes them: CSS names written as one to three words
    ("dark blue"; "grey" read as "gray") and #RRGGBB / #RGB as typed."""
    words = re.findall(r"[a-z]+", request.lower())
    joined = {"".join(words[i:j]).replace("grey", "gray") for i in range(len(words))
              for j in range(i + 1, min(len(words), i + 3) + 1)}
    names = [name for name in CSS_COLOR_NAMES if name in joined]
    return names + [s for s in request_spans(request, 1) if _HEX.match(s)]


_HEX = re.compile(r"^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$")
_UNWRITABLE = object()


def _exactly(number):
    """One number as a range of one: xgrammar writes an enum's 66.1 as "66.099999999999994", a range as "66.1"."""
    return {"type": "number", "minimum": number, "maximum": number}


def _holds_location(node) -> bool:
    """Whether a schema node is, or holds, a place or a coordinate object (an array of them is a list)."""
    if isinstance(node, list):
        return any(_holds_location(item) for item in node)
    if not isinstance(node, dict):
        return False
    return node.get(COPY_KEY) == PLACE_COPY or _is_coordinate_object(node) or any(
        _holds_location(v) for k, v in node.items() if k != CUES_KEY)


def _is_numeric(node: dict) -> bool:
    """A number, or a number or a quantity string (a number with a unit, in the emission schema)."""
    return node.get("type") == "number" or any(form.get("type") == "number" for form in node.get("anyOf", ()))


def _is_coordinate_object(node: dict) -> bool:
    """An object whose longitude and latitude are both copied numbers."""
    properties = node.get("properties", {})
    return all(isinstance(properties.get(k), dict) and properties[k].get(COPY_KEY) is True for k in COORDINATE_KEYS)


def for_request(schema, request: str, is_place=None):
    """`schema` narrowed to what `request` can mean, by the rules in this module's docstring; `is_place(name)`
    says which names the gazetteer knows (None: no gazetteer, any span may be a place). The input is not
    modified; a schema nothing could satisfy any more is returned unchanged."""
    spans = request_spans(request)
    words = request.split()
    # a cue phrase's words are not a place: "show everything in Columbus view" names a scene mode, not Columbus
    phrases = [" ".join(words[s:e]).strip(SPAN_EDGES) for s, e, _ in cue_matches(request, _cue_phrases(schema))]
    places = [s for s in spans if (not is_place or (may_name_place(s) and is_place(s))) and not _within(s, phrases)]
    located = coordinate_pairs(request)
    pairs = [reading for loc in located for reading in loc.pairs]
    listed = listed_locations(request, is_place or (lambda name: False))
    colors = colors_named(request)
    dates = dates_written(request)
    pair_ranges = [(loc.start, loc.end) for loc in located]
    typed = {pattern: [(start, end, q) for start, end, q in quantities_written(request, pattern)
                       if not overlaps(start, end, pair_ranges)] for pattern in _quantity_patterns(schema)}
    quantities = [found for by_pattern in typed.values() for found in by_pattern]
    measured = any(_measured(q) for _, _, q in quantities)
    not_coordinates = _where(request, dates) + [(start, end) for start, end, _ in quantities]
    numbers = numbers_written(request, not_coordinates)  # typed coordinates not read as pairs
    free = free_numbers(request, pair_ranges + not_coordinates)
    digits = re.search("[0-9]", request) is not None  # evidence that the request gives a number

    def fits(node, span: str) -> bool:
        return node.get("minLength", 0) <= len(span) <= node.get("maxLength", len(span))

    def leaf(node: dict, cues, matches: list, only: Location | None):
        """(narrowed node or _UNWRITABLE, announced) for a node a rule narrows by itself; None for the others.
        `matches`: where the node's cues occur in the request; `only`: the one location a list item must be."""
        if node.get(COPY_KEY) == PLACE_COPY:
            names = [n for n in ([only.place] if only else places) if n and fits(node, n)]
            return ({"enum": names} if names else _UNWRITABLE), False
        if node.get(COPY_KEY) is True and cues is not None and _is_numeric(node):
            return copied_number(node, cues, matches)
        if node.get(COPY_KEY) is True and node.get("type") == "number":
            inside = [n for n in numbers if node.get("minimum", n) <= n <= node.get("maximum", n)]
            return ({"anyOf": [_exactly(n) for n in inside]} if inside else _UNWRITABLE), False
        if node.get(COPY_KEY) is True and node.get("format") == WHEN_FORMAT:
            return ({"enum": dates} if dates else _UNWRITABLE), bool(dates)
        if node.get(COPY_KEY) is True and cues is not None:
            cued = dict.fromkeys(spans_after_cues(request, matches) + gap_spans(request, cues))
            after_cues = [s for s in cued if fits(node, s)]
            if after_cues or not node.get(BARE_KEY):
                return ({"enum": after_cues} if after_cues else _UNWRITABLE), bool(after_cues)
        if node.get(COPY_KEY) is True and any(fits(node, s) for s in spans):
            return {"enum": [s for s in spans if fits(node, s)]}, False
        if node.get("pattern") == COLOR_PATTERN:
            return ({"enum": colors} if colors else _UNWRITABLE), bool(colors)
        if cues is not None and "enum" in node:
            plain = {k: v for k, v in node.items() if k != CUES_KEY}
            if isinstance(cues, dict):
                said = cue_values(matches, cues)
                values = [v for v in node["enum"] if v in said]
                return ({**plain, "enum": values} if values else _UNWRITABLE), bool(values)
            return (plain if matches else _UNWRITABLE), bool(matches)
        if cues is not None and not (digits or matches):
            return _UNWRITABLE, False
        if isinstance(cues, dict) and matches and not digits:
            return {"anyOf": [_exactly(v) for v in cue_values(matches, cues)]}, True
        return None

    def copied_number(node: dict, cues, matches: list):
        """A copied, cue-announced number (or number or quantity string): a number the request writes outside
        coordinate pairs, dates and quantities (either sign the schema allows: "rewind 50x" is -50), a value its
        cue words say, or a quantity as typed ("1,000m")."""
        said = cue_values(matches, cues) if isinstance(cues, dict) else []
        choices, announced = [], bool(matches)
        for form in node.get("anyOf", [node]):
            if form.get("type") == "number":
                written = [v for n in free for v in (n, -n)] + said
                choices += [_exactly(v) for v in dict.fromkeys(written) if _in_bounds(form, v)]
            elif "pattern" in form:
                written = list(dict.fromkeys(q for _, _, q in typed.get(form["pattern"], ())))
                choices += [{"enum": written}] if written else []
                announced = announced or any(_measured(q) for q in written)
        return ({"anyOf": choices} if choices else _UNWRITABLE), announced

    def as_pairs(node: dict, only: Location | None):
        """A coordinate object as one branch per (longitude, latitude) pair the request writes; None when it
        writes none (its numbers are then copied one by one)."""
        readings = only.pairs if only else pairs
        if only is None and not readings:
            return None
        if not readings:
            return _UNWRITABLE, False
        rest = {**node, "properties": {k: v for k, v in node["properties"].items() if k not in COORDINATE_KEYS},
                "required": [k for k in node.get("required", ()) if k not in COORDINATE_KEYS]}
        walked, announced = walk(rest, only)
        if walked is _UNWRITABLE:
            return _UNWRITABLE, False
        branches = [{**walked, "properties": {COORDINATE_KEYS[0]: _exactly(lon), COORDINATE_KEYS[1]: _exactly(lat),
                                              **walked["properties"]},
                     "required": [*COORDINATE_KEYS, *walked.get("required", ())]} for lon, lat in readings]
        return (branches[0] if len(branches) == 1 else {"anyOf": branches}), announced

    def as_list(node: dict):
        """An array of locations as exactly the request's list, in its order; None when the request has no
        list of a length the array allows."""
        if not (listed and node.get("minItems", 0) <= len(listed) <= node.get("maxItems", len(listed))
                and _holds_location(node.get("items"))):
            return None
        items = [walk(node["items"], loc)[0] for loc in listed]
        if any(item is _UNWRITABLE for item in items):
            return None
        rest = {k: v for k, v in node.items() if k not in ("items", "minItems", "maxItems")}
        return {**rest, "prefixItems": items, "items": False, "minItems": len(listed), "maxItems": len(listed)}, False

    def walk(node, only: Location | None = None):
        """(narrowed node or _UNWRITABLE, whether the request announces it: a cue before it, a colour named)."""
        if isinstance(node, list):
            return [walk(item, only)[0] for item in node], False
        if not isinstance(node, dict):
            return node, False
        coordinates = _is_coordinate_object(node)
        if only is None and (coordinates or node.get(COPY_KEY) == PLACE_COPY) and len(listed) >= MIN_ROUTE:
            return _UNWRITABLE, False  # one location, where the request lists several
        cues = node.get(CUES_KEY)
        matches = cue_matches(request, cues) if cues is not None else []
        narrowed = leaf(node, cues, matches, only)
        if narrowed is None and coordinates:
            narrowed = as_pairs(node, only)
        if narrowed is None and node.get("type") == "array" and only is None:
            narrowed = as_list(node)
        if narrowed is not None:
            return narrowed
        announced = bool(matches)  # a number its cue word asks for
        out = {}
        for key, value in node.items():
            if key == "anyOf":
                branches = []
                for walked in (walk(v, only)[0] for v in value):
                    if walked is not _UNWRITABLE:  # a branch that became an anyOf itself (pairs) is spliced in
                        branches += walked["anyOf"] if list(walked) == ["anyOf"] else [walked]
                if not branches:
                    return _UNWRITABLE, False
                out[key] = branches
            elif key not in ("properties", CUES_KEY):
                out[key] = walk(value, only)[0]
                if out[key] is _UNWRITABLE:  # an array's items
                    return _UNWRITABLE, False
        if "properties" in node:
            required = list(node.get("required", ()))
            out["properties"] = {}
            for name, sub in node["properties"].items():
                walked, sub_announced = walk(sub, only)
                if walked is _UNWRITABLE:
                    if name in required:
                        return _UNWRITABLE, False
                    continue
                out["properties"][name] = walked
                if sub_announced and name not in required:
                    required.append(name)
            if required:
                out["required"] = required
            # what is left must still be satisfiable: enough properties, an anyOf of `required` lists still possible
            kept = out["properties"].keys()
            if len(kept) < node.get("minProperties", 0):
                return _UNWRITABLE, False
            if "anyOf" in out:
                out["anyOf"] = [b for b in out["anyOf"] if "properties" in b or set(b.get("required", ())) <= kept]
                if not out["anyOf"]:
                    return _UNWRITABLE, False
        return out, announced

    holding = [b for b in schema.get("anyOf", ()) if _quantity_patterns(b)] if isinstance(schema, dict) else []
    asked = {**schema, "anyOf": holding} if measured and holding else schema
    narrowed = walk(asked)[0]
    return schema if narrowed is _UNWRITABLE else narrowed


def request_of(messages: list[dict]) -> str:
    """The request a chat answers: its last user message."""
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
