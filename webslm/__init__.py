"""webslm: shared contracts (domain packs, tool calls, dataset records, artefacts) and the `webslm` CLI."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
