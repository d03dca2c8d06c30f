"""The demo server without a browser: paths that must not escape, MIME types, caching, the model list, loopback."""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urljoin

import pytest

from webslm.domain import load_domain
from webslm.errors import WebslmError

from conftest import FAKE_SHARD, FAKE_WASM, start_server, write_fake_bundle

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    write_fake_bundle(models, "tiny-q4f32_1", "q4f32_1")
    write_fake_bundle(models, "tiny-q4f16_1", "q4f16_1", ["shader-f16"])
    (models / "secret.txt").write_text("outside every bundle")
    (models / "broken").mkdir()
    (models / "broken" / "webslm-bundle.json").write_text("{not json")
    with start_server(models) as served:
        yield served


def get(server, path, headers=None, method="GET"):
    """A raw GET (or `method`): http.client sends the path byte for byte (no '..' folding, no re-encoding)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), body


TRAVERSALS = [
    "/static/../server.py",
    "/static/../../pyproject.toml",
    "/static/%2e%2e/server.py",
    "/static/%2E%2E/%2E%2E/pyproject.toml",
    "/static/..%2fserver.py",
    "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/static/..%5cserver.py",
    "/static/..\\server.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/C:%5cWindows%5cwin.ini",
    "/static/./index.html",
    "/cesium/Assets/../../../../package.json",
    "/cesium/Assets/%2e%2e/%2e%2e/%2e%2e/package.json",
    "/cesium//etc/passwd",
    "/vendor/web-llm/../../cesium/package.json",
    "/vendor/web-llm/%2e%2e/package.json",
    "/models/tiny-q4f32_1/resolve/main/../secret.txt",
    "/models/tiny-q4f32_1/resolve/main/%2e%2e/secret.txt",
    "/models/tiny-q4f32_1/resolve/main/%2e%2e%2fsecret.txt",
    "/models/tiny-q4f32_1/resolve/main/..%5csecret.txt",
    "/models/%2e%2e/resolve/main/secret.txt",
    "/models/tiny-q4f32_1/resolve/main//etc/passwd",
    "/domain/../webslm/rulebook.py",
    "/static/../../webslm/rulebook_server.js",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_is_404(server, path):
    status, _, body = get(server, path)
    assert status == 404, (path, status, body[:200])


@pytest.mark.parametrize("path", [
    "/nope", "/static/", "/static/missing.js", "/cesium/", "/cesium/Assets/", "/cesium/Assets/Textures/",
    "/cesium/ThirdParty/draco_decoder.wasm", "/cesium/index.js", "/vendor/web-llm/", "/vendor/web-llm/config.d.ts",
    "/models/", "/models/tiny-q4f32_1/", "/models/tiny-q4f32_1/resolve/main/", "/models/unknown/resolve/main/x.json",
    "/models/broken/resolve/main/webslm-bundle.json", "/docs", "/openapi.json",
])
def test_unknown_paths_and_directories_are_404(server, path):
    status, _, _ = get(server, path)
    assert status == 404, path


@pytest.mark.parametrize("path, mime", [
    ("/", "text/html"),
    ("/static/app.js", "text/javascript"),
    ("/static/worker.js", "text/javascript"),
    ("/static/style.css", "text/css"),
    ("/cesium/Cesium.js", "text/javascript"),
    ("/cesium/Widgets/widgets.css", "text/css"),
    ("/cesium/Assets/approximateTerrainHeights.json", "application/json"),
    ("/cesium/Assets/Textures/NaturalEarthII/0/0/0.jpg", "image/jpeg"),
    ("/vendor/web-llm/index.js", "text/javascript"),
    ("/domains/cesium/gazetteer.json", "application/json"),
    ("/api/models.json", "application/json"),
    ("/models/tiny-q4f32_1/resolve/main/tiny-q4f32_1-webgpu.wasm", "application/wasm"),
    ("/models/tiny-q4f32_1/resolve/main/params_shard_0.bin", "application/octet-stream"),
    ("/models/tiny-q4f32_1/resolve/main/mlc-chat-config.json", "application/json"),
    ("/models/tiny-q4f32_1/resolve/main/tensor-cache.json", "application/json"),
    ("/models/tiny-q4f32_1/resolve/main/tokenizer.json", "application/json"),
])
def test_mime_types(server, path, mime):
    status, headers, _ = get(server, path)
    assert status == 200, path
    assert headers["content-type"].split(";")[0] == mime


def model_url(server, model_id):
    """The model's URL path, from api/models.json (whose URLs are relative to the listing)."""
    models = json.loads(get(server, "/api/models.json")[2])["models"]
    return urljoin("/api/models.json", next(m["model"] for m in models if m["model_id"] == model_id))


def test_model_files_at_a_revision_are_immutable(server):
    base = model_url(server, "tiny-q4f32_1")  # /models/tiny-q4f32_1/r<hash>/
    status, headers, body = get(server, base + "resolve/main/params_shard_0.bin")
    assert status == 200 and body == FAKE_SHARD
    assert "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"]
    status, headers, body = get(server, "/models/tiny-q4f32_1/resolve/main/params_shard_0.bin")
    assert status == 200 and body == FAKE_SHARD and headers["cache-control"] == "no-cache"
    assert get(server, "/models/tiny-q4f32_1/r000000000000/resolve/main/params_shard_0.bin")[0] == 404
    assert get(server, "/")[1]["cache-control"] == "no-cache"


def test_a_re_export_changes_the_revision(tmp_path):
    d = write_fake_bundle(tmp_path, "m", "q4f32_1")
    with start_server(tmp_path) as served:
        before = model_url(served, "m")
        (d / "params_shard_0.bin").write_bytes(FAKE_SHARD * 2)
        after = model_url(served, "m")
        assert before != after
        assert get(served, before + "resolve/main/params_shard_0.bin")[0] == 404
        assert get(served, after + "resolve/main/params_shard_0.bin")[2] == FAKE_SHARD * 2


def test_api_models_gives_web_llm_model_records_with_relative_urls(server):
    status, _, body = get(server, "/api/models.json")
    models = {m["model_id"]: m for m in json.loads(body)["models"]}
    assert set(models) == {"tiny-q4f32_1", "tiny-q4f16_1"}  # the broken manifest is skipped, not fatal
    m = models["tiny-q4f32_1"]
    # relative to the listing, so the same file works under any sub-path (webslm export)
    assert re.fullmatch(r"\.\./models/tiny-q4f32_1/r[0-9a-f]{12}/", m["model"])
    assert m["model_lib"] == m["model"] + "resolve/main/tiny-q4f32_1-webgpu.wasm"
    assert m["required_features"] == [] and m["quantization"] == "q4f32_1"
    assert m["overrides"] == {"context_window_size": 1024}
    assert models["tiny-q4f16_1"]["required_features"] == ["shader-f16"]
    assert get(server, urljoin("/api/models.json", m["model_lib"]))[2] == FAKE_WASM


def test_api_domain_matches_the_domain_pack(server):
    domain = load_domain("cesium")
    payload = json.loads(get(server, "/api/domains/cesium.json")[2])
    assert "emission_schema" not in payload  # the page's rulebook derives it from the tools
    assert payload["system_prompt"] == domain.system_prompt
    assert {k: v["parameters"] for k, v in payload["tools"].items()} == {k: t.parameters for k, t in domain.tools.items()}


@pytest.mark.parametrize("path", [
    "/", "/index.html", "/static/app.js", "/cesium/Cesium.js", "/vendor/web-llm/index.js", "/api/domains.json",
    "/api/domains/cesium.json", "/domains/cesium/gazetteer.json", "/api/models.json", "/api/adapters.json",
    "/models/tiny-q4f32_1/resolve/main/params_shard_0.bin",
])
def test_head_is_answered_wherever_get_is(server, path):
    """curl -I, link checkers and caches send HEAD: the GET's status and headers, no body."""
    status, headers, body = get(server, path)
    head_status, head_headers, head_body = get(server, path, method="HEAD")
    assert head_status == status == 200 and head_body == b"", path
    for name in ("content-type", "content-length", "cache-control"):
        assert head_headers.get(name) == headers.get(name), (path, name)


def test_head_on_a_missing_file_is_404(server):
    assert get(server, "/static/missing.js", method="HEAD")[0] == 404
    assert get(server, "/static/../server.py", method="HEAD")[0] == 404


@pytest.mark.parametrize("host, status", [
    ("localhost", 200), ("LocalHost:{port}", 200), ("127.0.0.1:{port}", 200), ("[::1]:{port}", 200),
    ("evil.example", 400), ("evil.example:{port}", 400), ("localhost.evil.example", 400), ("127.0.0.1.nip.io", 400),
    ("127.0.0.2", 400), ("[::1]x", 400), ("localhost:port", 400), ("", 400),
])
def test_only_loopback_host_headers_are_answered(server, host, status):
    """DNS rebinding: a page on evil.example that points its name at 127.0.0.1 reaches this server, but its
    requests still carry Host: evil.example."""
    code, _, body = get(server, "/api/models.json", headers={"Host": host.format(port=server.port)})
    assert code == status, (host, body)
    if status == 400:
        text = body.decode()
        assert "Host header" in text and f"http://127.0.0.1:{server.port}/" in text and "--allow-remote" in text


def test_the_host_given_with_allow_remote_is_answered_too():
    from fastapi.testclient import TestClient

    from web.server import create_app

    named = TestClient(create_app(None, host="192.168.1.5"))
    assert named.get("/api/domains.json", headers={"Host": "192.168.1.5:8000"}).status_code == 200
    assert named.get("/api/domains.json", headers={"Host": "localhost:8000"}).status_code == 200
    assert named.get("/api/domains.json", headers={"Host": "evil.example"}).status_code == 400
    # bound to every interface, clients use names this process cannot know: any Host is answered
    every = TestClient(create_app(None, host="0.0.0.0"))
    assert every.get("/api/domains.json", headers={"Host": "my-laptop.lan:8000"}).status_code == 200


def test_serve_binds_loopback_by_default_and_refuses_other_hosts(monkeypatch, capsys):
    import uvicorn

    from web import commands
    from webslm.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.port == 8000 and not args.allow_remote

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: calls.append((host, port)))
    assert commands.serve("127.0.0.1", 8123, None) == 0
    assert calls == [("127.0.0.1", 8123)]
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out

    with pytest.raises(WebslmError, match="--allow-remote"):
        commands.serve("0.0.0.0", 8123, None)
    assert len(calls) == 1

    assert commands.serve("0.0.0.0", 8124, None, allow_remote=True) == 0
    assert calls[-1] == ("0.0.0.0", 8124)
    assert "WARNING" in capsys.readouterr().out


def test_demo_verb_serves_the_pipeline_bundles(monkeypatch, tmp_path):
    from web import commands
    from webslm.cli import build_parser

    seen = []
    monkeypatch.setattr(commands, "serve", lambda *a, **kw: seen.append(a) or 0)
    args = build_parser().parse_args(["demo", "--port", "8200", "--skip-pipeline", "--workdir", str(tmp_path)])
    assert args.run(args) == 0 and seen[0][:3] == ("127.0.0.1", 8200, tmp_path / "bundles")
