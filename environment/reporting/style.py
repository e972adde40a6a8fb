"""The one figure style of every command (``matplotlib.rc_context(STYLE)``).

Reporting modules never switch the matplotlib backend: the command line selects the
non-interactive ``Agg`` backend once at start-up (``environment.cli.main``), and a user importing
these functions in a notebook keeps their own backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {"font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                         "figure.dpi": 150, "savefig.bbox": "tight"}
