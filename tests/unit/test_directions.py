"""The union bound over uncertainty directions (``dispatch.directions``).

Oracles: the implication "every direction event holds => every row holds" checked pointwise on
random draws (no probability involved), a Monte Carlo of a heavy-tailed law with the given
moments, and the textbook per-row Bonferroni margins.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.chance import safety_factor
from dispatch.directions import MAX_SPAN_DEG, cone_directions

angles = st.lists(st.floats(-np.pi, np.pi, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(angles, st.floats(0.1, 5.0))
def test_rows_are_conic_combinations_of_their_directions(theta, scale):
    th = np.asarray(theta)
    c = scale * np.c_[np.cos(th), np.sin(th)] * np.linspace(0.5, 2.0, len(th))[:, None]
    d = cone_directions(c, np.zeros(len(c), dtype=int), np.ones(len(c), dtype=bool))
    w = d.weight.toarray()
    assert np.all(w >= 0)
    np.testing.assert_allclose(w @ d.d, c, atol=1e-8 * scale)  # parallel: within 1e-9 rad
    # each row uses at most two directions, at most MAX_SPAN_DEG apart
    for i in range(len(c)):
        used = np.flatnonzero(w[i] > 0)
        assert 1 <= used.size <= 2
        if used.size == 2:
            cosang = np.clip(d.d[used[0]] @ d.d[used[1]], -1, 1)
            assert np.degrees(np.arccos(cosang)) <= MAX_SPAN_DEG + 1e-6


def _margins(c, mu, cov, eps):
    d = cone_directions(c, np.zeros(len(c), dtype=int), np.ones(len(c), dtype=bool))
    m_k, s_k = d.moments(mu[None, :], cov[None, :, :])
    h = m_k + safety_factor(eps / len(m_k)) * s_k
    return d, h, d.weight @ h


def test_direction_events_imply_every_row_pointwise():
    """Deterministic: wherever all direction events hold, every row with its margin holds."""
    rng = np.random.default_rng(3)
    th = rng.uniform(-np.pi, np.pi, 60)
    c = np.c_[np.cos(th), np.sin(th)] * rng.uniform(0.2, 3.0, (60, 1))
    mu, cov = np.array([1.0, -0.5]), np.array([[4.0, 1.0], [1.0, 2.0]])
    d, h, margin = _margins(c, mu, cov, 0.05)
    xi = rng.multivariate_normal(mu, cov * 9.0, size=20_000)
    inside = np.all(xi @ d.d.T <= h[None, :] + 1e-12, axis=1)
    rows_ok = np.all(xi @ c.T <= margin[None, :] + 1e-9, axis=1)
    assert inside.any() and (~inside).any()
    assert np.all(rows_ok[inside])


def test_joint_violation_within_eps_out_of_sample_and_below_row_bonferroni():
    """Student-t draws with the model's moments: the joint violation of 40 near-parallel rows
    stays below eps; the per-row Bonferroni margins are larger for every row."""
    rng = np.random.default_rng(7)
    th = rng.normal(0.0, 0.15, 40)  # rows that move almost together, like bus voltages
    c = np.c_[np.cos(th), np.sin(th)]
    mu, cov = np.zeros(2), np.array([[1.0, 0.3], [0.3, 0.5]])
    eps = 0.05
    _, _, margin = _margins(c, mu, cov, eps)
    sig_rows = np.sqrt(np.einsum("mi,ij,mj->m", c, cov, c))
    row_bonf = safety_factor(eps / len(c)) * sig_rows
    assert np.all(margin < row_bonf)
    z = rng.standard_t(3, size=(200_000, 2)) / np.sqrt(3.0)  # unit variance
    xi = z @ np.linalg.cholesky(cov).T + mu
    joint = np.any(xi @ c.T > margin[None, :], axis=1).mean()
    assert joint <= eps
