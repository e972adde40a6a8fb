"""SimBench networks read once from SimBench's CSV tables, then from a pandapower JSON cache.

``simbench.get_simbench_net`` parses SimBench's complete CSV data set and extracts one grid on
every call (5.6 s for ``1-MVLV-urban-all-0-sw``); pandapower's own JSON of the same network
loads in 1.8 s. The cache key holds the SimBench and pandapower versions, so an upgrade of
either re-reads the CSVs. Files are written atomically (temporary file, then rename); a cache
that cannot be written (read-only home, full disk) is skipped, never an error.

Location: ``$EVFLEX_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/evflex`` (``~/.cache/evflex``);
``EVFLEX_CACHE_DIR=off`` disables the cache.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandapower as pp


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when disabled with ``EVFLEX_CACHE_DIR=off``."""
    explicit = os.environ.get("EVFLEX_CACHE_DIR")
    if explicit:
        return None if explicit.lower() == "off" else Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evflex"


def simbench_net(code: str) -> pp.pandapowerNet:
    """The SimBench network ``code`` (cached as pandapower JSON after the first read).

    Raises:
        ImportError: SimBench is not installed.
        Exception: Whatever SimBench raises for an unknown code.
    """
    import simbench

    folder = cache_dir()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", code)
    name = f"{safe}.simbench-{simbench.__version__}.pandapower-{pp.__version__}.json"
    path = None if folder is None else folder / "simbench" / name
    if path is not None and path.is_file():
        try:
            return pp.from_json(str(path))
        except Exception:  # a damaged cache file: read the CSVs again and rewrite it
            pass
    net = simbench.get_simbench_net(code)
    if path is not None:
        _write_atomically(net, path)
    return net


def _write_atomically(net: pp.pandapowerNet, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        pp.to_json(net, tmp)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
