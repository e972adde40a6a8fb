"""Nothing lost, nothing mislabelled: output locations checked before the run,
staged folders that are complete or absent, unique default folders, readable permissions,
and a resume that refuses a different experiment."""

import errno
import json
import os
import stat
from datetime import datetime
from pathlib import Path

import pytest

from environment.cli.main import main
from environment.cli.output_dir import default_folder

SMALL = """
name = "small"
seed = 7
[horizon]
n_intervals = 16
[[stations]]
name = "CS1"
n_ev = 6
bus = 18
chargers = 6
[simulation]
n_scenarios = 5
"""


@pytest.fixture
def small(tmp_path):
    f = tmp_path / "small.toml"
    f.write_text(SMALL)
    return str(f)


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name)


def test_two_default_folders_in_the_same_second_differ(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    now = datetime(2026, 11, 22, 6, 0, 0)
    first, second = default_folder(now), default_folder(now)
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name == f"{first.name}-2"


def test_out_under_a_file_is_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["traffic", "--out", str(blocker / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is a file" in err and "--out" in err


def test_non_empty_out_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("precious")
    assert main(["traffic", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "precious"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_location_is_refused_before_any_work(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert main(["traffic", "--out", str(ro / "run")]) == 2
        assert "writable" in capsys.readouterr().err
    finally:
        ro.chmod(stat.S_IRWXU)


def test_a_write_error_leaves_no_partial_folder(tmp_path, monkeypatch, capsys):
    import environment.outputs as outputs

    def full_disk(path, doc):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_json", full_disk)
    out = tmp_path / "run"
    assert main(["traffic", "--no-plots", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "No space left" in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_results_are_readable_by_colleagues(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert main(["traffic", "--no-plots", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    for f in out.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f.name
    assert _leftovers(tmp_path) == []


def test_resume_refuses_a_different_experiment(small, tmp_path, capsys):
    out = tmp_path / "mc"
    args = ["montecarlo", "--scenario", small, "--replicates", "1", "--workers", "1",
            "--quiet", "--no-plots", "--out", str(out)]
    old = os.umask(0o022)
    try:
        assert main(args) == 0
    finally:
        os.umask(old)
    for name in ("manifest.json", "summary.json", "replicates.parquet"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
    before = json.loads((out / "manifest.json").read_text())
    assert set(before["fingerprint"]) == {"scenario", "seed", "behaviour", "policy",
                                          "sweep_point", "code"}
    capsys.readouterr()
    assert main([*args[:-2], "--replicates", "2", "--resume", "--policy", "max-up",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different experiment" in err and "policy" in err
    changed = small.replace(".toml", "_seed.toml")
    Path(changed).write_text(SMALL.replace("seed = 7", "seed = 8"))
    assert main(["montecarlo", "--scenario", changed, "--replicates", "2", "--workers", "1",
                 "--quiet", "--no-plots", "--resume", "--out", str(out)]) == 2
    assert "seed (7 -> 8)" in capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text()) == before  # nothing relabelled


def test_resume_of_a_missing_folder_is_refused(tmp_path, capsys):
    assert main(["montecarlo", "--replicates", "1", "--resume", "--out",
                 str(tmp_path / "nothing_here")]) == 2
    assert "does not exist" in capsys.readouterr().err
