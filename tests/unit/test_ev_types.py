"""EV user types (``dispatch.ev_types``): ``classify`` on hand-made vehicles of every
type and on the edge cases of its docstring, and against a per-vehicle reading of the docstring
rules written out here (a plain loop over the connected intervals, no array code shared with
``classify``) on hypothesis-built vehicles.

Break-the-rule checks (done on purpose while writing these tests, through a throwaway
re-execution of the module with one line changed; the library file untouched):

* letting type 3 require the cheap intervals to cover the need even without a peak interval
  (dropping ``| ~has[:, 0]``) fails
  ``test_valley_and_flat_without_peak_is_type_3_whatever_the_need``,
  ``test_vectorised_over_vehicles`` and ``test_classify_equals_the_docstring_rules``;
* ``out[n_classes == 1] = 1`` (a vehicle connected in no interval falls to type 4) fails
  ``test_zero_dwell_is_type_1``, ``test_window_is_clipped_to_the_horizon`` and the property;
* a strict cover (``cheap > need``) fails the four tests with a need exactly at the cheap
  energy.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.ev_types import ORDER, classify

PEAK, FLAT, VALLEY = 0, 1, 2
# valley 0-2, flat 3-4, peak 5-6, flat 7
PERIOD = np.array([VALLEY, VALLEY, VALLEY, FLAT, FLAT, PEAK, PEAK, FLAT])
DT = 1.0
PC = 7.0


def _one(a, d, need, period=PERIOD, pc=PC, dt=DT):
    return int(classify(np.array([a]), np.array([d]), np.array([float(need)]),
                        np.array([float(pc)]), period, dt)[0])


@pytest.mark.parametrize("a, d", [(0, 3), (1, 2), (3, 5), (5, 7), (7, 8)],
                         ids=["valley", "valley-inner", "flat", "peak", "flat-last"])
def test_one_period_class_is_type_1(a, d):
    """Connected in valley only, flat only or peak only: type 1, even with a need no interval
    could cover."""
    assert _one(a, d, need=0.0) == 1
    assert _one(a, d, need=1e3) == 1


@pytest.mark.parametrize("a, d", [(3, 7), (4, 6), (5, 8)])
def test_peak_and_flat_without_valley_is_type_2(a, d):
    assert _one(a, d, need=0.0) == 2
    assert _one(a, d, need=1e3) == 2


def test_all_three_periods_covering_the_need_is_type_3():
    # a = 0, d = 8: valley 3 + flat 3 cheap intervals -> 6 * 7 kW * 1 h = 42 kWh
    assert _one(0, 8, need=0.0) == 3
    assert _one(0, 8, need=41.0) == 3
    assert _one(0, 8, need=42.0) == 3  # exactly covered (the comparison keeps equality)


def test_all_three_periods_not_covering_the_need_is_type_4():
    assert _one(0, 8, need=42.01) == 4
    assert _one(2, 7, need=7.0 * 3 + 0.5) == 4  # valley 1 + flat 2 = 21 kWh
    assert _one(2, 7, need=7.0 * 3) == 3


def test_cover_scales_with_power_and_interval_length():
    """The cheap energy is ``p_ch_max dt`` times the cheap intervals: halving either halves it."""
    assert _one(0, 8, need=30.0) == 3
    assert _one(0, 8, need=30.0, pc=3.5) == 4
    assert _one(0, 8, need=30.0, dt=0.5) == 4
    assert _one(0, 8, need=21.0, pc=3.5) == 3


def test_valley_and_flat_without_peak_is_type_3_whatever_the_need():
    """The docstring's edge case: no peak interval, cheap intervals do not cover the need ->
    still type 3 (it charges flat out anyway)."""
    assert _one(1, 5, need=1.0) == 3
    assert _one(1, 5, need=1e3) == 3


def test_peak_and_valley_without_flat_is_type_4():
    """Peak next to valley (no flat interval): the docstring's "(or peak and valley)" of type
    4."""
    period = np.array([VALLEY, VALLEY, PEAK, PEAK])
    assert _one(0, 4, need=1e3, period=period) == 4
    assert _one(1, 3, need=1e3, period=period) == 4


def test_window_is_clipped_to_the_horizon():
    """Arrival before the horizon and departure after it count only the intervals inside it."""
    assert _one(-5, 3, need=1e3) == 1  # valley only inside the horizon
    assert _one(5, 30, need=1e3) == 2  # peak + flat inside
    assert _one(-5, 30, need=42.0) == 3
    assert _one(-5, 30, need=43.0) == 4
    assert _one(8, 12, need=1.0) == 1  # arrives after the horizon: no interval


def test_zero_dwell_is_type_1():
    """Connected in no interval (zero dwell, or before the horizon): type 1 (no room at all)."""
    assert _one(4, 4, need=10.0) == 1
    assert _one(-6, -2, need=10.0) == 1


def test_vectorised_over_vehicles():
    a = np.array([0, 3, 0, 0, 1])
    d = np.array([3, 7, 8, 8, 5])
    need = np.array([5.0, 5.0, 10.0, 100.0, 100.0])
    out = classify(a, d, need, np.full(5, PC), PERIOD, DT)
    assert out.tolist() == [1, 2, 3, 4, 3]


def test_order_schedules_every_type_once():
    flat = [t for g in ORDER for t in g]
    assert sorted(flat) == [1, 2, 3, 4]
    assert ORDER[0] == (4,) and ORDER[1] == (1,) and set(ORDER[2]) == {2, 3}


# --------------------------------------------------------------------------- property


def _docstring_type(a, d, need, pc, period, dt):
    """The module docstring, one vehicle at a time."""
    classes = set()
    cheap = 0
    for t in range(len(period)):
        if a <= t < d:
            classes.add(int(period[t]))
            cheap += int(period[t] != PEAK)
    if len(classes) <= 1:
        return 1
    if classes == {PEAK, FLAT}:
        return 2
    if {FLAT, VALLEY} <= classes and (PEAK not in classes or cheap * pc * dt >= need - 1e-9):
        return 3
    return 4


@st.composite
def vehicles(draw):
    T = draw(st.integers(1, 10))
    period = np.array(draw(st.lists(st.integers(0, 2), min_size=T, max_size=T)))
    n = draw(st.integers(1, 6))
    a = [draw(st.integers(-3, T + 1)) for _ in range(n)]
    d = [ai + draw(st.integers(0, T + 3)) for ai in a]
    pc = [draw(st.sampled_from([0.0, 3.5, 7.0, 11.0])) for _ in range(n)]
    need = [draw(st.integers(0, 80)) * 0.5 for _ in range(n)]
    dt = draw(st.sampled_from([0.25, 0.5, 1.0]))
    return np.array(a), np.array(d), np.array(need), np.array(pc), period, dt


@settings(max_examples=40, deadline=None)
@given(vehicles())
def test_classify_equals_the_docstring_rules(v):
    a, d, need, pc, period, dt = v
    out = classify(a, d, need, pc, period, dt)
    assert out.shape == a.shape
    assert np.all((out >= 1) & (out <= 4))
    for n in range(a.size):
        classes = {int(period[t]) for t in range(period.size) if a[n] <= t < d[n]}
        if len(classes) == 1:
            assert out[n] == 1
        assert out[n] == _docstring_type(a[n], d[n], need[n], pc[n], period, dt), n
