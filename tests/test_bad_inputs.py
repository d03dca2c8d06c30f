"""Bad input from a user is an error naming the file (file:line and field where there is one) with exit code 2,
never a traceback, in every command that reads it: NaN/Infinity and out-of-range numbers (Python's json takes them,
a browser's JSON.parse does not), JSON nested 100k deep, broken config.json / adapter_config.json and safetensors."""

import json

import pytest

from conftest import edited_domain
from webslm.cli import main
from webslm.strict_json import MAX_DEPTH, JSONInputError, parse_json

CALL = {"tool": "flyTo", "arguments": {"longitude": 2.35, "latitude": 48.86}}
GOOD = {"instruction": "fly to Paris", "output": json.dumps(CALL)}
DEEP = "[" * 100_000 + "]" * 100_000


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _fails_naming(capsys, argv, *expected):
    """`webslm argv` exits 2 with one clear message that contains every `expected` string, and no traceback."""
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


def _output_with(number: str) -> str:
    """A record whose output's longitude is written as `number` (json.dumps cannot write 1e999 or -Infinity)."""
    output = '{"tool": "flyTo", "arguments": {"longitude": %s, "latitude": 48.86}}' % number
    return json.dumps({"instruction": "fly to Paris", "output": output})


# ------------------------------------------------------------------------------- the one strict reader

@pytest.mark.parametrize("text, field, reason", [
    ('{"a": NaN}', "a", "NaN is not a JSON number"),
    ('{"a": [1, {"b": Infinity}]}', "a[1].b", "Infinity is not a JSON number"),
    ('[-Infinity]', "[0]", "-Infinity is not a JSON number"),
    ('{"x": 1e999}', "x", "out of range of a double"),
    ('{"x": -1e400}', "x", "out of range of a double"),
    ('{"x": %s}' % ("9" * 5000), "x", "out of range of a double"),  # int() itself refuses > 4300 digits
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "", f"nested more than {MAX_DEPTH} deep"),
    (DEEP, "", f"nested more than {MAX_DEPTH} deep"),  # RecursionError inside json
    ('{"a" 1}', "", "Expecting ':' delimiter at column 6"),
])
def test_parse_json_refuses_what_json_parse_refuses(text, field, reason):
    with pytest.raises(JSONInputError) as e:
        parse_json(text, "f.jsonl:3")
    assert (e.value.problem.where, e.value.problem.field) == ("f.jsonl:3", field)
    assert reason in e.value.reason


def test_parse_json_keeps_what_json_parse_keeps():
    deepest = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # inside the outer object: MAX_DEPTH deep
    text = '{"a": [1, -2.5e3, 1e-999, 1.7976931348623157e308], "b": "NaN Infinity", "c": %s}' % deepest
    assert parse_json(text)["a"] == [1, -2500.0, 0.0, 1.7976931348623157e308]


# ------------------------------------------------------------------------------------ NaN / Infinity (#18.4)

# The data verbs that read a whole file, each with the flags it needs; output names are made paths under tmp_path.
DATA_VERBS = [("verify", []), ("stats", ["--out", "stats"]), ("split", ["--out", "split"]),
              ("convert", ["--to", "chat", "--out", "chat.jsonl"])]


def _outputs_in(tmp_path, extra: list[str]) -> list[str]:
    return [str(tmp_path / e) if e in ("stats", "split", "chat.jsonl") else e for e in extra]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_verify_refuses_non_json_numbers_in_an_output(tmp_path, capsys, number):
    data = _write(tmp_path / "d.jsonl", [json.dumps(GOOD), _output_with(number)])
    _fails_naming(capsys, ["data", "verify", data], f"{data}:2 [output.arguments.longitude]: not valid JSON",
                  number, "1 problem(s)")


@pytest.mark.parametrize("verb, extra", DATA_VERBS)
def test_data_commands_refuse_nan_anywhere_in_a_record(tmp_path, capsys, verb, extra):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "meta": {"weight": float("nan")}}) + "\n")
    extra = _outputs_in(tmp_path, extra)
    _fails_naming(capsys, ["data", verb, data, *extra], f"{data}:2 [meta.weight]: invalid JSON: NaN")
    assert not (tmp_path / "stats").exists() and not (tmp_path / "split").exists()


def test_train_refuses_nan_before_loading_a_model(tmp_path, capsys):
    data = _write(tmp_path / "train.jsonl", [json.dumps(GOOD), json.dumps({**GOOD, "score": float("inf")})])
    _fails_naming(capsys, ["train", data, "--out", tmp_path / "adapter", "--model", tmp_path / "no-model"],
                  f"{data}:2 [score]: invalid JSON: Infinity")


def test_eval_refuses_nan_in_the_test_file_before_loading_a_model(tmp_path, capsys):
    data = _write(tmp_path / "test.jsonl", [json.dumps({**GOOD, "meta": {"places": [float("-inf")]}})])
    _fails_naming(capsys, ["eval", data, "--out", tmp_path / "eval", "--model", tmp_path / "no-model"],
                  f"{data}:1 [meta.places[0]]: invalid JSON: -Infinity")


def test_domain_pack_with_nan_in_a_tool_schema(tmp_path, capsys):
    def edit(tool):
        tool["parameters"]["properties"]["latitude"]["maximum"] = float("nan")

    domain = edited_domain(tmp_path, "cesium", "tools/flyTo.json", edit)
    data = _write(tmp_path / "d.jsonl", [json.dumps(GOOD)])
    _fails_naming(capsys, ["data", "verify", data, "--domain", domain],
                  f"{domain / 'tools/flyTo.json'} [parameters.properties.latitude.maximum]: invalid JSON: NaN")


def test_xlam_answers_with_nan_are_skipped_with_the_reason(tmp_path, capsys):
    rows = [{"query": "zoom in", "tools": "[]", "answers": '[{"name": "zoom", "arguments": {"amount": NaN}}]'},
            {"query": "zoom out", "tools": "[]", "answers": '[{"name": "zoom", "arguments": {"amount": -2}}]'}]
    sample = tmp_path / "xlam.json"
    sample.write_text(json.dumps(rows))
    assert main(["data", "import-xlam", str(sample), "--out", str(tmp_path / "out.jsonl")]) == 0
    out, err = capsys.readouterr()
    assert f"{sample}[0]: 'answers' is not valid JSON (NaN is not a JSON number" in err
    assert "imported 1 records" in out


# ------------------------------------------------------------------------------ nested 100k deep (#18.5)

@pytest.mark.parametrize("verb, extra", DATA_VERBS)
def test_data_commands_refuse_a_line_nested_100k_deep(tmp_path, capsys, verb, extra):
    data = _write(tmp_path / "deep.jsonl", [json.dumps(GOOD), DEEP])
    extra = _outputs_in(tmp_path, extra)
    _fails_naming(capsys, ["data", verb, data, *extra], f"{data}:2: invalid JSON: arrays/objects nested more than")


@pytest.mark.parametrize("verb, extra", [("stats", ["--out", "stats"]), ("split", ["--out", "split"])])
def test_an_output_nested_100k_deep_is_an_unparsed_output_not_a_crash(tmp_path, capsys, verb, extra):
    data = _write(tmp_path / "deep.jsonl", [json.dumps(GOOD), json.dumps({"instruction": "x", "output": DEEP})])
    assert main(["data", verb, str(data), "--out", str(tmp_path / extra[1])]) == 0
    if verb == "stats":
        stats = json.loads((tmp_path / "stats/stats.json").read_text())
        assert (stats["records"], stats["unparsed_outputs"]) == (2, 1)


def test_verify_reports_an_output_nested_too_deep(tmp_path, capsys):
    data = _write(tmp_path / "deep.jsonl", [json.dumps({"instruction": "x", "output": DEEP})])
    _fails_naming(capsys, ["data", "verify", data], f"{data}:1 [output]: not valid JSON: arrays/objects nested")


# ------------------------------------------------------------------ broken config.json / safetensors (#18.5)

LLAMA_CONFIG = {"model_type": "llama", "vocab_size": 500, "hidden_size": 64, "intermediate_size": 128,
                "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                "max_position_embeddings": 1024, "rope_theta": 10000.0, "rms_norm_eps": 1e-5}


def _model_dir(tmp_path, config_bytes: bytes):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_bytes(config_bytes)
    return model


@pytest.mark.parametrize("config_bytes, expected", [
    (b'{"model_type": "llama", "hidden_size": ', "invalid JSON: Expecting value at column 40"),
    (b"\x89PNG\r\n\x1a\n\x00\x00 not a config", "not UTF-8 text (byte 0x89 at offset 0)"),
    (b'{"model_type": "llama", "x": ' + DEEP.encode() + b"}", "invalid JSON: arrays/objects nested more than"),
    (json.dumps({k: v for k, v in LLAMA_CONFIG.items() if k != "hidden_size"}).encode(),
     "no 'hidden_size'; a llama config.json has it"),
    (json.dumps({**LLAMA_CONFIG, "num_hidden_layers": "two"}).encode(),
     "[num_hidden_layers]: must be a positive integer, got 'two'"),
    (json.dumps({**LLAMA_CONFIG, "rope_theta": "big"}).encode(), "[rope_theta]: must be a positive number"),
    (json.dumps([LLAMA_CONFIG]).encode(), ": expected a JSON object, got list"),
    (json.dumps({**LLAMA_CONFIG, "hidden_size": float("nan")}).encode(), "[hidden_size]: invalid JSON: NaN"),
])
def test_convert_with_a_broken_config_json(tmp_path, capsys, config_bytes, expected):
    model = _model_dir(tmp_path, config_bytes)
    _fails_naming(capsys, ["convert", model, "--out", tmp_path / "bundle"], str(model / "config.json"), expected)
    assert not (tmp_path / "bundle").exists()


def test_convert_with_corrupt_safetensors(tmp_path, capsys):
    from tokenizers import Tokenizer, models

    model = _model_dir(tmp_path, json.dumps(LLAMA_CONFIG).encode())
    Tokenizer(models.WordLevel({"<unk>": 0, "fly": 1}, unk_token="<unk>")).save(str(model / "tokenizer.json"))
    weights = model / "model.safetensors"
    weights.write_bytes(_safetensors_bytes()[:100])  # truncated inside its header
    _fails_naming(capsys, ["convert", model, "--out", tmp_path / "bundle"],
                  f"{weights}: not a readable safetensors file (Error while deserializing header")
    assert not (tmp_path / "bundle").exists()


ADAPTER_CONFIG = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj"]}


def _adapter_case(tmp_path, config_bytes: bytes, weights: bytes):
    """A PEFT directory with these files, a base checkpoint (config.json, no weights) and a base bundle manifest
    that names it: everything convert-adapter reads before the adapter itself."""
    from webslm.checkpoint import checkpoint_fingerprint

    base_model = _model_dir(tmp_path, json.dumps(LLAMA_CONFIG).encode())
    peft = tmp_path / "peft"
    peft.mkdir()
    (peft / "adapter_config.json").write_bytes(config_bytes)
    (peft / "adapter_model.safetensors").write_bytes(weights)
    bundle = tmp_path / "base-bundle"
    bundle.mkdir()
    (bundle / "webslm-bundle.json").write_text(json.dumps({
        "format": "webslm-bundle/1", "model_id": "base", "base_model": str(base_model),
        "base_fingerprint": checkpoint_fingerprint(base_model), "lora": {"rank": 4, "params": []}}))
    return ["convert-adapter", peft, "--base", bundle, "--base-model", base_model, "--out", tmp_path / "out"]


def _safetensors_bytes() -> bytes:
    import numpy as np
    from safetensors.numpy import save

    return save({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.zeros((4, 64), np.float32)})


@pytest.mark.parametrize("config, weights, file, expected", [
    (b'{"peft_type": "LORA", "r": 4,', None, "adapter_config.json", "invalid JSON: Expecting property name"),
    (b"\xff\xfe\x00garbage", None, "adapter_config.json", "not UTF-8 text"),
    (json.dumps({k: v for k, v in ADAPTER_CONFIG.items() if k != "r"}).encode(), None, "adapter_config.json",
     "[r]: the LoRA rank must be a positive integer, got None"),
    (json.dumps({**ADAPTER_CONFIG, "target_modules": {"q_proj": 1}}).encode(), None, "adapter_config.json",
     "[target_modules]: must be a module name or a list of them"),
    (None, b"\x00" * 7, "adapter_model.safetensors", "not a readable safetensors file (Error while deserializing "
                                                       "header: header too small)"),
    (None, b"garbage bytes, not a safetensors file at all", "adapter_model.safetensors",
     "not a readable safetensors file"),
])
def test_convert_adapter_with_a_broken_adapter(tmp_path, capsys, config, weights, file, expected):
    argv = _adapter_case(tmp_path, config or json.dumps(ADAPTER_CONFIG).encode(), weights or _safetensors_bytes())
    _fails_naming(capsys, argv, str(tmp_path / "peft" / file), expected)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------- JSON of the wrong shape: stats and split do not verify first

@pytest.mark.parametrize("odd, unparsed", [
    ({"messages": 5}, 1),                                                                  # messages not a list
    ({"instruction": "x", "output": json.dumps({"tool": ["flyTo"], "arguments": {}})}, 1),  # tool not a string
    ({**GOOD, "meta": "not an object"}, 0),
    ({**GOOD, "meta": {"places": [{"name": "Paris"}], "template": "t"}}, 0),                # places not strings
])
def test_a_record_of_the_wrong_shape_is_counted_not_a_crash(tmp_path, odd, unparsed):
    data = _write(tmp_path / "odd.jsonl", [json.dumps(GOOD), json.dumps(odd)])
    assert main(["data", "split", str(data), "--out", str(tmp_path / "split")]) == 0
    assert main(["data", "stats", str(data), "--out", str(tmp_path / "stats")]) == 0
    stats = json.loads((tmp_path / "stats/stats.json").read_text())
    assert (stats["records"], stats["unparsed_outputs"]) == (2, unparsed)
