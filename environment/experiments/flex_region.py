"""The stations' flexible operation region (FOR) under coupons (spatiotemporal paper, §2.1).

**Decision.** A coupon vector ``psi`` (``traffic.prices.Coupons``): per station, a charging
coupon (CNY/kWh off the charging price) and a V2G subsidy (CNY/kWh on top of the V2G price),
per departure band of ``band_min`` minutes; ``0 <= psi <= psi_max`` (the charging coupon at most
the charging price, the V2G subsidy at most the V2G price). The spend ``F_bs(psi)`` is computed
from the equilibrium's realised sessions (``traffic.prices.subsidy_spent``) and must stay
within the budget ``F_max``.

**Response.** ``P(psi)``: every station's net load at ``t*`` (charging minus V2G power of the
vehicles in service, averaged over the interval starting at ``t*``) in the dynamic user
equilibrium (re-solved to the scenario's gap, 1 %, warm-started from the no-coupon shares), or
in the static counterpart (30-minute intervals, ``traffic.static_stations``).

**Boundary point of a direction** ``a``: ``min a^T P(psi)`` s.t. ``F_bs(psi) <= F_max``. The
equilibrium is inside the problem, so (documented method, not the paper's single-level model):

1. linear response model around ``psi = 0``: ``P ~ P_0 + J psi`` with ``J`` from one-sided
   differences (one equilibrium per coupon coordinate, step ``h``) and the spend
   ``F ~ v^T psi`` with ``v_i`` the subsidy per unit coupon realised at the step;
2. the LP ``min a^T J psi`` s.t. ``v^T psi <= F_max``, ``0 <= psi <= psi_max`` and the trust
   region ``|psi - psi_c| <= r`` (``r`` = the finite-difference step, ``psi_c`` = 0), which
   spreads a budget beyond one coordinate's cap over several coordinates (HiGHS,
   ``dispatch.coupons``);
3. **verification by simulation**: the equilibrium at ``s psi*`` is solved; the point is
   accepted when its realised spend is within budget, the gap is met and the operating point
   is grid-feasible (LinDistFlow security rows of ``t*`` and an AC power flow); otherwise ``s``
   shrinks (to ``0.95 F_max / F`` when over budget, else halves), at most ``max_backtracks``
   times (``s = 0``, the no-coupon equilibrium, is the fallback and always within budget);
4. ``refine`` rounds: the response model is refitted to every equilibrium verified so far
   (:func:`refit`), and the LP is solved again with the trust region centred at the
   direction's best point; new proposals are verified the same way and a point is kept only
   if ``a^T P`` improved.

Every reported point is therefore an equilibrium outcome under a coupon vector that respects
the budget and is grid-feasible; the linear model only proposes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dispatch.coupons import lp_coupons
from environment.experiments.region_grid import RegionGrid
from environment.grid_setup import build_grid_model
from grid.ac import RadialSweep
from grid.layers import GridModel
from scenarios.config import Scenario
from scenarios.errors import InputError
from scenarios.timeaxis import minutes_of_day
from scenarios.traffic_config import Traffic
from traffic.assignment import Demand
from traffic.network import RoadNetwork
from traffic.prices import Coupons, Prices, station_net_load_kw, subsidy_spent
from traffic.scenario import (
    build_demand,
    build_network,
    build_prices,
    scenario_ue,
)
from traffic.static_stations import static_station_loads

SERVICES = ("charge", "v2g")
STATIC_INTERVAL_MIN = 30.0


@dataclass(frozen=True)
class Outcome:
    """One equilibrium under a coupon vector.

    Attributes:
        psi: The coupon vector (CNY/kWh, ``Coupons.from_vector`` order).
        p_kw: Net load per station at ``t*`` (kW, charging positive).
        gap: Relative gap of the equilibrium (NaN for the static model's MSA).
        spent: Realised subsidy ``F_bs`` (CNY).
        grid_feasible: LinDistFlow rows and AC at the operating point hold.
        vm_min_pu: Minimum AC voltage at the operating point.
    """

    psi: np.ndarray
    p_kw: np.ndarray
    gap: float
    spent: float
    grid_feasible: bool
    vm_min_pu: float


@dataclass(frozen=True)
class RegionSetup:
    """What every direction of one model shares (picklable, sent to the workers once).

    Attributes:
        scenario: The coupled scenario.
        model: ``dynamic`` or ``static``.
        t_star_min: Minutes from the traffic start to ``t*``.
        band_min: Coupon band length (minutes from the traffic start).
        n_bands: Coupon bands.
        stations: Station names (axes of ``P``).
        psi_max: Upper bound per coupon coordinate.
        base: The no-coupon equilibrium.
        jac: Response model ``dP/dpsi`` (kW per CNY/kWh), ``(J, n_psi)``.
        spend_rate: Realised spend per unit coupon ``v`` (CNY per CNY/kWh), ``(n_psi,)``.
        base_shares: Path shares of the no-coupon dynamic equilibrium (warm start).
        grid_mode: ``enforce`` (a point is accepted only if grid-feasible) or ``report``
            (every point keeps its grid check as a flag; for feeders that cannot host even
            the no-coupon equilibrium).
        trust_radius: ``r`` of the LP's trust region per coordinate (CNY/kWh).
        grid: The scenario's grid model, built once and sent along (:func:`shared_grid`:
            only when its AC solver is the stateless radial sweep, which pickles without
            pandapower's network, so the workers need not import pandapower); ``None``: each
            :class:`Evaluator` builds its own.
    """

    scenario: Scenario
    model: str
    t_star_min: float
    band_min: float
    n_bands: int
    stations: tuple[str, ...]
    psi_max: np.ndarray
    base: Outcome
    jac: np.ndarray
    spend_rate: np.ndarray
    base_shares: list[np.ndarray | None] | None
    grid_mode: str = "enforce"
    trust_radius: float = 0.5
    grid: GridModel | None = None

    def evaluator(self) -> Evaluator:
        """An :class:`Evaluator` of this set-up, warm-started from the no-coupon equilibrium."""
        return Evaluator(self.scenario, self.model, self.t_star_min, self.band_min,
                         self.n_bands, self.base_shares, self.grid)


WARM_STEP_OFFSET = 8.0  # MSA step offset from a converged start: 9-14 loadings instead of 17-20


def warm_shares(groups, shares: list[np.ndarray]) -> list[np.ndarray | None]:
    """Start of a coupon evaluation: the regular users' shares of the no-coupon equilibrium;
    station users (whose costs the coupons change) start from their default, the
    coupon-aware cheapest free-flow path. Starting them from the no-coupon split instead
    stops inside the 1 % gap before their response is realised (the gap is relative to all
    users' travel time): tests/verification/test_region_enumeration.py shows both.
    """
    return [s if g.user == "regular" else None for g, s in zip(groups, shares, strict=True)]


class Evaluator:
    """Equilibrium + grid check of coupon vectors for one scenario (rebuilt for each task, in
    about 3 ms; ``grid``: the scenario's grid model if already built, else built here)."""

    def __init__(self, scenario: Scenario, model: str, t_star_min: float, band_min: float,
                 n_bands: int, base_shares: list[np.ndarray | None] | None = None,
                 grid: GridModel | None = None) -> None:
        cfg = scenario.traffic
        if cfg is None or not cfg.stations:
            raise InputError(f"--scenario: {scenario.name} has no [traffic] section with "
                             "[[traffic.stations]]; use e.g. --scenario nd_coupled")
        self.scenario, self.model, self.cfg = scenario, model, cfg
        self.net: RoadNetwork = build_network(cfg, scenario.base_dir)
        self.demand: Demand = build_demand(cfg, self.net)
        self.prices: Prices = build_prices(cfg)
        self.stations = tuple(st.name for st in cfg.stations)
        self.t_star_min, self.band_min, self.n_bands = t_star_min, band_min, n_bands
        self.base_shares = base_shares
        self.grid: GridModel = build_grid_model(scenario) if grid is None else grid
        hz = scenario.horizon
        k = (minutes_of_day(cfg.start) + t_star_min - hz.start_min) / hz.dt_min
        self.k_grid = int(np.floor(k + 1e-9)) % hz.n_intervals
        bus_of = {st.name: st.bus for st in cfg.stations}
        grid_index = {name: j for j, name in enumerate(self.grid.stations)}
        missing = [s for s in self.stations if s not in grid_index]
        if missing:
            raise InputError(f"traffic.stations: {', '.join(missing)} not among the scenario's "
                             "[[stations]]; give every traffic station a grid station of the "
                             f"same name (buses {bus_of})")
        self.to_grid = np.array([grid_index[s] for s in self.stations])
        self.feeder = RegionGrid(scenario, self.k_grid, self.grid)

    def prices_for(self, psi: np.ndarray) -> Prices:
        """The scenario's prices with the coupon vector ``psi``."""
        c = Coupons.from_vector(np.asarray(psi, dtype=float), self.stations, self.n_bands,
                                self.band_min)
        return dataclasses.replace(self.prices, coupons=c)

    def __call__(self, psi: np.ndarray) -> tuple[Outcome, list[np.ndarray | None] | None]:
        """The equilibrium under ``psi``, its net loads at ``t*``, spend and grid check."""
        prices = self.prices_for(psi)
        if self.model == "dynamic":
            warm = self.base_shares is not None
            res = scenario_ue(self.cfg, self.net, self.demand, prices,
                              step_offset=WARM_STEP_OFFSET if warm else 3.0,
                              initial_shares=self.base_shares)
            load = station_net_load_kw(self.net, res.loading, prices, self.t_star_min,
                                       self.demand.interval_min)
            p = np.array([load.get(s, 0.0) for s in self.stations])
            spent = float(sum(subsidy_spent(self.net, res.loading, prices).values()))
            gap, shares = float(res.relative_gap), warm_shares(res.groups, res.shares)
        else:
            sta = static_station_loads(self.net, self.demand, prices, STATIC_INTERVAL_MIN,
                                       capacity=self.cfg.station_capacity)
            k = int(self.t_star_min // STATIC_INTERVAL_MIN)
            p = np.array([sta.p_kw[sta.stations.index(s), k] for s in self.stations])
            spent, gap, shares = float(sta.subsidy.sum()), float("nan"), None
        ok, vmin = self.grid_check(p)
        return Outcome(np.asarray(psi, dtype=float), p, gap, spent, ok, vmin), shares

    def grid_check(self, p_kw: np.ndarray) -> tuple[bool, float]:
        """LinDistFlow rows of ``t*`` with the DG dispatched, then AC at that dispatch
        (``region_grid.RegionGrid``): feasible, and the lowest AC voltage."""
        u = np.zeros(len(self.grid.stations))
        u[self.to_grid] = p_kw
        res = self.feeder.check(u)
        return res.feasible, res.vm_min_pu


def shared_grid(grid: GridModel) -> GridModel | None:
    """``grid`` if it may be built once and sent to the workers, else ``None`` (each
    :class:`Evaluator` then builds its own). Only the radial sweep qualifies: it keeps no
    state between solves (a shared copy gives the same answers in any order) and pickles
    without pandapower. :class:`grid.sparse_ac.SparseAc` keeps a warm start and may hold a
    sparse LU that does not pickle; :class:`grid.ac.PandapowerAc` holds a pandapower network.
    """
    return grid if isinstance(grid.solver, RadialSweep) else None


def n_bands_of(cfg: Traffic, band_min: float) -> int:
    """Coupon bands of ``band_min`` minutes covering the traffic period."""
    return int(np.ceil(cfg.duration_min / band_min - 1e-9))


def setup(scenario: Scenario, model: str, t_star: str, band_min: float,
          step_per_kwh: float = 0.5, grid_mode: str = "enforce", cluster=None,
          grid: GridModel | None = None) -> RegionSetup:
    """Base equilibrium and the finite-difference response model (``1 + n_psi`` equilibria).

    ``grid``: the scenario's grid model if already built (``None``: built here).

    Raises:
        InputError: ``t*`` outside the traffic period, or ``grid_mode="enforce"`` and the
            no-coupon equilibrium is already grid-infeasible (nothing could be accepted).
    """
    cfg = scenario.traffic
    if cfg is None:
        raise InputError(f"--scenario: {scenario.name} has no [traffic] section; use e.g. "
                         "--scenario nd_coupled")
    t_rel = check_request(scenario, model, t_star, band_min)
    n_bands = n_bands_of(cfg, band_min)
    ev = Evaluator(scenario, model, t_rel, band_min, n_bands, grid=grid)
    return _setup(ev, scenario, model, t_star, t_rel, band_min, n_bands, step_per_kwh,
                  grid_mode, cluster)


def model_interval_min(cfg: Traffic, model: str) -> float:
    """The default coupon band of a traffic model: its interval, as the paper's coupon
    ``psi_a(t)`` is per interval. Dynamic: the scenario's interval; static: the least multiple
    of it that covers ``STATIC_INTERVAL_MIN`` (30 minutes on ``nd_coupled``'s 10)."""
    step = float(cfg.interval_min)
    if model == "dynamic":
        return step
    return step * float(np.ceil(STATIC_INTERVAL_MIN / step - 1e-9))


def check_request(scenario: Scenario, model: str, t_star: str, band_min: float) -> float:
    """``t*`` in minutes from the traffic start, after checking it and the band length.

    Raises:
        InputError: no traffic, ``t*`` not an interval start within the demand period of
            the model, or a band that is not a multiple of the traffic interval.
    """
    cfg = scenario.traffic
    if cfg is None:
        raise InputError(f"--scenario: {scenario.name} has no [traffic] section; use e.g. "
                         "--scenario nd_coupled")
    t_rel = float((minutes_of_day(t_star) - minutes_of_day(cfg.start)) % 1440)
    static_n = int(np.ceil(cfg.duration_min / STATIC_INTERVAL_MIN - 1e-9))
    end = cfg.duration_min if model == "dynamic" else static_n * STATIC_INTERVAL_MIN
    step = cfg.interval_min if model == "dynamic" else STATIC_INTERVAL_MIN
    if not 0 <= t_rel < end or abs(t_rel / step - round(t_rel / step)) > 1e-9:
        raise InputError(f"--time: {t_star} is not the start of a {step:g}-minute interval of "
                         f"the traffic period {cfg.start} + {end:g} min ({model} model); "
                         "e.g. --time 18:00")
    ratio = band_min / cfg.interval_min
    if band_min <= 0 or abs(ratio - round(ratio)) > 1e-9:
        raise InputError(f"--band-min: {band_min:g} is not a multiple of the traffic interval "
                         f"({cfg.interval_min:g} min); e.g. --band-min 60")
    return t_rel


def _setup(ev: Evaluator, scenario: Scenario, model: str, t_star: str, t_rel: float,
           band_min: float, n_bands: int, step_per_kwh: float, grid_mode: str,
           cluster) -> RegionSetup:
    cfg = ev.cfg
    grid = shared_grid(ev.grid)  # what the tasks may carry
    base, shares = ev(np.zeros(len(ev.stations) * len(SERVICES) * n_bands))
    ev.base_shares = shares
    if base.gap > cfg.target_gap * (1 + 1e-9):
        raise InputError(f"traffic.max_iterations: the no-coupon {model} equilibrium stopped at "
                         f"gap {base.gap:.4f} above traffic.target_gap {cfg.target_gap}; raise "
                         "max_iterations or the target")
    if grid_mode == "enforce" and not base.grid_feasible:
        raise InputError(f"--grid enforce: the no-coupon {model} equilibrium at {t_star} puts "
                         f"{base.p_kw.sum():,.0f} kW on the stations and the feeder does not "
                         f"hold it (AC v_min {base.vm_min_pu:.3f} p.u. or a LinDistFlow row "
                         "violated), so no point can be grid-feasible; use --grid report to map "
                         "the traffic region with every point's grid check as a flag")
    n_psi = base.psi.size
    psi_max = np.array([[cfg.charge_price_per_kwh] * n_bands, [cfg.v2g_price_per_kwh] * n_bands]
                       * len(ev.stations)).ravel()
    jac = np.zeros((len(ev.stations), n_psi))
    rate = np.zeros(n_psi)
    steps = [np.eye(n_psi)[i] * step_per_kwh for i in range(n_psi)]
    if cluster is None:
        outs = [ev(x)[0] for x in steps]
    else:  # this process and the workers (as they come up) share the columns; on a feeder
        # whose AC solver keeps a warm start (not shared_grid), a column solved here may
        # differ in its grid check's last digits, which the response model does not use
        got: dict[int, Outcome] = {}

        def there(client):
            g = None if grid is None else client.scatter(grid, broadcast=True, hash=False)
            return lambda x: client.submit(_evaluate, scenario, model, t_rel, band_min,
                                           n_bands, shares, x, g, pure=False)

        cluster.share(steps, lambda x: ev(x)[0], there, got.__setitem__)
        outs = [got[i] for i in range(n_psi)]
    for i, out in enumerate(outs):
        jac[:, i] = (out.p_kw - base.p_kw) / step_per_kwh
        rate[i] = out.spent / step_per_kwh
    return RegionSetup(scenario, model, t_rel, band_min, n_bands, ev.stations, psi_max, base,
                       jac, rate, shares, grid_mode, step_per_kwh, grid)


def warm(scenario: Scenario, model: str, t_star: str, band_min: float) -> None:
    """Worker warm-up (``Cluster(warm=...)``): imports the traffic and grid models (building
    the road network and demand once, and dropping them), so the worker's first task does not
    pay for the imports. The grid model comes with the tasks where it can
    (:func:`shared_grid`), so those workers never import pandapower."""
    cfg = scenario.traffic
    if cfg is not None:
        check_request(scenario, model, t_star, band_min)
        build_demand(cfg, build_network(cfg, scenario.base_dir))


def solve(s: RegionSetup, psi: np.ndarray) -> Outcome:
    """Worker task: the equilibrium of one coupon vector, warm-started as the set-up's."""
    return s.evaluator()(psi)[0]


def solve_here(s: RegionSetup) -> Callable[[list[np.ndarray]], list[Outcome]]:
    """Equilibria of a list of coupon vectors, one after the other in this process (one
    :class:`Evaluator`), in the given order."""
    ev = s.evaluator()
    return lambda psis: [ev(np.asarray(x, dtype=float))[0] for x in psis]


def _evaluate(scenario: Scenario, model: str, t_rel: float, band_min: float, n_bands: int,
              shares: list[np.ndarray | None] | None, psi: np.ndarray,
              grid: GridModel | None = None) -> Outcome:
    """Worker task: one equilibrium (finite-difference column)."""
    return Evaluator(scenario, model, t_rel, band_min, n_bands, shares, grid)(psi)[0]


@dataclass(frozen=True)
class BoundaryPoint:
    """The accepted outcome of one direction and budget, with its search record."""

    direction: np.ndarray
    budget: float
    outcome: Outcome
    evaluations: int
    runtime_s: float
    tried: tuple[Outcome, ...] = ()


def boundary_point(s: RegionSetup, direction: np.ndarray, budget: float, refine: int = 1,
                   max_backtracks: int = 6, evaluator: Evaluator | None = None
                   ) -> BoundaryPoint:
    """Search of one direction (module docstring, steps 2-4)."""
    t0 = time.perf_counter()
    ev = evaluator or s.evaluator()
    target = s.scenario.traffic.target_gap if s.scenario.traffic else 0.01
    a = np.asarray(direction, dtype=float)
    best, jac, n_eval = s.base, s.jac.copy(), 0
    tried: list[Outcome] = []
    for _ in range(1 + refine):
        proposal = lp_coupons(a, jac, s.spend_rate, s.psi_max, budget, best.psi,
                              s.trust_radius)
        found, seen = _verify(ev, proposal, budget, target, max_backtracks,
                              s.grid_mode == "enforce")
        n_eval += len(seen)
        tried.extend(seen)
        if found is None:
            break
        d_psi, d_p = found.psi - s.base.psi, found.p_kw - s.base.p_kw
        if d_psi @ d_psi > 0:
            jac = jac + np.outer(d_p - jac @ d_psi, d_psi) / (d_psi @ d_psi)
        if a @ found.p_kw < a @ best.p_kw - 1e-9:
            best = found
        else:
            break
    return BoundaryPoint(a, float(budget), best, n_eval, time.perf_counter() - t0, tuple(tried))


def refit(s: RegionSetup, outcomes: list[Outcome], prior_weight: float = 1.0) -> np.ndarray:
    """Response model refitted to verified equilibria (refinement rounds).

    ``J = argmin sum_k |P_k - P_0 - J psi_k|^2 + w |J - J_fd|^2 ||psi_fd||^2``: least squares
    over the outcomes ``(psi_k, P_k)`` with the finite-difference model as a prior (weight
    ``w`` on the scale of one finite-difference step), so coordinates no outcome moved keep
    their finite-difference column.
    """
    moved = [o for o in outcomes if np.any(o.psi > 0)]
    if not moved:
        return s.jac.copy()
    x = np.array([o.psi for o in moved])
    y = np.array([o.p_kw - s.base.p_kw for o in moved])
    lam = prior_weight * s.trust_radius ** 2
    n = x.shape[1]
    lhs = x.T @ x + lam * np.eye(n)
    rhs = x.T @ y + lam * s.jac.T
    return np.linalg.solve(lhs, rhs).T


def verify_proposal(s: RegionSetup, psi: np.ndarray, budget: float, max_backtracks: int = 6,
                    evaluator: Evaluator | None = None) -> tuple[Outcome | None, list[Outcome]]:
    """Step 3 alone for one LP proposal (shared by every direction that proposes it)."""
    ev = evaluator or s.evaluator()
    target = s.scenario.traffic.target_gap if s.scenario.traffic else 0.01
    return _verify(ev, np.asarray(psi, dtype=float), budget, target, max_backtracks,
                   s.grid_mode == "enforce")


def _verify(ev: Evaluator, psi: np.ndarray, budget: float, target_gap: float,
            max_backtracks: int, need_grid: bool = True
            ) -> tuple[Outcome | None, list[Outcome]]:
    """Shrink ``psi`` until its equilibrium is within budget, converged and grid-feasible
    (the last only if ``need_grid``); also returns every outcome tried.
    """
    scale, seen = 1.0, list[Outcome]()
    if not np.any(psi > 0):
        return None, seen
    for _ in range(max_backtracks):
        out, _ = ev(scale * psi)
        seen.append(out)
        if acceptable(out, budget, target_gap, need_grid):
            return out, seen
        scale *= 0.95 * budget / out.spent if out.spent > budget else 0.5
    return None, seen


def acceptable(out: Outcome, budget: float, target_gap: float, need_grid: bool) -> bool:
    """Within budget, converged to the gap (the static model has none) and, if asked,
    grid-feasible.
    """
    converged = not out.gap > target_gap * (1 + 1e-9)  # NaN (static) passes
    return out.spent <= budget * (1 + 1e-9) and converged and (out.grid_feasible
                                                                or not need_grid)


def realise(s: RegionSetup, top: Outcome, station: int, p_req_kw: float,
            evaluate: Callable[[list[np.ndarray]], list[Outcome]] | None = None,
            rounds: int = 5) -> Outcome | None:
    """Cheapest scaling ``c psi`` (``0 < c <= 1``) whose equilibrium has ``P_station >= p_req``.

    ``top`` is the verified equilibrium at ``psi`` itself (``c = 1``). Trisection on ``c`` over
    actual equilibria, assuming the station's load grows with ``c``: each round solves the two
    equilibria at ``c = lo + (hi - lo) / 3`` and ``lo + 2 (hi - lo) / 3`` and keeps the third
    where the requirement starts to hold, so ``rounds`` rounds narrow ``c`` to
    ``3^-rounds`` (5 rounds: 1/243) with ``2 rounds`` equilibria. The two of a round are
    independent: ``evaluate`` (a list of coupon vectors -> their outcomes) may solve them in
    parallel, and the schedule does not depend on how, so neither does the result. The
    dispatch's "actual subsidy spent" for a tier is the realised spend of the returned outcome
    (``None``: ``psi`` itself falls short).
    """
    evaluate = evaluate or solve_here(s)

    def holds(out: Outcome) -> bool:
        return bool(out.p_kw[station] >= p_req_kw
                    and (out.grid_feasible or s.grid_mode != "enforce"))

    if not holds(top):
        return None
    psi, best = top.psi, top
    lo, hi = 0.0, 1.0
    for _ in range(rounds):
        cs = (lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3)
        outs = evaluate([c * psi for c in cs])
        if holds(outs[0]):
            hi, best = cs[0], outs[0]
        elif holds(outs[1]):
            lo, hi, best = cs[0], cs[1], outs[1]
        else:
            lo = cs[1]
    return best
