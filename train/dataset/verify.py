"""Check dataset records against the tool contract: every problem in every file, as `file:line [field]: message`.

A record passes when: the line is UTF-8 JSON, it has the seed keys (or system/user/assistant chat messages), the
output parses as JSON, matches the emission schema (calls with {"place": NAME} allowed), every place resolves in
the gazetteer, and the grounded call matches the tool schema.
"""

from __future__ import annotations

from pathlib import Path

from webslm.domain import Domain
from webslm.errors import Problem
from webslm.strict_json import JSONInputError, parse_json
from webslm.records import CHAT_KEY, read_lines, record_format, seed_view

BATCH = 512  # records per round trip to the rulebook


class RecordChecker:
    """Checks records against the domain's rulebook (webslm.rulebook), many per round trip."""

    def __init__(self, domain: Domain):
        self.domain = domain
        self.rules = domain.rules

    def check(self, record: dict, where: str) -> list[Problem]:
        return self.check_many([(record, where)])[0]

    def check_many(self, items: list[tuple[dict, str]]) -> list[list[Problem]]:
        """The problems of each (record, where), fields named as in the record (output.arguments.latitude)."""
        results: list[list[Problem]] = []
        pending = []  # (index in results, the parsed call, the output's field name, where)
        for record, where in items:
            problems = self._shape(record, where)
            if isinstance(problems, tuple):
                call, output_field = problems
                pending.append((len(results), call, output_field, where))
                problems = []
            results.append(problems)
        checked = self.rules.check_records([call for _, call, _, _ in pending])
        for (i, _, output_field, where), problems in zip(pending, checked):
            results[i] = [Problem(where, f"{output_field}.{p.field}" if p.field else output_field, p.message)
                          for p in problems]
        return results

    def _shape(self, record: dict, where: str):
        """The record's problems before its call is checked, or (the parsed call, the output's field name)."""
        problems = []
        if record_format(record) == "chat":
            problems += self._check_messages(record, where)
            if problems:
                return problems
        instruction, output_text, instruction_field, output_field = seed_view(record)
        for value, name in ((instruction, instruction_field), (output_text, output_field)):
            if value is None:
                problems.append(Problem(where, name, "missing"))
            elif not isinstance(value, str):
                problems.append(Problem(where, name, f"must be a string, got {type(value).__name__}"))
            elif not value.strip():
                problems.append(Problem(where, name, "is empty"))
        if problems:
            return problems
        try:
            call = parse_json(output_text, where)
        except JSONInputError as e:
            inner = e.problem.field
            field = f"{output_field}{'' if inner.startswith('[') else '.'}{inner}" if inner else output_field
            return [Problem(where, field, f"not valid JSON: {e.reason}")]
        return call, output_field

    def check_output(self, call) -> list[Problem]:
        """Problems of one model-form call (fields relative to the call)."""
        return self.rules.check_records([call])[0]

    def _check_messages(self, record: dict, where: str) -> list[Problem]:
        messages = record[CHAT_KEY]
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return [Problem(where, CHAT_KEY, "must be a list of {role, content} objects")]
        roles = [m.get("role") for m in messages]
        if roles != ["system", "user", "assistant"]:
            return [Problem(where, CHAT_KEY, f"expected roles system, user, assistant; got {roles}")]
        if messages[0].get("content") != self.domain.system_prompt:
            return [Problem(where, f"{CHAT_KEY}[0].content",
                            f"system prompt differs from domain {self.domain.name!r}'s system_prompt.txt")]
        return []


def verify_files(paths: list[Path], domain: Domain, progress: bool = False) -> tuple[int, list[Problem]]:
    """(records checked, every problem) over all files. A missing file is a problem, not an exception."""
    from webslm.errors import WebslmError

    checker = RecordChecker(domain)
    count, problems = 0, []
    for path in paths:
        try:
            lines = read_lines(Path(path))
            if progress:
                from tqdm import tqdm

                lines = tqdm(lines, desc=f"verify {Path(path).name}", unit=" rec", mininterval=1.0, leave=False)
            batch = []
            for line in lines:
                if line.problem:
                    problems.append(line.problem)
                    continue
                count += 1
                batch.append((line.record, line.where))
                if len(batch) == BATCH:
                    problems += [p for found in checker.check_many(batch) for p in found]
                    batch = []
            problems += [p for found in checker.check_many(batch) for p in found]
        except WebslmError as e:
            problems.append(Problem(str(path), "", str(e).removeprefix(f"{path}: ")))
    return count, problems
