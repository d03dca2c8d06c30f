"""Domains and adapters on the demo server: every domain pack under api/domains/, adapters listed with their domain.
The page side (selector, CAD panel) is in test_web_domains_page.py."""

from __future__ import annotations

import json

import pytest

from urllib.parse import urljoin

from webslm.domain import load_domain

from conftest import start_server, write_fake_bundle
from test_web_server import get


def write_fake_adapter(models_dir, adapter_id: str, base_model_id: str, domain: str | None = "cesium"):
    """An adapter bundle directory the server lists (fake tensors: only a model-free page can use it)."""
    d = models_dir / adapter_id
    d.mkdir(parents=True)
    (d / "tensor-cache.json").write_text('{"records": []}')
    (d / "adapter_shard_0.bin").write_bytes(b"\0" * 16)
    manifest = {"adapter_id": adapter_id, "base_model_id": base_model_id, "rank": 4, "compiled_rank": 8,
                "params": [], "bytes": 16}
    if domain is not None:
        manifest["domain"] = domain
    (d / "webslm-adapter.json").write_text(json.dumps(manifest))
    return d


def write_fake_models(models):
    """A fake base bundle, three adapters for it (globe, CAD, and one made before adapters named a domain) and one
    adapter for another base model. Returns `models`."""
    write_fake_bundle(models, "tiny-q4f32_1", "q4f32_1")
    write_fake_adapter(models, "globe-skill", "tiny-q4f32_1", "cesium")
    write_fake_adapter(models, "cad-skill", "tiny-q4f32_1", "cad")
    write_fake_adapter(models, "old-skill", "tiny-q4f32_1", None)
    write_fake_adapter(models, "other-base", "another-model", "cad")
    return models


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with start_server(write_fake_models(tmp_path_factory.mktemp("models"))) as served:
        yield served


def test_api_domains_lists_every_pack_and_serves_each(server):
    status, headers, body = get(server, "/api/domains.json")
    assert status == 200 and headers["cache-control"] == "no-cache"
    listing = json.loads(body)
    assert listing["default"] == "cesium"
    by_name = {d["name"]: d for d in listing["domains"]}
    assert {"cesium", "cad"} <= set(by_name)
    for name in ("cesium", "cad"):
        domain = load_domain(name)
        payload_url = urljoin("/api/domains.json", by_name[name]["url"])
        payload = json.loads(get(server, payload_url)[2])
        assert payload["name"] == name and payload["system_prompt"] == domain.system_prompt
        assert "emission_schema" not in payload  # the page's rulebook derives it from the tools
        assert {k: v["parameters"] for k, v in payload["tools"].items()} == {k: t.parameters for k, t in domain.tools.items()}
        assert by_name[name]["tools"] == list(domain.tools)
        if name == "cesium":  # a gazetteer per domain that has one, relative to each listing
            assert urljoin(payload_url, payload["gazetteer_url"]) == "/domains/cesium/gazetteer.json"
    assert urljoin("/api/domains.json", by_name["cesium"]["gazetteer_url"]) == "/domains/cesium/gazetteer.json"
    assert by_name["cad"]["gazetteer_url"] is None
    status, _, gaz = get(server, "/domains/cesium/gazetteer.json")
    assert status == 200 and json.loads(gaz)["format"].startswith("webslm-gazetteer/")


@pytest.mark.parametrize("path", ["/api/domains/nope.json", "/api/domains/cesium", "/api/domains/../models.json",
                                  "/api/domains/%2e%2e/models.json", "/api/models", "/api/domains",
                                  "/domains/cad/gazetteer.json", "/domains/nope/gazetteer.json",
                                  "/domains/../domain/gazetteer.json", "/domains/cesium/templates.json"])
def test_unknown_domains_and_files_are_404(server, path):
    assert get(server, path)[0] == 404, path


def test_a_path_as_default_domain(tmp_path):
    from webslm.domain import DOMAINS_DIR

    with start_server(tmp_path, domain=str(DOMAINS_DIR / "cad")) as served:
        listing = json.loads(get(served, "/api/domains.json")[2])
        assert listing["default"] == "cad" and {"cesium", "cad"} <= {d["name"] for d in listing["domains"]}


def test_api_adapters_carries_the_domain(server):
    adapters = {a["adapter_id"]: a for a in json.loads(get(server, "/api/adapters.json")[2])["adapters"]}
    assert set(adapters) == {"globe-skill", "cad-skill", "old-skill", "other-base"}
    assert adapters["cad-skill"]["domain"] == "cad" and adapters["globe-skill"]["domain"] == "cesium"
    assert adapters["old-skill"]["domain"] == "cesium"  # missing: the server's default domain
    assert adapters["other-base"]["base_model_id"] == "another-model"
    url = urljoin("/api/adapters.json", adapters["cad-skill"]["url"])
    assert get(server, url + "adapter_shard_0.bin")[2] == b"\0" * 16


def test_serve_prints_the_domains(monkeypatch, capsys, tmp_path):
    import uvicorn

    from web import commands

    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: None)
    assert commands.serve("127.0.0.1", 8123, tmp_path) == 0
    out = capsys.readouterr().out
    assert "domains: cesium (default)" in out and "cad" in out
