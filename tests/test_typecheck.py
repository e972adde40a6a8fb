"""Static type check: mypy (configured in ``pyproject.toml``, ``[tool.mypy]``) over the package.

Runs in the normal suite. ``CHECKED`` lists the paths that must type-check cleanly; widen it to
``WHOLE_PACKAGE`` once every package is clean.
"""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy not installed (pip install -e .[test])")

ROOT = Path(__file__).resolve().parents[1]

WHOLE_PACKAGE = ["agents", "environment", "flexibility", "grid", "traffic", "scenarios",
                 "run_sim.py"]

# Paths mypy must find clean (widen to WHOLE_PACKAGE at the end of issue 11).
CHECKED = ["flexibility", "grid", "traffic", "scenarios"]

# Files inside CHECKED that are still being annotated; skipped until they are clean.
NOT_YET = ["flexibility/cases.py", "flexibility/alpha_sets.py", "grid/layers.py",
           "grid/alpha_layers.py"]


def _targets() -> list[str]:
    """``CHECKED`` as mypy arguments, directories expanded to files where ``NOT_YET`` cuts in."""
    skip = {ROOT / p for p in NOT_YET}
    out: list[str] = []
    for p in CHECKED:
        path = ROOT / p
        if path.is_dir() and any(s.is_relative_to(path) for s in skip):
            out += [str(f) for f in sorted(path.rglob("*.py")) if f not in skip]
        else:
            out.append(str(path))
    return out


def test_mypy_clean():
    """``mypy`` reports no error on the checked paths."""
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                      *_targets()])
    assert status == 0, f"mypy found errors (exit status {status}):\n{stdout}{stderr}"
