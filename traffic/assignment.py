"""Dynamic user equilibrium by iterated loading on path sets (paper §1.1, DUE conditions).

Demand is split into groups (OD pair, user type, departure interval). Each group spreads its
vehicles over its path set with shares ``s_p`` (vehicles are assigned by systematic sampling of
the shares, so counts follow the shares exactly up to rounding). Iteration ``n``:

1. load all vehicles (``traffic.dynamic``); with the BPR link model the link times of a loading
   follow the inflow per interval of the earlier loadings (smoothed by MSA), so that travel time
   stays a function of the interval inflow as in the paper's BPR;
2. estimate each link's time-dependent travel time ``tau_a(t)`` from the traversals (linear
   interpolation over entry times, free flow outside them) and cost every path of a group at
   its vehicles' mean departure time by walking ``tau`` along the path;
3. generalized cost ``g = VOT * time + money``, with ``money = (price - coupon) * energy`` for
   charging users and ``-(V2G price + subsidy) * energy`` for V2G users;
4. relative gap ``sum_groups sum_p n_p (g_p - g_min) / (VOT * total travel time)``;
5. move shares towards the cheapest path (MSA): ``s <- s + a_n (AON - s)`` with
   ``a_n = 1 / (n + 1 + offset) / (1 + d)``, ``d`` counting the iterations whose gap rose;
   or, with ``swap_cny = kappa``, the proportional swap: every alternative ``p`` gives the
   cheapest one the share ``s_p min(1, (g_p - g_min) / (kappa (1 + d)))``, so shares move in
   proportion to their excess cost and an alternative at the least cost keeps its share
   (fewer loadings to 1 % once departure-time choice multiplies the alternatives).

It stops when the gap reaches the target (default 1 %).

Station capacity (``station_model``): ``queue`` serves a station link's vehicles on its
``ports`` as hard servers (waiting in a FIFO queue); ``bpr`` is the paper's soft capacity, the
waiting term in the link time

    t_a = tau_a + t_s + t_s (h / c)^3,

with ``h`` the vehicles on the station link when one enters and ``c`` its ports (the maximum
acceptable wait taken equal to the service time ``t_s``), so occupancy beyond ``c`` is possible
but costly (``traffic.dynamic``).

Departure-time choice (``departure``, :class:`DepartureChoice`): the users of the chosen types
pick, besides their path, a shift ``delta`` of their desired departure from a few discrete
values. An alternative of a group is a pair (path, shift); its generalized cost adds the
schedule delay of the alpha-beta-gamma model,

    g(p, delta) = alpha * time_p(t + delta) + money_p(t + delta) + beta * max(0, -delta)
                  + gamma * max(0, delta),

(``alpha`` the value of time, ``beta`` per hour early, ``gamma`` per hour late) and the MSA moves
shares over the alternatives as over paths. Coupons follow the band of the shifted departure,
so a coupon can move load in time as well as between stations.

Platoons (``Demand.platoon_veh = k > 1``, for large networks): after the systematic sampling,
the regular users of a group that took the same path are bundled in departure order into
platoons of ``k`` vehicles (the last one of a path may be smaller); a platoon departs at the
mean departure time of its members, so it never spans departure intervals, and is loaded as one
simulated vehicle carrying its members (``traffic.dynamic``). Counts, total travel time and the
relative gap are in vehicles, as without platoons. Charging and V2G users always travel one
vehicle per trip (each is an EV session at its station). ``k = 1`` is the vehicle-by-vehicle
loading.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from traffic.dynamic import LinkModel, Loading, Trip, departures, load
from traffic.network import NetworkError, RoadNetwork, node_path_to_links
from traffic.path_cost import LinkTimes, PathTable
from traffic.prices import Prices, money

__all__ = ["USERS", "AssignmentResult", "Demand", "DepartureChoice", "Group", "Prices",
           "build_groups", "dynamic_ue", "money", "path_sets"]

USERS = ("regular", "charging", "v2g")
GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class DepartureChoice:
    """Discrete departure-time choice with schedule-delay costs (module docstring).

    Attributes:
        shifts_min: Shifts ``delta`` of the desired departure a user may take (minutes;
            negative: earlier). Must contain 0 and be multiples of the demand interval.
        early_per_h: ``beta``, cost of leaving earlier than desired (CNY per hour).
        late_per_h: ``gamma``, cost of leaving later than desired (CNY per hour).
        users: User types that choose their departure (the others keep theirs).
    """

    shifts_min: tuple[float, ...] = (-20.0, -10.0, 0.0, 10.0, 20.0)
    early_per_h: float = 18.0
    late_per_h: float = 72.0
    users: tuple[str, ...] = ("charging", "v2g")

    def __post_init__(self) -> None:
        if 0.0 not in self.shifts_min:
            raise ValueError(f"DepartureChoice.shifts_min must contain 0, got {self.shifts_min}")
        if len(set(self.shifts_min)) != len(self.shifts_min):
            raise ValueError(f"DepartureChoice.shifts_min lists a shift twice: {self.shifts_min}")
        if self.early_per_h < 0 or self.late_per_h < 0:
            raise ValueError("DepartureChoice: schedule-delay costs must be >= 0")
        bad = set(self.users) - {"charging", "v2g"}
        if bad:
            raise ValueError(f"DepartureChoice.users: {sorted(bad)} are not station users; "
                             "only 'charging' and 'v2g' choose their departure")

    def schedule_cost(self, shift_min: float) -> float:
        """``beta max(0, -delta) + gamma max(0, delta)`` in CNY for a shift in minutes."""
        return (self.early_per_h * max(0.0, -shift_min)
                + self.late_per_h * max(0.0, shift_min)) / 60.0

    def check(self, interval_min: float) -> None:
        """Every shift is a whole number of demand intervals (coupons stay per interval)."""
        for d in self.shifts_min:
            r = d / interval_min
            if abs(r - round(r)) > 1e-9:
                raise ValueError(f"DepartureChoice: shift {d:g} min is not a multiple of the "
                                 f"demand interval {interval_min:g} min")


@dataclass(frozen=True)
class Demand:
    """Time-varying OD demand over a loading period.

    Attributes:
        od_veh_h: Demand rate per OD pair (veh/h).
        duration_min: Demand period (vehicles depart in ``[0, duration)``).
        interval_min: Departure-interval length (the groups of the assignment).
        profile: Multiplier per departure interval (default all 1).
        charging_share: Share of charging users (lambda).
        v2g_share: Share of V2G users (phi).
        platoon_veh: Regular users per simulated vehicle (1: every vehicle on its own; see
            the module docstring).
    """

    od_veh_h: dict[tuple[int, int], float]
    duration_min: float = 120.0
    interval_min: float = 10.0
    profile: tuple[float, ...] = ()
    charging_share: float = 0.0
    v2g_share: float = 0.0
    platoon_veh: int = 1

    @property
    def n_intervals(self) -> int:
        """Departure intervals."""
        return int(np.ceil(self.duration_min / self.interval_min - 1e-9))

    def rate(self, od: tuple[int, int], k: int) -> float:
        """Demand rate of an OD pair in departure interval ``k``."""
        m = self.profile[k] if self.profile else 1.0
        return self.od_veh_h[od] * m


def path_sets(net: RoadNetwork, ods, k_paths: int = 4) -> dict[tuple, list[tuple[int, ...]]]:
    """Candidate paths per (OD, user).

    Regular users: the ``k_paths`` least free-flow-time simple paths over road and dummy
    links. Charging (V2G) users: for every charging (V2G) link ``n -> m``, the free-flow
    shortest path to ``n``, the station link, and the shortest path from ``m``.
    """
    t0 = net.t0_min
    road = nx.DiGraph()
    for i, ln in enumerate(net.links):
        if ln.kind in ("road", "dummy"):
            w = t0[i]
            if not road.has_edge(ln.from_node, ln.to_node) or road[ln.from_node][ln.to_node][
                    "weight"] > w:
                road.add_edge(ln.from_node, ln.to_node, weight=w)
    out: dict[tuple, list[tuple[int, ...]]] = {}
    memo: dict[tuple[int, int], tuple[int, ...] | None] = {}

    def leg(o: int, d: int) -> tuple[int, ...] | None:
        """Links of the free-flow shortest path ``o -> d`` (``None``: none), once per pair."""
        if (o, d) not in memo:
            try:
                nodes = nx.shortest_path(road, o, d, weight="weight") if o != d else [o]
                memo[o, d] = node_path_to_links(net, nodes, t0) if len(nodes) > 1 else ()
            except nx.NetworkXNoPath:
                memo[o, d] = None
        return memo[o, d]

    for od in ods:
        o, d = od
        if o not in road or d not in road or not nx.has_path(road, o, d):
            raise NetworkError(f"OD pair {o}->{d} has no road path")
        gen = nx.shortest_simple_paths(road, o, d, weight="weight")
        paths = []
        for nodes in gen:
            paths.append(node_path_to_links(net, nodes, t0))
            if len(paths) >= k_paths:
                break
        out[(od, "regular")] = paths
        for user, kind in (("charging", "charge"), ("v2g", "v2g")):
            cand = []
            for i, ln in enumerate(net.links):
                if ln.kind == kind and (first := leg(o, ln.from_node)) is not None \
                        and (last := leg(ln.to_node, d)) is not None:
                    cand.append((*first, i, *last))
            out[(od, user)] = cand
    return out


@dataclass(frozen=True)
class Group:
    """Vehicles of one (OD, user, desired departure interval) and their choice.

    Attributes:
        od: Origin and destination.
        user: ``regular``, ``charging`` or ``v2g``.
        interval: Desired departure interval.
        depart_min: Desired departure per vehicle.
        paths: Path of every alternative (a path appears once per shift).
        shift_min: Departure shift of every alternative (empty: no departure choice, every
            alternative is a path at the desired time).
        schedule: Schedule-delay cost of every alternative (CNY; empty with ``shift_min``).
    """

    od: tuple[int, int]
    user: str
    interval: int
    depart_min: np.ndarray
    paths: list[tuple[int, ...]]
    shift_min: tuple[float, ...] = ()
    schedule: tuple[float, ...] = ()

    def shift(self, j: int) -> float:
        """Departure shift of alternative ``j`` (minutes)."""
        return self.shift_min[j] if self.shift_min else 0.0

    def shifts(self) -> np.ndarray:
        """Shifts of all alternatives (zeros without departure choice)."""
        return np.asarray(self.shift_min, dtype=float) if self.shift_min \
            else np.zeros(len(self.paths))

    def schedule_costs(self) -> np.ndarray:
        """Schedule-delay cost of all alternatives (CNY)."""
        return np.asarray(self.schedule, dtype=float) if self.schedule \
            else np.zeros(len(self.paths))


@dataclass(frozen=True)
class AssignmentResult:
    """A dynamic equilibrium.

    Attributes:
        loading: The final loading.
        groups: The demand groups.
        shares: Path shares per group.
        gaps: Relative gap after every iteration.
        costs: Generalized cost per group and path at the final iteration (CNY).
    """

    loading: Loading
    groups: list[Group]
    shares: list[np.ndarray]
    gaps: list[float]
    costs: list[np.ndarray]

    @property
    def relative_gap(self) -> float:
        """The last relative gap."""
        return self.gaps[-1]


def build_groups(net: RoadNetwork, demand: Demand, k_paths: int = 4,
                 departure: DepartureChoice | None = None) -> list[Group]:
    """Departure times per group; user types split deterministically by the shares.

    With ``departure``, the groups of its users get one alternative per (path, shift); shifts
    that would move a vehicle before the loading start are left out.
    """
    if departure is not None:
        departure.check(demand.interval_min)
    for od in demand.od_veh_h:
        if od not in net.od_veh_h and not (od[0] in net.graph and od[1] in net.graph):
            raise NetworkError(f"OD pair {od} uses nodes not in the network")
    sets = path_sets(net, list(demand.od_veh_h), k_paths)
    groups = []
    for od in demand.od_veh_h:
        for k in range(demand.n_intervals):
            start = k * demand.interval_min
            end = min(start + demand.interval_min, demand.duration_min)
            dep = departures(demand.rate(od, k), start, end)
            if dep.size == 0:
                continue
            n = dep.size
            idx = np.arange(n)
            # user types by a low-discrepancy sequence: shares hold in every group
            frac = ((idx + 0.5) * GOLDEN + 0.5 * k) % 1.0
            is_c = frac < demand.charging_share
            is_v = ~is_c & (frac < demand.charging_share + demand.v2g_share)
            for user, mask in (("regular", ~is_c & ~is_v), ("charging", is_c), ("v2g", is_v)):
                if not mask.any():
                    continue
                paths = sets[(od, user)]
                if not paths:
                    raise NetworkError(f"OD {od[0]}->{od[1]}: {user} users have no path through "
                                       "a station; add a station link on their way")
                if departure is None or user not in departure.users:
                    groups.append(Group(od, user, k, dep[mask], list(paths)))
                    continue
                ok = [d for d in sorted(departure.shifts_min) if dep[mask].min() + d >= 0.0]
                alts = [(p, d) for d in ok for p in paths]
                groups.append(Group(od, user, k, dep[mask], [p for p, _ in alts],
                                    tuple(d for _, d in alts),
                                    tuple(departure.schedule_cost(d) for _, d in alts)))
    return groups


def _assign(groups: list[Group], shares: list[np.ndarray], platoon_veh: int = 1) -> list[Trip]:
    """Trips of all groups by systematic sampling of the path shares (platoons: module doc)."""
    return _assign_counts(groups, shares, platoon_veh)[0]


def _assign_counts(groups: list[Group], shares: list[np.ndarray], platoon_veh: int = 1
                   ) -> tuple[list[Trip], list[np.ndarray]]:
    """:func:`_assign`, and the vehicles per alternative of every group."""
    trips = []
    counts = []
    vid = 0
    for g_i, (g, s) in enumerate(zip(groups, shares, strict=True)):
        n = g.depart_min.size
        cum = np.cumsum(s)
        cum[-1] = 1.0
        pick = np.searchsorted(cum, (np.arange(n) + 0.5) / n, side="right")
        pick = np.minimum(pick, len(g.paths) - 1)
        counts.append(np.bincount(pick, minlength=len(g.paths)).astype(float))
        if g.shift_min:
            shift = g.shifts()
            for t, p in zip(g.depart_min, pick, strict=True):
                trips.append(Trip(vid, g.od, g.user, float(t + shift[p]), g.paths[p], g_i))
                vid += 1
            continue
        if platoon_veh > 1 and g.user == "regular":
            for p in np.unique(pick):
                members = np.flatnonzero(pick == p)
                for lo in range(0, members.size, platoon_veh):
                    chunk = members[lo:lo + platoon_veh]
                    trips.append(Trip(vid, g.od, g.user, float(g.depart_min[chunk].mean()),
                                      g.paths[p], g_i, int(chunk.size)))
                    vid += 1
            continue
        for t, p in zip(g.depart_min, pick, strict=True):
            trips.append(Trip(vid, g.od, g.user, float(t), g.paths[p], g_i))
            vid += 1
    trips.sort(key=lambda tr: (tr.depart_min, tr.vid))
    return trips, counts


def link_time_functions(net: RoadNetwork, ld: Loading):
    """``tau_a(t)``: interpolated traversal time by entry time (free flow outside the data)."""
    order = np.lexsort((ld.enter_min, ld.link))
    link, enter, tt = ld.link[order], ld.enter_min[order], (ld.exit_min - ld.enter_min)[order]
    bounds = np.searchsorted(link, np.arange(len(net.links) + 1))
    t0 = net.t0_min.copy()
    for i, ln in enumerate(net.links):
        if ln.kind in ("charge", "v2g"):
            t0[i] = ln.t0_min + ln.service_min

    def tau(a: int, t: float) -> float:
        lo, hi = bounds[a], bounds[a + 1]
        if hi == lo:
            return float(t0[a])
        e, y = enter[lo:hi], tt[lo:hi]
        if t < e[0] or t > e[-1]:
            return float(t0[a]) if t < e[0] else float(max(t0[a], y[-1] - (t - e[-1])))
        return float(np.interp(t, e, y))

    return tau


def path_time(tau, path: tuple[int, ...], depart: float) -> float:
    """Travel time of a path for a departure at ``depart`` (walks ``tau`` link by link)."""
    t = depart
    for a in path:
        t += tau(a, t)
    return t - depart


def dynamic_ue(net: RoadNetwork, demand: Demand, link_model: LinkModel = "queue",
               prices: Prices | None = None, target_gap: float = 0.01, max_iter: int = 60,
               k_paths: int = 4, step_offset: float = 3.0, callback=None,
               initial_shares: list[np.ndarray | None] | None = None,
               station_model: str = "queue",
               departure: DepartureChoice | None = None,
               swap_cny: float | None = None) -> AssignmentResult:
    """Iterate loadings until the relative gap reaches ``target_gap`` (module docstring).

    ``station_model`` is ``queue`` (ports as hard servers) or ``bpr`` (the waiting cost
    ``t_s (1 + (h / c)^3)``); ``departure`` adds departure-time choice for its users;
    ``swap_cny`` replaces the MSA step by the proportional swap of the module docstring.

    Regular users travel in platoons of ``demand.platoon_veh`` vehicles (1: individually).
    ``initial_shares`` (e.g. the ``shares`` of an earlier equilibrium of the same network and
    demand) replaces the default start; a ``None`` entry keeps a group's default start. Band coupons
    (``prices.coupons``) are charged by the
    departure interval's start, so their ``band_min`` must be a multiple of the interval.
    """
    if demand.platoon_veh < 1 or demand.platoon_veh != int(demand.platoon_veh):
        raise ValueError(f"platoon_veh must be a whole number >= 1, got {demand.platoon_veh}")
    prices = prices or Prices()
    vot = prices.value_of_time_per_h / 60.0  # CNY per minute
    _check_bands(prices, demand.interval_min)
    if station_model not in ("queue", "bpr"):
        raise ValueError(f"station_model must be 'queue' or 'bpr', got {station_model!r}")
    groups = build_groups(net, demand, k_paths, departure)
    shares = _initial_shares(net, demand, groups, prices, vot)
    if initial_shares is not None:
        shares = _warm_start(shares, initial_shares)
    fixed = [_fixed_costs(net, g, prices, demand.interval_min) for g in groups]
    table = PathTable.build([g.paths for g in groups],
                            [float(g.depart_min.mean()) for g in groups],
                            [g.shifts() for g in groups])
    gaps: list[float] = []
    costs: list[np.ndarray] = []
    ld = None
    damp = 0
    inflow = None  # BPR: smoothed inflow per link and interval (veh/h)
    for n in range(1, max_iter + 1):
        trips, counts = _assign_counts(groups, shares, demand.platoon_veh)
        ld = load(net, trips, link_model, window_min=demand.interval_min,
                  station_model=station_model, inflow_veh_h=inflow)
        if link_model == "bpr":
            fresh = _inflow_table(net, ld, demand.interval_min)
            inflow = fresh if inflow is None else _smooth(inflow, fresh, 1.0 / (n + 1))
        # path_time of every group's paths at its mean departure, all at once (path_cost)
        times = table.group_times(LinkTimes.from_loading(net, ld))
        excess = 0.0
        costs = [vot * tt + fx for tt, fx in zip(times, fixed, strict=True)]
        for c, cnt in zip(costs, counts, strict=True):
            excess += float(cnt @ (c - c.min()))
        trip_time = ld.travel_time_min()
        if demand.platoon_veh > 1:
            trip_time = trip_time * ld.trip_veh
        total_time = float(np.nansum(trip_time))
        gap = excess / (vot * total_time) if total_time > 0 else 0.0
        gaps.append(gap)
        if callback is not None:
            callback(n, gap)
        if gap <= target_gap:
            break
        if len(gaps) > 1 and gap > gaps[-2]:
            damp += 1  # the last move overshot: take smaller steps from now on
        step = 1.0 / (n + 1 + step_offset) / (1 + damp)
        for i, c in enumerate(costs):
            if swap_cny is not None:
                shares[i] = _swap(shares[i], c, swap_cny * (1 + damp))
                continue
            aon = np.zeros_like(shares[i])
            aon[int(np.argmin(c))] = 1.0
            shares[i] = shares[i] + step * (aon - shares[i])
    if ld is None:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    return AssignmentResult(loading=ld, groups=groups, shares=shares, gaps=gaps, costs=costs)


def _initial_shares(net: RoadNetwork, demand: Demand, groups: list[Group], prices: Prices,
                    vot: float) -> list[np.ndarray]:
    """Initial path shares.

    Regular users start from the static UE path split of their OD (its paths join the path
    set); station users from the free-flow cheapest path.
    """
    from traffic.static import static_ue

    road = RoadNetwork(net.name, net.road_only().links, dict(demand.od_veh_h))
    sue = static_ue(road, target_gap=1e-6)
    shares = []
    t0 = net.t0_min
    for g in groups:
        if g.user == "regular" and g.od in sue.paths:
            split = {p: f for p, f in sue.paths[g.od] if f > 1e-9}
            for p in split:
                if p not in g.paths:
                    g.paths.append(p)
            s = np.array([split.get(p, 0.0) for p in g.paths])
            shares.append(s / s.sum())
            continue
        ff = np.array([t0[list(p)].sum() * vot for p in g.paths]) \
            + _fixed_costs(net, g, prices, demand.interval_min)
        s = np.zeros(len(g.paths))
        s[int(np.argmin(ff))] = 1.0
        shares.append(s)
    return shares


def _swap(share: np.ndarray, cost: np.ndarray, kappa: float) -> np.ndarray:
    """Proportional swap towards the cheapest alternative (module docstring, step 5)."""
    best = int(np.argmin(cost))
    moved = share * np.minimum(1.0, (cost - cost[best]) / kappa)
    moved[best] = 0.0
    out = share - moved
    out[best] += moved.sum()
    return out


def _fixed_costs(net: RoadNetwork, g: Group, prices: Prices, interval_min: float) -> np.ndarray:
    """Money (coupons of the band of the shifted departure) plus schedule delay, per
    alternative (CNY)."""
    start = g.interval * interval_min
    return np.array([money(net, p, g.user, prices, start + g.shift(j))
                     for j, p in enumerate(g.paths)]) + g.schedule_costs()


def _check_bands(prices: Prices, interval_min: float) -> None:
    if prices.coupons is not None:
        ratio = prices.coupons.band_min / interval_min
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"coupon band_min {prices.coupons.band_min} is not a multiple of "
                             f"the demand interval {interval_min} min")


def _warm_start(default: list[np.ndarray], given: list[np.ndarray | None]) -> list[np.ndarray]:
    """``given`` shares (copied; ``None``: the default) after checking they fit the groups."""
    if len(given) != len(default) or any(g is not None and np.shape(g) != d.shape
                                         for g, d in zip(given, default, strict=True)):
        raise ValueError("initial_shares do not match the groups and path sets of this "
                         "network and demand")
    return [d if g is None else np.asarray(g, dtype=float).copy()
            for g, d in zip(given, default, strict=True)]


def _inflow_table(net: RoadNetwork, ld: Loading, interval_min: float) -> np.ndarray:
    """Inflow rate per link and interval (veh/h) of a loading."""
    n_int = int(ld.enter_min.max(initial=0.0) // interval_min) + 2
    k = (ld.enter_min // interval_min).astype(int)
    table = np.zeros((len(net.links), n_int))
    np.add.at(table, (ld.link, k), 60.0 / interval_min * ld.traversal_veh)
    return table


def _smooth(old: np.ndarray, new: np.ndarray, step: float) -> np.ndarray:
    """``old + step (new - old)`` on the union of both interval ranges."""
    width = max(old.shape[1], new.shape[1])
    a = np.zeros((old.shape[0], width))
    b = np.zeros_like(a)
    a[:, :old.shape[1]] = old
    b[:, :new.shape[1]] = new
    return a + step * (b - a)
