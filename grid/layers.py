"""One tick's network layers: clip station boxes, AC-correct them and package (grid ∘ flexibility).

The step the grid agent runs every tick and the offline assessment runs per case:

1. :func:`network_boxes` clips station boxes with the chosen policy (LinDistFlow security set,
   ``grid.clipping``), AC-checks the charging and discharging corners of every interval and
   tightens them by bisection where AC violates a limit (AC-corrected clipping), and measures
   the AC boundary along the same direction.
2. :func:`layers_for` applies 1 to the station envelopes (distribution layer, energy rows by
   :func:`clip_energy`), intersects the deliverable inner boxes with the distribution boxes
   (transmission layer; where that is empty, applies 1 to the inner boxes themselves) and
   packages the boundary.

:class:`GridModel` holds everything about the feeder that is built once (``environment``
builds it from a scenario).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import Envelope
from flexibility.alpha_sets import Coverage
from flexibility.cases import sum_envelopes
from flexibility.inner import InnerSet
from flexibility.packaging import Boundary, InnerBox, package
from flexibility.stations import PerStation
from grid.ac import AcSolver, Bisection, bisect_segments
from grid.background import Background
from grid.clipping import BINDING_NAMES, ClipResult, Policy, clip, reference_point
from grid.feeder import Feeder, FloatArray
from grid.lindistflow import KIND_NAMES, LinDistFlow, NetworkLimits, SecuritySet


@dataclass(frozen=True)
class GridModel:
    """Everything the network layers need about the feeder, built once per scenario.

    Attributes:
        feeder: The radial feeder.
        ldf: Its LinDistFlow matrices.
        solver: AC solver (radial sweep or pandapower).
        limits: Security limits.
        stations: Station names in column order.
        station_bus: Scenario bus number per station (as written in the scenario).
        pp_bus: pandapower bus index per station.
        positions: Feeder positions of the stations.
        background: Background load and PV per interval and position.
        sec: LinDistFlow security set of every interval of the horizon.
        policy: Allocation policy.
    """

    feeder: Feeder
    ldf: LinDistFlow
    solver: AcSolver
    limits: NetworkLimits
    stations: tuple[str, ...]
    station_bus: tuple[int, ...]
    pp_bus: tuple[int, ...]
    positions: np.ndarray
    background: Background
    sec: SecuritySet
    policy: Policy

    def sec_window(self, t0: int, n: int) -> SecuritySet:
        """The security set restricted to intervals ``t0 .. t0 + n - 1``."""
        s = self.sec
        return SecuritySet(a_p=s.a_p, a_q=s.a_q, b=s.b[t0:t0 + n], kind=s.kind,
                           element=s.element)

    def bg(self, t0: int, n: int) -> tuple[FloatArray, FloatArray]:
        """Background consumption ``(P, Q)`` of intervals ``t0 .. t0 + n - 1``."""
        b = self.background
        return b.p_net_kw[t0:t0 + n], b.q_load_kvar[t0:t0 + n]


@dataclass(frozen=True)
class NetworkBoxes:
    """Station boxes after LinDistFlow clipping and AC correction (arrays ``(T, J)``).

    Attributes:
        t0: First interval.
        raw_lo_kw: Station lower bounds before clipping.
        raw_hi_kw: Station upper bounds before clipping.
        ldf: The LinDistFlow clipping.
        lo_kw: AC-corrected lower bounds.
        hi_kw: AC-corrected upper bounds.
        ac_ch: AC correction of the charging corner (bisection on ``u0 -> hi_ldf``).
        ac_dis: AC correction of the discharging corner.
        ac_bound_ch: AC boundary along the charging direction, to the station box edge
            (built without that search, :func:`network_boxes` with ``ray=False``: the
            charging corner's, to the LinDistFlow point).
        ray_end_ch: End of that ray per station.
    """

    t0: int
    raw_lo_kw: FloatArray
    raw_hi_kw: FloatArray
    ldf: ClipResult
    lo_kw: FloatArray
    hi_kw: FloatArray
    ac_ch: Bisection
    ac_dis: Bisection
    ac_bound_ch: Bisection
    ray_end_ch: FloatArray

    @property
    def ac_boundary_ch_kw(self) -> FloatArray:
        """Total charging boundary found by AC along the LinDistFlow direction ``(T,)``."""
        u0 = reference_point(self.raw_lo_kw, self.raw_hi_kw)
        lam = self.ac_bound_ch.lam[:, None]
        return (u0 + lam * (self.ray_end_ch - u0)).sum(1)

    @property
    def binding_ch(self) -> list[str]:
        """Binding family on the charging side after AC correction."""
        return _binding(self.ldf.binding_ch, self.ac_ch)

    @property
    def binding_dis(self) -> list[str]:
        """Binding family on the discharging side after AC correction."""
        return _binding(self.ldf.binding_dis, self.ac_dis)


def _binding(ldf_binding: np.ndarray, ac: Bisection) -> list[str]:
    out = []
    for b, lam, ac_b in zip(ldf_binding, ac.lam, ac.binding, strict=True):
        out.append(f"{KIND_NAMES[ac_b]} (AC)" if lam < 1.0 and ac_b >= 0
                   else BINDING_NAMES[int(b)])
    return out


def network_boxes(gm: GridModel, t0: int, lo_kw: FloatArray, hi_kw: FloatArray,
                  ray: bool = True) -> NetworkBoxes:
    """Clip station boxes ``[lo, hi]`` (``(T, J)``, from interval ``t0``) and AC-correct them;
    with ``ray`` also the AC boundary along the charging direction (a diagnostic, see
    :attr:`NetworkBoxes.ac_boundary_ch_kw`; without it that field repeats the charging
    corner's search)."""
    n = lo_kw.shape[0]
    sec = gm.sec_window(t0, n)
    res = clip(sec, lo_kw, hi_kw, gm.policy)
    bg_p, bg_q = gm.bg(t0, n)
    u0 = reference_point(lo_kw, hi_kw)
    k_seg = 3 if ray else 2
    ends = [res.hi_kw, res.lo_kw, _ray_end(u0, res.hi_kw, hi_kw)][:k_seg]
    both = bisect_segments(gm.solver, np.vstack([bg_p] * k_seg), np.vstack([bg_q] * k_seg),
                           gm.positions, np.vstack([u0] * k_seg), np.vstack(ends), gm.limits)
    ac_ch, ac_dis, *rest = (_take(both, slice(k * n, (k + 1) * n)) for k in range(k_seg))
    bound = rest[0] if ray else ac_ch
    hi = u0 + ac_ch.lam[:, None] * (res.hi_kw - u0)
    lo = u0 + ac_dis.lam[:, None] * (res.lo_kw - u0)
    return NetworkBoxes(t0=t0, raw_lo_kw=lo_kw, raw_hi_kw=hi_kw, ldf=res, lo_kw=lo, hi_kw=hi,
                        ac_ch=ac_ch, ac_dis=ac_dis, ac_bound_ch=bound,
                        ray_end_ch=ends[2] if ray else res.hi_kw)


def _ray_end(u0: FloatArray, through: FloatArray, box_hi: FloatArray) -> FloatArray:
    """Where the ray ``u0 -> through`` leaves the box ``u <= box_hi``."""
    step = through - u0
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(step > 1e-12, (box_hi - u0) / step, np.inf).min(axis=1)
    s = np.where(np.isfinite(s), s, 1.0)
    end = u0 + s[:, None] * step
    flat = ~(step > 1e-12).any(axis=1)
    end[flat] = box_hi[flat]  # nothing admitted by LinDistFlow: probe the full station box
    return end


def _take(b: Bisection, sl: slice) -> Bisection:
    return Bisection(lam=b.lam[sl], start_feasible=b.start_feasible[sl], binding=b.binding[sl],
                     vm_min_pu=b.vm_min_pu[sl], loading_max_pct=b.loading_max_pct[sl],
                     end_converged=b.end_converged[sl])


def clip_energy(env: Envelope, lo_kw: FloatArray, hi_kw: FloatArray, eta_ch: float,
                eta_dis: float) -> Envelope:
    """Station envelope with clipped power bounds and the energy band they still reach.

    With ``g(p) = eta_ch p`` for ``p >= 0`` and ``p / eta_dis`` otherwise, forward
    ``S_max(t+1) = min(S_max(t+1), S_max(t) + g(hi_t) dt + dS_t)`` and
    ``S_min(t+1) = max(S_min(t+1), S_min(t) + g(lo_t) dt + dS_t)``, then backward
    ``S_min(t) = max(S_min(t), S_min(t+1) - g(hi_t) dt - dS_t)`` (energy needed later must be
    reachable with the clipped charging power).
    """
    def g(p: FloatArray) -> FloatArray:
        return np.where(p >= 0, eta_ch * p, p / eta_dis) * env.dt_h

    e_hi = env.e_max_kwh.copy()
    e_lo = env.e_min_kwh.copy()
    gh, gl = g(hi_kw), g(lo_kw)
    for t in range(env.n_intervals - 1):
        e_hi[..., t + 1] = np.minimum(e_hi[..., t + 1], e_hi[..., t] + gh[..., t]
                                      + env.ds_kwh[..., t])
        e_lo[..., t + 1] = np.maximum(e_lo[..., t + 1], e_lo[..., t] + gl[..., t]
                                      + env.ds_kwh[..., t])
    for t in range(env.n_intervals - 2, -1, -1):
        e_lo[..., t] = np.maximum(e_lo[..., t], e_lo[..., t + 1] - gh[..., t] - env.ds_kwh[..., t])
    return Envelope(p_max_kw=hi_kw, p_min_kw=lo_kw, e_min_kwh=e_lo, e_max_kwh=e_hi,
                    ds_kwh=env.ds_kwh, dt_h=env.dt_h, t0=env.t0)


@dataclass(frozen=True)
class PackageInfo:
    """How the transmission boundary of a case was built and how good it is.

    Attributes:
        inner: The α inner set (per-scenario batteries, kept scenarios, deviation battery).
        efficiency: Transmission area / area of the exact deliverable set (the distribution
            rows: the α set of the sampled fleets inside the network boxes).
        infeasible_intervals: Intervals where the network cannot carry the must-serve load.
        unsheddable_kw: Load above the network's bound that no control can shed, per interval
            (largest over kept scenarios).
        coverage: Out-of-sample coverage per layer and α (empty when not measured).
        station: Station rows re-centred on the network-feasible reference.
    """

    inner: InnerSet
    efficiency: float
    infeasible_intervals: np.ndarray
    unsheddable_kw: np.ndarray
    coverage: dict[str, dict[float, Coverage]]
    station: PerStation[Envelope]


@dataclass(frozen=True)
class LayerSet:
    """Distribution and transmission results of one case (DA or one RT observation).

    Attributes:
        distribution: Effective envelope per station and in total.
        transmission: Packaged boundary per station and in total.
        dist_boxes: Clipping and AC details of the distribution layer.
        empty_intervals: Intervals where the deliverable box is empty (requirements the network
            cannot serve); the boundary there is the point closest to feasibility.
        own_allocation_intervals: Intervals whose boundary comes from the inner boxes clipped
            on their own (the distribution allocation could not hold them).
        package: How the α battery was built and its coverage (``assess``; ``None`` for the
            per-tick box packaging of the co-simulator).
    """

    distribution: PerStation[Envelope]
    transmission: PerStation[Boundary]
    dist_boxes: NetworkBoxes
    empty_intervals: np.ndarray
    own_allocation_intervals: np.ndarray
    package: PackageInfo | None = None


def layers_for(gm: GridModel, envs: dict[str, Envelope], boxes: dict[str, InnerBox],
               eta_ch: float, eta_dis: float, ray: bool = True) -> LayerSet:
    """Distribution and transmission layers for one set of station envelopes (``ray``: also
    the AC boundary along the charging direction, :func:`network_boxes`)."""
    names = list(gm.stations)
    t0 = envs[names[0]].t0
    lo = np.stack([envs[s].p_min_kw for s in names], axis=1)
    hi = np.stack([envs[s].p_max_kw for s in names], axis=1)
    dist = network_boxes(gm, t0, lo, hi, ray)
    per = {s: clip_energy(envs[s], dist.lo_kw[:, j], dist.hi_kw[:, j], eta_ch, eta_dis)
           for j, s in enumerate(names)}
    distribution = PerStation(per, sum_envelopes([per[s] for s in names]))
    ilo = np.stack([boxes[s].lo_kw for s in names], axis=1)
    ihi = np.stack([boxes[s].hi_kw for s in names], axis=1)
    # Deliverable boxes: the inner boxes inside the (jointly feasible, AC-corrected)
    # distribution boxes; every point is then deliverable and network-feasible. Where that is
    # empty (the distribution allocation gives a station less than its vehicles must charge),
    # the inner boxes clipped on their own are used: still deliverable, jointly feasible and
    # inside the effective set, though not inside that interval's distribution allocation.
    t_lo, t_hi = np.maximum(ilo, dist.lo_kw), np.minimum(ihi, dist.hi_kw)
    own_used = np.zeros(t_lo.shape[0], dtype=bool)
    first_empty = (t_lo > t_hi + 1e-9).any(axis=1)
    if first_empty.any():
        rows = np.flatnonzero(first_empty)
        own = network_boxes(gm, t0 + int(rows[0]), ilo[rows[0]:rows[-1] + 1],
                            ihi[rows[0]:rows[-1] + 1], ray)
        k = rows - rows[0]
        ok = ~own.ldf.background_infeasible[k] & own.ac_ch.start_feasible[k] \
            & own.ac_dis.start_feasible[k]
        t_lo[rows[ok]] = own.lo_kw[k[ok]]
        t_hi[rows[ok]] = own.hi_kw[k[ok]]
        own_used[rows[ok]] = True
    empty = (t_lo > t_hi + 1e-9).any(axis=1)
    t_hi = np.maximum(t_hi, t_lo)
    dt_h = envs[names[0]].dt_h
    transmission = PerStation({s: package(t_lo[:, j], t_hi[:, j], dt_h, t0)
                               for j, s in enumerate(names)},
                              package(t_lo.sum(1), t_hi.sum(1), dt_h, t0))
    return LayerSet(distribution=distribution, transmission=transmission, dist_boxes=dist,
                    empty_intervals=np.flatnonzero(empty) + t0,
                    own_allocation_intervals=np.flatnonzero(own_used) + t0)


