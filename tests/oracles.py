"""Independent reference models of EV sessions for the verification tests.

Nothing here imports ``flexibility``, ``grid`` or ``scenarios``: the oracle reads the raw session
numbers (arrival/departure interval or minute, initial energy or SOC and capacity, SOC floor,
ceiling and departure target, charger and V2G power, efficiencies, interval length) and applies
the documented rules itself, written out once per vehicle:

* connection: a session arriving at minute ``t_arr`` and leaving at ``t_dep`` is controllable for
  the whole intervals it covers, ``a = ceil(t_arr / dt)`` up to ``d = floor(t_dep / dt)``
  (exclusive, never before ``a``); ``a`` may be negative (plugged in before the horizon);
* energy: ``e_{t+1} = e_t + eta_ch p_ch dt - p_dis dt / eta_dis`` with ``e_a = e0``;
* effective floor ``lo = min(e_min, e0)`` (arriving below the V2G floor is allowed, the vehicle
  is just never discharged further) and ceiling ``hi = max(e_max, e0)``;
* departure requirement capped to what full-power charging over the whole dwell reaches,
  ``q = max(lo, min(e_req, e0 + eta_ch p_ch dt (d - a)))``, imposed on the energy at ``d``.

The LPs/MILPs are built directly with ``highspy`` (one small model per vehicle, the objective
changed between solves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import highspy
import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class RawFleet:
    """Plain per-vehicle session numbers (1-D arrays of length N) plus the common constants."""

    a: np.ndarray  # first connected interval
    d: np.ndarray  # departure boundary (first interval no longer connected)
    e0: np.ndarray  # energy at plug-in, kWh
    e_min: np.ndarray  # V2G floor, kWh
    e_max: np.ndarray  # ceiling, kWh
    e_req: np.ndarray  # energy wanted at departure, kWh
    pc: np.ndarray  # charging power limit, kW
    pd: np.ndarray  # discharging power limit, kW (0: no V2G)
    eta_c: float
    eta_d: float
    dt: float  # interval length, hours
    station: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("a", "d"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        for name in ("e0", "e_min", "e_max", "e_req", "pc", "pd"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))

    @property
    def n(self) -> int:
        return int(self.a.size)

    def take(self, idx) -> RawFleet:
        pick = lambda x: None if x is None else np.asarray(x)[idx]  # noqa: E731
        return RawFleet(pick(self.a), pick(self.d), pick(self.e0), pick(self.e_min),
                        pick(self.e_max), pick(self.e_req), pick(self.pc), pick(self.pd),
                        self.eta_c, self.eta_d, self.dt, pick(self.station))

    def replace(self, **kw) -> RawFleet:
        base = {k: getattr(self, k) for k in ("a", "d", "e0", "e_min", "e_max", "e_req", "pc",
                                              "pd", "eta_c", "eta_d", "dt", "station")}
        return RawFleet(**{**base, **kw})

    def fleet_kwargs(self) -> dict:
        """Keyword arguments of ``flexibility.fleet.Fleet`` (the input of the code under test)."""
        return dict(arrival_idx=self.a, departure_idx=self.d, e_init_kwh=self.e0,
                    e_min_kwh=self.e_min, e_max_kwh=self.e_max, e_req_kwh=self.e_req,
                    p_ch_max_kw=self.pc, p_dis_max_kw=self.pd, eta_ch=self.eta_c,
                    eta_dis=self.eta_d, dt_h=self.dt)


# --------------------------------------------------------------------------- session table


def interval_window(arrival_min: float, departure_min: float, dt_min: float) -> tuple[int, int]:
    """Whole intervals covered by ``[arrival_min, departure_min)``: ``(a, d)`` with ``d >= a``."""
    # snap values within a nanosecond of the grid onto it before rounding
    x_a, x_d = arrival_min / dt_min, departure_min / dt_min
    a = round(x_a) if abs(x_a - round(x_a)) < 1e-9 else math.ceil(x_a)
    d = round(x_d) if abs(x_d - round(x_d)) < 1e-9 else math.floor(x_d)
    return a, max(a, d)


def raw_from_sessions(arrival_min, dwell_min, soc_init, v2g, *, capacity_kwh: float,
                      soc_min: float, soc_max: float, soc_departure: float, p_ch_kw: float,
                      p_dis_kw: float, eta_c: float, eta_d: float, dt_min: float,
                      station=None) -> RawFleet:
    """Vehicles of session rows (minutes from the horizon start, SOC at plug-in, V2G flag)."""
    arrival_min = np.asarray(arrival_min, dtype=float).ravel()
    dwell_min = np.asarray(dwell_min, dtype=float).ravel()
    soc_init = np.asarray(soc_init, dtype=float).ravel()
    v2g = np.asarray(v2g, dtype=bool).ravel()
    a, d = [], []
    for arr, dw in zip(arrival_min, dwell_min, strict=True):
        ai, di = interval_window(float(arr), float(arr + dw), dt_min)
        a.append(ai)
        d.append(di)
    n = arrival_min.size
    return RawFleet(a=np.array(a, dtype=np.int64), d=np.array(d, dtype=np.int64),
                    e0=soc_init * capacity_kwh, e_min=np.full(n, soc_min * capacity_kwh),
                    e_max=np.full(n, soc_max * capacity_kwh),
                    e_req=np.full(n, soc_departure * capacity_kwh), pc=np.full(n, p_ch_kw),
                    pd=np.array([p_dis_kw if w else 0.0 for w in v2g]), eta_c=eta_c,
                    eta_d=eta_d, dt=dt_min / 60.0, station=station)


def raw_from_scenario_draw(sc, draw, m: int, station=None) -> RawFleet:
    """Day ``m`` of a session draw; EV parameters and interval length read from scenario ``sc``."""
    ev = sc.ev
    return raw_from_sessions(draw.arrival_min[m], draw.dwell_min[m], draw.soc_init[m],
                             draw.v2g[m], capacity_kwh=ev.capacity_kwh, soc_min=ev.soc_min,
                             soc_max=ev.soc_max, soc_departure=ev.soc_departure_min,
                             p_ch_kw=ev.p_ch_max_kw, p_dis_kw=ev.p_dis_max_kw,
                             eta_c=ev.eta_ch, eta_d=ev.eta_dis, dt_min=sc.horizon.dt_min,
                             station=station)


# --------------------------------------------------------------------------- the rules


def limits_of(raw: RawFleet, n: int) -> tuple[float, float, float]:
    """``(lo, hi, q)`` of vehicle ``n``: effective floor, ceiling and reachable requirement."""
    e0 = float(raw.e0[n])
    lo = min(float(raw.e_min[n]), e0)
    hi = max(float(raw.e_max[n]), e0)
    dwell = int(raw.d[n]) - int(raw.a[n])
    full_charge = e0 + raw.eta_c * float(raw.pc[n]) * raw.dt * dwell
    q = max(lo, min(float(raw.e_req[n]), full_charge))
    return lo, hi, q


def energy_gain(p_kw, eta_c: float, eta_d: float, dt: float):
    """Battery energy change of net grid powers ``p_kw`` held for ``dt`` hours (charging +)."""
    p = np.asarray(p_kw, dtype=float)
    return np.where(p >= 0.0, eta_c * p, p / eta_d) * dt


# --------------------------------------------------------------------------- one-vehicle LP


class VehicleLP:
    """The whole-window trajectory set of one vehicle as a HiGHS LP (or MILP).

    Columns: ``c_k, s_k`` (charging and discharging power in interval ``a + k``) and, with
    ``exclusive``, a binary ``u_k`` (1: may charge, 0: may discharge). Rows: the energy at the
    start of every interval ``a + 1 .. d``, ``e0 + sum_{j<k} (eta_c c_j - s_j / eta_d) dt``,
    between ``lo`` and ``hi``, and at ``d`` also at least ``q``.
    """

    def __init__(self, raw: RawFleet, n: int, exclusive: bool = False) -> None:
        self.a, self.d = int(raw.a[n]), int(raw.d[n])
        self.e0 = float(raw.e0[n])
        self.lo, self.hi, self.q = limits_of(raw, n)
        self.K = K = self.d - self.a
        self.exclusive = exclusive
        pc, pd = float(raw.pc[n]), float(raw.pd[n])
        dt, eta_c, eta_d = raw.dt, raw.eta_c, raw.eta_d
        if K == 0:
            self.h = None
            return
        n_col = (3 if exclusive else 2) * K
        col_lo = np.zeros(n_col)
        col_hi = np.concatenate([np.full(K, pc), np.full(K, pd)]
                                + ([np.ones(K)] if exclusive else []))
        # energy rows: row r (energy at the start of interval a + r + 1) sums columns 0..r
        lower = np.tril(np.ones((K, K)))
        blocks = [lower * eta_c * dt, -lower * dt / eta_d]
        if exclusive:
            blocks.append(np.zeros((K, K)))
        rows = [np.hstack(blocks)]
        row_lo = [np.full(K, self.lo - self.e0)]
        row_hi = [np.full(K, self.hi - self.e0)]
        row_lo[0][-1] = max(self.lo, self.q) - self.e0
        if exclusive:  # c_k <= pc u_k, s_k + pd u_k <= pd
            eye = np.eye(K)
            rows.append(np.hstack([eye, np.zeros((K, K)), -pc * eye]))
            row_lo.append(np.full(K, -np.inf))
            row_hi.append(np.zeros(K))
            rows.append(np.hstack([np.zeros((K, K)), eye, pd * eye]))
            row_lo.append(np.full(K, -np.inf))
            row_hi.append(np.full(K, pd))
        a_mat = sparse.csc_matrix(np.vstack(rows))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_col, a_mat.shape[0]
        lp.col_cost_ = np.zeros(n_col)
        lp.col_lower_, lp.col_upper_ = col_lo, col_hi
        inf = highspy.kHighsInf
        lp.row_lower_ = np.nan_to_num(np.concatenate(row_lo), neginf=-inf)
        lp.row_upper_ = np.concatenate(row_hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a_mat.indptr
        lp.a_matrix_.index_ = a_mat.indices
        lp.a_matrix_.value_ = a_mat.data
        if exclusive:
            lp.integrality_ = ([highspy.HighsVarType.kContinuous] * (2 * K)
                               + [highspy.HighsVarType.kInteger] * K)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("primal_feasibility_tolerance", 1e-9)
        h.setOptionValue("dual_feasibility_tolerance", 1e-9)
        h.setOptionValue("mip_rel_gap", 1e-9)
        h.passModel(lp)
        self.h = h
        self.n_col = n_col
        self._eta_c, self._eta_d, self._dt = eta_c, eta_d, dt

    def _solve(self, cost: np.ndarray, maximise: bool) -> float:
        c = -cost if maximise else cost
        self.h.changeColsCost(self.n_col, np.arange(self.n_col, dtype=np.int32), c)
        self.h.run()
        status = self.h.getModelStatus()
        assert status == highspy.HighsModelStatus.kOptimal, self.h.modelStatusToString(status)
        v = self.h.getInfo().objective_function_value
        return -v if maximise else v

    def net_power_range(self, t: int) -> tuple[float, float]:
        """``(min, max)`` of ``c - s`` in interval ``t`` (0, 0 when not connected)."""
        if not self.a <= t < self.d:
            return 0.0, 0.0
        k = t - self.a
        cost = np.zeros(self.n_col)
        cost[k], cost[self.K + k] = 1.0, -1.0
        return self._solve(cost, False), self._solve(cost, True)

    def energy_range(self, t: int) -> tuple[float, float]:
        """``(min, max)`` energy at the start of a connected interval ``t``."""
        assert self.a <= t < self.d
        k = t - self.a
        if k == 0:
            return self.e0, self.e0
        cost = np.zeros(self.n_col)
        cost[:k] = self._eta_c * self._dt
        cost[self.K:self.K + k] = -self._dt / self._eta_d
        return self.e0 + self._solve(cost, False), self.e0 + self._solve(cost, True)


@dataclass(frozen=True)
class Projections:
    """Per-vehicle oracle projections, arrays ``(N, T)``."""

    p_max_kw: np.ndarray
    p_min_kw: np.ndarray
    e_min_kwh: np.ndarray
    e_max_kwh: np.ndarray
    connected: np.ndarray


def projections(raw: RawFleet, n_intervals: int, t0: int = 0, exclusive: bool = False,
                energy: bool = True) -> Projections:
    """Per-interval extremes of every vehicle's net power and energy on ``t0 .. t0 + T - 1``."""
    N, T = raw.n, n_intervals
    out = {k: np.zeros((N, T)) for k in ("p_max", "p_min", "e_min", "e_max")}
    connected = np.zeros((N, T), dtype=bool)
    for n in range(N):
        model = VehicleLP(raw, n, exclusive)
        for j, t in enumerate(range(t0, t0 + T)):
            if not model.a <= t < model.d:
                continue
            connected[n, j] = True
            out["p_min"][n, j], out["p_max"][n, j] = model.net_power_range(t)
            if energy:
                out["e_min"][n, j], out["e_max"][n, j] = model.energy_range(t)
    return Projections(out["p_max"], out["p_min"], out["e_min"], out["e_max"], connected)


def projection_mismatch(raw: RawFleet, bounds, n_intervals: int, t0: int = 0,
                        exclusive: bool = False, energy: bool = True) -> float:
    """Largest absolute gap between production per-vehicle bounds and the oracle's.

    ``bounds`` has ``p_max_kw, p_min_kw, e_min_kwh, e_max_kwh, connected`` of shape ``(N, T)``
    (e.g. ``VehicleBounds`` of ``tests/verification/test_closed_form_vs_lp.py``).
    """
    ref = projections(raw, n_intervals, t0, exclusive, energy)
    if not np.array_equal(np.asarray(bounds.connected), ref.connected):
        return np.inf
    gaps = [np.abs(np.asarray(bounds.p_max_kw) - ref.p_max_kw),
            np.abs(np.asarray(bounds.p_min_kw) - ref.p_min_kw)]
    if energy:
        gaps += [np.abs(np.asarray(bounds.e_min_kwh) - ref.e_min_kwh),
                 np.abs(np.asarray(bounds.e_max_kwh) - ref.e_max_kwh)]
    return float(max((g.max(initial=0.0) for g in gaps), default=0.0))


# --------------------------------------------------------------------------- disaggregation


def split_exists(raw: RawFleet, p_total_kw: np.ndarray, n_intervals: int,
                 station_rows=None, tol: float = 1e-7) -> bool:
    """Whether per-vehicle charge/discharge powers over the whole windows realise ``p_total``.

    Every vehicle keeps its whole window ``[a, d)`` (also the parts before the horizon or after
    it, which are free); inside ``0 .. T - 1`` the vehicles' net powers add up to ``p_total_kw``.
    ``station_rows`` optionally adds linear network rows per interval: a pair ``(A, b)`` with
    ``A (R, S)`` on the per-station net power (``raw.station`` maps vehicles to stations) and
    ``b (T, R)``: ``A @ p_station[t] <= b[t]``.
    """
    T = n_intervals
    N = raw.n
    cols: list[tuple[int, int, int]] = []  # (vehicle, interval, +1 charge / -1 discharge)
    col_hi: list[float] = []
    for n in range(N):
        for t in range(int(raw.a[n]), int(raw.d[n])):
            cols += [(n, t, 1), (n, t, -1)]
            col_hi += [float(raw.pc[n]), float(raw.pd[n])]
    nv = len(cols)
    index = {c: j for j, c in enumerate(cols)}
    r_i, r_j, r_v, lo, hi = [], [], [], [], []

    def row(entries, lb, ub):
        r = len(lo)
        for j, v in entries:
            r_i.append(r)
            r_j.append(j)
            r_v.append(v)
        lo.append(lb)
        hi.append(ub)

    for n in range(N):  # energy at the start of every interval a+1 .. d
        a, d = int(raw.a[n]), int(raw.d[n])
        lo_e, hi_e, q = limits_of(raw, n)
        e0 = float(raw.e0[n])
        for end in range(a + 1, d + 1):
            ent = []
            for t in range(a, end):
                ent.append((index[(n, t, 1)], raw.eta_c * raw.dt))
                ent.append((index[(n, t, -1)], -raw.dt / raw.eta_d))
            floor = max(lo_e, q) if end == d else lo_e
            row(ent, floor - e0 - tol, hi_e - e0 + tol)
    for t in range(T):  # the total
        ent = [(index[(n, t, s)], float(s)) for n in range(N) for s in (1, -1)
               if (n, t, s) in index]
        row(ent, p_total_kw[t] - tol, p_total_kw[t] + tol)
    if station_rows is not None:
        a_net, b_net = station_rows
        for t in range(T):
            for r in range(a_net.shape[0]):
                ent = [(index[(n, t, s)], float(s) * a_net[r, raw.station[n]])
                       for n in range(N) for s in (1, -1)
                       if (n, t, s) in index and a_net[r, raw.station[n]] != 0.0]
                if ent:
                    row(ent, -np.inf, b_net[t, r] + tol)
    if nv == 0:
        return bool(np.all(np.abs(p_total_kw) <= tol)) and all(
            lb <= 0.0 <= ub for lb, ub in zip(lo, hi, strict=True))
    a_mat = sparse.csc_matrix((r_v, (r_i, r_j)), shape=(len(lo), nv))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nv, len(lo)
    lp.col_cost_ = np.zeros(nv)
    lp.col_lower_, lp.col_upper_ = np.zeros(nv), np.array(col_hi)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.nan_to_num(np.array(lo), neginf=-inf)
    lp.row_upper_ = np.array(hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a_mat.indptr
    lp.a_matrix_.index_ = a_mat.indices
    lp.a_matrix_.value_ = a_mat.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal
