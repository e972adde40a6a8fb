"""Row recorder of the co-simulation: named tables of typed rows, written to Parquet atomically."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd

from environment.outputs import write_parquet


class Recorder:
    """Collects rows per table (column-wise) and turns them into data frames."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self._rows: dict[str, int] = defaultdict(int)

    def add(self, table: str, **columns) -> None:
        """Append one row; every row of a table must carry the same columns."""
        cols = self._tables[table]
        if cols and set(columns) != set(cols):
            raise ValueError(f"row of {table!r} has columns {sorted(columns)}, "
                             f"expected {sorted(cols)}")
        for name, value in columns.items():
            cols[name].append(value)
        self._rows[table] += 1

    def add_many(self, table: str, **columns) -> None:
        """Append several rows given as equal-length sequences (scalars are repeated)."""
        n = max((len(v) for v in columns.values() if hasattr(v, "__len__")
                 and not isinstance(v, str)), default=1)
        cols = self._tables[table]
        for name, value in columns.items():
            seq = value if hasattr(value, "__len__") and not isinstance(value, str) \
                else [value] * n
            cols[name].extend(list(seq))
        self._rows[table] += n

    def frame(self, table: str) -> pd.DataFrame:
        """The table as a data frame (empty if nothing was recorded)."""
        return pd.DataFrame({k: v for k, v in self._tables[table].items()})

    def write(self, folder: Path, tables: list[str]) -> None:
        """Write the named tables as ``<table>.parquet`` into ``folder``."""
        for name in tables:
            write_parquet(folder / f"{name}.parquet", self.frame(name))
