"""Static type check: mypy (configured in ``pyproject.toml``, ``[tool.mypy]``) over the package.

Runs in the normal suite, so ``.ci/run`` (the README test command) type-checks every module.
"""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]
WHOLE_PACKAGE = ["agents", "dispatch", "environment", "flexibility", "grid", "traffic",
                 "scenarios",
                 "run_sim.py"]


def test_mypy_clean(tmp_path):
    """``mypy`` reports no error anywhere in the package."""
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                      "--cache-dir", str(tmp_path / "mypy_cache"),
                                      *(str(ROOT / p) for p in WHOLE_PACKAGE)])
    assert status == 0, f"mypy found errors (exit status {status}):\n{stdout}{stderr}"
