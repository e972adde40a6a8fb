"""SimBench networks read once from SimBench's CSV tables, then from a pickle cache.

``simbench.get_simbench_net`` parses SimBench's complete CSV data set and extracts one grid on
every call (4.6 s CPU for ``1-MVLV-urban-all-0-sw``); pandapower's own JSON of the same
network loads in 1.5 s (an object hook per cell), a pickle of it in 0.04 s. The pickle holds
exactly the network the CSVs gave (every table, column order and dtype), so a cached run and an
uncached one are the same run. Pickles are only read from this user's own cache folder, never
from a scenario. The cache key holds the SimBench, pandapower, pandas and Python versions, so
an upgrade of any of them re-reads the CSVs. Files are written atomically (temporary file, then
rename); a cache that cannot be written (read-only home, full disk) or read (damaged) is
skipped, never an error.

Location: ``$EVFLEX_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/evflex`` (``~/.cache/evflex``);
``EVFLEX_CACHE_DIR=off`` disables the cache.
"""

from __future__ import annotations

import os
import pickle
import platform
import re
import tempfile
from pathlib import Path

import pandapower as pp
import pandas as pd


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when disabled with ``EVFLEX_CACHE_DIR=off``."""
    explicit = os.environ.get("EVFLEX_CACHE_DIR")
    if explicit:
        return None if explicit.lower() == "off" else Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evflex"


def simbench_net(code: str) -> pp.pandapowerNet:
    """The SimBench network ``code`` (cached as a pickle after the first read).

    Raises:
        ImportError: SimBench is not installed.
        Exception: Whatever SimBench raises for an unknown code.
    """
    import simbench

    folder = cache_dir()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", code)
    name = (f"{safe}.simbench-{simbench.__version__}.pandapower-{pp.__version__}"
            f".pandas-{pd.__version__}.py-{platform.python_version()}.pkl")
    path = None if folder is None else folder / "simbench" / name
    if path is not None and path.is_file():
        try:
            with path.open("rb") as fh:
                net = pickle.load(fh)
            if isinstance(net, pp.pandapowerNet):
                return net
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
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(net, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
