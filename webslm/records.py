"""Dataset records on disk: the seed format and the OpenAI chat format, both JSONL.

Seed:  {"instruction": str, "output": str, ...}   `output` is the JSON text of {"tool": NAME, "arguments": {...}}
Chat:  {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...], ...}

Keys other than these (e.g. "meta": {"template": ID, "places": [...]}) are carried through every read, write and
conversion untouched, so seed -> chat -> seed gives back the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from webslm import atomic
from webslm.errors import Problem, ProblemsError, WebslmError
from webslm.strict_json import JSONInputError, parse_json

SEED_KEYS = ("instruction", "output")
CHAT_KEY = "messages"
# A chat record whose system prompt is not the domain's keeps it here when converted to seed, so nothing is lost.
SEED_SYSTEM_KEY = "system"


@dataclass(frozen=True)
class Line:
    """One line of a JSONL file: where it is, and either the parsed record or why it could not be parsed."""

    where: str  # "file:line"
    record: dict | None
    problem: Problem | None = None


def read_lines(path: Path) -> Iterator[Line]:
    """Every non-final line of a JSONL file, parsed; undecodable or malformed lines come back as problems.

    Reads bytes and decodes line by line so a stray latin-1 byte is reported on its own line, not as a crash.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WebslmError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WebslmError(f"{path}: is a directory, expected a .jsonl file") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) >= 2 and b"\x00" in data[:4]):
        yield Line(f"{path}:1", None, Problem(f"{path}:1", "", "file is UTF-16 encoded (NUL bytes or a UTF-16 "
                                              "byte-order mark); re-save it as UTF-8, e.g. `iconv -f UTF-16 -t UTF-8`"))
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte-order mark is harmless; json.loads would reject it
    if not data.strip():
        yield Line(f"{path}:1", None, Problem(f"{path}:1", "", "file is empty: expected one JSON record per line"))
        return
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    for number, raw in enumerate(chunks, start=1):
        where = f"{path}:{number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield Line(where, None, Problem(where, "", f"not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}; "
                                                       "latin-1?); re-save the file as UTF-8"))
            continue
        if not text.strip():
            yield Line(where, None, Problem(where, "", "blank line; JSONL needs one JSON object per line"))
            continue
        try:
            record = parse_json(text, where)
        except JSONInputError as e:
            yield Line(where, None, e.problem)
            continue
        if not isinstance(record, dict):
            yield Line(where, None, Problem(where, "", f"a record must be a JSON object, got {type(record).__name__}"))
            continue
        yield Line(where, record)


def read_records(path: Path) -> list[dict]:
    """All records of a file, or a ProblemsError listing every line that could not be parsed."""

    records, problems = [], []
    for line in read_lines(path):
        if line.problem:
            problems.append(line.problem)
        else:
            records.append(line.record)
    if problems:
        raise ProblemsError(problems, f"{path}: {len(problems)} unreadable line(s)")
    return records


def write_records(path: Path, records: Iterable[dict]) -> int:
    return atomic.write_jsonl(Path(path), records)


def record_format(record: dict) -> str:
    """'chat' or 'seed' (a record that is neither is reported as seed, with its missing keys)."""
    return "chat" if CHAT_KEY in record else "seed"


def seed_to_chat(record: dict, system_prompt: str) -> dict:
    system = record.get(SEED_SYSTEM_KEY, system_prompt)
    extra = {k: v for k, v in record.items() if k not in (*SEED_KEYS, SEED_SYSTEM_KEY)}
    return {CHAT_KEY: [{"role": "system", "content": system},
                       {"role": "user", "content": record["instruction"]},
                       {"role": "assistant", "content": record["output"]}], **extra}


def chat_to_seed(record: dict, system_prompt: str, where: str = "") -> dict:
    messages = record.get(CHAT_KEY)
    roles = [m.get("role") for m in messages] if isinstance(messages, list) and all(
        isinstance(m, dict) for m in messages) else None
    if roles != ["system", "user", "assistant"]:
        raise WebslmError(f"{where}: [messages] expected system, user, assistant messages, got roles {roles}")
    system, user, assistant = (m.get("content") for m in messages)
    out = {"instruction": user, "output": assistant}
    if system != system_prompt:
        out[SEED_SYSTEM_KEY] = system
    out.update({k: v for k, v in record.items() if k != CHAT_KEY})
    return out


def seed_view(record: dict) -> tuple[object, object, str, str]:
    """(instruction, output, instruction field name, output field name) of a seed or chat record."""
    if record_format(record) == "chat":
        messages = record[CHAT_KEY] if isinstance(record[CHAT_KEY], list) else []
        user = next((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"), None)
        asst = next((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"), None)
        return (messages[user].get("content") if user is not None else None,
                messages[asst].get("content") if asst is not None else None,
                f"messages[{user}].content", f"messages[{asst}].content")
    return record.get("instruction"), record.get("output"), "instruction", "output"


def parse_output(record: dict) -> object | None:
    """The call a seed or chat record's output holds, or None when it is missing or not JSON as a browser reads it
    (`webslm data verify` says why)."""
    _, output, _, _ = seed_view(record)
    if not isinstance(output, str):
        return None
    try:
        return parse_json(output)
    except JSONInputError:
        return None


def convert_file(src: Path, dst: Path, to: str, system_prompt: str) -> int:
    if to not in ("chat", "seed"):
        raise WebslmError(f"--to must be 'chat' or 'seed', got {to!r}")
    out = []
    for line in read_lines(src):
        if line.problem:
            raise WebslmError(f"{line.problem}; fix it (see `webslm data verify`) before converting")
        record = line.record
        if to == "chat":
            if record_format(record) == "chat":
                out.append(record)
                continue
            missing = [k for k in SEED_KEYS if not isinstance(record.get(k), str)]
            if missing:
                raise WebslmError(f"{line.where}: [{missing[0]}] missing or not a string")
            out.append(seed_to_chat(record, system_prompt))
        else:
            out.append(chat_to_seed(record, system_prompt, line.where) if record_format(record) == "chat" else record)
    return write_records(dst, out)
