"""webslm: shared contracts (domain packs, tool calls, dataset records, artefacts) and the `webslm` CLI."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def hide_known_third_party_warnings() -> None:
    """peft 0.21 reads `model.is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning on
    every model load (eval, train, merge, serve-api); it says nothing a webslm user can act on."""
    import warnings

    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
