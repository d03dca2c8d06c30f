"""`webslm export SITE_DIR`: the site `webslm serve` serves, as plain files with relative URLs only. Without a
browser: the layout, byte-for-byte equality with the server, selection flags, bad inputs, and the output rules
every verb keeps (never overwrite what we did not write; atomic). The page on it: tests/test_export_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urljoin

import pytest

from webslm.cli import main
from webslm.errors import WebslmError

from conftest import start_server, write_fake_bundle
from test_web_adapters import write_fake_adapter
from test_web_server import get

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two fake bundles; a globe and a CAD adapter for the first, one adapter for the second."""
    m = tmp_path_factory.mktemp("models")
    write_fake_bundle(m, "tiny-q4f32_1", "q4f32_1")
    write_fake_bundle(m, "tiny-q4f16_1", "q4f16_1", ["shader-f16"])
    write_fake_adapter(m, "globe-skill", "tiny-q4f32_1", "cesium")
    write_fake_adapter(m, "cad-skill", "tiny-q4f32_1", "cad")
    write_fake_adapter(m, "f16-skill", "tiny-q4f16_1", "cesium")
    return m


def export(site, models_dir, *flags) -> int:
    return main(["export", str(site), "--models-dir", str(models_dir), *flags])


def site_files(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())


def test_export_writes_what_the_server_serves_byte_for_byte(models, tmp_path, capsys):
    site = tmp_path / "www" / "globe"
    assert export(site, models) == 0
    out = capsys.readouterr().out
    assert re.search(r"exported \d+ files, [\d.]+ MB, to ", out) and "model tiny-q4f32_1" in out
    assert "cesium" in out and "web-llm" in out and "python -m http.server" in out
    files = site_files(site)
    assert {"index.html", "static/app.js", "static/site.js", "static/rules/rulebook.js", "static/vendor/ajv.js",
            "cesium/Cesium.js", "vendor/web-llm/index.js", "api/models.json", "api/adapters.json",
            "api/domains.json", "api/domains/cesium.json", "api/domains/cad.json",
            "domains/cesium/gazetteer.json", "webslm-site.json"} <= set(files)
    assert not any(f.endswith(("webslm-bundle.json", "webslm-adapter.json")) for f in files)  # local paths inside
    with start_server(models) as served:
        for rel in files:
            if rel == "webslm-site.json":
                continue
            status, _, body = get(served, "/" + rel)
            assert status == 200, rel
            if rel.startswith("api/"):
                assert json.loads(body) == json.loads((site / rel).read_bytes()), rel
            else:
                assert body == (site / rel).read_bytes(), rel
    manifest = json.loads((site / "webslm-site.json").read_text())
    assert sorted(manifest["models"]) == ["tiny-q4f16_1", "tiny-q4f32_1"]
    assert manifest["files"] == len(files) - 1


def test_every_url_in_the_listings_is_a_file_of_the_site(models, tmp_path):
    site = tmp_path / "site"
    export(site, models)
    api = site / "api"
    for m in json.loads((api / "models.json").read_text())["models"]:
        assert not m["model"].startswith(("/", "http")), m
        model_dir = (api / m["model"] / "resolve" / "main").resolve()
        assert (api / m["model_lib"]).resolve().is_file() and (model_dir / "tensor-cache.json").is_file()
    for a in json.loads((api / "adapters.json").read_text())["adapters"]:
        assert (api / a["url"] / "tensor-cache.json").resolve().is_file(), a
    listing = json.loads((api / "domains.json").read_text())
    for d in listing["domains"]:
        payload_file = (api / d["url"]).resolve()
        payload = json.loads(payload_file.read_text())
        if payload["gazetteer_url"]:
            assert (payload_file.parent / payload["gazetteer_url"]).resolve() == (api / d["gazetteer_url"]).resolve()
            assert (api / d["gazetteer_url"]).resolve().is_file()


def test_the_page_uses_only_relative_urls():
    """Absolute paths ('/static/…') break a site hosted under a sub-path: not one in the page's own files."""
    absolute = re.compile(r"""(?:from\s+|import\s*\(\s*|fetch\s*\(\s*|src=|href=|new URL\(\s*)["'`]/(?!/)""")
    for path in [*(ROOT / "web" / "static").glob("*.js"), *(ROOT / "web" / "static").glob("*.html")]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            assert not absolute.search(line), f"{path.name}:{n}: {line.strip()}"


def test_selection_flags(models, tmp_path, capsys):
    site = tmp_path / "one"
    assert export(site, models, "--models", "tiny-q4f32_1", "--domains", "cesium") == 0
    out = capsys.readouterr().out
    assert "adapters left out" in out and "cad-skill" in out and "f16-skill" in out
    listed = json.loads((site / "api" / "adapters.json").read_text())["adapters"]
    assert [a["adapter_id"] for a in listed] == ["globe-skill"]
    assert [d["name"] for d in json.loads((site / "api" / "domains.json").read_text())["domains"]] == ["cesium"]
    assert not (site / "models" / "tiny-q4f16_1").exists() and not (site / "api" / "domains" / "cad.json").exists()

    site = tmp_path / "cad"
    assert export(site, models, "--domain", "cad", "--adapters", "cad-skill") == 0
    assert json.loads((site / "api" / "domains.json").read_text())["default"] == "cad"
    assert [a["adapter_id"] for a in json.loads((site / "api" / "adapters.json").read_text())["adapters"]] == [
        "cad-skill"]


def test_without_models_the_page_is_still_exported(tmp_path, capsys):
    assert export(tmp_path / "site", tmp_path / "no-such-dir") == 0
    assert "no model bundle exported" in capsys.readouterr().out
    assert json.loads((tmp_path / "site" / "api" / "models.json").read_text()) == {"models": []}


@pytest.mark.parametrize("flags, message", [
    (["--models", "nope"], "--models nope: no such model bundle (have: "),
    (["--adapters", "nope"], "--adapters nope: no such adapter (have: "),
    (["--domains", "nope"], "--domains nope: no such domain pack (have: cesium, cad"),
    (["--domains", "cad"], "must include the default domain 'cesium'"),
    (["--models", "tiny-q4f16_1", "--adapters", "globe-skill"], "converted for model 'tiny-q4f32_1', which is not "
                                                                 "exported"),
    (["--domains", "cesium", "--adapters", "cad-skill"], "speaks domain 'cad', which is not exported"),
    (["--domain", "atlantis"], "atlantis"),
])
def test_bad_selections_are_clear_errors_and_write_nothing(models, tmp_path, capsys, flags, message):
    site = tmp_path / "site"
    assert export(site, models, *flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("webslm export: error: ") and message in err, err
    assert not site.exists() and list(tmp_path.iterdir()) == []


def test_bad_id_lists_are_usage_errors(models, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        export(tmp_path / "site", models, "--models", "a,,b")
    assert e.value.code == 2 and "give ids separated by commas" in capsys.readouterr().err


def test_models_flag_needs_a_models_dir(tmp_path, capsys):
    assert export(tmp_path / "site", tmp_path / "missing", "--models", "x") == 2
    err = capsys.readouterr().err
    assert "--models-dir" in err and "not a folder" in err


def test_never_overwrites_what_it_did_not_write(models, tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me")
    assert export(mine, models) == 2
    err = capsys.readouterr().err
    assert "SITE_DIR" in err and "not a previous exported site (no webslm-site.json)" in err
    assert export(mine, models, "--force") == 2  # --force replaces only a previous export
    assert [p.name for p in mine.iterdir()] == ["todo.txt"]

    a_file = tmp_path / "file.html"
    a_file.write_text("x")
    assert export(a_file, models) == 2 and "is not a folder" in capsys.readouterr().err

    assert export(models, models) == 2  # the output would replace the bundles it reads
    assert "it contains the input" in capsys.readouterr().err
    assert export(models / "tiny-q4f32_1" / "site", models) == 2
    assert "lies inside" in capsys.readouterr().err
    assert export(ROOT / "web" / "static" / "site", models) == 2
    assert "lies inside" in capsys.readouterr().err and not (ROOT / "web" / "static" / "site").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert export(empty, models) == 0
    assert export(empty, models) == 2 and "Pass --force" in capsys.readouterr().err
    assert export(empty, models, "--force", "--models", "tiny-q4f32_1") == 0
    assert not (empty / "models" / "tiny-q4f16_1").exists()


def test_an_interrupted_export_leaves_the_previous_one_whole(models, tmp_path, monkeypatch):
    import shutil

    from web import export as export_module

    site = tmp_path / "site"
    assert export(site, models) == 0
    before = {rel: (site / rel).read_bytes() for rel in site_files(site)}
    copies = []
    real_copy = shutil.copyfile

    def copy_then_stop(src, dst):
        copies.append(dst)
        if len(copies) == 40:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the copy
        return real_copy(src, dst)

    monkeypatch.setattr(export_module.shutil, "copyfile", copy_then_stop)
    assert export(site, models, "--force") == 130
    assert {rel: (site / rel).read_bytes() for rel in site_files(site)} == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no temporary left beside it

    copies.clear()
    assert export(tmp_path / "new", models) == 130
    assert not (tmp_path / "new").exists() and [p.name for p in tmp_path.iterdir()] == ["site"]


def test_files_too_big_for_static_hosts_are_warned_about(models, tmp_path, monkeypatch, capsys):
    from web import export as export_module

    monkeypatch.setattr(export_module, "LARGE_FILE_BYTES", 1_000_000)  # the real threshold is 100 MB
    assert export(tmp_path / "site", models) == 0
    out = capsys.readouterr().out
    assert re.search(r"warning: vendor/web-llm/index\.js is [\d.]+ MB: many static hosts refuse files over 1\.0 MB",
                     out), out
    assert "warning: static/app.js" not in out


def test_serve_prints_how_to_export(monkeypatch, capsys, tmp_path):
    import uvicorn

    from web import commands

    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: None)
    assert commands.serve("127.0.0.1", 8123, tmp_path) == 0
    assert f"webslm export SITE_DIR --models-dir {tmp_path}" in capsys.readouterr().out


def test_check_output_error_names_site_dir(tmp_path):
    from web.export import export_site

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a").write_text("")
    with pytest.raises(WebslmError, match=r"^SITE_DIR .*x: the folder is not empty"):
        export_site(tmp_path / "x", None)
