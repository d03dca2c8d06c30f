"""Where webslm keeps what it downloads or builds once per machine (base weights, WebGPU runtime, lavapipe)."""

from __future__ import annotations

import os
from pathlib import Path


def webslm_home() -> Path:
    """`$WEBSLM_HOME`, default `~/.cache/webslm`."""
    return Path(os.environ.get("WEBSLM_HOME") or Path.home() / ".cache" / "webslm")
