"""The compiled (numba) per-path loops of the assignment (``traffic.assignment``).

Two loops over every path of every group run once per loading and were the assignment's
cost at city scale:

* :func:`walk_paths` — the travel time of every path at its departure time, walking the
  loading's link times ``tau_a(t)`` link by link (``traffic.path_cost``);
* :func:`sample_paths` — the systematic sampling of every group's path shares into one path
  per vehicle (``traffic.assignment``).

**Same numbers.** Both apply the operations of the code they replace in the same order: the
link time is ``np.interp``'s (the same interval search and arithmetic, the knot's value on a
knot), the cumulative shares are summed left to right as ``np.cumsum`` does, and a vehicle's
sampling point ``(i + 0.5) / n`` is located as ``np.searchsorted(..., side="right")`` does, so
path times and picks are bitwise those of the array code. Every kernel these call is in this
file (numba's disk cache is keyed by the kernel's source file, see ``flexibility.compiled``).
"""

from __future__ import annotations

from flexibility.compiled import kernel


@kernel
def search_right(values, lo, hi, x):  # pragma: no cover
    """The first index ``i`` in ``lo .. hi`` with ``values[i] > x`` (``hi`` if none), as
    ``np.searchsorted(values[lo:hi], x, side="right") + lo`` finds it; ``values`` sorted."""
    left, right = lo, hi
    while left < right:
        mid = (left + right) >> 1
        if values[mid] <= x:
            left = mid + 1
        else:
            right = mid
    return left


@kernel
def link_time(a, t, enter, tt, bounds, t0):  # pragma: no cover
    """``tau_a(t)``: traversal time of link ``a`` entered at ``t`` (``traffic.path_cost``).

    Linear interpolation of the link's traversal times ``tt`` over its entry times ``enter``
    (samples ``bounds[a]:bounds[a + 1]``, sorted by entry); ``t0[a]`` before the first sample or
    without samples; after the last, its time less the time since (at least ``t0[a]``).
    """
    lo, hi = bounds[a], bounds[a + 1]
    if hi == lo or t < enter[lo]:
        return t0[a]
    last = hi - 1
    if t > enter[last]:
        after = tt[last] - (t - enter[last])
        return after if after > t0[a] else t0[a]
    j = search_right(enter, lo, hi, t) - 1  # enter[j] <= t < enter[j + 1]
    if j == last or enter[j] == t:
        return tt[j]
    slope = (tt[j + 1] - tt[j]) / (enter[j + 1] - enter[j])
    return slope * (t - enter[j]) + tt[j]


@kernel
def walk_paths(links, lengths, depart, enter, tt, bounds, t0, out):  # pragma: no cover
    """Travel time of every path: ``t += tau(a, t)`` along its links from its departure.

    Args:
        links: ``(P, W)`` link per path and position (padded past ``lengths``).
        lengths: ``(P,)`` links per path.
        depart: ``(P,)`` departure time per path.
        enter: Entry time per traversal, sorted by (link, entry).
        tt: Traversal time per traversal (same order).
        bounds: ``(L + 1,)`` first traversal of every link.
        t0: ``(L,)`` link time outside the data.
        out: ``(P,)`` filled with the travel times (arrival less departure).
    """
    for r in range(links.shape[0]):
        t = depart[r]
        for i in range(lengths[r]):
            t += link_time(links[r, i], t, enter, tt, bounds, t0)
        out[r] = t - depart[r]


@kernel
def sample_paths(shares, alt_ptr, veh_ptr, pick, counts):  # pragma: no cover
    """Systematic sampling of every group's shares: vehicle ``i`` of ``n`` takes the
    alternative whose cumulative share interval holds ``(i + 0.5) / n``.

    Args:
        shares: Shares of all groups' alternatives (group ``g``'s are
            ``alt_ptr[g]:alt_ptr[g + 1]``).
        alt_ptr: ``(G + 1,)`` first alternative of every group.
        veh_ptr: ``(G + 1,)`` first vehicle of every group.
        pick: Filled with the alternative (index into ``shares``) of every vehicle.
        counts: Filled with the vehicles per alternative (zeroed here).
    """
    counts[:] = 0.0
    cum = shares.copy()
    for g in range(alt_ptr.size - 1):
        lo, hi = alt_ptr[g], alt_ptr[g + 1]
        acc = 0.0
        for k in range(lo, hi):
            acc += shares[k]
            cum[k] = acc
        cum[hi - 1] = 1.0
        n = veh_ptr[g + 1] - veh_ptr[g]
        for i in range(n):
            x = (i + 0.5) / n
            left = search_right(cum, lo, hi, x)  # first cum > x
            k = left if left < hi else hi - 1
            pick[veh_ptr[g] + i] = k
            counts[k] += 1.0
