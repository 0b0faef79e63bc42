"""Import rules that keep data flowing one way: the pure layers import no outer ones (the layout is in
README, "How it is built")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "graphtasks"

# package -> module prefixes it must never import
RULES = {
    "model": (
        "graphtasks.web",
        "graphtasks.storage",
        "graphtasks.auth",
        "graphtasks.odata",
        "sqlalchemy",
        "starlette",
    ),
    "odata": ("graphtasks.web", "graphtasks.storage", "graphtasks.auth", "sqlalchemy", "starlette"),
    "storage": ("graphtasks.web", "graphtasks.auth", "starlette"),
    # Pure decisions: the counters and plans they need are kept by storage/ and reached via web/gate.py.
    "traffic": (
        "graphtasks.web",
        "graphtasks.storage",
        "graphtasks.auth",
        "redis",
        "sqlalchemy",
        "starlette",
    ),
    "auth": (
        "graphtasks.web",
        "graphtasks.storage.sql",
        "graphtasks.storage.registry",
        "sqlalchemy",
        "starlette",
    ),
    "web": (
        "sqlalchemy",
        "jwt",
        "graphtasks.storage.sql",
        "graphtasks.storage.registry",
        "graphtasks.storage.tables",
        "graphtasks.storage.traffic_stores",
        "graphtasks.storage.redis_counters",
        "redis",
    ),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(RULES))
def test_layer_imports(package: str) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    violations = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if name.startswith(RULES[package])
    ]
    assert violations == []
