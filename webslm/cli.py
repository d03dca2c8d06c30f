"""The `webslm` command line: one verb per job, from data to a model answering in the browser.

Each verb lives in the stage that does the job and registers itself here through a `register(subparsers)`
function; the work is done by plain functions tests call directly."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from webslm import hide_known_third_party_warnings
from webslm.errors import WebslmError

# The modules that register verbs, in the order the pipeline runs.
VERB_MODULES = [
    "webslm.base_model",      # base import
    "train.dataset.commands",  # data generate|verify|stats|split|convert|import-xlam
    "train.commands",          # train, merge
    "convert.commands",        # convert, convert-adapter
    "web.commands",            # serve, demo
    "evalharness.commands",    # eval, serve-api
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webslm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for module_name in VERB_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spin-waiting threads make 2-core machines 6-12x slower
    hide_known_third_party_warnings()
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except WebslmError as e:
        print(f"webslm {args.verb}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"webslm {args.verb}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
