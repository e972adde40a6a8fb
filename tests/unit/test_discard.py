"""Greedy scenario discarding against a brute-force re-implementation of its rule."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flexibility.battery import Battery
from flexibility.discard import discard_order

DT_H = 0.5  # synthetic batteries; the discarding rule does not use the interval length


def brute_order(batt: Battery, n_min: int) -> list[int]:
    """Drop, one at a time, the scenario whose removal raises the summed normalised minima most."""
    wp = np.maximum(np.median(batt.p_hi_kw - batt.p_lo_kw, axis=0), 1e-3)
    wy = np.maximum(np.median(batt.y_hi_kwh - batt.y_lo_kwh, axis=0), 1e-3)
    rows = np.concatenate([batt.p_hi_kw / wp, -batt.p_lo_kw / wp, batt.y_hi_kwh / wy,
                           -batt.y_lo_kwh / wy], axis=-1)
    kept = list(range(rows.shape[0]))
    order = []
    while len(kept) > n_min:
        base = rows[kept].min(axis=0).sum()
        gains = [rows[[k for k in kept if k != i]].min(axis=0).sum() - base for i in kept]
        drop = kept[int(np.argmax(gains))]
        kept.remove(drop)
        order.append(drop)
    return order


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 7), t=st.integers(1, 4), data=st.data())
def test_discard_order_matches_brute_force(m, t, data):
    def block():
        return data.draw(arrays(np.float64, (m, t), elements=st.floats(0.0, 10.0),
                                unique=True))
    hi, lo = block(), -block()
    y_hi, y_lo = block(), -block()
    batt = Battery(lo, hi, y_lo, y_hi, DT_H)
    got = list(discard_order(batt, 1))
    want = brute_order(batt, 1)
    assert got == want  # ties in the gain go to the lowest index in both
