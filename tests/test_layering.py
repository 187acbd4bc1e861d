"""The package's shape (``shared/DESIGN.md``): no import cycles anywhere in ``src/nnkit`` (not
even inside functions or ``TYPE_CHECKING`` blocks), and no module imports a higher floor."""

from __future__ import annotations

import ast
from pathlib import Path

import nnkit

SRC = Path(nnkit.__file__).parent
#: The floors, top down; a module may import only from its own floor or below.
FLOORS: dict[str, int] = {
    "nnkit.cli": 5,
    "nnkit.__main__": 5,
    "nnkit._launch": 5,
    "nnkit.experiments": 4,
    "nnkit.text": 4,
    "nnkit.train": 3,
    "nnkit.evaluation": 3,
    "nnkit._run": 3,
    "nnkit._step": 3,
    "nnkit._fit_config": 3,
    "nnkit._resume": 2,
    "nnkit.callbacks": 3,
    "nnkit.optim_viz": 3,
    "nnkit.summary": 3,
    "nnkit.data": 2,
    "nnkit.models": 2,
    "nnkit.losses": 2,
    "nnkit.optimizers": 2,
    "nnkit.metrics": 2,
    "nnkit.schedules": 2,
    "nnkit.recipes": 2,
    "nnkit._scheduling": 2,
    "nnkit._budget": 2,
    "nnkit._stop": 2,
    "nnkit._progress": 2,
    "nnkit._forward": 2,
    "nnkit._mismatch": 2,
    "nnkit.runtime": 2,
    "nnkit.surfaces": 2,
    "nnkit.backprop": 2,
    "nnkit.checkpoint": 2,
    "nnkit.history": 1,
    "nnkit.distributed": 1,
    "nnkit.errors": 1,
    "nnkit._validate": 1,
    "nnkit._monitor": 1,
    "nnkit.seeding": 1,
    "nnkit._atomic": 1,
    "nnkit._device": 1,
    "nnkit._memory": 1,
    "nnkit._op_count": 1,
    "nnkit._about": 1,
    "nnkit": 1,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = ["nnkit", *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every nnkit module that ``name`` imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            candidates = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in candidates:
            while target and target not in known:
                target = target.rpartition(".")[0]
            # importing one's own package (its __init__) is how Python loads a submodule
            if target and target != name and not name.startswith(target + "."):
                targets.add(target)
    return targets


def floor(name: str) -> int:
    prefix = max((p for p in FLOORS if name == p or name.startswith(p + ".")), key=len)
    return FLOORS[prefix]


def test_every_module_has_a_floor() -> None:
    for name in modules():
        assert any(name == p or name.startswith(p + ".") for p in FLOORS), name


def test_no_module_imports_a_higher_floor() -> None:
    known = modules()
    upward = [
        f"{name} (floor {floor(name)}) imports {target} (floor {floor(target)})"
        for name, path in known.items()
        for target in imports(name, path, known)
        if floor(target) > floor(name)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # "active" while on the DFS path, "done" after

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "active"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "active":
                cycle = [*trail[trail.index(nxt) :], nxt]
                # a package's __init__ re-exporting submodules that import siblings through the
                # package is Python's usual face pattern, not a cycle between files
                if not all(m == cycle[0] or m.startswith(cycle[0] + ".") for m in cycle):
                    cycles.append(cycle)
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
