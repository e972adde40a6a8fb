"""Metrics of one co-simulated day, computed once from its recorded tables.

``simulate`` writes them to ``summary.json`` (:meth:`DayMetrics.as_dict`) and Monte Carlo turns
them into one row per replicate; both read the same numbers from the same function.

* **validity**: the day is physically valid (``valid``) when no tick had an AC violation at the
  realised operating point and no tick was grid-infeasible (must-charge load the network could
  not carry: the plugged-in EVs' exact one-step lower bound, ``agents.grid_operator``);
  :func:`day_checks` turns this and the delivery target into the command's verdict;
* **deliverability rate**: share of ticks whose aggregate call was delivered within 1 %;
* **boundary held**: the same over the ticks whose call lay inside the published boundary;
* **validation** per layer (``da``, ``prev``, ``rt``): hold rate and undelivered energy of the
  calls inside that layer's boundary (``environment.validation.layer_validation``);
* **grid**: grid-infeasible ticks and the unsheddable energy ``sum unsheddable_kw dt``; beside
  them the ticks the DSO flagged the package (its lower bound above the network: a package
  problem where the vehicles could draw less) and the package's unsheddable energy;
* **shortfalls**: EVs that departed below their requirement (count, kWh; ``left_early`` of them
  left before their declared departure); EVs that left without a charger; EVs still plugged in
  at the end and whether their requirement is still reachable;
* **access**: how every EV got a charger, or did not (direct, after a queue, rerouted, balked,
  left at its departure, still waiting), the km rerouted EVs drove and the mean wait;
* **AC** at the realised operating points: ticks with violations, per violation type, min/max
  voltage, max loading, max substation import;
* **DA vs RT**: the published RT boundary minus the DA boundary, per tick (mean and extremes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from environment.validation import POWER_TOL_KW, beyond_tol, layer_validation
from environment.verdict import Check, report, target, validity
from flexibility.stations import TOTAL_LABEL

DELIVERY_TARGET = 0.99  # share of ticks whose call must be delivered (within 1 %)


@dataclass(frozen=True)
class GridDay:
    """Grid feasibility of the day.

    Attributes:
        infeasible_ticks: Grid-infeasible ticks: the plugged-in EVs' must-charge was not
            AC-feasible (the physical check).
        unsheddable_kwh: ``sum unsheddable_kw dt``: must-charge the network could not carry.
        max_unsheddable_kw: Its largest tick.
        max_must_serve_kw: Largest packaged must-serve load ``max(P_down, 0)``.
        max_must_charge_kw: Largest must-charge of the plugged-in EVs.
        package_infeasible_ticks: Ticks the DSO flagged the package (``package_infeasible``).
        package_unsheddable_kwh: ``sum package_unsheddable_kw dt``.
        max_package_unsheddable_kw: Its largest tick.
    """

    infeasible_ticks: int
    unsheddable_kwh: float
    max_unsheddable_kw: float
    max_must_serve_kw: float
    max_must_charge_kw: float = 0.0
    package_infeasible_ticks: int = 0
    package_unsheddable_kwh: float = 0.0
    max_package_unsheddable_kw: float = 0.0


@dataclass(frozen=True)
class ShortfallDay:
    """Requirements not met."""

    count: int
    kwh: float
    left_early: int
    left_unserved: int
    plugged_at_end: int
    plugged_at_end_unreachable: int


@dataclass(frozen=True)
class EvDay:
    """EV sessions of the day."""

    total: int
    departed: int
    left_early: int
    mean_wait_min: float
    max_wait_min: float
    charged_kwh: float
    discharged_kwh: float


ACCESS = ("direct", "queued", "rerouted", "balked", "left_at_departure", "pending")


@dataclass(frozen=True)
class AccessDay:
    """How the day's EVs got a charger, or did not (``agents.ev``; every EV counted once).

    Attributes:
        direct: A charger was free on arrival.
        queued: Plugged in after waiting at its own station.
        rerouted: Plugged in at another station.
        balked: Left without a charger when its patience ran out (nowhere to reroute).
        left_at_departure: Its departure came while it queued (or before it arrived).
        pending: Still travelling or queued at the end of the horizon.
        reroute_km: Road km driven by rerouted EVs in total (served or not).
        mean_wait_min: Mean time from arrival to plug-in of the EVs that queued or rerouted
            (0 without any).
    """

    direct: int
    queued: int
    rerouted: int
    balked: int
    left_at_departure: int
    pending: int
    reroute_km: float
    mean_wait_min: float

    @classmethod
    def of(cls, evs: pd.DataFrame) -> AccessDay | None:
        """Counts from the ``evs`` table (``None`` for a table without the ``access``
        column)."""
        if "access" not in evs:
            return None
        counts = evs.access.value_counts()
        waited = evs[evs.access.isin(("queued", "rerouted"))]
        return cls(**{k: int(counts.get(k, 0)) for k in ACCESS},
                   reroute_km=float(evs.reroute_km.sum()),
                   mean_wait_min=float(waited.wait_min.mean()) if len(waited) else 0.0)

    def line(self, rule: str, patience_min: float) -> str:
        """The console line: every outcome with its count."""
        how = {"wait": "queue until departure", "leave": "leave when full",
               "patience": f"patience {patience_min:g} min",
               "reroute": f"patience {patience_min:g} min, then reroute"}.get(rule, rule)
        return (f"chargers ({how}): {self.direct:,} direct, {self.queued:,} after a queue, "
                f"{self.rerouted:,} rerouted ({self.reroute_km:,.1f} km driven), "
                f"{self.balked:,} balked, {self.left_at_departure:,} left at departure, "
                f"{self.pending:,} still waiting at the end; mean wait of those who waited "
                f"{self.mean_wait_min:.1f} min")


@dataclass(frozen=True)
class AcDay:
    """AC power flow at the realised operating points."""

    violations: int
    violations_by_type: dict[str, int]
    min_vm_pu: float
    max_vm_pu: float
    max_loading_pct: float
    max_p_slack_kw: float | None
    substation_kw: float | None
    non_converged: int
    v_limits_pu: list[float]


@dataclass(frozen=True)
class DaRtDay:
    """Published RT boundary minus the DA boundary over the ticks."""

    p_up_mean_kw: float
    p_up_min_kw: float
    p_down_mean_kw: float
    p_down_max_kw: float
    ticks_rt_up_below_da: int
    ticks_rt_down_above_da: int


@dataclass(frozen=True)
class DayMetrics:
    """Everything measured about one day (module docstring).

    Attributes:
        valid: No AC violation at the realised point and no grid-infeasible tick (a package
            flag alone does not make a day invalid).
        deliverability_rate: Share of ticks whose call was delivered within 1 %.
        ticks: Ticks simulated.
        calls_delivered: Ticks whose call was delivered.
        calls_inside_boundary: Ticks whose call lay inside the published boundary.
        boundary_held_rate: Delivered share of those (``None`` without any).
        undelivered_kwh: ``sum |call - delivered| dt``.
        grid: Grid feasibility.
        shortfall: Requirements not met.
        evs: Sessions.
        ac: AC at the realised points.
        da_vs_rt: RT vs DA boundary.
        validation: Hold rate, undelivered energy and calls inside, per layer (``None`` when
            the tables lack the per-layer columns).
        package_efficiency_mean: Mean over ticks of the published package's area over the
            distribution layer's (``None`` for the vehicle-box package).
        access: How the EVs got a charger, or did not (``None`` for an ``evs`` table without
            the ``access`` column).
    """

    valid: bool
    deliverability_rate: float
    ticks: int
    calls_delivered: int
    calls_inside_boundary: int
    boundary_held_rate: float | None
    undelivered_kwh: float
    grid: GridDay
    shortfall: ShortfallDay
    evs: EvDay
    ac: AcDay
    da_vs_rt: DaRtDay
    validation: dict[str, dict[str, float | None]] | None
    package_efficiency_mean: float | None = None
    access: AccessDay | None = None

    def as_dict(self) -> dict:
        """The ``summary.json`` entries (``validation`` and ``access`` only when measured)."""
        out = asdict(self)
        for key in ("validation", "access"):
            if out[key] is None:
                del out[key]
        return out

    def hold_rate(self, layer: str) -> float:
        """Hold rate of the calls inside a layer's boundary (NaN without any)."""
        rate = None if self.validation is None else self.validation["hold_rate"].get(layer)
        return float("nan") if rate is None else float(rate)

    def undelivered_kwh_in(self, layer: str) -> float:
        """Undelivered energy of the calls inside a layer's boundary."""
        if self.validation is None:
            return 0.0
        return float(self.validation["undelivered_kwh"].get(layer, 0.0) or 0.0)


def day_metrics(ticks: pd.DataFrame, evs: pd.DataFrame, v_min_pu: float, v_max_pu: float,
                substation_kw: float | None = None,
                network: pd.DataFrame | None = None) -> DayMetrics:
    """Day metrics from the recorded tables (module docstring).

    Args:
        ticks: The ``ticks`` table (per station and total rows).
        evs: The per-EV table.
        v_min_pu: Lower voltage limit (reported with the AC metrics).
        v_max_pu: Upper voltage limit.
        substation_kw: Substation rating (reported with the AC metrics).
        network: The per-bus ``network`` table; without it the voltage extremes come from the
            per-tick extremes of ``ticks`` (the same numbers).
    """
    a = ticks[ticks.station == TOTAL_LABEL].sort_values("t")
    t_min = a.time_min.to_numpy()
    dt_h = float(t_min[1] - t_min[0]) / 60.0 if len(t_min) > 1 else 0.25
    inside = (a.call_kw >= a.p_down_kw - 1e-6) & (a.call_kw <= a.p_up_kw + 1e-6)
    departed = evs[evs.state == "departed"]
    short = departed[departed.shortfall_kwh > 1e-6]
    end = evs[evs.state == "plugged_at_end"]
    d_up = a.p_up_kw - a.da_p_up_kw
    d_down = a.p_down_kw - a.da_p_down_kw
    if network is not None:
        vm_min, vm_max = float(network.vm_pu.min()), float(network.vm_pu.max())
    else:
        vm_min, vm_max = float(a.min_vm_pu.min()), float(a.max_vm_pu.max())
    labels = a.ac_violation.fillna("")
    violated = labels != ""
    by_type: dict[str, int] = {}
    for lab in labels[violated]:
        for kind in lab.split(";"):
            by_type[kind] = by_type.get(kind, 0) + 1
    infeasible = a.grid_infeasible.astype(bool) if "grid_infeasible" in a else violated & False
    unshed = a.unsheddable_kw if "unsheddable_kw" in a else a.call_kw * 0.0
    flagged = a.package_infeasible.astype(bool) if "package_infeasible" in a \
        else violated & False
    pkg_unshed = a.package_unsheddable_kw if "package_unsheddable_kw" in a else a.call_kw * 0.0
    valid = bool(not violated.any() and not infeasible.any())
    has_layers = {"inside_da", "inside_prev", "inside_rt"} <= set(a.columns)
    return DayMetrics(
        valid=valid,
        deliverability_rate=float(a.delivered_ok.mean()), ticks=len(a),
        calls_delivered=int(a.delivered_ok.sum()), calls_inside_boundary=int(inside.sum()),
        boundary_held_rate=float(a.delivered_ok[inside].mean()) if inside.any() else None,
        undelivered_kwh=float(beyond_tol((a.call_kw - a.delivered_kw).to_numpy()).sum() * dt_h),
        grid=GridDay(infeasible_ticks=int(infeasible.sum()),
                     unsheddable_kwh=float(unshed.sum() * dt_h),
                     max_unsheddable_kw=float(unshed.max()) if len(a) else 0.0,
                     max_must_serve_kw=_max_or_zero(a, "must_serve_kw"),
                     max_must_charge_kw=_max_or_zero(a, "must_charge_kw"),
                     package_infeasible_ticks=int(flagged.sum()),
                     package_unsheddable_kwh=float(pkg_unshed.sum() * dt_h),
                     max_package_unsheddable_kw=_max_or_zero(a, "package_unsheddable_kw")),
        shortfall=ShortfallDay(
            count=len(short), kwh=float(short.shortfall_kwh.sum()),
            left_early=int(short.left_early.sum()) if "left_early" in short else 0,
            left_unserved=int((evs.state == "left_unserved").sum()), plugged_at_end=len(end),
            plugged_at_end_unreachable=int((~end.requirement_reachable.astype(bool)).sum())),
        evs=EvDay(total=len(evs), departed=len(departed),
                  left_early=int(evs.left_early.sum()) if "left_early" in evs else 0,
                  mean_wait_min=float(evs.wait_min.mean()) if len(evs) else 0.0,
                  max_wait_min=float(evs.wait_min.max()) if len(evs) else 0.0,
                  charged_kwh=float(evs.charged_kwh.sum()),
                  discharged_kwh=float(evs.discharged_kwh.sum())),
        ac=AcDay(violations=int(violated.sum()), violations_by_type=by_type,
                 min_vm_pu=vm_min, max_vm_pu=vm_max,
                 max_loading_pct=float(a.max_loading_pct.max()),
                 max_p_slack_kw=float(a.p_slack_kw.abs().max()) if "p_slack_kw" in a else None,
                 substation_kw=substation_kw, non_converged=int((~a.ac_converged).sum()),
                 v_limits_pu=[v_min_pu, v_max_pu]),
        da_vs_rt=DaRtDay(p_up_mean_kw=float(d_up.mean()), p_up_min_kw=float(d_up.min()),
                         p_down_mean_kw=float(d_down.mean()),
                         p_down_max_kw=float(d_down.max()),
                         ticks_rt_up_below_da=int((d_up < -POWER_TOL_KW).sum()),
                         ticks_rt_down_above_da=int((d_down > POWER_TOL_KW).sum())),
        validation=layer_validation(a, dt_h) if has_layers else None,
        package_efficiency_mean=_mean_or_none(a, "package_efficiency"),
        access=AccessDay.of(evs))


def _max_or_zero(a: pd.DataFrame, col: str) -> float:
    """Largest value of a column (0 without the column or rows)."""
    return float(a[col].max()) if col in a and len(a) else 0.0


def _mean_or_none(a: pd.DataFrame, col: str) -> float | None:
    """Mean of a column over its finite values (``None`` without any)."""
    if col not in a:
        return None
    x = a[col].to_numpy(float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else None


def _power(kw: float) -> str:
    """A power for the console: MW from 1 MW, else kW (one decimal below 10 kW)."""
    if abs(kw) >= 1000.0:
        return f"{kw / 1e3:.1f} MW"
    return f"{kw:.1f} kW" if abs(kw) < 10.0 else f"{kw:.0f} kW"


def day_checks(m: DayMetrics, reserve_alpha: float | None = None,
               boundary_promise: bool = False) -> list[Check]:
    """The validity checks and the delivery target of one co-simulated day.

    * ``ac_limits`` (validity): no AC violation at any realised operating point;
    * ``grid_feasible`` (validity): no tick whose must-charge load the network cannot carry
      (the plugged-in EVs' exact one-step lower bound, not the package's);
    * ``package_within_network`` (report): no tick the DSO flagged the α package (its lower
      bound above the network). The published boundary is capped at the distribution layer
      either way and the package does not claim the vehicles' physics, so a miss is named on
      the console and in ``summary.json`` but leaves the exit code alone;
    * ``calls_delivered`` (target): at least ``DELIVERY_TARGET`` of the ticks' calls delivered
      within 1 % (a call the published boundary promised and the fleet did not deliver is the
      failure this co-simulator exists to find); under a reserve policy (``reserve_alpha``
      given) a **report** instead, ``reserve_day_held``: whether every reserve call of the day
      held. The product promises that on a share α of days, so one day cannot miss it (a day
      that did not hold is one of the 1 − α it may lose); ``montecarlo --calibration`` tests
      the promise over many days;
    * ``boundary_held`` (target, with ``boundary_promise``): every call inside the boundary
      published at its tick was delivered — the package's own promise (the TSO's rules split
      the call inside the published boxes; planners call stations directly and are exempt).
    """
    ac, grid = m.ac, m.grid
    sub = ac.substation_kw
    extra = ""
    if sub is not None and ac.max_p_slack_kw is not None \
            and ac.max_p_slack_kw > sub * (1 + 1e-9):
        extra = f", substation {_power(ac.max_p_slack_kw)} > {_power(sub)}"
    types = ", ".join(f"{k} {v}" for k, v in sorted(ac.violations_by_type.items()))
    return [
        validity("ac_limits", ac.violations == 0,
                 f"{ac.violations} of {m.ticks} ticks with AC violations (min "
                 f"{ac.min_vm_pu:.3f} p.u., max loading {ac.max_loading_pct:.0f} %{extra}"
                 f"{'; ' + types if types else ''})"),
        validity("grid_feasible", grid.infeasible_ticks == 0,
                 f"{grid.infeasible_ticks} ticks grid-infeasible (must-charge up to "
                 f"{_power(grid.max_unsheddable_kw)} not servable, "
                 f"{grid.unsheddable_kwh:.1f} kWh)"),
        report("package_within_network", grid.package_infeasible_ticks == 0,
               f"{grid.package_infeasible_ticks} ticks with the package's lower bound above the "
               f"network (its must-serve up to {_power(grid.max_package_unsheddable_kw)} not "
               f"servable, {grid.package_unsheddable_kwh:.1f} kWh; published capped)"),
        _delivery_target(m, reserve_alpha),
        *([] if not boundary_promise else [_boundary_held(m)]),
    ]


def _delivery_target(m: DayMetrics, reserve_alpha: float | None) -> Check:
    if reserve_alpha is None:
        return target("calls_delivered", m.deliverability_rate >= DELIVERY_TARGET - 1e-12,
                      f"{m.calls_delivered}/{m.ticks} calls delivered "
                      f"({100 * m.deliverability_rate:.1f} %; target ≥ "
                      f"{100 * DELIVERY_TARGET:.0f} %)")
    rate = m.hold_rate("reserve")
    inside = None if m.validation is None else m.validation["calls_inside"].get("reserve")
    inside_n = int(inside or 0)
    held = round(rate * inside_n) if np.isfinite(rate) else 0
    return report("reserve_day_held", bool(held == inside_n),
                  f"reserve calls held {held} of {inside_n} (the product promises every call "
                  f"on a share α = {reserve_alpha:g} of days)")


def _boundary_held(m: DayMetrics) -> Check:
    rate = m.hold_rate("rt")
    held = not np.isfinite(rate) or rate >= 1.0 - 1e-12
    n = 0 if m.validation is None else m.validation["calls_inside"].get("rt", 0)
    return target("boundary_held", bool(held),
                  f"calls inside the boundary published at their tick held "
                  f"{100 * rate:.1f} % of {n} (the package's promise: 100 %)")
