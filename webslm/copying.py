"""Arguments the model copies from the request: place names, labels, the names of parts, colours.

A 135M model copies rare names badly ("Chandler" came out as "Chamberlin", "Shanghai" as "Chancellor"), so a string
whose schema says `"x-copy": true` (and every {"place": NAME}) may only be a run of the request's words: for each
request, `for_request` turns the emission schema's copy fields into an `enum` of the request's spans, and
constrained decoding can then only pick among them. Colours likewise: only those the request names ("dark blue" ->
"darkblue", "grey" -> "gray", a #hex as written); a request that names none leaves no colour to write (the model
added unasked colours to one answer in 15). The browser builds the same schema (web/static/copying.js;
tests/test_web_grounding.py checks both agree).
"""

from __future__ import annotations

import re

from webslm.colors import COLOR_PATTERN, CSS_COLOR_NAMES

COPY_KEY = "x-copy"
MAX_SPAN_WORDS = 6  # longer than any gazetteer name the generator writes ("Rio de Janeiro, Brazil" is 4)

_SPAN_EDGES = " \t\"'`.,;:!?()[]{}<>\u201c\u201d\u2018\u2019"
# Apostrophes also start or end some names ("Ryazan\u2019", "'s-Hertogenbosch", "\u2018Ajlun"): such spans are kept
# both with and without them.
_APOSTROPHES = "'\u2018\u2019"
_SPAN_EDGES_BUT_APOSTROPHES = "".join(c for c in _SPAN_EDGES if c not in _APOSTROPHES)


def request_spans(text: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Every run of 1 to `max_words` words of `text`, in order of appearance, without repeats, with punctuation at
    its ends stripped: the names a model copying from the request can mean."""
    words = text.split()
    spans: dict[str, None] = {}
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + max_words) + 1):
            words_run = " ".join(words[start:end])
            span = words_run.strip(_SPAN_EDGES)
            if span:
                spans.setdefault(span)
                with_apostrophes = words_run.strip(_SPAN_EDGES_BUT_APOSTROPHES)
                if with_apostrophes != span:
                    spans.setdefault(with_apostrophes)
    return list(spans)


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


def for_request(schema, request: str):
    """`schema` with every copy field (a string schema marked COPY_KEY) limited to the spans of `request` that fit
    its length bounds (a field no span fits keeps its schema), and every colour to the colours the request names
    (an optional colour it names none of is removed). The input is not modified."""
    spans = request_spans(request)
    colors = colors_named(request)

    def walk(node):
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get(COPY_KEY) is True:
            fitting = [s for s in spans if node.get("minLength", 0) <= len(s) <= node.get("maxLength", len(s))]
            if fitting:
                return {"enum": fitting}
        if node.get("pattern") == COLOR_PATTERN:
            return {"enum": colors} if colors else _UNWRITABLE
        out = {}
        for key, value in node.items():
            if key != "properties":
                out[key] = walk(value)
                continue
            out[key] = {}
            for name, sub in value.items():
                walked = walk(sub)
                if walked is not _UNWRITABLE:
                    out[key][name] = walked
                elif name in node.get("required", ()):
                    out[key][name] = sub  # never make a schema unsatisfiable: keep a required colour as it was
        return out

    return walk(schema)


def request_of(messages: list[dict]) -> str:
    """The request a chat answers: its last user message."""
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
