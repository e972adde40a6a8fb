"""Row recorder of the co-simulation: named tables of typed rows, written to Parquet atomically."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd


class Recorder:
    """Collects rows per table (column-wise) and turns them into data frames."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))

    def add_many(self, table: str, **columns) -> None:
        """Append rows given as equal-length sequences (scalars are repeated).

        Raises:
            ValueError: Columns differing from the table's earlier rows, or sequences of
                different lengths.
        """
        seqs = {k: v for k, v in columns.items()
                if hasattr(v, "__len__") and not isinstance(v, str)}
        lengths = {len(v) for v in seqs.values()}
        if len(lengths) > 1:
            raise ValueError(f"rows of {table!r} have sequences of lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 1
        cols = self._tables[table]
        if cols and set(columns) != set(cols):
            raise ValueError(f"rows of {table!r} have columns {sorted(columns)}, "
                             f"expected {sorted(cols)}")
        for name, value in columns.items():
            cols[name].extend(list(value) if name in seqs else [value] * n)

    def frame(self, table: str) -> pd.DataFrame:
        """The table as a data frame (empty if nothing was recorded)."""
        return pd.DataFrame({k: v for k, v in self._tables[table].items()})
