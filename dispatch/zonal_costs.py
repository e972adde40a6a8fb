"""Table 2 of the bilevel zonal dispatch paper on one basis: a day's cost parts from its
schedules, the purchase read at the substation of an AC power flow (losses included).

For a day with purchase ``b_t`` (kW, the AC slack power, losses included), diesel outputs
``g_t,m``, renewable availability ``A_t,k`` and output ``r_t,k``:

    purchase    = dt sum_t price_t max(b_t, 0) + c_peak max_t b_t,
    diesel      = dt sum_t,m cost_m g_t,m,
    curtailment = dt pen sum_t,k (A_t,k - r_t,k),
    carbon      = sum_k C(E_k),  E_t = dt / 1000 (share_th (e_th - quota) max(b_t, 0)
                                                  + sum_m (e_m - quota) g_t,m),

``C`` the ladder (``dispatch.carbon``) of each interval's ``E_t`` (``per_interval``) or of the
day's sum. The "before" day, the distribution layer's plan and the two-layer result are all
priced by :func:`day_costs`, so the three differ only by their schedules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dispatch.carbon import ladder_cost
from flexibility.common import FloatArray


@dataclass(frozen=True)
class CostBasis:
    """The prices of a day.

    Attributes:
        dt_h: Interval length.
        price_per_kwh: Purchase price ``(T,)``.
        demand_charge_per_kw: Charge on the day's peak purchase.
        dg_cost_per_kwh: Diesel costs ``(M,)``; ``dg_kg_per_kwh`` their emission factors.
        curtail_per_kwh: Curtailment penalty.
        thermal_share, thermal_kg_per_kwh, quota_kg_per_kwh: The purchase's thermal share,
            its emission factor and the free quota per kWh.
        carbon_price_per_t, carbon_step_t, carbon_growth: The ladder.
        carbon_per_interval: The ladder per interval (eq. 4) or on the day's sum.
    """

    dt_h: float
    price_per_kwh: FloatArray
    demand_charge_per_kw: float
    dg_cost_per_kwh: FloatArray
    dg_kg_per_kwh: FloatArray
    curtail_per_kwh: float
    thermal_share: float
    thermal_kg_per_kwh: float
    quota_kg_per_kwh: float
    carbon_price_per_t: float
    carbon_step_t: float
    carbon_growth: float
    carbon_per_interval: bool


@dataclass(frozen=True)
class DayCosts:
    """Table 2's parts of one day (module docstring) and its peak purchase (kW)."""

    purchase: float
    diesel: float
    curtailment: float
    carbon: float
    peak_kw: float
    emission_t: float

    @property
    def total(self) -> float:
        """The four parts summed."""
        return self.purchase + self.diesel + self.curtailment + self.carbon


def day_costs(basis: CostBasis, buy_kw: FloatArray, dg_kw: FloatArray,
              res_avail_kw: FloatArray, res_kw: FloatArray) -> DayCosts:
    """The cost parts of the module docstring.

    Args:
        basis: The prices.
        buy_kw: Purchase per interval ``(T,)`` (AC slack power).
        dg_kw: Diesel outputs ``(T, M)``.
        res_avail_kw: Renewable availability ``(T, K)``.
        res_kw: Renewable output ``(T, K)``.
    """
    b = basis
    dt = b.dt_h
    buy = np.asarray(buy_kw, dtype=float)
    g = np.asarray(dg_kw, dtype=float).reshape(len(buy), -1)
    pos = np.maximum(buy, 0.0)
    purchase = float(np.asarray(b.price_per_kwh) @ pos * dt + b.demand_charge_per_kw * buy.max())
    diesel = float((g @ np.asarray(b.dg_cost_per_kwh, float)).sum() * dt)
    curtail = float((np.asarray(res_avail_kw) - np.asarray(res_kw)).sum() * dt
                    * b.curtail_per_kwh)
    e_t = dt / 1000.0 * (b.thermal_share * (b.thermal_kg_per_kwh - b.quota_kg_per_kwh) * pos
                         + g @ (np.asarray(b.dg_kg_per_kwh, float) - b.quota_kg_per_kwh))
    args = e_t if b.carbon_per_interval else np.array([e_t.sum()])
    carbon = float(ladder_cost(args, b.carbon_price_per_t, b.carbon_step_t,
                               b.carbon_growth).sum())
    return DayCosts(purchase, diesel, max(curtail, 0.0), carbon, float(buy.max()),
                    float(e_t.sum()))
