"""Import xLAM function-calling rows (Salesforce/xlam-function-calling-60k layout) from a local file.

A row is {"query": str, "tools": JSON text of [{name, description, parameters}], "answers": JSON text of
[{name, arguments}]}; the file is a JSON array or JSONL. A row becomes a seed record when it has exactly one
answer, for a tool of our domain, whose arguments satisfy our contract. Every other row is skipped with a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from webslm.domain import Domain
from webslm.errors import WebslmError
from webslm.strict_json import JSONInputError, parse_json, read_json_file
from webslm.records import read_lines
from train.dataset.verify import RecordChecker


@dataclass(frozen=True)
class SkippedRow:
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def read_xlam_rows(path: Path) -> list[tuple[str, object]]:
    """(where, row) pairs; a JSON-array file is numbered by row index, a JSONL file by line."""
    path = Path(path)
    try:
        head = path.read_bytes()[:1024].lstrip()
    except FileNotFoundError:
        raise WebslmError(f"{path}: no such file") from None
    if head.startswith(b"["):
        try:
            rows = read_json_file(path)
        except JSONInputError as e:
            raise WebslmError(f"{e}; expected a JSON array of xLAM rows") from None
        return [(f"{path}[{i}]", row) for i, row in enumerate(rows)]
    return [(line.where, line.record if line.problem is None else line.problem.message) for line in read_lines(path)]


def xlam_row_to_record(row, domain: Domain, checker: RecordChecker, where: str) -> tuple[dict | None, str]:
    if isinstance(row, str):
        return None, row  # the line could not be read; row holds why
    if not isinstance(row, dict):
        return None, "row is not a JSON object"
    query = row.get("query")
    if not isinstance(query, str) or not query.strip():
        return None, "no 'query' text"
    try:
        answers = parse_json(row["answers"]) if isinstance(row.get("answers"), str) else row.get("answers")
    except JSONInputError as e:
        return None, f"'answers' is not valid JSON ({e.reason})"
    if not isinstance(answers, list) or not answers:
        return None, "no answers"
    if len(answers) != 1:
        return None, f"{len(answers)} calls in one answer; the contract is one call per instruction"
    answer = answers[0]
    if not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
        return None, "answer has no tool name"
    if answer["name"] not in domain.tools:
        return None, f"tool {answer['name']!r} is not in domain {domain.name!r}"
    call = {"tool": answer["name"], "arguments": answer.get("arguments", {})}
    problems = checker.check_output(call)
    if problems:
        p = problems[0]
        return None, f"arguments break the contract: [{p.field}] {p.message}"
    return {"instruction": query.strip(), "output": json.dumps(call, ensure_ascii=False),
            "meta": {"source": "xlam", "row": where}}, ""


def import_xlam(path: Path, domain: Domain) -> tuple[list[dict], list[SkippedRow]]:
    checker = RecordChecker(domain)
    records, skipped = [], []
    for where, row in read_xlam_rows(path):
        record, reason = xlam_row_to_record(row, domain, checker, where)
        if record is None:
            skipped.append(SkippedRow(where, reason))
        else:
            records.append(record)
    return records, skipped
