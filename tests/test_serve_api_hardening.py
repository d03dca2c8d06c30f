"""`webslm serve-api` as an outside client meets it, on a tiny random model: the official `openai` client works
unchanged; every bad request is a 400 in OpenAI's error form naming the field, never a 500 nor a silent default;
a prompt longer than the context is refused without waiting for the generation lock; HEAD; Host header; bind host."""

from __future__ import annotations

import http.client
import json
import threading

import httpx
import pytest

from tests.tiny_models import cached_tiny_model

MODE_SCHEMA = {"type": "object", "properties": {"mode": {"enum": ["2D", "3D", "COLUMBUS_VIEW"]}},
               "required": ["mode"], "additionalProperties": False}
USER = [{"role": "user", "content": "zoom in"}]


@pytest.fixture(scope="module")
def tiny():
    from evalharness.torch_backend import load_model

    return load_model(str(cached_tiny_model("llama")))


@pytest.fixture(scope="module")
def url(tiny):
    from evalharness.serve_api import create_app
    from webslm.serving import serve_in_thread

    with serve_in_thread(create_app(*tiny, "tiny")) as port:
        yield f"http://127.0.0.1:{port}"


def test_the_openai_client_works_unchanged(url):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny"]
    reply = client.chat.completions.create(model="tiny", messages=USER, max_tokens=5)
    assert isinstance(reply.choices[0].message.content, str) and reply.usage.completion_tokens <= 5
    # JSON mode: any JSON; the random model may run out of tokens mid-value, so the server says whether it parses
    reply = client.chat.completions.create(model="tiny", messages=USER, max_tokens=20,
                                           response_format={"type": "json_object"})
    assert reply.model_extra["webslm"]["json_valid"] in (True, False)
    reply = client.chat.completions.create(model="tiny", messages=USER, max_tokens=40, response_format={
        "type": "json_schema", "json_schema": {"name": "mode", "schema": MODE_SCHEMA, "strict": True}})
    assert json.loads(reply.choices[0].message.content)["mode"] in ("2D", "3D", "COLUMBUS_VIEW")


def test_the_openai_client_raises_our_400_with_the_field(url):
    from openai import BadRequestError, OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=USER, top_p=-1)
    assert caught.value.param == "top_p" and "top_p" in caught.value.message and "-1" in caught.value.message


@pytest.mark.parametrize("field,value", [
    ("top_p", -1), ("top_p", 0), ("top_p", 1.5), ("top_p", "0.5"),
    ("temperature", -0.1), ("temperature", True),
    ("seed", 2**70), ("seed", -1), ("seed", 1.5),
    ("max_tokens", 0), ("max_tokens", -5), ("max_tokens", 2.5), ("max_tokens", True), ("max_tokens", "10"),
    ("max_completion_tokens", 0),
    ("stream", True),
])
def test_a_bad_field_is_a_400_naming_the_field_and_value(url, field, value):
    reply = httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, field: value})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == field
    assert field in error["message"] and (field == "stream" or json.dumps(value) in error["message"]), error


@pytest.mark.parametrize("body,param", [
    ('{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', "temperature"),
    ('{"messages": [{"role": "user", "content": "hi"}], "top_p": Infinity}', "top_p"),
    ('{"messages": [{"role": "user", "content": "hi"}], "max_tokens": -Infinity}', "max_tokens"),
    ('{"messages": [{"role": "user", "content": "hi"}], "temperature": 1e999}', "temperature"),
    ('{"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object", "schema": '
     '{"type": "number", "maximum": NaN}}}', "response_format.schema.maximum"),
])
def test_nan_and_infinity_anywhere_in_the_body_are_a_400(url, body, param):
    reply = httpx.post(f"{url}/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and error["message"].startswith(param) and "finite number" in error["message"]


@pytest.mark.parametrize("body,says", [("{not json", "column 2"), ("[" * 100_000, "nested"),
                                       ('"just a string"', "valid dictionary"), ("\xff", "not UTF-8")])
def test_a_body_that_is_not_a_json_object_is_a_400(url, body, says):
    reply = httpx.post(f"{url}/v1/chat/completions", content=body.encode("latin-1"))
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error", reply.text
    assert reply.json()["error"]["message"].startswith("the request body") and says in reply.json()["error"]["message"]


def test_a_prompt_longer_than_the_context_is_refused_without_waiting_for_the_lock(tiny, monkeypatch):
    """One request holds the generation lock; a prompt over the 1,024-token context is still answered at once."""
    from evalharness import serve_api
    from webslm.serving import serve_in_thread

    generating, release = threading.Event(), threading.Event()

    def held_generation(*args, **kwargs):
        generating.set()
        release.wait(30)
        return [([], 0.0)]

    monkeypatch.setattr(serve_api, "generate_ids", held_generation)
    with serve_in_thread(serve_api.create_app(*tiny, "tiny")) as port:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        first = threading.Thread(target=httpx.post, args=(url,), kwargs={"json": {"messages": USER}, "timeout": 60})
        first.start()
        try:
            assert generating.wait(30)
            long = [{"role": "user", "content": "zoom in and fly to Paris " * 1000}]
            reply = httpx.post(url, json={"messages": long}, timeout=10)
        finally:
            release.set()
            first.join(30)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == "messages" and "1024 tokens" in error["message"] and "shorten" in error["message"]


def test_head_is_answered_wherever_get_is(url):
    for path in ("/health", "/v1/models", "/docs"):
        get, head = httpx.get(url + path), httpx.head(url + path)
        assert head.status_code == get.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert httpx.head(f"{url}/v1/chat/completions").status_code == 405  # POST only


def test_a_foreign_host_header_is_refused(url):
    """DNS rebinding: another site's page reaches 127.0.0.1 under that site's name, which the browser sends."""
    port = int(url.rsplit(":", 1)[1])
    for host, status in ((f"localhost:{port}", 200), (f"127.0.0.1:{port}", 200), (f"[::1]:{port}", 200),
                         ("evil.example", 400), (f"evil.example:{port}", 400), (f"127.0.0.1.evil.example:{port}", 400)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v1/models", headers={"Host": host})
        resp = conn.getresponse()
        body = resp.read().decode()
        conn.close()
        assert resp.status == status, (host, body)
        if status == 400:
            assert host in body and "http://127.0.0.1:" in body and "--allow-remote" in body


def test_serve_api_refuses_a_remote_host_without_allow_remote_before_loading(tiny, monkeypatch, capsys):
    import uvicorn

    from evalharness import torch_backend
    from webslm.cli import main

    loaded, served = [], []
    monkeypatch.setattr(torch_backend, "load_model", lambda *a: loaded.append(a) or tiny)
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: served.append(host))
    assert main(["serve-api", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err and loaded == [] and served == []
    assert main(["serve-api", "--host", "0.0.0.0", "--allow-remote"]) == 0
    assert served == ["0.0.0.0"] and "WARNING" in capsys.readouterr().out


@pytest.mark.parametrize("schema,says", [('{"type": "number", "maximum": NaN}', "NaN is not a JSON number"),
                                         ("[" * 100_000, "nested more than"), ("{not json", "column 2")])
def test_a_schema_sent_as_a_string_is_read_as_strictly_as_the_body(url, schema, says):
    """web-llm's form sends the schema as JSON text inside the body: the same reader, the same refusals (before,
    NaN passed and a deeply nested string was a 500)."""
    body = {"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object", "schema": schema}}
    reply = httpx.post(f"{url}/v1/chat/completions", json=body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == "response_format" and says in error["message"], error
