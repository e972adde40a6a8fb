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

import itertools
from dataclasses import dataclass

import networkx as nx
import numpy as np

from traffic.compiled_paths import sample_paths
from traffic.dynamic import LinkModel, Loading, Traversals, Trip, departures, load_paths
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


@dataclass(frozen=True)
class _Choices:
    """All groups' alternatives and vehicles as flat arrays (what every loading samples).

    Attributes:
        alt_ptr: First alternative of every group (length ``n_groups + 1``).
        veh_ptr: First vehicle of every group (length ``n_groups + 1``).
        veh_group: Group of every vehicle.
        depart_min: Desired departure of every vehicle (group order).
        shift_min: Departure shift of every alternative.
        path_ptr: First link of every alternative's path in ``path_link``.
        path_link: Links of all alternatives' paths.
    """

    alt_ptr: np.ndarray
    veh_ptr: np.ndarray
    veh_group: np.ndarray
    depart_min: np.ndarray
    shift_min: np.ndarray
    path_ptr: np.ndarray
    path_link: np.ndarray

    @classmethod
    def of(cls, groups: list[Group]) -> _Choices:
        """The flat arrays of the groups (their path sets as they are now)."""
        n_alt = np.array([len(g.paths) for g in groups], dtype=np.int64)
        n_veh = np.array([g.depart_min.size for g in groups], dtype=np.int64)
        paths = [p for g in groups for p in g.paths]
        path_ptr = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in paths], out=path_ptr[1:])
        return cls(alt_ptr=_ptr(n_alt), veh_ptr=_ptr(n_veh),
                   veh_group=np.repeat(np.arange(len(groups), dtype=np.int64), n_veh),
                   depart_min=_flat([g.depart_min for g in groups]),
                   shift_min=_flat([g.shifts() for g in groups]), path_ptr=path_ptr,
                   path_link=np.fromiter(itertools.chain.from_iterable(paths), dtype=np.int64,
                                         count=int(path_ptr[-1])))


@dataclass(frozen=True)
class _Sample:
    """The trips of one loading, sorted by departure (ties in construction order).

    Attributes:
        vid: Vehicle id (its position in construction order: groups in order, a group's
            vehicles in order; platoons by path, then by departure).
        depart_min: Departure time.
        n_veh: Vehicles per trip (float; more than 1 for a platoon).
        alt: Alternative taken (index into the flat alternatives of :class:`_Choices`).
        group: Group of the trip.
    """

    vid: np.ndarray
    depart_min: np.ndarray
    n_veh: np.ndarray
    alt: np.ndarray
    group: np.ndarray


def _ptr(sizes: np.ndarray) -> np.ndarray:
    """CSR offsets of consecutive blocks of the given sizes."""
    out = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays concatenated as floats (empty for none)."""
    return np.concatenate([np.asarray(x, dtype=float) for x in arrays] + [np.zeros(0)])


def _assign(groups: list[Group], shares: list[np.ndarray], platoon_veh: int = 1) -> list[Trip]:
    """Trips of all groups by systematic sampling of the path shares (platoons: module doc)."""
    ch = _Choices.of(groups)
    sample, _ = _sample(groups, ch, _flat(shares), platoon_veh)
    return _trips(groups, ch, sample)


def _sample(groups: list[Group], ch: _Choices, shares: np.ndarray, platoon_veh: int = 1
            ) -> tuple[_Sample, np.ndarray]:
    """The trips of the flat ``shares`` (systematic sampling, then platoons) and the vehicles
    per alternative."""
    pick = np.empty(ch.depart_min.size, dtype=np.int64)
    counts = np.empty(shares.size)
    sample_paths(shares, ch.alt_ptr, ch.veh_ptr, pick, counts)
    depart = ch.depart_min + ch.shift_min[pick]
    n_veh, group = np.ones(depart.size), ch.veh_group
    if platoon_veh > 1:
        depart, n_veh, pick, group = _platoons(groups, ch, pick, depart, platoon_veh)
    order = np.argsort(depart, kind="stable")
    return _Sample(vid=order, depart_min=depart[order], n_veh=n_veh[order], alt=pick[order],
                   group=group[order]), counts


def _platoons(groups: list[Group], ch: _Choices, pick: np.ndarray, depart: np.ndarray,
              platoon_veh: int) -> tuple[np.ndarray, ...]:
    """Regular users bundled into platoons: per group and path, in departure order, chunks of
    ``platoon_veh`` at their mean departure; departures, vehicles, alternatives, groups."""
    dep, veh, alt, grp = [], [], [], []
    for g_i, g in enumerate(groups):
        lo, hi = int(ch.veh_ptr[g_i]), int(ch.veh_ptr[g_i + 1])
        if g.user != "regular" or g.shift_min:
            dep.append(depart[lo:hi])
            veh.append(np.ones(hi - lo))
            alt.append(pick[lo:hi])
            grp.append(np.full(hi - lo, g_i, dtype=np.int64))
            continue
        mine = pick[lo:hi]
        for p in np.unique(mine):
            members = np.flatnonzero(mine == p)
            for c in range(0, members.size, platoon_veh):
                chunk = members[c:c + platoon_veh]
                dep.append(np.array([float(g.depart_min[chunk].mean())]))
                veh.append(np.array([float(chunk.size)]))
                alt.append(np.array([p], dtype=np.int64))
                grp.append(np.array([g_i], dtype=np.int64))
    none = np.zeros(0, dtype=np.int64)
    return _flat(dep), _flat(veh), np.concatenate([*alt, none]), np.concatenate([*grp, none])


def _load_sample(net: RoadNetwork, ch: _Choices, sample: _Sample, link_model: LinkModel,
                 window_min: float, station_model: str,
                 inflow_veh_h: np.ndarray | None) -> Traversals:
    """Load the sampled trips (``traffic.dynamic.load_paths``)."""
    first = ch.path_ptr[sample.alt]
    lengths = ch.path_ptr[sample.alt + 1] - first
    ptr = _ptr(lengths)
    index = np.arange(ptr[-1], dtype=np.int64) + np.repeat(first - ptr[:-1], lengths)
    return load_paths(net, sample.depart_min, sample.n_veh, ptr, ch.path_link[index],
                      link_model, window_min, station_model, inflow_veh_h)


def _trips(groups: list[Group], ch: _Choices, sample: _Sample) -> list[Trip]:
    """The sampled trips as :class:`Trip` objects (in the sample's order)."""
    local = (sample.alt - ch.alt_ptr[sample.group]).tolist()
    return [Trip(v, groups[g].od, groups[g].user, d, groups[g].paths[p], g, int(w))
            for v, d, p, g, w in zip(sample.vid.tolist(), sample.depart_min.tolist(), local,
                                     sample.group.tolist(), sample.n_veh.tolist(),
                                     strict=True)]


def _loading(groups: list[Group], ch: _Choices, sample: _Sample, tr: Traversals) -> Loading:
    """The :class:`Loading` of a sample and its traversals."""
    return Loading(trips=tuple(_trips(groups, ch, sample)), link=tr.link,
                   vid=sample.vid[tr.trip], enter_min=tr.enter_min, exit_min=tr.exit_min,
                   wait_min=tr.wait_min, arrive_min=tr.arrive_min,
                   veh=sample.n_veh[tr.trip])


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
    fixed = _flat([_fixed_costs(net, g, prices, demand.interval_min) for g in groups])
    table = PathTable.build([g.paths for g in groups],
                            [float(g.depart_min.mean()) for g in groups],
                            [g.shifts() for g in groups])
    ch = _Choices.of(groups)
    alt_start = ch.alt_ptr[:-1]
    alt_n = np.diff(ch.alt_ptr)
    share = _flat(shares)
    gaps: list[float] = []
    cost = np.zeros(0)
    last: tuple[_Sample, Traversals] | None = None
    damp = 0
    inflow = None  # BPR: smoothed inflow per link and interval (veh/h)
    for n in range(1, max_iter + 1):
        sample, counts = _sample(groups, ch, share, demand.platoon_veh)
        tr = _load_sample(net, ch, sample, link_model, demand.interval_min, station_model,
                          inflow)
        last = sample, tr
        if link_model == "bpr":
            fresh = _inflow_table(net, tr.link, tr.enter_min, sample.n_veh[tr.trip],
                                  demand.interval_min)
            inflow = fresh if inflow is None else _smooth(inflow, fresh, 1.0 / (n + 1))
        # path_time of every group's paths at its mean departure, all at once (path_cost)
        times = table.flat_times(LinkTimes.from_traversals(net, tr.link, tr.enter_min,
                                                           tr.exit_min))
        cost = vot * times + fixed
        least = np.repeat(np.minimum.reduceat(cost, alt_start), alt_n)
        excess = float(np.add.reduceat(counts * (cost - least), alt_start).sum())
        trip_time = tr.arrive_min - sample.depart_min
        if demand.platoon_veh > 1:
            trip_time = trip_time * sample.n_veh
        total_time = float(np.nansum(trip_time))
        gap = excess / (vot * total_time) if total_time > 0 else 0.0
        gaps.append(gap)
        if callback is not None:
            callback(n, gap)
        if gap <= target_gap:
            break
        if len(gaps) > 1 and gap > gaps[-2]:
            damp += 1  # the last move overshot: take smaller steps from now on
        share = _next_shares(share, cost, least, ch.alt_ptr, n, step_offset, damp, swap_cny)
    if last is None:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    bounds = ch.alt_ptr[1:-1]
    return AssignmentResult(loading=_loading(groups, ch, *last), groups=groups,
                            shares=np.split(share, bounds), gaps=gaps,
                            costs=np.split(cost, bounds))


def _next_shares(share: np.ndarray, cost: np.ndarray, least: np.ndarray, alt_ptr: np.ndarray,
                 n: int, step_offset: float, damp: int, swap_cny: float | None) -> np.ndarray:
    """The shares after loading ``n`` (flat over every group's alternatives, ``alt_ptr`` their
    group boundaries): the proportional swap of the module docstring at ``swap_cny (1 +
    damp)``, else the MSA step ``1 / ((n + 1 + step_offset)(1 + damp))`` towards the
    all-or-nothing split on each group's first cheapest alternative."""
    if swap_cny is not None:
        return np.concatenate([_swap(share[lo:hi], cost[lo:hi], swap_cny * (1 + damp))
                               for lo, hi in itertools.pairwise(alt_ptr)]
                              + [np.zeros(0)])
    step = 1.0 / (n + 1 + step_offset) / (1 + damp)
    at_least = np.flatnonzero(cost == least)
    aon = np.zeros_like(share)  # all or nothing: the first cheapest alternative
    aon[at_least[np.searchsorted(at_least, alt_ptr[:-1])]] = 1.0
    return share + step * (aon - share)


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


def _inflow_table(net: RoadNetwork, link: np.ndarray, enter_min: np.ndarray, veh: np.ndarray,
                  interval_min: float) -> np.ndarray:
    """Inflow rate per link and interval (veh/h) of a loading's traversals (link, entry time
    and vehicles per traversal)."""
    n_int = int(enter_min.max(initial=0.0) // interval_min) + 2
    k = (enter_min // interval_min).astype(int)
    table = np.zeros((len(net.links), n_int))
    np.add.at(table, (link, k), 60.0 / interval_min * veh)
    return table


def _smooth(old: np.ndarray, new: np.ndarray, step: float) -> np.ndarray:
    """``old + step (new - old)`` on the union of both interval ranges."""
    width = max(old.shape[1], new.shape[1])
    a = np.zeros((old.shape[0], width))
    b = np.zeros_like(a)
    a[:, :old.shape[1]] = old
    b[:, :new.shape[1]] = new
    return a + step * (b - a)
