"""The zonal study's typed summary (``environment.summaries.ZonalSummary``) and its checks.

Costs on the paper's Table 2 basis, all three at their AC purchase (``before``: uncoordinated
charging, ``after``: the distribution layer's plan, ``aggregation_layer.costs``: the two-layer
result; ``dispatch.zonal_costs``), the partition's indicators, the AC voltages of both, and the
aggregation layer on the realised day. Validity: the plan's and the two-layer result's AC points
inside the voltage and line limits, every vehicle inside its set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from environment.assessment.zonal_study import ENERGY_SHARE, ZonalStudy
from environment.summaries import (
    AggregationLayerSummary,
    CostParts,
    PartitionScores,
    ZonalAc,
    ZonalSummary,
)
from environment.verdict import Check, validity

AC_TOL_PU = 1e-6


def _aggregation(st: ZonalStudy, dt: float, peak_before_kw: float
                 ) -> AggregationLayerSummary | None:
    two = st.two
    if two is None:
        return None
    trk = two.tracks
    peak = two.costs.peak_kw  # AC purchase, losses included (the before peak's basis)
    ok = two.redispatch.feasible
    rd = two.rounds
    finite = np.where(np.isfinite(two.ratios), two.ratios, np.nan)
    return AggregationLayerSummary(
        realised_vehicles=two.n_vehicles, user_types_1_to_4=tuple(two.type_counts),
        areas_feasible=int(sum(a.feasible for a in trk)),
        price_change_by_area_peak_flat_valley=tuple(
            tuple(a.price_change.round(4).tolist()) for a in trk),
        area_tracking_deviation_kwh=float(sum(a.deviation_kwh for a in trk if a.feasible)),
        vehicle_deviation_kwh=float(np.abs(two.vehicle_deviation_kw).sum() * dt),
        diesel_kwh=float(sum(a.dg_kw.sum() for a in trk if a.feasible) * dt),
        bought_from_neighbours_kwh=float(sum(a.buy_kw.sum() for a in trk if a.feasible) * dt),
        trading_price_premium_max_pct=trading_premium_pct(two.omega_z, st.setup.price),
        ev_energy_kwh=float(two.station_kw.sum() * dt),
        vehicles_outside_their_sets=two.energy_violations, peak_kw=peak,
        peak_shaving_pct_vs_before=100.0 * (peak_before_kw - peak) / peak_before_kw,
        ac_v_min_pu=float(np.nanmin(two.ac.vm_pu)),
        ac_max_loading_pct=float(np.nanmax(two.ac.loading_pct)),
        correction_round_feasible=bool(ok), override_kwh=two.override_kwh,
        cost_after_correction=float(two.redispatch.cost) if ok else None,
        seconds=two.seconds, targets=st_targets(rd), target_rounds=rd.rounds,
        target_moves_kw=tuple(round(m, 3) for m in rd.moves_kw),
        targets_converged=rd.converged, target_tol_kw=rd.tol_kw,
        tie_loss_kwh_economic_plan=rd.targets.tie_loss_kwh[0],
        tie_loss_kwh_loss_plan=rd.targets.tie_loss_kwh[1],
        demand_over_capability_max_by_area=tuple(
            float(np.nanmax(finite[:, d])) if np.isfinite(finite[:, d]).any() else 0.0
            for d in range(finite.shape[1])),
        costs=CostParts(two.costs.purchase, two.costs.diesel, two.costs.curtailment,
                        two.costs.carbon, two.costs.total, two.costs.peak_kw),
        uncoordinated_ev_energy_kwh=two.uncoordinated_kwh)


def st_targets(rd) -> str:
    """``"max_with_losses"`` when a loss-minimising plan entered the targets, else
    ``"economic"``."""
    return "economic" if rd.targets.losses_plan is None else "max_with_losses"


def zonal_summary(st: ZonalStudy, scenario, seed: int, label: Callable[[int], int],
                  runtime_s: float) -> ZonalSummary:
    """The typed summary of a zonal study (module docstring).

    Args:
        st: The study.
        scenario: Its scenario.
        seed: The run's seed.
        label: A bus's name in the scenario's numbering.
        runtime_s: Wall time.
    """
    plan, dt = st.setup.plan, scenario.horizon.dt_h
    peak_b, peak_a = st.before.peak_kw, st.after.peak_kw  # AC purchase, losses included
    assert peak_b is not None and peak_a is not None  # zonal_study.parts always sets them
    checked = [st.ac_after] + ([] if st.two is None else [st.two.ac])
    bad = [int((r.margin(st.setup.limits, AC_TOL_PU) > 0).sum()) for r in checked]
    sc = st.setup.scores
    summary = ZonalSummary(
        scenario=scenario.name, seed=seed,
        areas=tuple(tuple(sorted(label(v) for v in p)) for p in st.setup.parts),
        partition=PartitionScores(sc.modularity, sc.f2, sc.f3, sc.f_c, sc.total,
                                  st.setup.seed_scores.total),
        before=st.before, after=st.after,
        peak_shaving_pct=100.0 * (peak_b - peak_a) / peak_b,
        ev_energy_before_kwh=float(st.ev_before_kw.sum() * dt),
        ev_energy_after_kwh=float(plan.ev_kw.sum() * dt), required_share=ENERGY_SHARE,
        carbon_traded_t=plan.emission_t,
        ac=ZonalAc(float(np.nanmin(st.ac_before.vm_pu)), float(np.nanmin(st.ac_after.vm_pu)),
                   scenario.grid.v_min_pu, st.setup.net.v_min_pu, bad[0],
                   bad[1] if st.two is not None else None),
        aggregation_layer=_aggregation(st, dt, peak_b), runtime_s=runtime_s,
        response_in_layer=st.setup.net.ev_period is not None,
        response_override_kwh=plan.response_override_kwh)
    return summary


def zonal_checks(s: ZonalSummary) -> list[Check]:
    """AC validity of the plan and of the two layers; vehicles inside their sets."""
    out = [validity("ac_plan", s.ac.intervals_violating_plan == 0,
                    f"the distribution layer's plan violates an AC limit in "
                    f"{s.ac.intervals_violating_plan} intervals")]
    al = s.aggregation_layer
    if al is not None:
        bad = s.ac.intervals_violating_two_layers
        out += [validity("ac_two_layers", bad == 0,
                         f"the two-layer result violates an AC limit in {bad} intervals"),
                validity("vehicles_in_sets", al.vehicles_outside_their_sets == 0,
                         f"{al.vehicles_outside_their_sets} vehicles leave their sets")]
    return out


def trading_premium_pct(omega: np.ndarray, price: np.ndarray) -> float | None:
    """Largest ``100 (omega / price - 1)`` over the intervals with a positive purchase price
    (``omega``: trading prices ``(T, Z)``, ``price``: purchase price ``(T,)``)."""
    paid = price > 0
    if not paid.any():
        return None
    return float(100.0 * (omega[paid] / price[paid, None] - 1.0).max())
