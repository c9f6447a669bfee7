"""The static checks, as part of the suite: ruff, mypy (strict on protocol/ and client/) and the import-layer
contracts, each configured in pyproject.toml and run as its own command would be."""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKS = {
    "ruff": ["ruff", "check", "--no-fix", "."],
    "mypy": ["mypy"],
    "import-linter": ["lint-imports", "--no-logo", "--no-cache"],
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_static_check_passes(check: str) -> None:
    tool, *args = CHECKS[check]
    command = [str(Path(sysconfig.get_path("scripts")) / tool), *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, f"{' '.join([tool, *args])} failed:\n{done.stdout}{done.stderr}"
