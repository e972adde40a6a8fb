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
* :func:`folder_lock`: a run holds an exclusive lock on its folder (a hidden sibling
  ``.<name>.lock``, ``flock``) from before its first check to after its results are in place;
  a second run on the same folder is refused at once. Staging folders left by a run that was
  killed (``.<name>.partial-*`` whose lock nobody holds) are removed by the next run in the
  same parent folder, with the empty ``runs/<timestamp>`` it had reserved.

Problems with the location raise :class:`OutputError` (an input error: one line, exit 2).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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


def _lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


def _try_lock(folder: Path) -> int | None:
    """An open, exclusively locked descriptor of ``folder``'s lock file, or ``None`` if taken."""
    path = _lock_path(folder)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        try:  # the holder before us may have removed the file after we opened it
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _unlock(folder: Path, fd: int) -> None:
    try:
        os.unlink(_lock_path(folder))
    except FileNotFoundError:
        pass
    os.close(fd)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``folder`` (module docstring) for the block.

    Raises:
        OutputError: Another run holds it, or the lock file cannot be made.
    """
    try:
        fd = _try_lock(folder)
    except OSError as exc:
        raise OutputError(f"--out {folder}: cannot lock it in {folder.parent} "
                          f"({exc.strerror}); choose a writable location") from None
    if fd is None:
        raise OutputError(f"--out {folder}: another run is writing there; wait for it to "
                          f"finish or choose another folder")
    try:
        yield
    finally:
        _unlock(folder, fd)


def remove_stale_partials(parent: Path) -> list[Path]:
    """Remove staging folders of killed runs in ``parent`` (module docstring).

    Returns:
        The staging folders removed.
    """
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for partial in parent.glob(".*.partial-*"):
        name = partial.name[1:partial.name.rindex(".partial-")]
        final = parent / name
        try:
            fd = _try_lock(final)
        except OSError:
            continue
        if fd is None:  # its run is alive
            continue
        try:
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
            if parent.name == "runs" and final.is_dir() and not any(final.iterdir()):
                final.rmdir()  # the timestamped folder the killed run had reserved
        finally:
            _unlock(final, fd)
    return removed


@dataclass(frozen=True)
class StagedOutput:
    """Where a single-shot run writes (``work``) and where it will appear (``final``)."""

    work: Path
    final: Path


@contextmanager
def staged_output(out: str | None) -> Iterator[StagedOutput]:
    """A staging folder renamed to the final folder when the block finishes without error.

    The final folder's lock (:func:`folder_lock`) is held from before its checks until it is in
    place. On any exception the staging folder is removed and the exception propagates (the CLI
    turns ``OSError`` into one line and exit 2): no partial folder is left.
    """
    if out is None:
        final = default_folder()  # reserved (created empty); the staged run replaces it
        reserved = True
    else:
        final = Path(out)
        _check_parent(final)
        reserved = False
    try:
        with folder_lock(final):
            if not reserved:
                check_new_location(final)
            remove_stale_partials(final.parent)
            try:
                work = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-",
                                             dir=final.parent))
            except OSError as exc:
                raise OutputError(f"--out {final}: cannot write in {final.parent} "
                                  f"({exc.strerror}); choose a writable location") from None
            try:
                yield StagedOutput(work=work, final=final)
                publish_permissions(work)
                os.replace(work, final)  # atomic; onto an empty folder (reserved or given)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
    except BaseException:
        if reserved and final.is_dir() and not any(final.iterdir()):
            final.rmdir()
        raise


def checked_folder(out: str | None, resume: bool, locks: ExitStack | None = None) -> Path:
    """The folder of a resumable run, checked before any work and locked.

    With ``locks``, the folder's lock (:func:`folder_lock`) is entered into that stack and held
    until the caller closes it.

    Raises:
        OutputError: ``--resume`` on a folder that does not exist (or is not a run), a new run
            into a non-empty folder, a file, or an unwritable location.
    """
    if out is not None and locks is not None:
        _check_parent(Path(out))
        locks.enter_context(folder_lock(Path(out)))
    if resume:
        if out is None:
            raise OutputError("--resume: give --out, the folder of the run to continue")
        path = Path(out)
        if not path.is_dir():
            raise OutputError(f"--resume: {path} does not exist; drop --resume to start a new "
                              f"run there")
        sweep_points = list(path.glob("sweep/*/manifest.json"))
        if not (path / "manifest.json").is_file() and not sweep_points:
            raise OutputError(f"--resume: {path} has no manifest.json (nor sweep/*/manifest."
                              f"json), so it is not a Monte Carlo run folder; drop --resume or "
                              f"give the run's folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputError(f"--out {path}: not writable; choose a writable location")
        return path
    if out is None:
        path = default_folder()
        if locks is not None:
            locks.enter_context(folder_lock(path))
        return path
    path = Path(out)
    check_new_location(path)
    path.mkdir(exist_ok=True)
    return path
