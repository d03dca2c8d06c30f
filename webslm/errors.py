"""Errors that tell the user what went wrong, where, and what to do."""

from __future__ import annotations

from dataclasses import dataclass


class WebslmError(Exception):
    """An error the CLI prints as one clear message (no traceback) and exits non-zero."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input: where it is, which field, and why."""

    where: str  # "file:line" or a description of the object
    field: str  # dotted path inside the record, "" for the whole record
    message: str

    def __str__(self) -> str:
        field = f" [{self.field}]" if self.field else ""
        return f"{self.where}{field}: {self.message}"


class ProblemsError(WebslmError):
    """Several problems found at once; all of them are reported, not only the first."""

    def __init__(self, problems: list[Problem], summary: str = ""):
        self.problems = problems
        head = summary or f"{len(problems)} problem(s)"
        lines = [str(p) for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"... and {len(problems) - 50} more")
        super().__init__(head + ":\n  " + "\n  ".join(lines))
