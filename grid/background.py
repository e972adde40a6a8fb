"""Background (non-EV) load and PV of a feeder per interval and bus position.

``spread`` distributes feeder totals over the buses: load in proportion to the nominal (design)
loads with each bus keeping its nominal power factor; PV in proportion to the nominal loads, or
equally over the listed positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grid.feeder import FloatArray


@dataclass(frozen=True)
class Background:
    """Background consumption per interval and bus position (consumption positive).

    Attributes:
        p_load_kw: Active load ``(T, n_bus)``.
        q_load_kvar: Reactive load ``(T, n_bus)``.
        p_pv_kw: PV generation ``(T, n_bus)`` (non-negative; enters as negative consumption).
    """

    p_load_kw: FloatArray
    q_load_kvar: FloatArray
    p_pv_kw: FloatArray

    @property
    def p_net_kw(self) -> FloatArray:
        """Net active consumption ``P_load - P_pv``."""
        return self.p_load_kw - self.p_pv_kw


def spread(load_kw: FloatArray, pv_kw: FloatArray, nominal_p_kw: FloatArray,
           nominal_q_kvar: FloatArray, pv_positions: list[int] | None) -> Background:
    """Spread feeder totals over bus positions (see module docstring)."""
    w = nominal_p_kw / nominal_p_kw.sum()
    ratio = np.divide(nominal_q_kvar, nominal_p_kw, out=np.zeros_like(nominal_p_kw),
                      where=nominal_p_kw > 0)
    p = load_kw[:, None] * w[None, :]
    if pv_positions:
        wpv = np.zeros_like(w)
        np.add.at(wpv, pv_positions, 1.0 / len(pv_positions))  # repeated buses count twice
    else:
        wpv = w
    return Background(p_load_kw=p, q_load_kvar=p * ratio[None, :],
                      p_pv_kw=pv_kw[:, None] * wpv[None, :])
