"""Per-example evaluation shared by every backend: prompt messages -> backend -> raw text -> JSON -> emission check
-> grounding -> tool contract (the rulebook, webslm.rulebook) -> a prediction row that `metrics` scores.

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

from evalharness.journal import check_resumed_rows
from evalharness.metrics import summarize
from evalharness.report import write_report
from webslm import atomic
from webslm.errors import Problem, ProblemsError, WebslmError
from webslm.records import read_lines, seed_view
from webslm.rulebook import constant


@dataclass
class Generation:
    text: str
    seconds: float | None = None  # per example (a batch's wall time divided by its size)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None  # transport errors (HTTP, browser) are scored as empty answers, never raised
    speed: dict = field(default_factory=dict)  # engine-reported speed, e.g. web-llm's usage.extra
    # What the product itself did with the answer ({parsed, call, stage, reason}: the demo page's rulebook and
    # executor), when the backend is the product; None: the rulebook executes `text` here.
    outcome: dict | None = None
    page: dict = field(default_factory=dict)  # the demo page's state after the command (browser backend)


Backend = Callable[[list[list[dict]]], list[Generation]]


@dataclass
class Run:
    """One named model setting to evaluate (e.g. "base" or "fine-tuned") and its backend."""

    name: str
    generate: Backend
    info: dict = field(default_factory=dict)
    chunk: int | None = None  # prompts per generate() call; 1 for backends that answer one at a time
    # generate(messages_list, givens) with each example's `given` calls: backends with a scene (the demo page) set
    # the scene up with them before the request; the others have no scene and are called without
    takes_given: bool = False


class EvaluationInterrupted(Exception):
    """Ctrl-C during an evaluation: carries the rows finished so far, so they are written, not lost."""

    def __init__(self, rows: list[dict]):
        super().__init__(f"interrupted after {len(rows)} example(s)")
        self.rows = rows


# A record with "expect": "refusal" (and an output that cannot execute, e.g. a place that does not exist) is scored
# right when the product refuses it and wrong when anything executes: the "never act confidently wrong" cases.
EXPECT_KEY, REFUSAL = "expect", "refusal"
# A record's "given": the tool calls that made the scene the request speaks of ("move the lid" needs a lid), executed
# without the model before the request where a backend has a scene (the demo page), each as the page executes it.
GIVEN_KEY = "given"
GAZETTEER_GAP_KEY = "gazetteer_gap"  # a row whose reference names places the gazetteer lacks: their names


@dataclass(frozen=True)
class Example:
    where: str
    instruction: str
    system: str
    reference_text: str
    expect_refusal: bool = False
    given: tuple[str, ...] = ()  # JSON texts of the calls that set the scene up


def load_examples(path: Path, system_prompt: str, limit: int | None = None) -> list[Example]:
    """Seed or chat records -> examples; every unreadable record is reported before any model is loaded."""
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
        expect = line.record.get(EXPECT_KEY)
        if expect not in (None, REFUSAL):
            problems.append(Problem(line.where, EXPECT_KEY, f"{expect!r}: the only expectation is {REFUSAL!r}"))
            continue
        given = line.record.get(GIVEN_KEY, [])
        if not isinstance(given, list) or not all(isinstance(c, dict) and isinstance(c.get("tool"), str)
                                                  for c in given):
            problems.append(Problem(line.where, GIVEN_KEY, "expected a list of tool calls "
                                                           '({"tool": ..., "arguments": {...}})'))
            continue
        examples.append(Example(line.where, instruction, system, output, expect == REFUSAL,
                                tuple(json.dumps(c) for c in given)))
    if problems:
        raise ProblemsError(problems, f"{path}: {len(problems)} bad record(s)")
    if not examples:
        raise WebslmError(f"{path}: no records to evaluate")
    return examples[:limit] if limit else examples


def parse_json_text(text: str):
    """The JSON value a model wrote, read by the rulebook (rulebook.js parseAnswer): surrounding spaces and a ```json
    fence are tolerated, anything else is not; NaN and Infinity are not JSON. (value, None) or (None, error)."""
    from webslm import rulebook

    read = rulebook.call("rulebook", "parseAnswer", text or "")
    return (None, read["error"]) if "error" in read else (read.get("value"), None)


def execute_outputs(answers: list[tuple[str, str | None]], domain) -> list[dict]:
    """What the globe would run for each (answer text, request): {"parsed", "call", "stage", "reason", "problems"};
    stage "ok" or where the rulebook refused it (json, schema, grounding, contract). One round trip to the rulebook
    for the list."""
    return [{k: outcome.get(k) for k in ("parsed", "call", "stage", "reason", "problems")}
            for outcome in domain.rules.execute(answers)]


def execute_output(text: str, domain, request: str | None = None) -> dict:
    """`execute_outputs` for one answer."""
    return execute_outputs([(text, request)], domain)[0]


def unknown_places(outcome: dict, prefix: str | None = None) -> list[str]:
    """The place names an answer was refused for at grounding when that was its only problem (a real place a
    hand-written set names and the gazetteer lacks), else []."""
    problems = outcome.get("problems") or []
    if outcome.get("stage") != "grounding" or not problems:
        return []
    prefix = prefix or constant("grounding", "UNKNOWN_PLACE")  # grounding.js's refusal for an unknown place
    if not all(p["message"].startswith(prefix) for p in problems):
        return []
    return [p["message"][len(prefix):].removesuffix(" is") for p in problems]


def evaluate(examples: list[Example], run: Run, domain, chunk: int = 16, progress: bool = True,
             done: list[dict] = (), record: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Prediction rows for every example; a failing reference is an error in the test file, not in the model,
    except a place the gazetteer does not know: a gap in our data, scored as a miss (`gazetteer_gap`).

    `done`: rows already finished for the first examples (a resumed evaluation); only the rest are answered.
    `record` is given each batch's new rows as soon as they exist (the progress journal)."""
    references = execute_outputs([(ex.reference_text, ex.instruction) for ex in examples], domain)
    prefix = constant("grounding", "UNKNOWN_PLACE")
    for ex, ref in zip(examples, references):  # a reference's gap is worked out once, not per row written
        ref["gaps"] = [] if ex.expect_refusal else unknown_places(ref, prefix)
        if ref["call"] is None and not ex.expect_refusal and not ref["gaps"]:
            raise WebslmError(f"{ex.where}: the reference output does not execute ({ref['stage']}: {ref['reason']})")
        if ref["call"] is not None and ex.expect_refusal:
            raise WebslmError(f"{ex.where}: expects a refusal, but its reference output executes; a refusal case "
                              "needs a request the product must refuse")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(examples), initial=len(done), desc=f"eval {run.name}", unit="ex", dynamic_ncols=True)
    rows = list(done)
    chunk = run.chunk or chunk
    try:
        _generate_rows(examples[len(done):], references[len(done):], run, domain, chunk, bar, rows, record)
    except KeyboardInterrupt:
        raise EvaluationInterrupted(rows) from None
    finally:
        if bar:
            bar.close()
    return rows


def _generate_rows(examples, references, run, domain, chunk, bar, rows, record) -> None:
    for start in range(0, len(examples), chunk):
        finished_before = len(rows)
        batch = examples[start:start + chunk]
        messages = [[{"role": "system", "content": ex.system}, {"role": "user", "content": ex.instruction}]
                    for ex in batch]
        began = time.perf_counter()
        generations = run.generate(messages, [ex.given for ex in batch]) if run.takes_given else run.generate(messages)
        if len(generations) != len(batch):
            raise RuntimeError(f"backend {run.name} returned {len(generations)} answers for {len(batch)} prompts")
        here = [i for i, gen in enumerate(generations) if gen.outcome is None]
        outcomes = [gen.outcome for gen in generations]
        for i, outcome in zip(here, execute_outputs([(generations[i].text, batch[i].instruction) for i in here], domain)):
            outcomes[i] = outcome
        for ex, ref, gen, outcome in zip(batch, references[start:start + chunk], generations, outcomes):
            seconds = gen.seconds if gen.seconds is not None else (time.perf_counter() - began) / len(batch)
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
                **({GAZETTEER_GAP_KEY: ref["gaps"]} if ref["gaps"] else {}),
                **({EXPECT_KEY: REFUSAL} if ex.expect_refusal else {}),
                "seconds": seconds,
                "prompt_tokens": gen.prompt_tokens,
                "output_tokens": gen.output_tokens,
                **({"speed": gen.speed} if gen.speed else {}),
                **({"page": gen.page} if gen.page else {}),
            })
        if record:
            record(rows[finished_before:])
        if bar:
            bar.update(len(batch))


def evaluate_runs(test_file: Path, out: Path, runs, domain, limit: int | None = None, chunk: int = 16,
                  progress: bool = True, journal=None) -> tuple[dict[str, dict], bool]:
    """Every run on the same examples; returns (metrics per run, interrupted).

    Ctrl-C keeps what is done: the interrupted run's finished examples are written and scored, and the runs after it
    answer just those examples (quick references such as torch), so the report still compares like with like.
    A second Ctrl-C stops at once. `journal` (evalharness.journal.Journal): finished rows are appended to it as they
    come, and a resumed journal's rows are not answered again.
    """
    examples = load_examples(test_file, domain.system_prompt, limit)
    results, info, rows_by_run = {}, {}, {}
    interruptions = 0
    for run in runs:
        done, record = [], None
        if journal is not None:
            done = journal.finished(run.name)
            check_resumed_rows(journal.path, run.name, done, examples)
            if done:
                print(f"resuming {run.name}: {len(done)} of {len(examples)} example(s) already answered", flush=True)
            record = lambda rows, name=run.name: journal.record(name, rows)  # noqa: E731
        try:
            rows = evaluate(examples, run, domain, chunk=chunk, progress=progress, done=done, record=record)
        except EvaluationInterrupted as stop:
            rows, interruptions = stop.rows, interruptions + 1
            print(f"interrupted: writing the {len(rows)} finished example(s) of {run.name}", flush=True)
            if interruptions == 1 and run is not runs[-1]:
                examples = examples[:len(rows)]
                print(f"the other runs answer the same {len(rows)} example(s); Ctrl-C again to stop at once",
                      flush=True)
        rows_by_run[run.name] = rows
        where = out if len(runs) == 1 else out / run.name
        atomic.write_jsonl(where / "predictions.jsonl", rows)
        metrics = summarize(rows)
        atomic.write_json(where / "metrics.json", {"run": run.name, **run.info, "test_file": str(test_file), **metrics})
        results[run.name], info[run.name] = metrics, run.info
        if interruptions > 1:
            break
    if len(results) > 1:
        atomic.write_json(out / "metrics.json", {"test_file": str(test_file), "runs": results})
    write_report(out, results, info, rows_by_run=rows_by_run)
    return results, interruptions > 0


def answer_constraint(args, domain):
    """(emission schema or None, per-request narrowing or None) from the eval flags, as the demo constrains answers:
    the domain's schema narrowed to each request's evidence, unless --unconstrained / --no-copy-constraint."""
    schema = None if args.unconstrained else domain.emission_schema()
    narrow = domain.rules.narrow if schema is not None and args.copy_constraint else None
    return schema, narrow
