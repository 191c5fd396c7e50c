"""The layers depend one way (docs/architecture.md): checked on every import in the tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lakehouse.storage import PROJECT_DIR

# Packages each layer must never import (directly or from inside a function).
FORBIDDEN = {
    "lakehouse": {"assets", "checks", "dagster_project", "spark_jobs", "gpu_jobs", "serving"},
    "spark_jobs": {"assets", "checks", "dagster_project", "gpu_jobs", "serving", "dagster"},
    "gpu_jobs": {"assets", "checks", "dagster_project", "spark_jobs", "serving", "dagster"},
    "serving": {"assets", "checks", "dagster_project", "spark_jobs", "gpu_jobs", "dagster"},
    "assets": {"dagster_project"},
    "checks": {"dagster_project"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every module `path` imports (relative imports are local)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    violations = [
        f"{path.relative_to(PROJECT_DIR)} imports {package}"
        for path in sorted((PROJECT_DIR / layer).rglob("*.py"))
        for package in sorted(imported_packages(path) & FORBIDDEN[layer])
    ]
    assert not violations, "\n".join(violations)


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from assets.runner import Stage\n    import dagster as dg\n")
    assert imported_packages(module) == {"assets", "dagster"}
