"""`webslm eval` and `webslm serve-api` on a tiny random model: web-llm prompt ids under batching, garbage scored
never raised, the shared pipeline on known answers, and an endpoint evaluation against our own server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from evalharness.predict import (Generation, Run, evaluate, execute_output, execute_outputs, load_examples,
                                 parse_json_text)
from conftest import free_port
from tests.tiny_models import cached_tiny_model, write_tiny_dataset
from webslm.domain import load_domain
from webslm.errors import WebslmError


@pytest.fixture(scope="module")
def domain():
    return load_domain()


@pytest.fixture(scope="module")
def tiny(domain):
    from evalharness.torch_backend import load_model

    return load_model(str(cached_tiny_model("llama")))


def _messages(domain, texts):
    return [[{"role": "system", "content": domain.system_prompt}, {"role": "user", "content": t}] for t in texts]


def test_batched_generation_keeps_each_prompts_ids_and_answers(domain, tiny):
    from evalharness.torch_backend import Sampling, generate_ids, prompt_ids
    from webslm.prompting import encode_prompt

    model, tokenizer, conv = tiny
    messages = _messages(domain, ["fly to Paris", "zoom in a lot please, much closer now", "2D"])
    prompts = [prompt_ids(tokenizer, conv, m) for m in messages]
    assert prompts[0] == encode_prompt(tokenizer, conv, domain.system_prompt, messages[0][1:])
    assert len({len(p) for p in prompts}) == 3  # different lengths: left padding is exercised
    sampling = Sampling(max_new_tokens=12)
    batched = generate_ids(model, tokenizer, conv, prompts, sampling, batch_size=3)
    alone = [generate_ids(model, tokenizer, conv, [p], sampling, batch_size=1)[0] for p in prompts]
    assert [ids for ids, _ in batched] == [ids for ids, _ in alone]


MODE_SCHEMA = {"type": "object", "properties": {"mode": {"enum": ["2D", "3D", "COLUMBUS_VIEW"]}},
               "required": ["mode"], "additionalProperties": False}


def test_schema_constraint_makes_a_random_model_answer_in_schema(domain, tiny):
    """A random tiny model writes garbage; constrained to a schema it can only write what the schema allows."""
    from evalharness.torch_backend import Sampling, torch_backend

    model, tokenizer, conv = tiny
    schema = MODE_SCHEMA
    messages = _messages(domain, ["fly to Paris", "zoom in a lot please", "2D", "show the globe", "set time"])
    sampling = Sampling(max_new_tokens=40)
    free = [g.text for g in torch_backend(model, tokenizer, conv, sampling)(messages)]
    constrained = [g.text for g in torch_backend(model, tokenizer, conv, sampling, schema=schema)(messages)]
    assert not any(_parses_to_mode(t) for t in free)
    assert all(_parses_to_mode(t) for t in constrained), constrained


NAME_SCHEMA = {"type": "object", "properties": {"place": {"type": "string", "minLength": 1, "x-copy": True}},
               "required": ["place"], "additionalProperties": False}


def test_copy_constraint_makes_a_random_model_name_only_request_words(domain, tiny):
    """Each request in a batch gets its own schema: the place a random model writes is a run of that request's
    words, never a word of another request in the batch, nor any other string."""
    from evalharness.torch_backend import Sampling, torch_backend
    from rules import copying

    model, tokenizer, conv = tiny
    texts = ["fly to Ongole", "drop a pin on Phan Rang-Tháp Chàm", "zoom in", "circle Kyiv r=1.1 km navy"]
    sampling = Sampling(max_new_tokens=40)
    answers = torch_backend(model, tokenizer, conv, sampling, batch_size=4, schema=NAME_SCHEMA,
                            narrow=_narrow_name_schema)(_messages(domain, texts))
    for text, answer in zip(texts, answers):
        assert json.loads(answer.text)["place"] in copying.requestSpans(text), (text, answer.text)
    free = torch_backend(model, tokenizer, conv, sampling, batch_size=4, schema=NAME_SCHEMA)(_messages(domain, texts))
    assert not any(_place_of(a.text) in copying.requestSpans(t) for t, a in zip(texts, free))


def _narrow_name_schema(requests: list[str]) -> list[dict]:
    """NAME_SCHEMA narrowed to each request's words by the rulebook (copying.js forRequest), as `rules.narrow` does
    the domain's emission schema."""
    from rules import copying

    return [copying.forRequest(NAME_SCHEMA, request) for request in requests]


def _place_of(text: str):
    try:
        return json.loads(text)["place"]
    except json.JSONDecodeError:
        return None  # ran out of tokens inside the string


def _parses_to_mode(text: str) -> bool:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and list(value) == ["mode"] and value["mode"] in ("2D", "3D", "COLUMBUS_VIEW")


def test_parse_and_execute(domain):
    assert parse_json_text(' ```json\n{"a": 1}\n``` ')[0] == {"a": 1}
    assert parse_json_text('{"a": 1} and more')[1].startswith("extra text")
    assert parse_json_text("Sure! Here is")[0] is None
    ok = execute_output('{"tool": "flyTo", "arguments": {"place": "Paris"}}', domain)
    assert ok["stage"] == "ok" and abs(ok["call"]["arguments"]["latitude"] - 48.85) < 0.1
    unknown = execute_output('{"tool": "flyTo", "arguments": {"place": "Nowhereville Xq"}}', domain)
    assert unknown["stage"] == "grounding" and "unknown place" in unknown["reason"]
    assert execute_output('{"tool": "zoom", "arguments": {}}', domain)["stage"] == "schema"
    assert execute_output('[1, 2', domain)["stage"] == "json"
    # with the request, a slip in a copied name reads as the request's words; one round trip for a batch
    slip = '{"tool": "flyTo", "arguments": {"place": "Orgole"}}'
    assert [o["stage"] for o in execute_outputs([(slip, "fly to Ongole"), (slip, None)], domain)] == [
        "ok", "grounding"]


def test_pipeline_scores_known_answers(tmp_path, domain):
    from evalharness.metrics import summarize

    path = tmp_path / "t.jsonl"
    rows = [{"instruction": "fly to paris", "output": '{"tool": "flyTo", "arguments": {"place": "Paris"}}'},
            {"instruction": "go to 2.35E 48.85N", "output": '{"tool": "flyTo", "arguments": {"place": "Paris"}}'},
            {"instruction": "zoom in", "output": '{"tool": "zoom", "arguments": {"amount": 2}}'},
            {"instruction": "gibberish", "output": '{"tool": "zoom", "arguments": {"amount": 2}}'}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    answers = ['{"tool": "flyTo", "arguments": {"place": "Paris"}}',
               '{"tool": "flyTo", "arguments": {"longitude": 2.3488, "latitude": 48.8534}}',
               '{"tool": "zoom", "arguments": {"amount": 2.01}}',
               '\x00<<garbage']

    def canned(messages_list):
        assert all(m[0]["role"] == "system" and m[1]["role"] == "user" for m in messages_list)
        return [Generation(answers[[r["instruction"] for r in rows].index(m[1]["content"])], 0.1)
                for m in messages_list]

    out = evaluate(load_examples(path, domain.system_prompt), Run("canned", canned), domain, chunk=3, progress=False)
    m = summarize(out)
    assert (m["valid_json"], m["schema_valid"], m["right_tool"], m["right_args"], m["exact_match"]) == (
        0.75, 0.75, 0.75, 0.75, 0.25)
    assert out[3]["call"] is None and out[3]["stage"] == "json" and out[3]["raw"] == '\x00<<garbage'


def test_ctrl_c_keeps_finished_examples_and_the_reference_run_answers_the_same_ones(tmp_path, domain):
    from evalharness.predict import evaluate_runs

    data = write_tiny_dataset(tmp_path / "t.jsonl", n=5)
    answer = '{"tool": "zoom", "arguments": {"amount": 2}}'
    asked = {"slow": [], "reference": []}

    def backend(name, stop_after=None):
        def generate(messages_list):
            if stop_after is not None and len(asked[name]) == stop_after:
                raise KeyboardInterrupt
            asked[name] += [m[1]["content"] for m in messages_list]
            return [Generation(answer, 0.1) for _ in messages_list]
        return generate

    runs = [Run("slow", backend("slow", stop_after=2), chunk=1), Run("reference", backend("reference"))]
    results, interrupted = evaluate_runs(data, tmp_path / "out", runs, domain, progress=False)
    assert interrupted
    assert results["slow"]["n"] == results["reference"]["n"] == 2
    assert asked["reference"] == asked["slow"]  # the same two examples, not all five
    written = [json.loads(line) for line in (tmp_path / "out/reference/predictions.jsonl").read_text().splitlines()]
    assert [r["instruction"] for r in written] == asked["slow"]


def test_eval_cli_compare_scores_a_garbage_model_without_crashing(tmp_path, domain):
    from train.config import make_config
    from train.lora import train_lora
    from webslm.cli import main

    model = cached_tiny_model("llama")
    data = write_tiny_dataset(tmp_path / "d.jsonl", n=8)
    train_lora(make_config(None, model=str(model), train_file=str(data), out=str(tmp_path / "ad"), max_steps=1,
                           batch_size=4), progress=False)
    rc = main(["eval", str(data), "--adapter", str(tmp_path / "ad"), "--compare", "--out", str(tmp_path / "ev"),
               "--max-new-tokens", "8", "--quiet"])
    assert rc == 0
    ev = tmp_path / "ev"
    for name in ("report.md", "metrics.png", "metrics.json", "base+prompt/predictions.jsonl",
                 "fine-tuned/predictions.jsonl", "fine-tuned/metrics.json"):
        assert (ev / name).is_file(), name
    report = (ev / "report.md").read_text()
    assert "| right arguments |" in report and "base+prompt" in report and "fine-tuned" in report
    row = json.loads((ev / "fine-tuned/predictions.jsonl").read_text().splitlines()[0])
    assert {"instruction", "raw", "parsed", "call", "reason", "reference"} <= row.keys()
    assert json.loads((ev / "metrics.json").read_text())["runs"]["fine-tuned"]["n"] == 8


def test_eval_rejects_a_bad_test_file_before_loading_a_model(tmp_path):
    from webslm.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x"}\n')
    assert main(["eval", str(bad), "--model", "/nonexistent/model", "--out", str(tmp_path / "o")]) == 2


def test_a_record_s_given_calls_are_read_and_a_bad_given_is_named(tmp_path):
    from evalharness.predict import load_examples
    from webslm.errors import ProblemsError

    call = {"tool": "createBox", "arguments": {"width": 1, "depth": 1, "height": 1, "name": "lid"}}
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"instruction": "move the lid up 5", "given": [call],
                                "output": '{"tool": "move", "arguments": {"target": "lid", "dz": 5}}'}) + "\n")
    (example,) = load_examples(good, "system")
    assert [json.loads(c) for c in example.given] == [call]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + json.dumps({"instruction": "x", "output": "{}", "given": {"tool": "t"}}) + "\n")
    with pytest.raises(ProblemsError) as e:
        load_examples(bad, "system")
    assert [(p.where, p.field) for p in e.value.problems] == [(f"{bad}:2", "given")]


def test_eval_endpoint_against_our_serve_api(tmp_path, domain, tiny):
    from evalharness.predict import evaluate_runs
    from evalharness.endpoint import endpoint_backend
    from evalharness.serve_api import create_app
    from evalharness.torch_backend import Sampling, torch_backend
    from webslm.serving import serve_in_thread

    model, tokenizer, conv = tiny
    with serve_in_thread(create_app(model, tokenizer, conv, "tiny")) as port:
        data = write_tiny_dataset(tmp_path / "t.jsonl", n=4)
        url = f"http://127.0.0.1:{port}"
        results, _ = evaluate_runs(data, tmp_path / "ep", [Run("endpoint", endpoint_backend(url, max_tokens=10))],
                                domain, progress=False)
        assert results["endpoint"]["n"] == 4 and (tmp_path / "ep/report.md").is_file()
        # the server builds the same prompt ids as the torch backend: same greedy answers
        served = [json.loads(line)["raw"] for line in (tmp_path / "ep/predictions.jsonl").read_text().splitlines()]
        direct = evaluate(load_examples(data, domain.system_prompt),
                          Run("torch", torch_backend(model, tokenizer, conv, Sampling(max_new_tokens=10))), domain,
                          progress=False)
        assert served == [r["raw"] for r in direct]
        # JSON mode sends each request's own schema: names only from that request's words
        from rules import copying

        texts = ["fly to Ongole", "circle Kyiv r=1.1 km navy"]
        copied = endpoint_backend(url, max_tokens=40, json_mode=True, schema=NAME_SCHEMA, narrow=_narrow_name_schema)(
            _messages(domain, texts))
        assert [json.loads(g.text)["place"] in copying.requestSpans(t) for t, g in zip(texts, copied)] == [True, True]
        import httpx

        reply = httpx.post(f"{url}/v1/chat/completions", json={
            "messages": [{"role": "user", "content": "zoom in"}], "max_tokens": 4,
            "response_format": {"type": "json_object"}}).json()
        assert reply["object"] == "chat.completion" and reply["usage"]["completion_tokens"] <= 4
        assert reply["webslm"]["json_valid"] in (True, False)
        # a schema constrains the random model's answer, in web-llm's form (schema as text) and in OpenAI's
        for response_format in ({"type": "json_object", "schema": json.dumps(MODE_SCHEMA)},
                                {"type": "json_schema", "json_schema": {"name": "mode", "schema": MODE_SCHEMA}}):
            reply = httpx.post(f"{url}/v1/chat/completions", json={
                "messages": [{"role": "user", "content": "zoom in"}], "max_tokens": 40,
                "response_format": response_format}).json()
            assert _parses_to_mode(reply["choices"][0]["message"]["content"]) and reply["webslm"]["json_valid"]
        bad = httpx.post(f"{url}/v1/chat/completions", json={
            "messages": [{"role": "user", "content": "zoom in"}], "response_format": {"type": "json_object",
                                                                                     "schema": "{not json"}})
        assert bad.status_code == 400 and "schema is not JSON" in bad.text
        assert httpx.post(f"{url}/v1/chat/completions", json={"messages": [], "stream": True}).status_code == 400


def test_unreachable_endpoint_is_a_clear_error():
    from evalharness.endpoint import endpoint_backend

    with pytest.raises(WebslmError, match="cannot reach the endpoint .*serve-api"):
        endpoint_backend(f"http://127.0.0.1:{free_port()}")


def test_an_expected_refusal_is_right_only_when_nothing_executes(tmp_path):
    """Rows of a set like evalharness/sets/invented_places.jsonl: refused is right, anything executed is wrong."""
    from evalharness.metrics import score_row, summarize

    refused = {"expect": "refusal", "parsed": {"tool": "flyTo", "arguments": {"place": "Xanadu"}}, "call": None,
               "stage": "grounding", "valid_json": True, "reference": None}
    executed = {**refused, "call": {"tool": "zoom", "arguments": {"amount": 2}}, "stage": "ok"}
    assert all(score_row(refused).values())
    assert not any(v for k, v in score_row(executed).items() if k != "valid_json")
    summary = summarize([refused, executed])
    assert summary["refusals_expected"] == 2 and summary["executed_when_refusal_expected"] == 1
    assert summary["right_args"] == 0.5 and "(refusal expected)" in summary["per_tool"]


def test_the_invented_places_set_loads_and_every_reference_is_refused():
    from evalharness.predict import execute_outputs, load_examples
    from webslm import REPO_ROOT
    from webslm.domain import load_domain

    domain = load_domain("cesium")
    examples = load_examples(REPO_ROOT / "evalharness/sets/invented_places.jsonl", domain.system_prompt)
    assert len(examples) == 30 and all(ex.expect_refusal for ex in examples)
    outcomes = execute_outputs([(ex.reference_text, ex.instruction) for ex in examples], domain)
    assert [o["stage"] for o in outcomes] == ["grounding"] * 30
    assert all("I don't know where" in o["reason"] for o in outcomes)


def test_a_stopped_evaluation_resumes_where_it_stopped_and_answers_nothing_twice(tmp_path, domain):
    from evalharness.journal import PROGRESS_FILE, Journal
    from evalharness.predict import evaluate_runs

    data = write_tiny_dataset(tmp_path / "t.jsonl", n=5)
    out = tmp_path / "out"
    answer = '{"tool": "zoom", "arguments": {"amount": 2}}'
    asked = []

    def backend(crash_after=None):
        def generate(messages_list):
            if crash_after is not None and len(asked) == crash_after:
                raise RuntimeError("the machine went away")
            asked.extend(m[1]["content"] for m in messages_list)
            return [Generation(answer, 0.1) for _ in messages_list]
        return generate

    settings = {"test_sha256": "x", "decode": "forced"}
    journal = Journal.start(out, settings)
    with pytest.raises(RuntimeError):
        evaluate_runs(data, out, [Run("browser", backend(crash_after=2), chunk=1)], domain, progress=False,
                      journal=journal)
    journal.close(complete=False)
    assert len((out / PROGRESS_FILE).read_text().splitlines()) == 1 + 2  # the header and the two answered

    with pytest.raises(WebslmError, match="--decode was 'forced' when this evaluation started and is 'plain' now"):
        Journal.resume(out, {**settings, "decode": "plain"})
    (out / PROGRESS_FILE).write_text((out / PROGRESS_FILE).read_text() + '{"run": "browser", "ro')  # cut mid-write
    journal = Journal.resume(out, settings)
    first_two = list(asked)
    results, interrupted = evaluate_runs(data, out, [Run("browser", backend(), chunk=1)], domain, progress=False,
                                         journal=journal)
    journal.close(complete=not interrupted)
    assert asked[2:] == [json.loads(line)["instruction"] for line in data.read_text().splitlines()[2:]]
    assert len(asked) == 5 and first_two == asked[:2]
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["instruction"] for r in rows] == asked and results["browser"]["n"] == 5
    assert not (out / PROGRESS_FILE).exists()  # finished: the journal is gone


def test_eval_cli_refuses_an_unfinished_folder_without_resume_and_checks_the_flags_with_it(tmp_path, capsys):
    from evalharness.journal import Journal, settings_of
    from webslm.cli import build_parser, main

    data = write_tiny_dataset(tmp_path / "t.jsonl", n=3)
    out = tmp_path / "ev"
    argv = ["eval", str(data), "--backend", "browser", "--bundle", str(tmp_path / "no-bundle"), "--out", str(out)]
    journal = Journal.start(out, settings_of(build_parser().parse_args(argv)))
    journal.record("browser", [{"where": f"{data}:1", "instruction": "x"}])
    journal.close(complete=False)
    assert main(argv) == 2
    assert "holds an unfinished evaluation (1 example(s) answered" in capsys.readouterr().err
    assert main(argv + ["--resume", "--decode", "plain"]) == 2
    assert "--decode was 'forced' when this evaluation started" in capsys.readouterr().err
    assert main(argv + ["--resume"]) == 2  # the right flags get past the journal to the backend: no bundle there
    assert "no-bundle" in capsys.readouterr().err
    assert (out / "progress.jsonl").is_file()  # and the journal is still there to resume
