"""The correction round's rescheduling keeps a station whose vehicles already follow its
corrected power and tracks the others afresh."""

import numpy as np

from dispatch.zonal_vehicles import schedule_vehicles
from environment.planning.zonal_areas import AreaFleet, reschedule
from flexibility.gpolymatroid import BatterySet

DT_H = 0.25


def _fleet() -> AreaFleet:
    n, t = 6, 8
    u_max = np.full((n, t), 7.0)
    y_max = np.minimum(np.cumsum(u_max, axis=1) * DT_H, 8.0)
    y_min = np.zeros((n, t))
    y_min[:, -1] = 4.0  # every vehicle needs 4 kWh by the end
    batt = BatterySet(np.zeros((n, t)), u_max, y_min, y_max, DT_H)
    return AreaFleet(batt, np.array([1, 3, 3, 4, 1, 3]), np.array([0, 0, 0, 1, 1, 1]),
                     y_min, y_max)


def _sub(af: AreaFleet, j: int) -> tuple[BatterySet, np.ndarray]:
    m = af.station == j
    return af.batt.subset(m), m


def test_a_station_that_already_follows_keeps_its_vehicles_and_the_other_is_retracked():
    af = _fleet()
    first = schedule_vehicles(af.batt, af.types, np.full(8, 30.0))
    target = np.zeros((8, 2))
    for j in (0, 1):
        target[:, j] = first.p_kw[af.station == j].sum(axis=0)
    target[:, 1] = target[::-1, 1]  # station 1 corrected: its power reversed in time
    out = reschedule([af], target, [first])[0]
    _, m0 = _sub(af, 0)
    np.testing.assert_array_equal(out.p_kw[m0], first.p_kw[m0])
    sub1, m1 = _sub(af, 1)
    fresh = schedule_vehicles(sub1, af.types[m1], target[:, 1])
    np.testing.assert_allclose(out.p_kw[m1], fresh.p_kw)
    np.testing.assert_allclose(out.deviation_kw, fresh.deviation_kw, atol=1e-9)
    np.testing.assert_allclose(out.group_kw.sum(axis=0), out.p_kw.sum(axis=0), atol=1e-9)


def test_without_the_current_schedule_every_station_is_tracked():
    af = _fleet()
    target = np.full((8, 2), 10.0)
    out = reschedule([af], target)[0]
    for j in (0, 1):
        sub, m = _sub(af, j)
        np.testing.assert_allclose(out.p_kw[m], schedule_vehicles(sub, af.types[m],
                                                                  target[:, j]).p_kw)
