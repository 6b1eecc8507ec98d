"""Dependencies point inward: the import rules of the mandated architecture."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

#: Package -> top-level modules it must never import.
FORBIDDEN = {
    # Shared column types: SQLAlchemy only, so that both domains can import them.
    "dbtypes": {"flask", "apscheduler", "dispatch", "inventory", "optimizer", "mobile_api", "web"},
    "optimizer": {
        "flask",
        "sqlalchemy",
        "apscheduler",
        "dbtypes",
        "dispatch",
        "inventory",
        "mobile_api",
        "web",
    },
    "inventory": {"flask", "apscheduler", "dispatch", "optimizer", "mobile_api", "web"},
    "dispatch": {"flask", "mobile_api", "web"},
    "mobile_api": {"web", "optimizer", "ortools"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_inward(package: str) -> None:
    """No module of a package imports a package it must not depend on."""
    offences = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: bad for path, bad in offences.items() if bad} == {}


def test_optimizer_uses_geopy_only_for_distances() -> None:
    """The planning engine never geocodes (network); it may use geopy.distance."""
    for path in (ROOT / "optimizer").rglob("*.py"):
        assert "geopy.geocoders" not in path.read_text(), path
