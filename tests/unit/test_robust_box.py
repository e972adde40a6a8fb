"""The ``ro`` box is sized to the per-interval coverage ``1 - eps`` on days it was not built on."""

from types import SimpleNamespace

import numpy as np
import pytest

from environment.planning.chance import RO_SCALES, robust_box


def test_box_covers_its_check_half_and_is_the_smallest_scale():
    rng = np.random.default_rng(5)
    net = rng.standard_t(3, (400, 12)) * 50.0
    ev = rng.normal(0.0, 5.0, (100, 12))
    eps = 0.05
    lo, hi = robust_box(SimpleNamespace(net_days_kw=net, ev_days_kw=ev), eps)
    for s, days in enumerate((net, ev)):
        # contains every fitted day (scale >= 1 about the mean)
        assert np.all(days >= lo[:, s] - 1e-9) and np.all(days <= hi[:, s] + 1e-9)
        a, b = days[0::2], days[1::2]
        c = a.mean(axis=0)
        for t in range(12):  # recomputed per interval by brute force over the scales
            cover = [np.mean((b[:, t] >= c[t] + f * (a[:, t].min() - c[t]) - 1e-9)
                             & (b[:, t] <= c[t] + f * (a[:, t].max() - c[t]) + 1e-9))
                     for f in RO_SCALES]
            f_t = RO_SCALES[next(i for i, x in enumerate(cover) if x >= 1 - eps / 2)]
            c_all = days[:, t].mean()
            assert hi[t, s] == pytest.approx(c_all + f_t * (days[:, t].max() - c_all), rel=1e-12)
