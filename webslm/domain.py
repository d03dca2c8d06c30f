"""Domain packs: a folder of data (tool JSON Schemas, system prompt, phrase templates, gazetteer).

Adding a domain adds a folder under `domains/`; nothing in the trainer or the compiler changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import jsonschema

from webslm import REPO_ROOT
from webslm.colors import COLOR_FORMAT, COLOR_PATTERN, is_color
from webslm.copying import BARE_KEY, COPY_KEY, CUES_KEY, GAP, PLACE_COPY
from webslm.locations import COORDINATE_KEYS, PLACE_KEY
from webslm.dates import WHEN_FORMAT, is_iso_datetime, is_when
from webslm.errors import Problem, WebslmError
from webslm.quantities import LENGTH_UNITS, QUANTITY_PATTERN, UNIT_KEY

DOMAINS_DIR = REPO_ROOT / "domains"
DEFAULT_DOMAIN = "cesium"

# Objects with both COORDINATE_KEYS may carry {"place": NAME} instead in what the model emits; the resolver
# (webslm.grounding, and web/ in the browser) turns the name into numbers from the gazetteer. Likewise a number
# whose schema says "x-unit": "m" may be a quantity string ("4.4 km"), see webslm.quantities.

_format_checker = jsonschema.FormatChecker()


@_format_checker.checks("date-time")
def _is_iso8601(value) -> bool:
    return not isinstance(value, str) or is_iso_datetime(value)


@_format_checker.checks(WHEN_FORMAT)
def _is_when(value) -> bool:
    return not isinstance(value, str) or is_when(value)


@_format_checker.checks(COLOR_FORMAT)
def _is_color(value) -> bool:
    return not isinstance(value, str) or is_color(value)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict  # JSON Schema of the arguments object


@dataclass(frozen=True)
class Domain:
    name: str
    root: Path
    title: str
    tools: dict[str, Tool]
    system_prompt: str  # what the fine-tuned model sees everywhere: short, so prefill in the browser is cheap
    base_prompt: str    # the tools spelled out, for prompting a model that was not fine-tuned (eval --compare)
    templates_path: Path | None
    gazetteer_path: Path | None
    meta: dict = field(default_factory=dict)

    @cached_property
    def _validators(self) -> dict[str, jsonschema.Draft202012Validator]:
        return {
            name: jsonschema.Draft202012Validator(tool.parameters, format_checker=_format_checker)
            for name, tool in self.tools.items()
        }

    def check_call(self, call, where: str = "") -> list[Problem]:
        """Every way `call` breaks the executed-call contract {"tool": NAME, "arguments": {...}}."""
        if not isinstance(call, dict):
            return [Problem(where, "", f"a call must be a JSON object, got {type(call).__name__}")]
        problems = [Problem(where, k, "unexpected key (a call has only 'tool' and 'arguments')")
                    for k in call if k not in ("tool", "arguments")]
        tool = call.get("tool")
        if tool not in self.tools:
            known = ", ".join(self.tools)
            return problems + [Problem(where, "tool", f"unknown tool {tool!r}; known tools: {known}")]
        arguments = call.get("arguments")
        if not isinstance(arguments, dict):
            return problems + [Problem(where, "arguments", "missing or not an object")]
        for error in sorted(self._validators[tool].iter_errors(arguments), key=lambda e: list(e.absolute_path)):
            problems.append(Problem(where, _field_path(["arguments", *error.absolute_path], error), error.message))
        return problems

    @cached_property
    def is_place(self):
        """name -> whether the domain's gazetteer knows it (`webslm.copying.for_request` offers only such names
        as places); None for a domain without a gazetteer."""
        if self.gazetteer_path is None:
            return None
        from webslm.grounding import Gazetteer

        gazetteer = Gazetteer.load(self.gazetteer_path)
        return lambda name: gazetteer.resolve(name) is not None

    def emission_schema(self) -> dict:
        """JSON Schema of what the model may write: the call, with {"place": NAME} allowed for coordinates and
        quantity strings for numbers with a unit. Names to copy from the request are marked "x-copy"
        (`webslm.copying.for_request` limits them to the request's words).

        Used for constrained decoding in every backend and to check model outputs before grounding.
        """
        return {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"tool": {"const": tool.name}, "arguments": _emission_form(tool.parameters)},
                    "required": ["tool", "arguments"],
                    "additionalProperties": False,
                }
                for tool in self.tools.values()
            ]
        }

    @cached_property
    def _emission_validators(self) -> dict[str, jsonschema.Draft202012Validator]:
        return {branch["properties"]["tool"]["const"]:
                jsonschema.Draft202012Validator(branch, format_checker=_format_checker)
                for branch in self.emission_schema()["anyOf"]}

    def check_emission(self, output, where: str = "") -> list[Problem]:
        """Problems of a model's output against the emission schema, reported against its tool's own branch
        (far clearer than "not valid under any of the given schemas")."""
        validator = self._emission_validators.get(output.get("tool")) if isinstance(output, dict) else None
        if validator is None:
            return self.check_call(output, where) or [Problem(where, "", "does not match the output contract")]
        errors = [leaf for e in validator.iter_errors(output) for leaf in _meant_branch(e)]
        return [Problem(where, _field_path(list(e.absolute_path), e), _message(e))
                for e in sorted(errors, key=lambda e: list(e.absolute_path))]


def _field_path(parts, error) -> str:
    if error.validator == "required" and error.validator_value:
        missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
        if missing:
            parts = [*parts, missing[0]]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error) -> str:
    if error.validator == "pattern" and error.validator_value == COLOR_PATTERN:  # not the 900-character regex
        return f"{error.instance!r} is not a CSS color name or #RRGGBB"
    return error.message


def _meant_branch(error):
    """For the emission schema's two-way `anyOf`s (coordinates or place, number or quantity string), the errors of
    the branch the output meant to use."""
    if error.validator != "anyOf" or not error.context:
        return [error]
    if isinstance(error.instance, dict):
        branch = 1 if PLACE_KEY in error.instance else 0
    elif isinstance(error.instance, (int, float, str)) and not isinstance(error.instance, bool):
        branch = 1 if isinstance(error.instance, str) else 0
    else:
        return [error]
    chosen = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
    return [leaf for e in chosen for leaf in _meant_branch(e)] or [error]


def _emission_form(schema: dict) -> dict:
    """Copy of `schema` where every object with longitude+latitude may instead hold {"place": NAME}, every
    number with a unit may instead be a quantity string, a copied date-time is a date as typed ("when"), and a
    colour is a pattern constrained decoding can follow."""
    if not isinstance(schema, dict):
        return schema
    if schema.get("format") == COLOR_FORMAT:
        return {**{k: v for k, v in schema.items() if k != "format"}, "pattern": COLOR_PATTERN}
    if schema.get("format") == "date-time" and schema.get(COPY_KEY) is True:
        return {**schema, "format": WHEN_FORMAT}
    out = {k: _emission_form(v) if isinstance(v, dict) else v for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: _emission_form(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = _emission_form(schema["items"])
    if UNIT_KEY in schema:  # its cues announce, and its copy mark copies, the number in either form
        number = {k: v for k, v in out.items() if k not in (CUES_KEY, COPY_KEY)}
        marks = {k: schema[k] for k in (CUES_KEY, COPY_KEY) if k in schema}
        return {"anyOf": [number, {"type": "string", "pattern": QUANTITY_PATTERN}], **marks}
    props = schema.get("properties", {})
    if schema.get("type") == "object" and all(k in props for k in COORDINATE_KEYS):
        with_place = dict(out)
        with_place["properties"] = {PLACE_KEY: {"type": "string", "minLength": 1, "maxLength": 80, COPY_KEY: PLACE_COPY},
                                    **{k: v for k, v in out["properties"].items() if k not in COORDINATE_KEYS}}
        with_place["required"] = [PLACE_KEY] + [k for k in schema.get("required", []) if k not in COORDINATE_KEYS]
        return {"anyOf": [out, with_place]}
    return out


def load_domain(name_or_path: str | Path = DEFAULT_DOMAIN) -> Domain:
    """Load a domain pack by name (a folder under domains/) or by path."""
    root = Path(name_or_path)
    if not root.is_dir():
        root = DOMAINS_DIR / str(name_or_path)
    manifest_path = root / "domain.json"
    if not manifest_path.is_file():
        known = sorted(p.name for p in DOMAINS_DIR.iterdir() if (p / "domain.json").is_file())
        raise WebslmError(f"no domain pack at {name_or_path!r} (looked for {manifest_path}); known domains: {known}")
    meta = _read_json(manifest_path)
    tools: dict[str, Tool] = {}
    for path in sorted((root / meta.get("tools_dir", "tools")).glob("*.json")):
        spec = _read_json(path)
        for key in ("name", "parameters"):
            if key not in spec:
                raise WebslmError(f"{path}: tool schema lacks '{key}'")
        jsonschema.Draft202012Validator.check_schema(spec["parameters"])
        for field, node in _marked(spec["parameters"], "parameters", UNIT_KEY):
            if node[UNIT_KEY] not in LENGTH_UNITS:
                raise WebslmError(f"{path}: {field}.{UNIT_KEY} is {node[UNIT_KEY]!r}; known units: "
                                  f"{', '.join(LENGTH_UNITS)}")
        for field, node in _marked(spec["parameters"], "parameters", COPY_KEY):
            if node[COPY_KEY] is not True or node.get("type") not in ("string", "number"):
                raise WebslmError(f"{path}: {field}.{COPY_KEY} is {node[COPY_KEY]!r}; it marks a string or number "
                                  "copied from the request and can only be true on a schema of type string or number")
        for field, node in _marked(spec["parameters"], "parameters", CUES_KEY):
            if not _cues_fit(node):
                raise WebslmError(f"{path}: {field}.{CUES_KEY} is {node[CUES_KEY]!r}; it lists the words that announce a "
                                  f"number, an enum or a copied string ({COPY_KEY}): a list of non-empty strings, "
                                  "or for a number or an enum an object of words and the values they mean; a "
                                  f"copied string's cue may hold one gap {GAP!r} where the string is written")
        for field, node in _marked(spec["parameters"], "parameters", BARE_KEY):
            if node[BARE_KEY] is not True or node.get(COPY_KEY) is not True or not isinstance(node.get(CUES_KEY), list):
                raise WebslmError(f"{path}: {field}.{BARE_KEY} is {node[BARE_KEY]!r}; it can only be true, on a copied "
                                  f"string ({COPY_KEY}: true) whose {CUES_KEY} lists the words that announce it")
        tools[spec["name"]] = Tool(spec["name"], spec.get("description", ""), spec["parameters"])
    if not tools:
        raise WebslmError(f"{root}: domain pack has no tool schemas in {meta.get('tools_dir', 'tools')}/")
    gazetteer = meta.get("gazetteer", {}).get("file")
    templates = meta.get("templates_file")
    return Domain(
        name=meta.get("name", root.name),
        root=root,
        title=meta.get("title", root.name),
        tools=tools,
        system_prompt=(root / meta["system_prompt_file"]).read_text(encoding="utf-8").strip(),
        base_prompt=(root / meta.get("base_prompt_file", meta["system_prompt_file"])).read_text(encoding="utf-8").strip(),
        templates_path=root / templates if templates else None,
        gazetteer_path=root / gazetteer if gazetteer else None,
        meta=meta,
    )


def _cues_fit(node: dict) -> bool:
    """x-cues is a list of words on a number, an enum or a copied string, or {word: value} on a number (numbers, or
    null for a word that announces a number without saying it) or an enum (its values); only a copied string's cues
    may have a gap ("the ... is a"), one, next to words."""
    cues = node[CUES_KEY]
    if not isinstance(cues, (list, dict)) or not all(isinstance(c, str) and c.strip() for c in cues):
        return False
    gapped = [c.split() for c in cues if GAP in c.split()]
    if gapped and not (isinstance(cues, list) and node.get(COPY_KEY) is True and node.get("type") == "string"
                       and all(words.count(GAP) == 1 and len(words) >= 2 for words in gapped)):
        return False
    if isinstance(cues, list):
        return node.get("type") == "number" or node.get(COPY_KEY) is True or "enum" in node
    if "enum" in node:
        return all(v in node["enum"] for v in cues.values())
    return node.get("type") == "number" and all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in cues.values())


def _marked(schema, path: str, key: str):
    """(field path, schema node) for every node that holds `key` (x-unit, x-copy, x-cues, x-bare)."""
    if not isinstance(schema, dict):
        return
    if key in schema:
        yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _marked(sub, f"{path}.properties.{name}", key)
    if "items" in schema:
        yield from _marked(schema["items"], f"{path}.items", key)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise WebslmError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
