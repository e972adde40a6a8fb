"""Path travel times over a loading (all groups' paths at once).

``assignment.link_time_functions`` gives a link's travel time ``tau_a(t)`` by entry time and
``assignment.path_time`` walks a path link by link (``t += tau_a(t)``). At city scale that walk,
one ``np.interp`` per link per path per group, dominates the assignment. Here the same walk runs
compiled over all paths (``traffic.compiled_paths.walk_paths``), with ``tau`` evaluated exactly
as the scalar function does it (the same interval search and arithmetic as ``np.interp``), so
the times are bitwise those of ``path_time``. :meth:`LinkTimes.tau` evaluates ``tau`` for arrays
of links and times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traffic.compiled_paths import walk_paths
from traffic.dynamic import Loading
from traffic.network import RoadNetwork


def free_flow_times(net: RoadNetwork) -> np.ndarray:
    """Link time without data: free flow, plus the service time on station links."""
    t0 = net.t0_min.astype(float)
    for i, ln in enumerate(net.links):
        if ln.kind in ("charge", "v2g"):
            t0[i] = ln.t0_min + ln.service_min
    return t0


@dataclass(frozen=True)
class LinkTimes:
    """A loading's traversals sorted by (link, entry time); ``bounds[a]:bounds[a+1]`` are ``a``'s.

    Attributes:
        enter: Entry times.
        tt: Traversal times.
        bounds: Start of every link's samples (length ``n_links + 1``).
        t0: Time of a link outside its data (``free_flow_times``).
    """

    enter: np.ndarray
    tt: np.ndarray
    bounds: np.ndarray
    t0: np.ndarray

    @classmethod
    def from_loading(cls, net: RoadNetwork, ld: Loading) -> LinkTimes:
        """The table of a loading (sorted as ``link_time_functions`` sorts it)."""
        return cls.from_traversals(net, ld.link, ld.enter_min, ld.exit_min)

    @classmethod
    def from_traversals(cls, net: RoadNetwork, link: np.ndarray, enter_min: np.ndarray,
                        exit_min: np.ndarray) -> LinkTimes:
        """The table of traversals given as link, entry and exit time arrays."""
        order = np.lexsort((enter_min, link))
        enter = np.asarray(enter_min[order], dtype=float)
        tt = np.asarray((exit_min - enter_min)[order], dtype=float)
        bounds = np.searchsorted(link[order], np.arange(len(net.links) + 1))
        return cls(enter, tt, bounds, free_flow_times(net))

    def tau(self, a: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``tau_a(t)`` for arrays of links and entry times (``link_time_functions``' rule)."""
        lo, hi = self.bounds[a], self.bounds[a + 1]
        t0 = self.t0[a]
        n = self.enter.size
        if n == 0:
            return t0.copy()
        # first sample of the link later than t (np.interp's interval: e[j] <= t < e[j + 1])
        left, right = lo.copy(), hi.copy()
        while True:
            open_ = left < right
            if not open_.any():
                break
            mid = (left + right) >> 1
            ahead = open_ & (self.enter[np.minimum(mid, n - 1)] <= t)
            left = np.where(ahead, mid + 1, left)
            right = np.where(open_ & ~ahead, mid, right)
        empty = hi == lo
        first = np.minimum(lo, n - 1)
        last = np.clip(hi - 1, 0, n - 1)
        e_first, e_last, y_last = self.enter[first], self.enter[last], self.tt[last]
        j = np.clip(left - 1, 0, n - 1)
        j1 = np.minimum(j + 1, n - 1)
        ej, yj = self.enter[j], self.tt[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (self.tt[j1] - yj) / (self.enter[j1] - ej)
            inner = slope * (t - ej) + yj
        inner = np.where((j == hi - 1) | (ej == t), yj, inner)
        after = np.maximum(t0, y_last - (t - e_last))
        out = np.where(t > e_last, after, inner)
        return np.where(empty | (t < e_first), t0, out)


@dataclass(frozen=True)
class PathTable:
    """Paths of all groups as a padded link matrix (rows sorted by length, longest first).

    Attributes:
        links: Link per row and position (``-1`` past the end of a path).
        depart: Departure time per row.
        lengths: Links per row (non-increasing).
        order: Row of every (group, path) pair in group order.
        offsets: First pair of every group in ``order`` (length ``n_groups + 1``).
    """

    links: np.ndarray
    depart: np.ndarray
    lengths: np.ndarray
    order: np.ndarray
    offsets: np.ndarray

    @classmethod
    def build(cls, paths: list[list[tuple[int, ...]]], depart: list[float],
              shifts: list[np.ndarray] | None = None) -> PathTable:
        """Table of every group's paths, each costed at its group's departure time plus the
        path's departure shift (``shifts``: per group, one per path; default none)."""
        flat = [p for ps in paths for p in ps]
        dep = np.repeat(np.asarray(depart, dtype=float), [len(ps) for ps in paths])
        if shifts is not None:
            dep = dep + np.concatenate([np.asarray(x, dtype=float) for x in shifts]
                                       + [np.zeros(0)])
        lengths = np.array([len(p) for p in flat], dtype=np.int64)
        width = int(lengths.max(initial=0))
        mat = np.full((len(flat), width), -1, dtype=np.int64)
        for r, p in enumerate(flat):
            mat[r, :len(p)] = p
        rows = np.argsort(-lengths, kind="stable")
        order = np.empty_like(rows)
        order[rows] = np.arange(rows.size)
        offsets = np.concatenate([[0], np.cumsum([len(ps) for ps in paths])]).astype(np.int64)
        return cls(mat[rows], dep[rows], lengths[rows], order, offsets)

    def times(self, lt: LinkTimes) -> np.ndarray:
        """Travel time of every row (``path_time`` of every path)."""
        out = np.empty(self.depart.size)
        walk_paths(self.links, self.lengths, self.depart, lt.enter, lt.tt, lt.bounds, lt.t0,
                   out)
        return out

    def flat_times(self, lt: LinkTimes) -> np.ndarray:
        """Path travel times of all groups in group and path order (group ``g``'s are
        ``offsets[g]:offsets[g + 1]``)."""
        return self.times(lt)[self.order]

    def group_times(self, lt: LinkTimes) -> list[np.ndarray]:
        """Path travel times per group (in the groups' path order)."""
        tt = self.flat_times(lt)
        return [tt[self.offsets[g]:self.offsets[g + 1]] for g in range(self.offsets.size - 1)]
