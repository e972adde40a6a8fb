"""Values per charging station and their total, without a magic key.

Every layer of the assessment and the co-simulator produces one object per station (an
envelope, a boundary) and one for the stations together. :class:`PerStation` keeps the two
apart: ``x[name]`` is a station's value, ``x.total`` the total; the label of the total in output
tables (the ``station`` column) is :data:`TOTAL_LABEL`, and a station may not use that name
(``scenarios.config`` rejects it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")

TOTAL_LABEL = "ALL"


@dataclass(frozen=True)
class PerStation(Generic[T]):
    """One value per station (in grid order) and one for their total.

    Attributes:
        stations: Value per station name, in the scenario's (grid) order.
        total: Value of all stations together.
    """

    stations: Mapping[str, T]
    total: T

    __iter__ = None  # not a mapping: iterate ``stations`` or ``labelled()`` explicitly

    def __getitem__(self, name: str) -> T:
        return self.stations[name]

    def by_label(self, label: str) -> T:
        """A station's value, or the total for ``TOTAL_LABEL`` (as in output tables)."""
        return self.total if label == TOTAL_LABEL else self.stations[label]

    @property
    def names(self) -> tuple[str, ...]:
        """Station names in order."""
        return tuple(self.stations)

    def labelled(self) -> Iterator[tuple[str, T]]:
        """``(name, value)`` for every station, then ``(TOTAL_LABEL, total)`` (table rows)."""
        yield from self.stations.items()
        yield TOTAL_LABEL, self.total

    def map(self, f: Callable[[T], U]) -> PerStation[U]:
        """Apply ``f`` to every station's value and to the total."""
        return PerStation({n: f(v) for n, v in self.stations.items()}, f(self.total))
