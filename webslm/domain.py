"""Domain packs: a folder of data (tool JSON Schemas, system prompt, phrase templates, gazetteer).

Adding a domain adds a folder under `domains/`; nothing in the trainer or the compiler changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from webslm import REPO_ROOT
from webslm.errors import Problem, WebslmError
from webslm.strict_json import read_json_object

DOMAINS_DIR = REPO_ROOT / "domains"
DEFAULT_DOMAIN = "cesium"

# Record vocabulary that dataset statistics and splits read (the rulebook's locations.js defines them; a test holds
# the two equal): an object with both coordinate keys may hold {"place": NAME} instead in what the model writes.
COORDINATE_KEYS = ("longitude", "latitude")
PLACE_KEY = "place"


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict  # JSON Schema of the arguments object


@dataclass(frozen=True, eq=False)
class Domain:
    """A loaded domain pack. What its schemas mean (the emission schema, validation, grounding) is the rulebook's
    (web/static/rules/, reached through webslm.rulebook): these methods ask it."""

    name: str
    root: Path
    title: str
    tools: dict[str, Tool]
    system_prompt: str  # what the fine-tuned model sees everywhere: short, so prefill in the browser is cheap
    base_prompt: str    # the tools spelled out, for prompting a model that was not fine-tuned (eval --compare)
    templates_path: Path | None
    gazetteer_path: Path | None
    meta: dict = field(default_factory=dict)

    @property
    def rules(self):
        """This domain's rulebook (webslm.rulebook.DomainRules), registered in the Node process on first use."""
        from webslm.rulebook import rulebook_for

        return rulebook_for(self)

    def check_call(self, call, where: str = "") -> list[Problem]:
        """Every way `call` breaks the executed-call contract {"tool": NAME, "arguments": {...}}."""
        return self.rules.check_call(call, where)

    def emission_schema(self) -> dict:
        """JSON Schema of what the model may write (web/static/rules/emission.js): the call, with {"place": NAME}
        allowed for coordinates and quantity strings for numbers with a unit. Used for constrained decoding in every
        backend (narrowed per request by `rules.narrow`) and to check model outputs before grounding."""
        return json.loads(json.dumps(self.rules.emission_schema))

    def check_emission(self, output, where: str = "") -> list[Problem]:
        """Problems of a model's output against the emission schema, reported against its tool's own branch."""
        return self.rules.check_emission(output, where)


def domain_manifest(name_or_path: str | Path = DEFAULT_DOMAIN) -> tuple[Path, dict]:
    """A domain pack's folder and its domain.json, found by name (a folder under domains/) or by path; nothing else
    is read (building the pack's gazetteer needs no rulebook)."""
    root = Path(name_or_path)
    if not root.is_dir():
        root = DOMAINS_DIR / str(name_or_path)
    manifest_path = root / "domain.json"
    if not manifest_path.is_file():
        known = sorted(p.name for p in DOMAINS_DIR.iterdir() if (p / "domain.json").is_file())
        raise WebslmError(f"no domain pack at {name_or_path!r} (looked for {manifest_path}); known domains: {known}")
    return root, read_json_object(manifest_path)


def load_domain(name_or_path: str | Path = DEFAULT_DOMAIN) -> Domain:
    """Load a domain pack by name (a folder under domains/) or by path."""
    root, meta = domain_manifest(name_or_path)
    tools: dict[str, Tool] = {}
    paths: dict[str, Path] = {}
    for path in sorted((root / meta.get("tools_dir", "tools")).glob("*.json")):
        spec = read_json_object(path)
        for key in ("name", "parameters"):
            if key not in spec:
                raise WebslmError(f"{path}: tool schema lacks '{key}'")
        if not isinstance(spec["parameters"], dict):
            raise WebslmError(f"{path}: parameters must be a JSON Schema object")
        tools[spec["name"]] = Tool(spec["name"], spec.get("description", ""), spec["parameters"])
        paths[spec["name"]] = path
    if not tools:
        raise WebslmError(f"{root}: domain pack has no tool schemas in {meta.get('tools_dir', 'tools')}/")
    gazetteer = meta.get("gazetteer", {}).get("file")
    templates = meta.get("templates_file")
    domain = Domain(
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
    _check_marks(domain, paths)
    return domain


def _check_marks(domain: Domain, paths: dict[str, Path]) -> None:
    """The rulebook compiles every tool schema (ajv, strict) and checks where its marks (x-unit, x-copy, x-cues,
    x-bare) stand; the first problem is an error naming the tool's file."""
    try:
        rules = domain.rules
    except WebslmError as e:
        if "rulebook domain:" not in str(e):
            raise
        detail = str(e).split(": ", 1)[1].splitlines()[0]
        if "gazetteer" in detail:
            raise WebslmError(f"{domain.gazetteer_path}: {detail}") from None
        raise WebslmError(f"{domain.root}: a tool schema does not compile: {detail}") from None
    for problem in rules.tool_problems:
        raise WebslmError(f"{paths[problem['tool']]}: {problem['field']} {problem['message']}")
