"""Tables and summary entries of the distribution and transmission layers (output contract).

The P–Q rows of the summary are the scenario's ``assessment.pq_times`` (the paper's Table 6
instants by default).

``envelopes.parquet`` gains ``layer = distribution`` and ``layer = transmission`` rows (per station
and their total, ``station = ALL``) and the columns ``ramp_up_kw, ramp_down_kw`` (transmission
only). For the transmission layer ``p_max_kw = P_up``, ``p_min_kw = P_down``. In every layer
``e_min_kwh, e_max_kwh`` are cumulative net grid energy bounds after each interval (see
``flexibility.alpha_sets``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from environment.assessment.grid import GridLayerResult
from environment.assessment.station import StationLayerResult
from environment.outputs import envelope_frame
from flexibility.metrics import EnvelopeMetrics, envelope_metrics
from flexibility.packaging import Boundary
from flexibility.stations import PerStation
from grid.clipping import clipping_rate
from grid.layers import LayerSet
from grid.pq import PQ_BINDING
from scenarios.timeaxis import TimeAxis


def boundary_metrics(b: Boundary) -> EnvelopeMetrics:
    """Peaks and area of a boundary, as for envelopes."""
    ch, dis = np.maximum(b.p_up_kw, 0.0), np.maximum(-b.p_down_kw, 0.0)
    return EnvelopeMetrics(float(ch.max(initial=0.0)), float(dis.max(initial=0.0)),
                           float(np.sum(ch + dis) * b.dt_h))


def boundary_frame(kind: str, bounds: PerStation[Boundary], axis: TimeAxis) -> pd.DataFrame:
    """Envelope-table rows of the transmission layer."""
    frames = []
    for station, b in bounds.labelled():
        t = np.arange(b.t0, b.t0 + b.p_up_kw.size)
        frames.append(pd.DataFrame({
            "layer": "transmission", "kind": kind, "station": station, "t": t,
            "time": axis.clock(t),
            "p_ch_max_kw": np.maximum(b.p_up_kw, 0.0), "p_dis_max_kw": np.maximum(-b.p_down_kw, 0),
            "e_min_kwh": b.e_min_kwh, "e_max_kwh": b.e_max_kwh, "p_max_kw": b.p_up_kw,
            "p_min_kw": b.p_down_kw, "ds_kwh": np.nan, "ramp_up_kw": b.ramp_up_kw,
            "ramp_down_kw": b.ramp_down_kw}))
    return pd.concat(frames, ignore_index=True)


def layer_frames(kind: str, layers: LayerSet, axis: TimeAxis) -> list[pd.DataFrame]:
    """Distribution and transmission rows of one case."""
    dist = envelope_frame("distribution", kind, layers.distribution, axis)
    dist["ramp_up_kw"] = np.nan
    dist["ramp_down_kw"] = np.nan
    return [dist, boundary_frame(kind, layers.transmission, axis)]


def network_frame(gr: GridLayerResult, axis: TimeAxis) -> pd.DataFrame:
    """Background per interval and bus (pandapower index), as the clipping used it."""
    gm = gr.model
    bg = gm.background
    T, n = bg.p_load_kw.shape
    t = np.repeat(np.arange(T), n)
    return pd.DataFrame({
        "t": t.astype("int32"), "time": axis.clock(t),
        "bus": np.tile(gm.feeder.bus_index, T).astype("int64"),
        "p_load_kw": bg.p_load_kw.ravel(), "q_load_kvar": bg.q_load_kvar.ravel(),
        "p_pv_kw": bg.p_pv_kw.ravel()})


def ac_validation_frame(layers: LayerSet, axis: TimeAxis) -> pd.DataFrame:
    """Per interval: LinDistFlow vs AC charging boundary of the total, min voltage, binding."""
    d = layers.dist_boxes
    t = np.arange(d.t0, d.t0 + d.raw_hi_kw.shape[0])
    ldf = d.ldf.hi_kw.sum(1)
    ac = d.ac_boundary_ch_kw
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(ac) > 1e-9, 100.0 * (ldf - ac) / np.abs(ac), 0.0)
    return pd.DataFrame({
        "t": t, "time": axis.clock(t), "station_kw": d.raw_hi_kw.sum(1),
        "lindistflow_kw": ldf, "ac_kw": ac, "corrected_kw": d.hi_kw.sum(1),
        "rel_error_pct": rel, "min_vm_pu": d.ac_ch.vm_min_pu,
        "max_loading_pct": d.ac_ch.loading_max_pct, "binding": d.binding_ch,
        "background_infeasible": d.ldf.background_infeasible,
        "ac_note": [_ac_note(d, k) for k in range(len(t))]})


def _ac_note(d, k: int) -> str:
    """Why the AC check of interval ``k`` needed attention ('' when it did not)."""
    if not d.ac_ch.start_feasible[k]:
        return ("AC infeasible at the reference point (no EV change helps); "
                "boundary kept at the reference point")
    if not d.ac_ch.end_converged[k]:
        return "AC did not converge at the LinDistFlow corner; bisected to a converged point"
    if d.ac_ch.lam[k] < 1.0:
        return "AC violated a limit at the LinDistFlow corner; tightened by bisection"
    return ""


def pq_frame(gr: GridLayerResult, axis: TimeAxis) -> pd.DataFrame:
    """Vertices of the projected P–Q sets per interval and direction."""
    pq = gr.pq
    T, K = pq.p_kw.shape
    t = np.repeat(np.arange(T), K)
    return pd.DataFrame({
        "t": t, "time": axis.clock(t),
        "theta_deg": np.tile(np.degrees(pq.theta), T), "p_kw": pq.p_kw.ravel(),
        "q_kvar": pq.q_kvar.ravel(), "p_ac_kw": pq.p_ac_kw.ravel(),
        "q_ac_kvar": pq.q_ac_kvar.ravel(), "ac_feasible": pq.ac_feasible.ravel(),
        "binding": [PQ_BINDING[k] for k in pq.binding.ravel()]})


def _clip_stats(raw: np.ndarray, eff: np.ndarray, times: list[str]) -> dict:
    rate = clipping_rate(raw, eff)
    if np.all(np.isnan(rate)):
        return {"mean_rate": 0.0, "max_rate": 0.0, "time_of_max": None, "intervals_clipped": 0}
    k = int(np.nanargmax(rate))
    return {"mean_rate": float(np.nanmean(rate)), "max_rate": float(rate[k]),
            "time_of_max": times[k], "intervals_clipped": int(np.sum(rate > 1e-6))}


def bottleneck_truncation(raw_kw: np.ndarray, eff_kw: np.ndarray, binding: list[str],
                          dt_h: float) -> dict:
    """Bottleneck truncation effect (paper §2.3) of one side of the envelope.

    ``truncated_kwh = sum_t (raw_t - eff_t) dt`` is the flexibility the network removes, split by
    the constraint family that bound each interval; ``share_pct`` relates it to the station
    layer's area on that side and ``peak_kw`` is the largest single-interval truncation.
    """
    cut = np.maximum(np.asarray(raw_kw) - np.asarray(eff_kw), 0.0)
    by: dict[str, float] = {}
    for c, b in zip(cut, binding, strict=True):
        if c > 1e-9:
            key = b.replace(" (AC)", "")
            by[key] = by.get(key, 0.0) + float(c) * dt_h
    area = float(np.sum(raw_kw) * dt_h)
    return {"truncated_kwh": float(cut.sum() * dt_h),
            "share_pct": 100.0 * float(cut.sum() * dt_h) / area if area > 0 else 0.0,
            "peak_kw": float(cut.max(initial=0.0)),
            "bottleneck_intervals": int(np.sum(cut > 1e-9)), "by_binding_kwh": by}


def _pq_entries(gr: GridLayerResult, times: list[str], pq_times: list[str]) -> dict:
    """The P–Q ranges at ``pq_times`` (paper Table 6) and the binding limits."""
    pq = gr.pq
    p_rng, q_rng = pq.ranges()
    dominant = pq.dominant()
    rows = [{"time": tt, "p_min_kw": float(p_rng[times.index(tt), 0]),
             "p_max_kw": float(p_rng[times.index(tt), 1]),
             "q_min_kvar": float(q_rng[times.index(tt), 0]),
             "q_max_kvar": float(q_rng[times.index(tt), 1]),
             "dominant_binding": dominant[times.index(tt)]} for tt in pq_times if tt in times]
    return {"directions": int(pq.theta.size),
            "ac_infeasible_vertices": int((~pq.ac_feasible).sum()), "rows": rows,
            "dominant_counts": pd.Series(dominant).value_counts().to_dict()}


PACKAGE_METHODS = {
    "common": "energy-share policy, largest common battery of the kept scenarios (one LP "
              "over their deliverability rows, flexibility.common_battery) around the mean "
              "kept reference",
    "intersection": "energy-share policy inner battery, α intersection around the mean kept "
                    "reference (flexibility.inner)",
}
"""The summary's description of each ``InnerSet.method``."""


def _package_entries(gr: GridLayerResult, times: list[str], dt_h: float
                     ) -> tuple[dict, dict, dict]:
    """Packaging, coverage and grid-feasibility entries of the DA case (empty without a
    package)."""
    da = gr.da
    pk = da.package
    if pk is None:
        return {}, {}, {}
    inner = pk.inner
    packaging = {
        "efficiency": pk.efficiency,
        "method": PACKAGE_METHODS.get(inner.method, inner.method),
        "kept_scenarios": int(inner.kept.sum()),
        "scenarios_unusable": int(inner.network_misfit.sum()),
        "policy_params": {"tau_h": inner.params[0], "gamma": inner.params[1],
                          "kappa": inner.params[2]},
        "per_scenario_area_kwh_mean": float(inner.scenarios.area_kwh().mean()),
        "rt": {kind: ls.package.efficiency for kind, ls in gr.rt.items()
               if ls.package is not None},
    }
    coverage = {layer: {f"{a:.2f}": c.as_dict() for a, c in per.items()}
                for layer, per in pk.coverage.items()}
    grid_info = {"infeasible_intervals": [times[int(i) - da.dist_boxes.t0]
                                          for i in pk.infeasible_intervals],
                 "unsheddable_kwh": float(pk.unsheddable_kw.sum() * dt_h)}
    return packaging, coverage, grid_info


def grid_summary(station: StationLayerResult, gr: GridLayerResult, axis: TimeAxis,
                 ac_rows: pd.DataFrame, pq_times: list[str]) -> dict:
    """Summary entries of the distribution and transmission layers (DA case)."""
    gm = gr.model
    da = gr.da
    s_m = envelope_metrics(station.da.total)
    d_m = envelope_metrics(da.distribution.total)
    t_m = boundary_metrics(da.transmission.total)

    def red(m: EnvelopeMetrics) -> dict:
        def pct(a: float, b: float) -> float:
            return 100.0 * (1.0 - a / b) if b > 0 else 0.0
        return {"peak_ch_pct": pct(m.peak_ch_kw, s_m.peak_ch_kw),
                "peak_dis_pct": pct(m.peak_dis_kw, s_m.peak_dis_kw),
                "area_pct": pct(m.area_kwh, s_m.area_kwh)}

    T = station.da.total.n_intervals
    times = axis.clock(np.arange(T))
    clipped = ac_rows[(ac_rows.lindistflow_kw < ac_rows.station_kw - 1e-6)
                      | (ac_rows.corrected_kw < ac_rows.station_kw - 1e-6)]
    packaging, coverage, grid_info = _package_entries(gr, times, station.da.total.dt_h)
    bind_ch = pd.Series(da.dist_boxes.binding_ch).value_counts().to_dict()
    bind_dis = pd.Series(da.dist_boxes.binding_dis).value_counts().to_dict()
    return {
        "layers": {"station": s_m.as_dict(), "distribution": d_m.as_dict(),
                   "transmission": t_m.as_dict()},
        "reductions_pct": {"distribution": red(d_m), "transmission": red(t_m)},
        "clipping": {
            "charge": _clip_stats(station.da.total.p_ch_max_kw, da.distribution.total.p_ch_max_kw,
                                  times),
            "discharge": _clip_stats(station.da.total.p_dis_max_kw,
                                     da.distribution.total.p_dis_max_kw, times),
            "binding_counts": {"charge": bind_ch, "discharge": bind_dis},
        },
        "bte": {
            "charge": bottleneck_truncation(station.da.total.p_ch_max_kw,
                                            da.distribution.total.p_ch_max_kw,
                                            da.dist_boxes.binding_ch, station.da.total.dt_h),
            "discharge": bottleneck_truncation(station.da.total.p_dis_max_kw,
                                               da.distribution.total.p_dis_max_kw,
                                               da.dist_boxes.binding_dis, station.da.total.dt_h),
        },
        "ac_validation": [
            {"time": r.time, "lindistflow_kw": r.lindistflow_kw, "ac_kw": r.ac_kw,
             "rel_error_pct": r.rel_error_pct, "min_vm_pu": r.min_vm_pu, "binding": r.binding}
            for r in clipped.itertuples()],
        "ac": {
            "solver": type(gm.solver).__name__,
            "background_infeasible_intervals": int(da.dist_boxes.ldf.background_infeasible.sum()),
            "reference_point_infeasible_intervals":
                int((~da.dist_boxes.ac_ch.start_feasible).sum()),
            "non_converged_intervals": [
                times[k] for k in np.flatnonzero(da.dist_boxes.ac_ch.start_feasible
                                                 & ~da.dist_boxes.ac_ch.end_converged)],
            "corrected_intervals": int((da.dist_boxes.ac_ch.lam < 1.0).sum()
                                       + (da.dist_boxes.ac_dis.lam < 1.0).sum()),
            "max_abs_rel_error_pct": float(np.abs(clipped.rel_error_pct).max())
            if len(clipped) else 0.0,
        },
        "transmission": {
            "empty_intervals": [times[int(i)] for i in da.empty_intervals],
            "own_allocation_intervals": [times[int(i)] for i in da.own_allocation_intervals],
            "rt": {kind: boundary_metrics(ls.transmission.total).as_dict()
                   for kind, ls in gr.rt.items()},
        },
        "pq": _pq_entries(gr, times, pq_times),
        "stations": {name: {"paper_bus": list(gm.feeder.net.bus.index).index(pp_bus) + 1,
                            "pandapower_bus": pp_bus}
                     for name, pp_bus in zip(gm.stations, gm.pp_bus, strict=True)},
        "policy": gm.policy,
        "feeder": gm.feeder.name,
        "packaging": packaging,
        "coverage": coverage,
        "grid": grid_info,
    }
