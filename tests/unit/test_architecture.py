"""The rules import-linter cannot state (pyproject.toml has the rest): what function_app.py,
a module rather than a package, may import, and that shared/ never imports the Functions
runtime, which import-linter cannot tell apart from the rest of the azure namespace."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import REPO


def imported_modules(path: Path) -> Iterator[str]:
    """Every module a file imports, wherever the import statement stands."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def test_function_app_never_imports_the_local_host() -> None:
    found = list(imported_modules(REPO / "function_app.py"))
    assert "functions" in found  # the scan sees its imports at all
    assert not [name for name in found if name.split(".")[0] == "local_host"]


@pytest.mark.parametrize("path", sorted((REPO / "shared").rglob("*.py")), ids=str)
def test_shared_never_imports_the_functions_runtime(path: Path) -> None:
    forbidden = [
        name
        for name in imported_modules(path)
        if name == "azure.functions"
        or name.startswith("azure.functions.")
        or name.split(".")[0] == "functions"
    ]
    assert not forbidden
