"""The import contracts between the floors (pyproject.toml [tool.importlinter]) hold on this tree, and they do
fail when a lower floor imports a higher one: each case adds one offending import to a copy of the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on `project` (its pyproject.toml and its src/sfumato, ahead of the installed package)."""
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(project / "pyproject.toml")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "src" / "sfumato", tmp_path / "src" / "sfumato", ignore=skip)
    return tmp_path


def test_the_contracts_hold_on_this_tree(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "offending_import"),
    [
        ("engine", "import sfumato.services"),  # the engine knows nothing of users or the database
        ("store", "from sfumato import jobs"),
        ("jobs", "import sfumato.services"),
        ("jobs", "import sfumato.cli"),
        ("services", "import sfumato.api"),
        ("api", "import sfumato.bootstrap"),  # routes get services through api/deps.py, not the container
        ("services", "import sfumato.bootstrap"),
        ("starter", "import sfumato.engine"),
        ("engine", "import sfumato.testing"),
        ("services", "import fastapi"),  # services are plain Python
        ("engine", "import sqlalchemy"),
    ],
)
def test_a_lower_floor_importing_a_higher_one_breaks_a_contract(
    tmp_path: Path, module: str, offending_import: str
) -> None:
    project = copy_of_the_package(tmp_path)
    (project / "src" / "sfumato" / module / "_offender.py").write_text(f"{offending_import}\n")
    result = lint_imports(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and f"sfumato.{module}._offender" in result.stdout
