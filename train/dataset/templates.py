"""A domain's phrase templates (templates.json, format webslm-templates/1): loading with its checks, and the
sentence-pattern syntax ({slot}, [optional], (a|b)) parsed into nodes the generator expands."""

from __future__ import annotations

from webslm.domain import Domain
from webslm.errors import WebslmError
from webslm.strict_json import read_json_object


TEMPLATES_FORMAT = "webslm-templates/1"




def load_templates(domain: Domain) -> dict:
    path = domain.templates_path
    if path is None or not path.is_file():
        raise WebslmError(f"domain {domain.name!r} has no phrase templates (domain.json 'templates_file' -> {path})")
    spec = read_json_object(path)
    if spec.get("format") != TEMPLATES_FORMAT:
        raise WebslmError(f"{path}: 'format' must be {TEMPLATES_FORMAT!r}")
    both = sorted(set(spec.get("phrases", {})) & set(spec.get("slots", {})))
    if both:
        raise WebslmError(f"{path}: {both} named both as a phrase list and as a slot; rename one")
    ids = [t["id"] for t in spec["templates"]]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise WebslmError(f"{path}: duplicate template ids {duplicates}")
    for t in spec["templates"]:
        if t["tool"] not in domain.tools:
            raise WebslmError(f"{path}: template {t['id']!r} names unknown tool {t['tool']!r}")
    return spec



def parse_pattern(text: str) -> list:
    """'fly to {where}[ at {height}]' -> nested nodes: str | ("ref", name) | ("opt", nodes) | ("alt", [nodes])."""
    nodes, pos = _parse_seq(text, 0, "")
    if pos != len(text):
        raise WebslmError(f"template pattern {text!r}: unbalanced bracket at column {pos + 1}")
    return nodes



def _parse_seq(text: str, pos: int, stop: str) -> tuple[list, int]:
    nodes, buf = [], ""
    while pos < len(text):
        c = text[pos]
        if c in stop:
            break
        if c == "{":
            end = text.index("}", pos)
            if buf:
                nodes.append(buf)
                buf = ""
            nodes.append(("ref", text[pos + 1:end]))
            pos = end + 1
        elif c == "[":
            if buf:
                nodes.append(buf)
                buf = ""
            inner, pos = _parse_seq(text, pos + 1, "]")
            nodes.append(("opt", inner))
            pos += 1
        elif c == "(":
            if buf:
                nodes.append(buf)
                buf = ""
            options = []
            while True:
                inner, pos = _parse_seq(text, pos + 1, "|)")
                options.append(inner)
                if pos >= len(text) or text[pos] == ")":
                    break
            nodes.append(("alt", options))
            pos += 1
        else:
            buf += c
            pos += 1
    if buf:
        nodes.append(buf)
    return nodes, pos
