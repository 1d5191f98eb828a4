"""The package table of docs/architecture.md, enforced: which top-level package may import which, no
import cycle between modules, and SQL only in ``storage/``."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING = {"config", "rating", "meterdata", "simulators", "storage", "vee", "cis", "billing", "streams",
              "portal", "migration", "scenarios", "meter2cash"}
MAY_IMPORT = {
    "config": set(),
    "rating": {"config"},
    "meterdata": {"config"},
    "simulators": {"config", "meterdata", "rating"},
    "storage": {"config", "meterdata", "rating"},
    "vee": {"config", "meterdata", "rating", "storage"},
    "cis": {"config", "meterdata", "rating", "storage"},
    "billing": {"config", "meterdata", "rating", "storage", "vee", "cis"},
    "streams": {"config", "meterdata", "storage", "vee", "billing"},
    "portal": {"config", "meterdata", "rating", "storage", "vee", "cis", "billing"},
    "migration": EVERYTHING - {"migration", "scenarios", "meter2cash"},
    "scenarios": EVERYTHING - {"scenarios", "meter2cash"},
    "meter2cash": EVERYTHING - {"meter2cash"},
}
SQL_CALLS = {"execute", "executemany", "copy", "cursor"}


def modules() -> dict[str, Path]:
    found = {}
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import of the file, at any depth (a lazy import counts)."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def test_packages_import_only_what_the_table_allows():
    wrong = []
    for module, path in modules().items():
        own = module.split(".")[0]
        for line, name in imports(path, module):
            top = name.split(".")[0]
            if top in MAY_IMPORT and top != own and top not in MAY_IMPORT[own]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {own} may not import {name}")
    assert not sorted(set(wrong)), "\n".join(sorted(set(wrong)))


def test_no_import_cycle_between_modules():
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        for _, name in imports(path, module):
            if name in known and name != module and not module.startswith(name + "."):
                graph[module].add(name)
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for module in sorted(known):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def sql_calls(path: Path) -> list[int]:
    """Lines that run SQL: ``.execute``/``.executemany``/``.copy``/``.cursor`` on anything, except NumPy's
    ``array.copy()`` (no argument)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            if node.func.attr in ("copy", "cursor") and not node.args:
                continue
            lines.append(node.lineno)
    return lines


def test_sql_lives_in_storage():
    wrong = []
    for module, path in modules().items():
        if module.split(".")[0] != "storage":
            wrong.extend(f"{path.relative_to(ROOT)}:{line}: SQL outside storage/" for line in sql_calls(path))
    assert not wrong, "\n".join(sorted(wrong))
