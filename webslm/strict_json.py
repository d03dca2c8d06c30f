"""JSON from users, read the way a browser's JSON.parse reads it, so what Python accepts the page accepts too.

Python's json module differs from JSON.parse where it matters to us: it takes NaN, Infinity and -Infinity (not
JSON; JSON.parse throws), reads 1e999 as inf (JSON.parse as Infinity; either way every minimum/maximum check passes
it), and raises RecursionError rather than a decode error on text nested ~1000 deep. Every JSON a user hands us
(dataset lines and the outputs inside them, domain packs, model and adapter configs) is read here, and every
refusal names where (file or file:line) and which field.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

from webslm.errors import Problem, WebslmError

# Arrays and objects inside each other. Tool calls, records and configs nest under 10 deep; capping it keeps every
# recursive walk downstream (grounding, statistics, json.dumps to the rulebook) far from Python's recursion limit.
MAX_DEPTH = 100


class JSONInputError(WebslmError):
    """Text a user gave us that is not JSON as a browser reads it. `reason` is the bare why, for a caller that puts
    it in its own sentence; `problem` is where, which field, and "invalid JSON: <reason>"."""

    def __init__(self, where: str, field: str, reason: str):
        self.reason = reason
        self.problem = Problem(where, field, f"invalid JSON: {reason}")
        super().__init__(str(self.problem))


class _RefusedNumber:
    """Stands in for a number JSON.parse refuses or reads as Infinity until the walk finds which field holds it."""

    def __init__(self, reason: str):
        self.reason = reason


# Whether the decode running in this thread met a refused number. The hooks touch it only when they refuse, so the
# common case costs nothing; one decoder built once (json.loads with hooks builds a new one per call, ~2x slower).
_decoding = threading.local()


def _refuse(reason: str) -> _RefusedNumber:
    _decoding.refused = True
    return _RefusedNumber(reason)


def _too_large(number: str) -> _RefusedNumber:
    shown = number if len(number) <= 24 else f"{number[:10]}...({len(number)} characters)"
    return _refuse(f"{shown} is out of range of a double (a browser's JSON.parse reads it as Infinity)")


def _parse_float(number: str):
    value = float(number)
    return _too_large(number) if math.isinf(value) else value


def _parse_int(number: str):
    # float() of a digit string is exact about overflow and has no length limit (int() refuses over 4300 digits)
    return _too_large(number) if math.isinf(float(number)) else int(number)


_DECODER = json.JSONDecoder(
    parse_constant=lambda constant: _refuse(f"{constant} is not a JSON number (JSON has no NaN or Infinity; a "
                                            "browser's JSON.parse refuses them)"),
    parse_float=_parse_float, parse_int=_parse_int)


def parse_json(text: str, where: str = "") -> object:
    """The value of `text`, or a JSONInputError naming `where`, the field and why."""
    _decoding.refused = False
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        at = f"column {e.colno}" if "\n" not in text else f"line {e.lineno} column {e.colno}"
        raise JSONInputError(where, "", f"{e.msg} at {at}") from None
    except RecursionError:
        raise JSONInputError(where, "", f"arrays/objects nested more than {MAX_DEPTH} deep") from None
    # Depth is at most the number of opening brackets, so most texts need no walk at all.
    if _decoding.refused or text.count("[") + text.count("{") > MAX_DEPTH:
        _check_tree(value, where)
    return value


def read_json_file(path: Path) -> object:
    """A user's JSON file (domain pack file, config.json, adapter_config.json) read as `parse_json` reads text;
    errors name the file. The caller checks that the file exists (and says what it should be)."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is harmless; json.loads would reject it
    except UnicodeDecodeError as e:
        raise JSONInputError(str(path), "", f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                                            "is it the right file, and whole?") from None
    return parse_json(text, str(path))


def read_json_object(path: Path) -> dict:
    """`read_json_file` for the files that must hold one object (manifests, configs, schemas)."""
    value = read_json_file(path)
    if not isinstance(value, dict):
        raise WebslmError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _check_tree(value: object, where: str) -> None:
    """The first refused number (in document order) or container nested deeper than MAX_DEPTH, as an error with its
    field path ("arguments.positions[1].latitude"). Iterative: the tree may be ~1000 deep."""
    stack = [(value, "", 1)]
    while stack:
        node, field, depth = stack.pop()
        if isinstance(node, _RefusedNumber):
            raise JSONInputError(where, field, node.reason)
        if isinstance(node, dict):
            children = [(f"{field}.{key}" if field else str(key), child) for key, child in node.items()]
        elif isinstance(node, list):
            children = [(f"{field}[{i}]", child) for i, child in enumerate(node)]
        else:
            continue
        if depth > MAX_DEPTH:  # no field: its path would be a hundred "[0]"s
            raise JSONInputError(where, "", f"arrays/objects nested more than {MAX_DEPTH} deep")
        stack.extend((child, name, depth + 1) for name, child in reversed(children))
