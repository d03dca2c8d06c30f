"""Python's way to the rulebook: the request rules live once, in JavaScript (web/static/rules/), where the demo page
and its Web Worker run them; Python calls the same files through one long-lived `node` process.

What a user's command goes through (the emission schema and its marks, narrowing it per request, grounding places,
quantities, dates and colours, validating a call, deciding whether it executes) is therefore the same in
`data generate`/`verify`, `eval` (torch, endpoint), `serve-api`, the tests and the page. This module keeps the call
sites simple:

    rules = rulebook_for(domain)            # registers the domain's tools and gazetteer once per process
    rules.narrow(["fly to Paris", ...])     # one emission schema per request
    rules.execute([(answer, request), ...]) # one outcome per answer: {parsed, call, stage, reason, problems}

The process speaks JSON lines (webslm/rulebook_server.js), starts on first use, is restarted if it dies, and is
started anew in a forked child (a training worker). Lists go over in one message, so a batch costs one round trip.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from webslm import REPO_ROOT
from webslm.errors import Problem, WebslmError
from webslm.strict_json import read_json_object

SERVER = REPO_ROOT / "webslm" / "rulebook_server.js"
AJV_BUNDLE = REPO_ROOT / "web" / "static" / "vendor" / "ajv.js"


class RuleError(ValueError):
    """A rule refused its input (a date it cannot read, a quantity with an unknown unit): the message says why."""


class _NodeProcess:
    """One `node webslm/rulebook_server.js`, shared by every caller in this process (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._pid = None
        self._next_id = 0
        self.registered: set[str] = set()  # domain keys the running process knows

    def _start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise WebslmError("the request rules run in Node.js, and `node` is not on PATH: install Node.js 20 or "
                              "newer (`make setup` does, with npm's packages)")
        if not AJV_BUNDLE.is_file():
            raise WebslmError(f"{AJV_BUNDLE.relative_to(REPO_ROOT)} is missing (the rulebook's JSON Schema validator, "
                              "bundled from node_modules at install time): run `make node-deps`")
        self._proc = subprocess.Popen([node, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      cwd=REPO_ROOT)
        self._pid = os.getpid()
        self.registered = set()

    def request(self, message: dict):
        """Send one request, wait for its reply; the result, or RuleError / WebslmError."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None or self._pid != os.getpid():
                self._start()
            self._next_id += 1
            message = {**message, "id": self._next_id}
            try:
                line = json.dumps(message, allow_nan=False, ensure_ascii=False).encode("utf-8") + b"\n"
            except ValueError as e:  # NaN or Infinity: no JSON parser in the browser reads them
                raise WebslmError(f"cannot send {message.get('op')} to the rulebook: {e}") from None
            try:
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
                answer = self._read_line()
            except (BrokenPipeError, OSError) as e:
                self._proc = None
                raise WebslmError(f"the rulebook process (node {SERVER.name}) died: {e}") from None
            if not answer:
                code = self._proc.wait()
                self._proc = None
                raise WebslmError(f"the rulebook process (node {SERVER.name}) exited with code {code} "
                                  "(its error is printed above)")
            reply = json.loads(answer)
        if "error" in reply:
            if reply.get("kind") == "rule":
                raise RuleError(reply["error"])
            raise WebslmError(f"rulebook {message['op']}: {reply['error']}")
        return reply["result"]

    def _read_line(self) -> bytes:
        chunks = []
        while True:
            chunk = self._proc.stdout.readline()
            chunks.append(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return b"".join(chunks)

    def close(self) -> None:
        if self._proc is not None and self._pid == os.getpid():
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None


_node = _NodeProcess()
atexit.register(_node.close)


def call(module: str, function: str, *args):
    """A pure function of a rule module (web/static/rules/MODULE.js), e.g. call("dates", "parseWhen", text)."""
    return _node.request({"op": "call", "module": module, "function": function, "args": list(args)})


def constant(module: str, name: str):
    """An exported constant of a rule module, e.g. constant("colors", "CSS_COLOR_NAMES")."""
    return _node.request({"op": "constant", "module": module, "name": name})


def parse_when(text: str) -> str:
    """'noon on May 4 1999' -> '1999-05-04T12:00:00Z' (dates.js); RuleError says why a text is not a date."""
    return call("dates", "parseWhen", text)


@dataclass(frozen=True)
class Place:
    name: str
    kind: str  # city, country, continent, ocean, mountain, building, ... (train/dataset/gazetteer.py KINDS)
    country: str  # ISO 3166 alpha-2, "" for a place across countries
    longitude: float
    latitude: float
    population: int
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north; areas only


def _problems(raw: list[dict], where: str = "") -> list[Problem]:
    return [Problem(where, p.get("field") or "", p["message"]) for p in raw]


def _place(p: dict | None) -> Place | None:
    return Place(**{**p, "bbox": tuple(p["bbox"]) if p.get("bbox") else None}) if p else None


def resolve_in(gazetteer_path: Path, names: list[str]) -> list[Place | None]:
    """Each name as the rulebook resolves it in a gazetteer file, no domain needed (checking a gazetteer being
    built)."""
    path = str(Path(gazetteer_path).resolve())
    return [_place(p) for p in _node.request({"op": "resolve", "gazetteer": path, "names": list(names)})]


class DomainRules:
    """The rulebook for one domain: its tool schemas and gazetteer, registered once in the Node process."""

    def __init__(self, domain):
        self.domain = domain
        self.key = _key(domain)
        self._register()

    def _register(self) -> None:
        tools = {name: {"parameters": tool.parameters, "description": tool.description}
                 for name, tool in self.domain.tools.items()}
        gazetteer = str(Path(self.domain.gazetteer_path).resolve()) if self.domain.gazetteer_path else None
        result = _node.request({"op": "domain", "key": self.key, "tools": tools, "gazetteer": gazetteer})
        _node.registered.add(self.key)
        self.emission_schema: dict = result["emission_schema"]
        self.tool_problems: list[dict] = result["tool_problems"]

    def _request(self, op: str, **fields):
        if self.key not in _node.registered:  # a new process (restarted, or this is a forked child)
            self._register()
        return _node.request({"op": op, "key": self.key, **fields})

    def narrow(self, requests: list[str]) -> list[dict]:
        """The emission schema narrowed to each request's evidence (copying.js)."""
        return self._request("narrow", requests=list(requests)) if requests else []

    def execute(self, answers: list[tuple[str, str | None]]) -> list[dict]:
        """Whether each (answer text, request) executes: {parsed, call, stage, reason, problems}; stage "ok" or
        where it was refused (json, schema, grounding, contract)."""
        return self._request("execute", answers=[list(a) for a in answers]) if answers else []

    def ground(self, output, request: str | None = None) -> tuple[object, list[Problem]]:
        (result,) = self._request("ground", items=[[output, request]])
        return result["call"], _problems(result["problems"])

    def check_call(self, call, where: str = "") -> list[Problem]:
        return _problems(self._request("check_call", items=[call])[0], where)

    def check_emission(self, output, where: str = "") -> list[Problem]:
        return _problems(self._request("check_emission", items=[output])[0], where)

    def check_records(self, outputs: list) -> list[list[Problem]]:
        """Problems of each call as dataset records write it (model form), fields relative to the call."""
        return [_problems(raw) for raw in self._request("check_record", items=list(outputs))] if outputs else []

    def resolve(self, names: list[str], request: str | None = None) -> list[Place | None]:
        """The gazetteer's place for each name (or None); with `request`, a name copied with a slip is read as the
        request's words."""
        fields = {"names": list(names), **({"request": request} if request is not None else {})}
        return [_place(p) for p in self._request("resolve", **fields)]


class Gazetteer:
    """A domain's gazetteer as data (its places, biggest first, and its country names, for drawing places at random)
    with the rulebook's name matching (`resolve`, remembered per name)."""

    def __init__(self, domain):
        if domain.gazetteer_path is None:
            raise WebslmError(f"domain {domain.name!r} has no gazetteer")
        data = read_json_object(Path(domain.gazetteer_path))
        self.places = [Place(p["name"], p["kind"], p["country"], p["lon"], p["lat"], p["pop"],
                             tuple(p["bbox"]) if p.get("bbox") else None) for p in data["places"]]
        self.countries: dict[str, str] = data["countries"]  # country name -> ISO code
        self.known_as: dict[Place, list[str]] = {  # curated alternate names ("Everest", "NYC")
            place: p["known_as"] for place, p in zip(self.places, data["places"]) if p.get("known_as")}
        self._rules = domain.rules
        self._resolved: dict[str, Place | None] = {}

    def resolve(self, name: str) -> Place | None:
        if name not in self._resolved:
            self._resolved[name] = self._rules.resolve([name])[0]
        return self._resolved[name]

    def resolve_many(self, names: list[str]) -> list[Place | None]:
        """resolve() for many names in one round trip."""
        todo = [n for n in dict.fromkeys(names) if n not in self._resolved]
        for name, place in zip(todo, self._rules.resolve(todo) if todo else []):
            self._resolved[name] = place
        return [self._resolved[n] for n in names]


_rules: dict[str, DomainRules] = {}


def _key(domain) -> str:
    return f"{domain.name}@{Path(domain.root).resolve()}"


def rulebook_for(domain) -> DomainRules:
    """The (cached) rulebook of a loaded domain pack; registered anew when the pack's tools changed on disk."""
    key = _key(domain)
    if key not in _rules or _rules[key].domain.tools != domain.tools:
        _rules[key] = DomainRules(domain)
    return _rules[key]


def request_of(messages: list[dict]) -> str:
    """The request a chat answers: its last user message."""
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
