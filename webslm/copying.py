"""Arguments the model copies from the request: place names, labels, the names of parts.

A 135M model copies rare names badly ("Chandler" came out as "Chamberlin", "Shanghai" as "Chancellor"), so a string
whose schema says `"x-copy": true` (and every {"place": NAME}) may only be a run of the request's words: for each
request, `for_request` turns the emission schema's copy fields into an `enum` of the request's spans, and
constrained decoding can then only pick among them. The browser builds the same schema (web/static/copying.js;
tests/test_web_grounding.py checks both agree).
"""

from __future__ import annotations

COPY_KEY = "x-copy"
MAX_SPAN_WORDS = 6  # longer than any gazetteer name the generator writes ("Rio de Janeiro, Brazil" is 4)

_SPAN_EDGES = " \t\"'`.,;:!?()[]{}<>\u201c\u201d\u2018\u2019"


def request_spans(text: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Every run of 1 to `max_words` words of `text`, in order of appearance, without repeats, with punctuation at
    its ends stripped: the names a model copying from the request can mean."""
    words = text.split()
    spans: dict[str, None] = {}
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + max_words) + 1):
            span = " ".join(words[start:end]).strip(_SPAN_EDGES)
            if span:
                spans.setdefault(span)
    return list(spans)


def for_request(schema, request: str):
    """`schema` with every copy field (a string schema marked COPY_KEY) limited to the spans of `request` that fit
    its length bounds. A field no span fits keeps its schema. The input is not modified."""
    spans = request_spans(request)

    def walk(node):
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get(COPY_KEY) is True:
            fitting = [s for s in spans if node.get("minLength", 0) <= len(s) <= node.get("maxLength", len(s))]
            if fitting:
                return {"enum": fitting}
        return {k: walk(v) for k, v in node.items()}

    return walk(schema)


def request_of(messages: list[dict]) -> str:
    """The request a chat answers: its last user message."""
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
