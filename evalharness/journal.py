"""`webslm eval --resume`: an evaluation that outlives one sitting.

While an evaluation runs, every finished example's prediction row is appended to OUT/progress.jsonl and flushed, so
a run stopped by anything (a closed laptop, a killed job, a session's end) loses at most the example in flight. The
journal's first line records what decides the answers (the test file's sha256, the domain, the backend, the
answer-shaping flags and a digest of the rules: the page's code and the domain pack); `--resume` continues only an
evaluation with exactly those, and says which one differs otherwise. A finished evaluation (report.md written with
every example) removes its journal.

Line 1: {"journal": FORMAT, "settings": {...}}; then one {"run": NAME, "row": {...}} per finished example. A last line
cut off mid-write is ignored (that example is answered again).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from webslm import REPO_ROOT
from webslm.digest import sha256_file, sha256_files
from webslm.errors import WebslmError

PROGRESS_FILE = "progress.jsonl"
FORMAT = "webslm-eval-progress/1"
# The flags that change what a model answers or how it is scored; anything else (progress bars, timeouts) may change
# between sittings.
ANSWER_FLAGS = ("domain", "backend", "limit", "model", "adapter", "base_weights", "endpoint", "endpoint_model",
                "json_mode", "max_new_tokens", "unconstrained", "copy_constraint", "temperature", "top_p", "seed",
                "bundle", "lora", "decode", "parity", "compare", "webgpu")


def settings_of(args) -> dict:
    """What the journal's header records: the test file's identity, the answer-shaping flags, and the rules that
    narrow and execute answers (the page's code, web/static, which every backend's rulebook is, and the domain pack
    with its gazetteer)."""
    flags = {}
    for name in ANSWER_FLAGS:
        value = getattr(args, name, None)
        flags[name] = str(Path(value).resolve()) if isinstance(value, Path) else value
    rules = sorted(p for folder in (REPO_ROOT / "web" / "static", REPO_ROOT / "domains" / str(args.domain))
                   for p in folder.rglob("*") if p.is_file())
    return {"test_file": str(Path(args.test_file).resolve()), "test_sha256": sha256_file(args.test_file), **flags,
            "rules_sha256": sha256_files(rules)}


class Journal:
    """The append-only progress file of one evaluation folder."""

    def __init__(self, out: Path, done: dict[str, list[dict]] | None = None):
        self.path = Path(out) / PROGRESS_FILE
        self.done = done or {}
        self.recorded = 0
        self._file = None
        self._made_folder = False

    @classmethod
    def start(cls, out: Path, settings: dict) -> "Journal":
        journal = cls(out)
        journal._made_folder = not journal.path.parent.exists()
        journal.path.parent.mkdir(parents=True, exist_ok=True)
        journal._file = open(journal.path, "w", encoding="utf-8")
        journal._write({"journal": FORMAT, "settings": settings})
        return journal

    @classmethod
    def resume(cls, out: Path, settings: dict) -> "Journal":
        """The journal in `out`, checked against `settings`, opened for appending; its finished rows in `done`."""
        path = Path(out) / PROGRESS_FILE
        header, done = read_progress(path)
        recorded = header.get("settings") or {}
        for key in sorted(set(recorded) | set(settings)):
            if recorded.get(key) != settings.get(key):
                what = {"test_sha256": "the test file's contents", "test_file": "the test file",
                        "rules_sha256": "the rules (web/static, the domain pack)"}.get(key, f"--{key.replace('_', '-')}")
                raise WebslmError(f"{path}: cannot resume: {what} was {recorded.get(key)!r} when this evaluation "
                                  f"started and is {settings.get(key)!r} now. Resume with the same settings, or "
                                  f"pass --force to start over")
        journal = cls(out, done)
        journal._file = open(path, "a", encoding="utf-8")
        return journal

    def finished(self, run: str) -> list[dict]:
        return list(self.done.get(run, []))

    def record(self, run: str, rows: list[dict]) -> None:
        for row in rows:
            self._write({"run": run, "row": row})
        self.recorded += len(rows)

    def _write(self, obj: dict) -> None:
        self._file.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self, complete: bool) -> None:
        """Close. A complete evaluation's journal is removed (its predictions and report are written), and so is a new
        one that never got a row (a model that failed to load leaves --out as it was)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        never_used = not self.done and not self.recorded
        if complete or never_used:
            self.path.unlink(missing_ok=True)
        if never_used and self._made_folder and not any(self.path.parent.iterdir()):
            self.path.parent.rmdir()


def read_progress(path: Path) -> tuple[dict, dict[str, list[dict]]]:
    """(header, {run name: finished rows in order}) of a progress file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines:
        raise WebslmError(f"{path}: empty; not an evaluation's progress file. Pass --force to start over")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = {}
    if header.get("journal") != FORMAT:
        raise WebslmError(f"{path}:1: not an evaluation's progress file ({FORMAT}); pass --force to start over")
    done: dict[str, list[dict]] = {}
    for number, line in enumerate(lines[1:], start=2):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # cut off mid-write by the stop: that example is answered again
                break
            raise WebslmError(f"{path}:{number}: not JSON; the progress file is damaged. Pass --force to start "
                              f"over") from None
        done.setdefault(entry["run"], []).append(entry["row"])
    return header, done


def check_resumed_rows(path: Path, run: str, rows: list[dict], examples) -> None:
    """The finished rows must be the first examples, in order (the same test file gives the same `where`s)."""
    if len(rows) > len(examples):
        raise WebslmError(f"{path}: run {run!r} has {len(rows)} finished examples but the test file gives "
                          f"{len(examples)}; pass --force to start over")
    for row, example in zip(rows, examples):
        line = str(row.get("where", "")).rpartition(":")[2]
        if line != example.where.rpartition(":")[2] or row.get("instruction") != example.instruction:
            raise WebslmError(f"{path}: run {run!r}: a finished row is {row.get('where')!r} "
                              f"({row.get('instruction')!r}) where the test file now has {example.where!r} "
                              f"({example.instruction!r}); pass --force to start over")
