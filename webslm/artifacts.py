"""Artefact manifests every stage shares: a model bundle (`webslm convert`) and an adapter bundle
(`webslm convert-adapter`) are directories identified by these JSON files."""

from __future__ import annotations

import re
from pathlib import Path

from webslm.errors import WebslmError
from webslm.strict_json import read_json_object

BUNDLE_MANIFEST = "webslm-bundle.json"
ADAPTER_MANIFEST = "webslm-adapter.json"

# Model, adapter and domain ids are URL path segments and file name stems (`<id>-webgpu.wasm`): no separators, no
# leading dot, nothing a URL must escape. `webslm serve` skips bundles whose id breaks this rule.
ARTIFACT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def is_artifact_id(value: str) -> bool:
    return ARTIFACT_ID.fullmatch(value) is not None


def check_artifact_id(value: str, flag: str) -> str:
    """`value` if it is a usable id, else an error naming the flag."""
    if not is_artifact_id(value):
        raise WebslmError(f"{flag} {value!r}: an id is 1-128 letters, digits, '.', '_' or '-', starting with a "
                          "letter or digit (it becomes a URL segment and a file name)")
    return value


def read_bundle_manifest(bundle_dir: Path, what: str = "") -> dict:
    """The manifest of a model bundle; `what` names where the path came from (e.g. '--bundle') in the error."""
    return _read(Path(bundle_dir) / BUNDLE_MANIFEST, what, "a bundle", "webslm convert")


def read_adapter_manifest(adapter_dir: Path, what: str = "") -> dict:
    return _read(Path(adapter_dir) / ADAPTER_MANIFEST, what, "an adapter bundle", "webslm convert-adapter")


def _read(path: Path, what: str, kind: str, command: str) -> dict:
    if not path.is_file():
        where = f"{what} {path.parent}" if what else str(path.parent)
        raise WebslmError(f"{where}: not {kind} (no {path.name}); make one with `{command}`")
    return read_json_object(path)
