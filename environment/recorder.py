"""Row recorder of the co-simulation: declared tables of typed rows, turned into data frames.

Every table has ONE declared schema: a frozen dataclass whose fields are the table's columns,
in order (``environment.records``). A batch of rows is one instance whose fields are either
sequences (one value per row) or scalars (repeated on every row of the batch); the recorder
accepts only the schema declared for the table, so a column can be neither forgotten nor
misspelt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from typing import Any, ClassVar, Protocol

import pandas as pd


class RowBatch(Protocol):
    """A frozen dataclass declaring one table (``TABLE``) whose fields are its columns."""

    TABLE: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Any]]


def _is_sequence(value: object) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, str)


class Recorder:
    """Collects row batches per declared table (column-wise) and turns them into data frames.

    Args:
        schemas: The row-batch dataclasses, one per table.
    """

    def __init__(self, schemas: Sequence[type[RowBatch]]) -> None:
        self.schemas = {s.TABLE: s for s in schemas}
        self._columns = {name: tuple(f.name for f in fields(s))
                         for name, s in self.schemas.items()}
        self._tables: dict[str, dict[str, list]] = {
            name: {c: [] for c in cols} for name, cols in self._columns.items()}

    def add(self, rows: RowBatch) -> None:
        """Append a batch of rows to its table.

        Raises:
            TypeError: ``rows`` is not an instance of its table's declared schema.
            ValueError: Sequences of different lengths.
        """
        table = getattr(rows, "TABLE", None)
        if not is_dataclass(rows) or table not in self.schemas \
                or type(rows) is not self.schemas[table]:
            raise TypeError(f"{type(rows).__name__} is not a declared table schema "
                            f"({', '.join(s.__name__ for s in self.schemas.values())})")
        values = {c: getattr(rows, c) for c in self._columns[table]}
        lengths = {len(v) for v in values.values() if _is_sequence(v)}
        if len(lengths) > 1:
            raise ValueError(f"rows of {table!r} have sequences of lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 1
        cols = self._tables[table]
        for name, value in values.items():
            cols[name].extend(list(value) if _is_sequence(value) else [value] * n)

    def frame(self, table: str) -> pd.DataFrame:
        """The table as a data frame (empty if nothing was recorded).

        Raises:
            KeyError: No such table declared.
        """
        cols = self._tables[table]
        if not cols[self._columns[table][0]]:
            return pd.DataFrame()
        return pd.DataFrame(dict(cols))
