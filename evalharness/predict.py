"""Per-example evaluation shared by every backend: prompt messages -> backend -> raw text -> JSON -> emission check
-> grounding -> tool contract -> a prediction row that `metrics` scores.

A backend is a plain function `generate(list_of_messages) -> list[Generation]`, where each messages list is
[{"role": "system", ...}, {"role": "user", ...}]. Backends build the prompt from those messages the way web-llm does
(webslm.prompting.encode_prompt) or send them to a server that does.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from webslm.errors import WebslmError


@dataclass
class Generation:
    text: str
    seconds: float | None = None  # per example (a batch's wall time divided by its size)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None  # transport errors (HTTP, browser) are scored as empty answers, never raised
    speed: dict = field(default_factory=dict)  # engine-reported speed, e.g. web-llm's usage.extra


Backend = Callable[[list[list[dict]]], list[Generation]]


@dataclass
class Run:
    """One named model setting to evaluate (e.g. "base" or "fine-tuned") and its backend."""

    name: str
    generate: Backend
    info: dict = field(default_factory=dict)
    chunk: int | None = None  # prompts per generate() call; 1 for backends that answer one at a time


class EvaluationInterrupted(Exception):
    """Ctrl-C during an evaluation: carries the rows finished so far, so they are written, not lost."""

    def __init__(self, rows: list[dict]):
        super().__init__(f"interrupted after {len(rows)} example(s)")
        self.rows = rows


@dataclass(frozen=True)
class Example:
    where: str
    instruction: str
    system: str
    reference_text: str


def load_examples(path: Path, system_prompt: str, limit: int | None = None) -> list[Example]:
    """Seed or chat records -> examples; every unreadable record is reported before any model is loaded."""
    from train.dataset.records import read_lines, seed_view
    from webslm.errors import Problem, ProblemsError

    examples, problems = [], []
    for line in read_lines(path):
        if line.problem:
            problems.append(line.problem)
            continue
        instruction, output, ifield, ofield = seed_view(line.record)
        for value, name in ((instruction, ifield), (output, ofield)):
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(line.where, name, "missing, empty or not a string"))
        if problems and problems[-1].where == line.where:
            continue
        system = system_prompt
        messages = line.record.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict) \
                and messages[0].get("role") == "system":
            system = messages[0].get("content", system_prompt)
        system = line.record.get("system", system)
        examples.append(Example(line.where, instruction, system, output))
    if problems:
        raise ProblemsError(problems, f"{path}: {len(problems)} bad record(s)")
    if not examples:
        raise WebslmError(f"{path}: no records to evaluate")
    return examples[:limit] if limit else examples


def parse_json_text(text: str):
    """The JSON value a model wrote: surrounding spaces and a ```json fence are tolerated, anything else is not."""
    body = (text or "").strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0].strip()
    try:
        value, end = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError as e:
        return None, f"not JSON: {e.msg} at column {e.colno}"
    if body[end:].strip():
        return None, f"extra text after the JSON value at column {end + 1}"
    return value, None


def execute_output(text: str, domain, gazetteer, request: str | None = None) -> dict:
    """What the globe would run for this answer to `request`: {"parsed", "call", "stage", "reason"}; stage "ok" or
    where it failed."""
    from webslm.grounding import ground_call

    parsed, error = parse_json_text(text)
    if error:
        return {"parsed": None, "call": None, "stage": "json", "reason": error}
    problems = domain.check_emission(parsed)
    if problems:
        return {"parsed": parsed, "call": None, "stage": "schema", "reason": "; ".join(map(str, problems[:3]))}
    call, problems = ground_call(parsed, domain, gazetteer, request)
    if problems:
        return {"parsed": parsed, "call": None, "stage": "grounding", "reason": "; ".join(map(str, problems[:3]))}
    problems = domain.check_call(call)
    if problems:
        return {"parsed": parsed, "call": None, "stage": "contract", "reason": "; ".join(map(str, problems[:3]))}
    return {"parsed": parsed, "call": call, "stage": "ok", "reason": None}


def load_gazetteer(domain):
    from webslm.grounding import Gazetteer

    return Gazetteer.load(domain.gazetteer_path) if domain.gazetteer_path else None


def evaluate(examples: list[Example], run: Run, domain, chunk: int = 16, progress: bool = True) -> list[dict]:
    """Prediction rows for every example; a failing reference is an error in the test file, not in the model."""
    gazetteer = load_gazetteer(domain)
    references = []
    for ex in examples:
        ref = execute_output(ex.reference_text, domain, gazetteer, ex.instruction)
        if ref["call"] is None:
            raise WebslmError(f"{ex.where}: the reference output does not execute ({ref['stage']}: {ref['reason']})")
        references.append(ref)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(examples), desc=f"eval {run.name}", unit="ex", dynamic_ncols=True)
    rows = []
    chunk = run.chunk or chunk
    try:
        _generate_rows(examples, references, run, domain, gazetteer, chunk, bar, rows)
    except KeyboardInterrupt:
        raise EvaluationInterrupted(rows) from None
    finally:
        if bar:
            bar.close()
    return rows


def _generate_rows(examples, references, run, domain, gazetteer, chunk, bar, rows) -> None:
    for start in range(0, len(examples), chunk):
        batch = examples[start:start + chunk]
        messages = [[{"role": "system", "content": ex.system}, {"role": "user", "content": ex.instruction}]
                    for ex in batch]
        began = time.perf_counter()
        generations = run.generate(messages)
        if len(generations) != len(batch):
            raise RuntimeError(f"backend {run.name} returned {len(generations)} answers for {len(batch)} prompts")
        for ex, ref, gen in zip(batch, references[start:start + chunk], generations):
            seconds = gen.seconds if gen.seconds is not None else (time.perf_counter() - began) / len(batch)
            outcome = execute_output(gen.text, domain, gazetteer, ex.instruction)
            valid_json = outcome["stage"] != "json"
            if gen.error:
                outcome["stage"], outcome["reason"] = "backend", gen.error
            rows.append({
                "where": ex.where,
                "instruction": ex.instruction,
                "raw": gen.text,
                "valid_json": valid_json,
                "parsed": outcome["parsed"],
                "call": outcome["call"],
                "stage": outcome["stage"],
                "reason": outcome["reason"],
                "reference_output": ref["parsed"],
                "reference": ref["call"],
                "seconds": seconds,
                "prompt_tokens": gen.prompt_tokens,
                "output_tokens": gen.output_tokens,
                **({"speed": gen.speed} if gen.speed else {}),
            })
        if bar:
            bar.update(len(batch))
