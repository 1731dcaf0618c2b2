"""The package's layout follows the flow: no stage imports a later one, nothing imports the
package root, no module grows past what one job needs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "dedup"
# Each room of the package and its place in the flow: a module may import only its own room
# and the rooms before it.
ORDER: dict[str, float] = {
    "version": 0,
    "errors": 0,
    "models": 0,
    "columns": 0,
    "progress": 0,
    "config": 1,
    "cores": 1,
    "read": 2,
    "clean": 3,
    "represent": 4,
    "prepare": 4.5,
    "spread": 4.6,
    "link": 5,
    "group": 6,
    "linkage": 5.5,
    "store": 7,
    "report": 8,
    "pipeline": 9,
    "stream": 9,
    "evaluate": 10,
    "tune": 10.5,
    "cli": 11,
    "__main__": 12,
}
MAX_LINES = 450
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _room(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "dedup":
                found.extend(f"dedup.{alias.name}" for alias in node.names)
            elif node.module.startswith("dedup."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("dedup."))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_stage_and_the_stages_before_it(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if own == "__init__":
        return  # the package's face may show any stage
    for target in _imports(path):
        room = _room(target)
        assert room in ORDER, f"{path.name} imports {target}: not a room of the package"
        assert ORDER[room] <= ORDER[own], f"{own} imports {target}, a later stage"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_outgrows_one_job(path: Path) -> None:
    assert len(path.read_text("utf-8").splitlines()) <= MAX_LINES
