"""Output folders that are complete or absent, never overwritten, readable by colleagues.

* :func:`staged_output` (single-shot commands): the location is checked **before** any work; the
  run writes into a hidden temporary sibling ``.<name>.partial-XXXX`` and is renamed into place
  at the end, so a folder is complete or absent. Without ``--out`` the folder is
  ``runs/<YYYYmmdd-HHMMSS>`` made unique with a ``-2``, ``-3``, … suffix. An existing non-empty
  folder is refused (never overwritten).
* :func:`checked_folder` (resumable Monte Carlo runs, which write incrementally): the same
  up-front checks; a new run needs a new or empty folder, ``--resume`` an existing one.
* Files and folders get the permissions the user's umask gives (``0644``/``0755`` typically),
  not the ``0600`` of temporary files.

Problems with the location raise :class:`OutputError` (an input error: one line, exit 2).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from environment.outputs import current_umask
from scenarios.errors import InputError


class OutputError(InputError):
    """The output location cannot take the run (names the path and the fix)."""


def publish_permissions(root: Path) -> None:
    """Give every folder ``0777 & ~umask`` and every file ``0666 & ~umask`` under ``root``."""
    mask = current_umask()
    os.chmod(root, 0o777 & ~mask)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            os.chmod(Path(dirpath) / d, 0o777 & ~mask)
        for f in filenames:
            os.chmod(Path(dirpath) / f, 0o666 & ~mask)


def default_folder(now: datetime | None = None) -> Path:
    """``runs/<timestamp>``, with a suffix if that name is taken (reserved by creating it)."""
    base = Path("runs") / (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base.parent.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        candidate = base if i == 1 else base.with_name(f"{base.name}-{i}")
        try:
            candidate.mkdir()  # exclusive: two runs in the same second get different folders
            return candidate
        except FileExistsError:
            continue
    raise OutputError(f"runs/: no free folder name for {base.name}; give --out")


def _check_parent(path: Path) -> None:
    """The parent exists (or can be made), is a folder and is writable."""
    parent = path.parent
    for p in (parent, *parent.parents):
        if p.exists() and not p.is_dir():
            raise OutputError(f"--out {path}: {p} is a file, not a folder; choose another path")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {path}: cannot create {parent} ({exc.strerror}); choose a "
                          f"writable location") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {path}: {parent} is not writable; choose a writable location")


def check_new_location(path: Path) -> None:
    """Refuse a file, a non-empty folder, or an unwritable parent (before any work)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {path}: is a file; give a folder path")
    if path.is_dir() and any(path.iterdir()):
        raise OutputError(f"--out {path}: folder exists and is not empty; results are never "
                          f"overwritten, choose a new folder")
    _check_parent(path)


@dataclass(frozen=True)
class StagedOutput:
    """Where a single-shot run writes (``work``) and where it will appear (``final``)."""

    work: Path
    final: Path


@contextmanager
def staged_output(out: str | None) -> Iterator[StagedOutput]:
    """A staging folder renamed to the final folder when the block finishes without error.

    On any exception the staging folder is removed and the exception propagates (the CLI turns
    ``OSError`` into one line and exit 2): no partial folder is left.
    """
    if out is None:
        final = default_folder()  # reserved (created empty); the staged run replaces it
        reserved = True
    else:
        final = Path(out)
        check_new_location(final)
        reserved = False
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    except OSError as exc:
        raise OutputError(f"--out {final}: cannot write in {final.parent} ({exc.strerror}); "
                          f"choose a writable location") from None
    try:
        yield StagedOutput(work=work, final=final)
        publish_permissions(work)
        os.replace(work, final)  # atomic; onto an empty folder (reserved or given) as well
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if reserved and final.is_dir() and not any(final.iterdir()):
            final.rmdir()
        raise


def checked_folder(out: str | None, resume: bool) -> Path:
    """The folder of a resumable run, checked before any work.

    Raises:
        OutputError: ``--resume`` on a folder that does not exist (or is not a run), a new run
            into a non-empty folder, a file, or an unwritable location.
    """
    if resume:
        if out is None:
            raise OutputError("--resume: give --out, the folder of the run to continue")
        path = Path(out)
        if not path.is_dir():
            raise OutputError(f"--resume: {path} does not exist; drop --resume to start a new "
                              f"run there")
        if not (path / "manifest.json").is_file():
            raise OutputError(f"--resume: {path} has no manifest.json, so it is not a Monte "
                              f"Carlo run folder; drop --resume or give the run's folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputError(f"--out {path}: not writable; choose a writable location")
        return path
    if out is None:
        return default_folder()
    path = Path(out)
    check_new_location(path)
    path.mkdir(exist_ok=True)
    return path
