"""The largest common deviation battery of several scenarios under the energy-share policy.

The share policy (``flexibility.share_policy``) gives vehicle ``i`` of scenario ``m`` the part
``omega_i,t s_t`` of an aggregate deviation, ``s_t = D_t / Omega_t``, ``Omega_t = sum_i omega_i,t``
and ``D_t = dt sum_{s<=t} delta_s``. ``flexibility.inner`` bounds ``|s_t| <= k_t`` in closed form
per scenario and intersects the scenarios' batteries row by row. Here one linear program finds
the largest battery deliverable in *every* kept scenario at once, with asymmetric energy bands.

**Package.** Per interval four bounds ``Up_t, Dn_t, Ep_t, Em_t >= 0``:

    P = { delta :  -Dn_t <= delta_t <= Up_t,   -Em_t <= D_t <= Ep_t }.

**Rows.** Vehicle (or station) ``i`` moves by ``(C_t - C_{t-1}) / dt`` with ``C_t = omega_t s_t``;
since ``Omega_t s_t = D_{t-1} + delta_t dt`` and ``D_{t-1} = Omega_{t-1} s_{t-1}``,

    (C_t - C_{t-1}) = phi_t delta_t dt + c_t s_{t-1},   phi = omega / Omega,
                                                       c_t = Δomega_t - phi_t ΔOmega_t.

Over ``P`` (``s_{t-1}`` in ``[-Em_{t-1}, Ep_{t-1}] / Omega_{t-1}``; the coupling of ``delta_t``
and ``D_{t-1}`` is dropped, which only tightens) the vehicle stays in its power box when

    phi Up_t dt + (c^+ Ep_{t-1} + c^- Em_{t-1}) / Omega_{t-1} <= u dt,   u = max(p_hi - r, 0),
    phi Dn_t dt + (c^+ Em_{t-1} + c^- Ep_{t-1}) / Omega_{t-1} <= l dt,   l = max(r - p_lo, 0),

and a station ``j`` likewise with ``W_j = sum_{i in j} omega_i`` against its network box. Its
energy stays in its band when ``omega Ep_t / Omega_t <= Y^+ - Y^r`` (and ``Em`` against
``Y^r - Y^-``); the policy's shares hold ``omega <= min(Y^+ - Y^r, Y^r - Y^-)``, so the bounds
``Ep_t, Em_t <= Omega_t`` keep them (a state bound ``|s_t| <= kappa``, ``Ep_t, Em_t <= kappa
Omega_t``, may be asked for). Where ``Omega_t = 0`` no vehicle holds a share:
``Ep_t = Em_t = 0`` (the deviation is back to 0). With ``Ep = Em = k Omega`` these rows are those
of the closed form (``|c| <= |Δomega| + phi |ΔOmega|``), so its battery is a feasible point.

**Consistency.** The rows ``Up_t dt <= Ep_t + Em_{t-1}``, ``Dn_t dt <= Em_t + Ep_{t-1}``,
``Ep_t <= Ep_{t-1} + Up_t dt``, ``Em_t <= Em_{t-1} + Dn_t dt``, ``Ep_{t-1} <= Ep_t + Dn_t dt``,
``Em_{t-1} <= Em_t + Up_t dt`` (``E_{-1} = 0``) make ``P`` tight (``Battery.tightened`` keeps it),
so ``sum_t (Up_t + Dn_t) dt`` is its area.

**Program.** Maximise ``sum_t (Up_t + Dn_t) + w sum_t (Ep_t + Em_t)`` (``w`` small: the bands
only break ties) over the rows of every kept scenario. Each scenario's rows come reduced from
the compiled chain (``flexibility.compiled.share_rows``: per interval and kind only the hull
vertices of the normalised rows bind). They are still many (scenarios x intervals x kinds x
vertices), so the program is solved by constraint generation: start with the tightest power row,
the tightest transfer row and the row of largest ``alpha + beta`` of every interval and kind,
solve (HiGHS, warm-started), check all rows at once, add the most violated row of every interval
and kind, repeat. The result is
scaled onto the rows (``1 / max activity``, at most a rounding off 1) and tightened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flexibility.battery import Battery
from flexibility.compiled import ROW_BIG
from flexibility.fleet import FloatArray
from flexibility.lp import LinearProgram, add_rows, solve

ROW_VERTICES = 6
"""Hull vertices kept per scenario, interval and kind (more: the rest merged conservatively)."""
BAND_WEIGHT = 1e-4
"""Objective weight of the energy bands (per kWh) beside the power bounds (per kW)."""
ROW_TOL = 1e-9
"""Violation of a normalised row (activity above 1) that adds it to the program."""
MAX_ROUNDS = 60

# kind q -> (power column block, energy column block of interval t - 1): blocks Up, Dn, Ep, Em
_POWER_BLOCK = np.array([0, 0, 1, 1])
_ENERGY_BLOCK = np.array([2, 3, 3, 2])


@dataclass(frozen=True)
class ShareRows:
    """Deliverability rows of the share policy per scenario (``flexibility.compiled.share_rows``).

    Row ``(alpha, beta)`` of kind ``q`` at interval ``t`` reads ``alpha X_t + beta E_{t-1} <= 1``
    with ``(X, E)`` = ``(Up, Ep)``, ``(Up, Em)``, ``(Dn, Em)``, ``(Dn, Ep)`` for ``q = 0..3``.

    Attributes:
        power_coef_per_kw: ``alpha`` ``(M, T, 4, K)``.
        energy_coef_per_kwh: ``beta`` ``(M, T, 4, K)``.
        n_rows: Rows in use per scenario, interval and kind ``(M, T, 4)``.
        limits: Upper bounds of ``(Up kW, Dn kW, Ep kWh, Em kWh)`` per scenario ``(M, 4, T)``:
            ``inf`` or 0 for the powers, ``Omega_t`` or 0 for the bands.
        dt_h: Interval length.
    """

    power_coef_per_kw: FloatArray
    energy_coef_per_kwh: FloatArray
    n_rows: np.ndarray
    limits: FloatArray
    dt_h: float

    def take(self, index) -> ShareRows:
        """Select scenarios."""
        return ShareRows(self.power_coef_per_kw[index], self.energy_coef_per_kwh[index],
                         self.n_rows[index], self.limits[index], self.dt_h)

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The rows in use as flat arrays ``(scenario, interval, kind, alpha, beta)``."""
        k = self.power_coef_per_kw.shape[-1]
        live = np.arange(k) < self.n_rows[..., None]
        m, t, q, _ = np.nonzero(live)
        return m, t, q, self.power_coef_per_kw[live], self.energy_coef_per_kwh[live]


def row_buffers(n_scenarios: int, n_intervals: int
                ) -> tuple[FloatArray, FloatArray, np.ndarray, FloatArray]:
    """Output arrays of the compiled rows for ``M`` scenarios (``T = 0``: no rows wanted)."""
    shape = (n_scenarios, n_intervals, 4)
    return (np.zeros((*shape, ROW_VERTICES)), np.zeros((*shape, ROW_VERTICES)),
            np.zeros(shape, dtype=np.int64), np.zeros((n_scenarios, 4, n_intervals)))


def rows_of(buffers: tuple[FloatArray, FloatArray, np.ndarray, FloatArray],
            dt_h: float) -> ShareRows:
    """:class:`ShareRows` of filled :func:`row_buffers`."""
    return ShareRows(*buffers, dt_h=dt_h)


def _grouped(rows: ShareRows) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray]:
    """The rows grouped by interval and kind: ``alpha``, ``beta`` ``(4 T, M K)`` (rows not in
    use are 0: they never bind) and each group's power and energy column ``(4 T,)`` (the
    energy column of ``t = 0`` is the extra column ``4 T``: ``E_{-1} = 0``)."""
    m, n_t, _, k = rows.power_coef_per_kw.shape
    live = np.arange(k) < rows.n_rows[..., None]

    def group(x: FloatArray) -> FloatArray:
        return np.where(live, x, 0.0).transpose(1, 2, 0, 3).reshape(4 * n_t, m * k)

    t, q = np.divmod(np.arange(4 * n_t), 4)
    power = _POWER_BLOCK[q] * n_t + t
    energy = np.where(t > 0, _ENERGY_BLOCK[q] * n_t + t - 1, 4 * n_t)
    return group(rows.power_coef_per_kw), group(rows.energy_coef_per_kwh), power, energy


# the consistency rows (module docstring), each "<= 0", from interval ``first`` on: terms
# (column block, shift, coefficient, coefficient per dt); a term at t - 1 < 0 is E_{-1} = 0
_UP, _DN, _EP, _EM = range(4)
_TIGHT = (
    (0, ((_UP, 0, 0.0, 1.0), (_EP, 0, -1.0, 0.0), (_EM, -1, -1.0, 0.0))),  # Up dt <= Ep + Em'
    (0, ((_DN, 0, 0.0, 1.0), (_EM, 0, -1.0, 0.0), (_EP, -1, -1.0, 0.0))),  # Dn dt <= Em + Ep'
    (0, ((_EP, 0, 1.0, 0.0), (_EP, -1, -1.0, 0.0), (_UP, 0, 0.0, -1.0))),  # Ep <= Ep' + Up dt
    (0, ((_EM, 0, 1.0, 0.0), (_EM, -1, -1.0, 0.0), (_DN, 0, 0.0, -1.0))),  # Em <= Em' + Dn dt
    (1, ((_EP, -1, 1.0, 0.0), (_EP, 0, -1.0, 0.0), (_DN, 0, 0.0, -1.0))),  # Ep' <= Ep + Dn dt
    (1, ((_EM, -1, 1.0, 0.0), (_EM, 0, -1.0, 0.0), (_UP, 0, 0.0, -1.0))),  # Em' <= Em + Up dt
)


def tight_rows(n_t: int, dt_h: float) -> sp.csr_matrix:
    """The consistency rows of a package over ``T`` intervals (module docstring; a prime is
    interval ``t - 1``), columns ``(Up, Dn, Ep, Em)`` (``T`` each); every row is ``<= 0``."""
    rows, cols, vals = [], [], []
    r0 = 0
    for first, terms in _TIGHT:
        t = np.arange(first, n_t)
        for block, shift, coef, per_dt in terms:
            ok = t + shift >= 0
            rows.append(r0 + np.flatnonzero(ok))
            cols.append(block * n_t + (t + shift)[ok])
            vals.append(np.full(int(ok.sum()), coef + per_dt * dt_h))
        r0 += t.size
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(r0, 4 * n_t))


def _row_block(groups: np.ndarray, alpha: FloatArray, beta: FloatArray, power: np.ndarray,
               energy: np.ndarray, n_col: int) -> sp.csr_matrix:
    """Rows ``alpha X + beta E`` of groups ``groups`` (``E_{-1}``, column ``n_col``, left
    out)."""
    n = groups.size
    has_e = (energy[groups] < n_col) & (beta != 0.0)
    r = np.r_[np.arange(n), np.flatnonzero(has_e)]
    c = np.r_[power[groups], energy[groups][has_e]]
    v = np.r_[alpha, beta[has_e]]
    return sp.csr_matrix((v, (r, c)), shape=(n, n_col))


def common_battery(rows: ShareRows, t0: int = 0, state_bound: float = 1.0) -> Battery | None:
    """The largest common deviation battery of the scenarios of ``rows`` (module docstring).

    The program maximises ``sum_t (Up_t + Dn_t) + w sum_t (Ep_t + Em_t)`` subject to the
    consistency rows, the bounds ``rows.limits`` of every scenario and, by constraint
    generation, every scenario's rows ``alpha X_t + beta E_{t-1} <= 1``: first the rows of
    largest ``alpha``, of largest ``beta`` and of largest ``alpha + beta`` of every interval and
    kind, then, each round, the most violated row of every interval and kind (on the paper
    case's ticks 2.2 solves per program on average).

    Args:
        rows: The kept scenarios' rows.
        t0: First interval of the battery.
        state_bound: Largest ``|s_t|``: the bands are ``Ep_t, Em_t <= state_bound Omega_t``
            (at most 1, where the shares keep every vehicle's energy). The policy's ``kappa``
            keeps one deviation from moving any vehicle by more than that share of its room,
            as the closed form does (``flexibility.inner.alpha_package`` says why the package
            uses it).

    Returns:
        The battery ``{delta}`` (tightened; it contains 0), or ``None`` if HiGHS fails.
    """
    n_t, dt = rows.limits.shape[-1], rows.dt_h
    n_col = 4 * n_t
    limits = rows.limits.min(axis=0)
    limits[2:] *= min(float(state_bound), 1.0)
    col_hi = limits.reshape(-1)
    alpha, beta, power, energy = _grouped(rows)
    tight = tight_rows(n_t, dt)
    cost = np.r_[np.ones(2 * n_t), np.full(2 * n_t, BAND_WEIGHT)]
    h = LinearProgram(cost, np.zeros(n_col), col_hi, tight, np.full(tight.shape[0], -np.inf),
                      np.zeros(tight.shape[0]), sense="maximize").highs()
    added = np.zeros(alpha.shape, dtype=bool)
    ids = np.arange(alpha.shape[0])
    picks = [(ids, np.argmax(alpha, axis=1)), (ids, np.argmax(beta, axis=1)),
             (ids, np.argmax(alpha + beta, axis=1))]
    x = np.zeros(n_col + 1)
    for _ in range(MAX_ROUNDS):
        for g, j in picks:
            use = ~added[g, j] & ((alpha[g, j] > 0.0) | (beta[g, j] > 0.0))
            g, j = g[use], j[use]
            added[g, j] = True
            add_rows(h, _row_block(g, alpha[g, j], beta[g, j], power, energy, n_col),
                     np.full(g.size, -np.inf), np.ones(g.size))
        sol = solve(h)
        if not sol.optimal:
            return None
        x[:n_col] = np.clip(sol.x, 0.0, col_hi)
        act = alpha * x[power][:, None] + beta * x[energy][:, None]
        left = np.where(added, -np.inf, act)
        worst = np.argmax(left, axis=1)
        over = left[ids, worst] - 1.0 > ROW_TOL
        if not over.any():
            break
        picks = [(ids[over], worst[over])]
    else:
        return None
    x *= 1.0 / max(float(act.max(initial=0.0)), 1.0)
    up, dn, ep, em = (x[k * n_t:(k + 1) * n_t] for k in range(4))
    return Battery(-dn, up, -em, ep, dt, t0).tightened()


def deliverable_scale(rows: ShareRows, deviation: Battery) -> FloatArray:
    """Per scenario the largest ``s >= 0`` with ``s * deviation`` inside every row of ``rows``.

    The battery is tightened and read as ``(Up, Dn, Ep, Em) = (p_hi, -p_lo, y_hi, -y_lo)``
    (it must contain 0); a scenario delivers ``s * deviation`` by its share policy for every
    ``s`` up to the value returned (``inf``: no row binds; a bound closed by the rows' largest
    coefficient ``ROW_BIG`` lets deviations below ``1 / ROW_BIG`` pass).
    """
    b = deviation.tightened()
    n_t = b.n_intervals
    x = np.r_[np.maximum(b.p_hi_kw, 0.0), np.maximum(-b.p_lo_kw, 0.0),
              np.maximum(b.y_hi_kwh, 0.0), np.maximum(-b.y_lo_kwh, 0.0), 0.0]
    m = rows.limits.shape[0]
    out = np.full(m, np.inf)
    scen, t, q, alpha, beta = rows.flat()
    act = alpha * x[_POWER_BLOCK[q] * n_t + t] + beta * x[np.where(
        t > 0, _ENERGY_BLOCK[q] * n_t + t - 1, 4 * n_t)]
    ratio = np.divide(1.0, act, out=np.full(act.shape, np.inf), where=act > 0)
    np.minimum.at(out, scen, ratio)
    lim = rows.limits.reshape(m, -1)
    need = np.broadcast_to(x[:-1], lim.shape)
    # a closed variable stands for a room below 1 / ROW_BIG: smaller deviations pass
    bound = np.divide(lim, need, out=np.full(lim.shape, np.inf), where=need > 1.0 / ROW_BIG)
    return np.minimum(out, bound.min(axis=1, initial=np.inf))
