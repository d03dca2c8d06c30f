"""Content hashes for artefact manifests (bundles, training runs, base-model identity)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable


def sha256_files(paths: Iterable[Path]) -> str:
    """sha256 over the files' bytes, in the order given (one file: its ordinary sha256)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_files([path])
