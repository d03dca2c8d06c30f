"""Artefact manifests every stage shares: a model bundle (`webslm convert`) and an adapter bundle
(`webslm convert-adapter`) are directories identified by these JSON files."""

from __future__ import annotations

import json
from pathlib import Path

from webslm.errors import WebslmError

BUNDLE_MANIFEST = "webslm-bundle.json"
ADAPTER_MANIFEST = "webslm-adapter.json"


def read_bundle_manifest(bundle_dir: Path, what: str = "") -> dict:
    """The manifest of a model bundle; `what` names where the path came from (e.g. '--bundle') in the error."""
    return _read(Path(bundle_dir) / BUNDLE_MANIFEST, what, "a bundle", "webslm convert")


def read_adapter_manifest(adapter_dir: Path, what: str = "") -> dict:
    return _read(Path(adapter_dir) / ADAPTER_MANIFEST, what, "an adapter bundle", "webslm convert-adapter")


def _read(path: Path, what: str, kind: str, command: str) -> dict:
    if not path.is_file():
        where = f"{what} {path.parent}" if what else str(path.parent)
        raise WebslmError(f"{where}: not {kind} (no {path.name}); make one with `{command}`")
    return json.loads(path.read_text())
