"""The layering rules of DESIGN.md, checked on the source: imports only go downward."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level modules it must never import
FORBIDDEN = {
    "ledger": {"features", "models", "training", "serving", "payrisk", "fastapi", "mlflow"},
    "features": {
        "models",
        "training",
        "serving",
        "payrisk",
        "fastapi",
        "sqlalchemy",
        "psycopg",
        "mlflow",
        "alembic",
    },
    "models": {"training", "serving", "payrisk", "fastapi", "sqlalchemy", "psycopg", "alembic"},
    "training": {"serving", "payrisk", "fastapi"},
    "serving": {"training", "payrisk"},
}
# Exact modules a package may import although their top level is forbidden above. The
# service reads its configuration from payrisk.settings: configuration, not logic, so the
# composition root still holds no logic; payrisk.cli and payrisk.commands stay off-limits.
ALLOWED_MODULES = {"serving": frozenset({"payrisk.settings"})}


def _imported_top_levels(path: Path, allowed: frozenset[str] = frozenset()) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        names.update(module.split(".")[0] for module in modules if module not in allowed)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_only_go_downward(package: str) -> None:
    allowed = ALLOWED_MODULES.get(package, frozenset())
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            _imported_top_levels(path, allowed) & FORBIDDEN[package]
        )
        for path in (ROOT / package).rglob("*.py")
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert offenders == {}


def test_importing_everything_touches_nothing(tmp_path: Path) -> None:
    """Nothing runs at import time: no data folder, no database file, no connection."""
    code = (
        "import importlib, pkgutil\n"
        "for pkg in ['ledger', 'features', 'models', 'training', 'serving', 'payrisk']:\n"
        "    module = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(module.__path__, pkg + '.'):\n"
        "        if '.migrations' not in info.name:\n"
        "            importlib.import_module(info.name)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert list(tmp_path.iterdir()) == []
