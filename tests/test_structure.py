"""The shape of the code (issue #20): dependencies point one way (CLI -> stages -> contracts/platform in webslm/),
no import circle hides inside a function, and training and the torch evaluator never load TVM."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("train", "convert", "web", "evalharness")
# The browser evaluator drives the demo page, so it starts the web stage's server: the one stage-to-stage edge.
ALLOWED_STAGE_IMPORTS = {("evalharness.browser_session", "web.server")}


def first_party_imports() -> dict[str, set[str]]:
    """module -> first-party modules it imports anywhere (top level or inside a function)."""
    files = {}
    for package in ("webslm", *STAGES, "bench"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            files[name] = path
    graph = {name: set() for name in files}
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def test_no_import_circle_even_through_imports_inside_functions():
    graph = first_party_imports()
    state: dict[str, int] = {}  # 1 on the current path, 2 finished

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(target):] + [module, target]))
            if target not in state:
                visit(target, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_stages_import_only_contracts_and_platform():
    stage_of = lambda module: module.split(".")[0]  # noqa: E731
    crossing = sorted((m, t) for m, targets in first_party_imports().items() for t in targets
                      if stage_of(m) in STAGES and stage_of(t) in STAGES and stage_of(m) != stage_of(t))
    assert set(crossing) <= ALLOWED_STAGE_IMPORTS, crossing
    platform = sorted((m, t) for m, targets in first_party_imports().items() for t in targets
                      if stage_of(m) == "webslm" and stage_of(t) in STAGES)
    assert platform == [], f"webslm/ (contracts, platform, CLI) reaches into a stage: {platform}"


def test_training_and_the_torch_evaluator_do_not_import_tvm():
    probe = ("import sys\n"
             "import webslm.cli, train.lora, train.merge, train.workers, evalharness.torch_backend, "
             "evalharness.commands, webslm.checkpoint\n"
             "webslm.cli.build_parser()\n"
             "print(sorted(m for m in sys.modules if m == 'tvm' or m.startswith('tvm.')))\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    timing = subprocess.run([sys.executable, "-X", "importtime", "-m", "webslm.cli", "train", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "tvm" not in timing.stderr and "usage: webslm train" in timing.stdout
