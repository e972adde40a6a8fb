"""Grid agent (DSO): clipping, AC checks and packaging every tick; AC after dispatch.

**The grid can say no.** Every tick ``k`` the DSO packages the transmission boundary of the
intervals a call can be made on — ``k`` now and ``k + 1`` through the previous-boundary policy
(``LOOKAHEAD_ROWS``; the day-ahead boundary covers the whole day) — with
:func:`grid.layers.layers_for` and then checks it against what the network can carry before
publishing (:meth:`GridAgent.publish`). Clipping, AC correction and packaging work interval by
interval on the power rows, so this equals the re-computation over the whole remaining horizon
``[k, T)`` (``tests/verification/test_tick_window.py``) at a cost that does not grow with it.
For interval ``i`` of the published window, with station ``j``'s packaged lower bound
``P_down_j,i`` (its vehicles' must-charge under the package's dispatch rule), the must-serve
vector is
``m_j,i = max(P_down_j,i, 0)``. The packaged interval is **flagged** (``Publication.infeasible``)
when

* ``P_down_j,i`` exceeds the distribution layer's maximum ``P_max^D_j,i`` for some station or
  in total (the packaged lower bound lies above what the distribution layer admits), or
* the layer set lists ``i`` in ``empty_intervals`` (no deliverable box fits the network), or
* the packaged box is crossed (``P_down > P_up``), or
* the must-serve vector itself is not AC-feasible (checked for the current and the next
  interval, the two a call is made on; later intervals only get the distribution checks).

For those intervals the AC network admits ``lam* sum_j m_j,i``, with ``lam*`` the largest
common scaling of the must-serve vector that is AC-feasible (bisection from the background
alone, :func:`grid.ac.bisect_segments`; ``0`` when the background alone violates a limit), and
the package's **unsheddable load** is ``(1 - lam*) sum_j m_j,i`` (kW): load the package's
dispatch rule cannot shed and the network cannot carry. ``lam* = 1`` (the must-serve point is
AC-feasible although above the LinDistFlow distribution maximum) gives a flag with zero
unsheddable load.

This is a check of the **package**: ``P_down`` is the must-charge of the α package's dispatch
rule (energy-share policy over the plugged-in vehicles beside sampled later arrivals, with one
``theta`` per station and day, a least-violation compromise on a day no ``theta`` fits), not
of the vehicles. Where the vehicles could draw less now, a flagged interval is a package
problem, not a physical one (the zonal case on public daytime sessions, its evening,
18:30–22:45: a packaged must-serve of up to 210 kW flagged on 18 ticks while every station's
vehicles could idle).

**Physical must-charge** (:meth:`GridAgent.must_charge`). What the plugged-in vehicles cannot
shed now is station ``j``'s exact one-step lower bound ``L_j`` (the least its controllable
vehicles can draw together in the interval with every departure requirement still reachable,
``agents.station.StationAgent.one_step_range``; the same range the kernel delivers in; it is
the vehicles' surrogate batteries' range, an inner set, so ``L_j`` can sit slightly above the
least a lossy per-vehicle LP draws: ``tests/verification/test_must_charge_oracle.py``). The
tick is **grid-infeasible** when the vector ``x_j = max(L_j, 0)`` is not AC-feasible: its
largest AC-feasible scaling ``mu*`` (the same bisection; ``0`` when the background alone violates
a limit) is below 1, and ``(1 - mu*) sum_j x_j`` is load the vehicles cannot shed and the
network cannot carry. This, not the package flag, is what the run's physical validity counts
(``environment.day_metrics``); the package flag and its unsheddable load stay recorded beside
it (``package_infeasible``, ``package_unsheddable_kw``).

**Day-ahead must-charge** (:meth:`GridAgent.commit_day_ahead`). The day ahead has no
plugged-in vehicles; the fleet the DSO expects is the day-ahead case's kept sampled days (the
``ceil(alpha M)`` days, or the calibrated count, the α package is built from: its
``inner.kept``). On kept day ``m`` station ``j``'s unavoidable draw in interval ``t`` is
``L_m,j,t = sum_n p_min_n,t``, each vehicle's least net power over all its whole-day feasible
trajectories (arrival, departure, initial energy, requirement, power and energy limits; the
closed form of ``flexibility.vehicle``, already evaluated per station as the case's exact
projections ``case.sets.exact.p_lo_kw``; V2G vehicles offset the others). Interval ``t`` is
day-ahead **grid-infeasible** when on some kept day the vector ``x_m,t = max(L_m,.,t, 0)`` is not
AC-feasible on the committed background (largest AC-feasible scaling ``mu*_m,t < 1``, the
bisection of :meth:`GridAgent.must_charge`); its unsheddable load is the largest
``(1 - mu*_m,t) sum_j x_m,j,t`` over the kept days. Every kept day counts because the commitment
is made for those days (the α set is their intersection); the days discarded are the
``1 - alpha`` the product may lose. The test is per interval (each vehicle's projection on
``t``): a flag is certain, while a shortage that only binds over several intervals together
shows in the real-time ticks, as the vehicles' one-step lower bounds rise. The package's own
flag (its ``P_down`` above the network, the test above over all intervals) is kept beside it
(``package_infeasible``): on the evening of the zonal case on public daytime sessions, 21
intervals flagged with up to 600 kW of packaged must-serve while on every sampled day every
station's vehicles could idle (``L <= 0`` throughout).

The published boundary is **never above the distribution layer**: per station
``[min(P_down, c), min(P_up, c)]`` with the cap ``c = P_max^D`` (and ``c = lam* m`` where the
must-serve point is not AC-feasible), re-packaged so energy and ramp limits follow.

The grid agent publishes and commits without the AC boundary search along the charging ray
(``grid.layers.network_boxes``, ``ray=False``): that boundary is a diagnostic ``assess``
reports, nothing here reads it, and it was a third of every tick's AC work.

**Violation labels** (:func:`violation_labels`) at the realised operating point: every limit
violated, by type — ``undervoltage`` / ``overvoltage`` (bus voltage outside
``[v_min, v_max]``), ``line`` (line current above its rating), ``transformer`` (transformer
loading above 100 %), ``substation`` (``|P_slack|`` above ``grid.substation_kw``) and
``nonconvergence`` — joined with ``;`` in this order (``""``: AC-feasible).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import mesa
import numpy as np

from flexibility.aggregation import Envelope
from flexibility.alpha_sets import Aggregation, AlphaDefinition, CaseSets, n_kept
from flexibility.battery import Battery
from flexibility.cases import Case, make_case
from flexibility.fleet import Fleet
from flexibility.packaging import Boundary, InnerBox, package
from flexibility.reserve import ReserveProduct
from flexibility.stations import PerStation
from grid.ac import AcResult, AcSolver, bisect_segments, violation_labels
from grid.alpha_layers import case_layers, realtime_layers
from grid.layers import GridModel, LayerSet, PackageInfo, layers_for

FEASIBILITY_TOL_KW = 1e-3  # a lower bound counts as above the distribution layer beyond 1 W
AC_CHECKED_ROWS = 2  # the current and the next interval get the AC must-serve check
LOOKAHEAD_ROWS = 2  # rows a tick publishes: interval k (called now) and k + 1 (edge-prev)


@dataclass(frozen=True)
class Publication:
    """What the DSO publishes at one tick, for intervals ``k .. k + LOOKAHEAD_ROWS - 1``.

    Attributes:
        layers: Distribution and transmission layers as packaged (before the checks).
        transmission: Published boundary per station and in total, capped at the distribution
            layer (and at the AC-servable point where the must-serve load is not AC-feasible).
        infeasible: Flagged intervals of the package ``(W,)``, ``W`` the published window (see
            module docstring; the tick's physical check is :class:`MustCharge`).
        must_serve_kw: Must-serve load ``max(P_down_j, 0)`` per interval and station
            ``(W, J)``.
        servable_share: ``lam*``, the share of the must-serve vector the AC network admits
            ``(W,)`` (1 where it is feasible or not checked).
        baseline_kw: The stations' declared baseline of the window ``(W,)``: the reference of
            the α package (the mean kept reference of the plugged-in EVs with the sampled
            later arrivals, ``flexibility.reserve``); ``None`` for the vehicle-box package.
    """

    layers: LayerSet
    transmission: PerStation[Boundary]
    infeasible: np.ndarray
    must_serve_kw: np.ndarray
    servable_share: np.ndarray
    baseline_kw: np.ndarray | None = None

    @property
    def unsheddable_kw(self) -> np.ndarray:
        """Packaged must-serve load the network cannot carry, per interval and station
        ``(W, J)``."""
        return (1.0 - self.servable_share)[:, None] * self.must_serve_kw


@dataclass(frozen=True)
class MustCharge:
    """The plugged-in vehicles' must-charge of one tick, checked against the AC network.

    Attributes:
        must_charge_kw: ``max(L_j, 0)`` per station ``(J,)``, ``L_j`` the exact one-step lower
            bound of station ``j``'s controllable vehicles (module docstring).
        servable_share: ``mu*``, the largest AC-feasible scaling of ``must_charge_kw`` (1
            without must-charge; 0 when the background alone violates a limit).
    """

    must_charge_kw: np.ndarray
    servable_share: float = 1.0

    @property
    def infeasible(self) -> bool:
        """The network cannot carry what the vehicles cannot shed (grid-infeasible tick)."""
        return self.servable_share < 1.0

    @property
    def unsheddable_kw(self) -> np.ndarray:
        """Must-charge load the network cannot carry, per station ``(J,)``."""
        return (1.0 - self.servable_share) * self.must_charge_kw


def cap_at_distribution(layers: LayerSet, names: Sequence[str],
                        cap_kw: np.ndarray | None = None,
                        box_kw: tuple[np.ndarray, np.ndarray] | None = None
                        ) -> PerStation[Boundary]:
    """Transmission boundaries capped per station at the distribution maximum (or ``cap_kw``).

    Args:
        layers: The packaged layers.
        names: Station names in grid order.
        cap_kw: Caps per interval and station ``(T, J)`` (default: distribution maxima).
        box_kw: ``(P_down, P_up)`` per interval and station ``(T, J)`` to cap (default: the
            layers' transmission rows).
    """
    b = layers.transmission
    if box_kw is None:
        lo = np.stack([b[n].p_down_kw for n in names], axis=1)
        hi = np.stack([b[n].p_up_kw for n in names], axis=1)
    else:
        lo, hi = box_kw
    cap = np.stack([layers.distribution[n].p_max_kw for n in names], axis=1) \
        if cap_kw is None else cap_kw
    lo, hi = np.minimum(lo, cap), np.minimum(hi, cap)
    first = b[names[0]]
    return PerStation({n: package(lo[:, j], hi[:, j], first.dt_h, first.t0)
                       for j, n in enumerate(names)},
                      package(lo.sum(1), hi.sum(1), first.dt_h, first.t0))


@dataclass(frozen=True)
class DayAheadCommitment:
    """The day-ahead boundary the DSO commits to (what the TSO buys).

    Attributes:
        layers: The case's α layers (distribution and transmission).
        boundary: Transmission boundary per station and in total, capped at the distribution
            layer and at the AC-servable must-charge load (:meth:`GridAgent.checked`, the same
            check the real-time publication gets).
        infeasible: Grid-infeasible intervals of the day ``(T,)``: on some kept day the
            expected vehicles' unavoidable draw is not AC-feasible (module docstring, "Day-ahead
            must-charge").
        unsheddable_kw: Unavoidable draw the network cannot carry, per interval ``(T,)``
            (largest over the kept days).
        reserve: The reserve product: the forecast baseline ``R_hat`` and the α set's deviation
            battery inside the published boundary (``flexibility.reserve``).
        must_charge_kw: The kept days' unavoidable draw ``max(L_m,j,t, 0)`` per interval and
            station, largest over the kept days ``(T, J)``.
        package_infeasible: Intervals the package check flags ``(T,)`` (its lower bound above
            the network; module docstring).
        package_unsheddable_kw: The package's must-serve load the network cannot carry, per
            interval ``(T,)``.
    """

    layers: LayerSet
    boundary: PerStation[Boundary]
    infeasible: np.ndarray
    unsheddable_kw: np.ndarray
    reserve: ReserveProduct
    must_charge_kw: np.ndarray | None = None
    package_infeasible: np.ndarray | None = None
    package_unsheddable_kw: np.ndarray | None = None


def package_of(layers: LayerSet) -> PackageInfo:
    """The α package of layers built by ``grid.alpha_layers.case_layers``.

    Raises:
        ValueError: The layers are a vehicle-box package (no α battery).
    """
    if layers.package is None:
        raise ValueError("these layers carry no α package (vehicle-box packaging)")
    return layers.package


def reserve_of(layers: LayerSet, boundary: Boundary) -> ReserveProduct:
    """The reserve product of a packaged case inside its published boundary.

    The baseline is the mean kept reference ``R_hat``; the reserve set is the α set's deviation
    battery with its power rows cut to the published boundary around ``R_hat``:
    ``max(P^-, P_down - R_hat) <= d <= min(P^+, P_up - R_hat)``.
    """
    inner = package_of(layers).inner
    ref = inner.ref_kw[inner.kept].mean(axis=0)
    d = inner.deviation
    lo = np.maximum(d.p_lo_kw, boundary.p_down_kw - ref)
    hi = np.minimum(d.p_hi_kw, boundary.p_up_kw - ref)
    return ReserveProduct.of(ref, Battery(lo, np.maximum(lo, hi), d.y_lo_kwh, d.y_hi_kwh, d.dt_h,
                                          d.t0))


def _head_envelope(env: Envelope, n: int) -> Envelope:
    """The first ``n`` intervals of an envelope (same start ``t0``)."""
    return env.map_arrays(lambda x: x[..., :n])


class GridAgent(mesa.Agent):
    """The distribution system operator of one feeder.

    Args:
        model: The co-simulation model.
        grid: The feeder, its limits, background and security set (built once).
        eta_ch: Charging efficiency (energy bounds of the clipped envelopes).
        eta_dis: Discharging efficiency.
    """

    def __init__(self, model: mesa.Model, grid: GridModel, eta_ch: float, eta_dis: float) -> None:
        super().__init__(model)
        self.grid = grid
        self.eta_ch = eta_ch
        self.eta_dis = eta_dis
        self.branch_elements = tuple(e for e, _ in grid.feeder.branch)
        self.solver: AcSolver = grid.solver

    def commit_day_ahead(self, case: Case, keep_fraction: float, fresh: CaseSets | None,
                         alpha: float) -> DayAheadCommitment:
        """The day-ahead commitment of a station-layer case (``grid.alpha_layers``).

        The boundary is packaged, checked and capped as every publication (:meth:`checked`,
        all intervals AC-checked); the commitment's grid feasibility is the kept days'
        unavoidable draw (module docstring, "Day-ahead must-charge"), the package's flag is
        kept beside it.

        Args:
            case: The day-ahead case (the stations' forecast pools).
            keep_fraction: Share of the scenarios kept when the case is not calibrated.
            fresh: Fresh days calibrating the kept share and shrink (``None``: uncalibrated).
            alpha: Confidence level.
        """
        layers = case_layers(self.grid, case, keep_fraction, fresh, (alpha,), alpha, ray=False)
        pub = self.checked(layers, case.sets.n_intervals)
        cs = case.sets
        must, mu = self.day_ahead_must_charge(cs.exact.p_lo_kw[package_of(layers).inner.kept],
                                              cs.t0)
        unshed = ((1.0 - mu) * must.sum(axis=2)).max(axis=0, initial=0.0)
        return DayAheadCommitment(layers, pub.transmission, np.asarray((mu < 1.0).any(axis=0)),
                                  unshed,
                                  reserve_of(layers, pub.transmission.total),
                                  must_charge_kw=must.max(axis=0, initial=0.0),
                                  package_infeasible=pub.infeasible,
                                  package_unsheddable_kw=pub.unsheddable_kw.sum(axis=1))

    def day_ahead_must_charge(self, lower_kw: np.ndarray, t0: int
                              ) -> tuple[np.ndarray, np.ndarray]:
        """The expected vehicles' unavoidable draw checked against the AC network, per day.

        Args:
            lower_kw: Each day's and station's least draw ``L_m,j,t`` ``(K, J, T)`` (module
                docstring, "Day-ahead must-charge").
            t0: First interval.

        Returns:
            ``x = max(L, 0)`` as ``(K, T, J)`` and ``mu*``, its largest AC-feasible scaling per
            day and interval ``(K, T)`` (1 without must-charge; 0 when the background alone
            violates a limit).
        """
        must = np.maximum(np.swapaxes(np.asarray(lower_kw, dtype=float), 1, 2), 0.0)
        return must, self.servable_share(t0, must)

    def servable_share(self, t0: int, load_kw: np.ndarray) -> np.ndarray:
        """The largest common scaling of each row of station loads that is AC-feasible.

        Bisection along ``lam x`` from the background alone (:func:`grid.ac.bisect_segments`),
        every row with load at once.

        Args:
            t0: First interval.
            load_kw: Non-negative station loads ``(K, W, J)``, row ``(m, w)`` at interval
                ``t0 + w`` (grid order).

        Returns:
            ``lam*`` per row ``(K, W)``: 1 without load, 0 when the background alone violates a
            limit.
        """
        g = self.grid
        lam = np.ones(load_kw.shape[:2])
        day, row = np.nonzero(load_kw.sum(axis=2) > FEASIBILITY_TOL_KW)
        if row.size:
            bg_p, bg_q = g.bg(t0, load_kw.shape[1])
            x = load_kw[day, row]
            bis = bisect_segments(self.solver, bg_p[row], bg_q[row], g.positions,
                                  np.zeros_like(x), x, g.limits)
            lam[day, row] = np.where(bis.start_feasible, bis.lam, 0.0)
        return lam

    def publish_package(self, fleets: Sequence[Fleet], t0: int, n_intervals: int,
                        alpha: float, aggregation: Aggregation,
                        definition: AlphaDefinition = "whole-day") -> Publication:
        """Package the α battery of a real-time case and publish it checked and capped.

        The same code path as the assessment (``grid.alpha_layers.case_layers``): every
        scenario's fleet (the plugged-in EVs exactly, beside one sampled day of later arrivals)
        gets its deliverable inner battery inside the network boxes (LinDistFlow, AC-corrected),
        the batteries of ``ceil(alpha M)`` scenarios are intersected (greedy discarding, no
        shrink: ``grid.alpha_layers.realtime_layers``, the rule of ``assess`` at τ) and the
        result is packaged, then checked like every publication (:meth:`checked`). The
        declared baseline is the package's reference.

        Args:
            fleets: Each station's scenario fleets ``(M, N_j)`` in grid order, from ``t0``.
            t0: First interval (the tick).
            n_intervals: Intervals of the remaining horizon.
            alpha: Confidence level (share of the sampled days kept).
            aggregation: How the station rows keep scenarios (``assessment.aggregation``).
            definition: The station rows' α definition (``assessment.alpha_definition``).
        """
        names = tuple(self.grid.stations)
        m = int(fleets[0].shape[0])
        case = make_case(names, list(fleets), n_intervals, t0, n_kept(alpha, m) / m, aggregation,
                         definition=definition)
        layers = realtime_layers(self.grid, case, alpha, ray=False)
        pub = self.checked(layers, AC_CHECKED_ROWS)
        inner = package_of(layers).inner
        return replace(pub, baseline_kw=inner.ref_kw[inner.kept].mean(axis=0))

    def clip_and_package(self, envs: dict[str, Envelope],
                         boxes: dict[str, InnerBox]) -> LayerSet:
        """LinDistFlow clipping, AC correction and packaging of the given intervals."""
        return layers_for(self.grid, envs, boxes, self.eta_ch, self.eta_dis, ray=False)

    def publish(self, envs: dict[str, Envelope], boxes: dict[str, InnerBox],
                lookahead: int | None = LOOKAHEAD_ROWS) -> Publication:
        """Package the boundary, check it against the network and publish it capped.

        See the module docstring for the infeasibility test, the unsheddable load and the cap.
        Only the first ``lookahead`` intervals of the stations' envelopes are clipped, AC-checked
        and packaged (``None``: the whole remaining horizon): the power rows of clipping, AC
        correction and packaging are computed interval by interval, so interval ``k``'s
        boundary is the same as from the full re-computation (tested), and the per-tick work
        no longer grows with the remaining horizon.
        """
        if lookahead is not None:
            envs = {n: _head_envelope(e, lookahead) for n, e in envs.items()}
            boxes = {n: InnerBox(b.lo_kw[:lookahead], b.hi_kw[:lookahead], b.dt_h, t0=b.t0)
                     for n, b in boxes.items()}
        return self.checked(self.clip_and_package(envs, boxes), AC_CHECKED_ROWS)

    def checked(self, layers: LayerSet, ac_rows: int) -> Publication:
        """The packaged layers checked against the network and capped (module docstring).

        The same test and cap serve the real-time publication and the day-ahead commitment.
        An interval whose packaged box is crossed (``P_down > P_up``: the deliverable set is
        empty, the fleet's must-charge exceeds what the network boxes admit) is grid-infeasible
        and published as the single point of its servable must-charge load: a crossed box is
        never published.

        Args:
            layers: Distribution and transmission layers as packaged.
            ac_rows: The first ``ac_rows`` intervals get the AC must-serve check.
        """
        g = self.grid
        names = list(g.stations)
        b, dist = layers.transmission, layers.distribution
        lo = np.stack([b[n].p_down_kw for n in names], axis=1)
        hi = np.stack([b[n].p_up_kw for n in names], axis=1)
        d_hi = np.stack([dist[n].p_max_kw for n in names], axis=1)
        n_rows = lo.shape[0]
        t0 = b[names[0]].t0
        tol = FEASIBILITY_TOL_KW
        crossed = (lo > hi + tol).any(axis=1) | (lo.sum(1) > hi.sum(1) + tol)
        above = (lo > d_hi + tol).any(axis=1) | (lo.sum(1) > d_hi.sum(1) + tol)
        empty = np.zeros(n_rows, dtype=bool)
        idx = np.asarray(layers.empty_intervals, dtype=int) - t0
        empty[idx[(idx >= 0) & (idx < n_rows)]] = True
        must = np.maximum(lo, 0.0)
        lam = np.ones(n_rows)
        n_ac = min(max(int(ac_rows), 0), n_rows)
        lam[:n_ac] = self.servable_share(t0, must[None, :n_ac])[0]
        not_servable = lam < 1.0
        cap = np.where(not_servable[:, None], np.minimum(d_hi, lam[:, None] * must), d_hi)
        # a crossed box collapses onto its lower bound (the must-charge), then takes the cap
        hi = np.maximum(hi, lo)
        return Publication(layers=layers,
                           transmission=cap_at_distribution(layers, names, cap, (lo, hi)),
                           infeasible=above | empty | crossed | not_servable,
                           must_serve_kw=must, servable_share=lam)

    def must_charge(self, k: int, lower_kw: np.ndarray) -> MustCharge:
        """The vehicles' must-charge of interval ``k`` checked against the AC network.

        Args:
            k: Interval.
            lower_kw: Each station's exact one-step lower bound ``L_j`` ``(J,)``, grid order.
        """
        must = np.maximum(np.asarray(lower_kw, dtype=float), 0.0)
        return MustCharge(must, float(self.servable_share(k, must[None, None])[0, 0]))

    def operating_point(self, k: int, station_p_kw: np.ndarray,
                        bg_p_kw: np.ndarray | None = None,
                        bg_q_kvar: np.ndarray | None = None) -> AcResult:
        """AC power flow at the realised station powers of interval ``k`` (unity power factor).

        ``bg_p_kw`` / ``bg_q_kvar`` replace the forecast non-EV consumption per bus (the
        realised one of a dispatched day, generators and capacitors included).
        """
        g = self.grid
        p_bg, q_bg = g.bg(k, 1)
        p = p_bg.copy() if bg_p_kw is None else np.asarray(bg_p_kw, dtype=float)[None, :].copy()
        q = q_bg.copy() if bg_q_kvar is None else np.asarray(bg_q_kvar, dtype=float)[None, :]
        p[0, g.positions] += station_p_kw
        return self.solver.solve(p, q.copy())

    def labels(self, ac: AcResult) -> list[str]:
        """Violation labels of AC results against this feeder's limits."""
        return violation_labels(ac, self.grid.limits, self.branch_elements)
