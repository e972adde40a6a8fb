"""The unsheddable load of the α package is load the vehicles cannot shed, checked by an LP.

Where no station ``theta`` keeps the share policy's reference inside the network box, the
package reports the reference's load above the box as must-serve load the network cannot carry
(``ScenarioBatteries.unsheddable_kw``) and the grid layers flag those intervals grid-infeasible
(``grid.alpha_layers.case_layers``). The one ``theta`` of a misfit is a compromise over the
whole horizon: it can put the reference *below* the box in other intervals (V2G discharge the
network cannot take back) although the vehicles could simply idle there.

The case, by hand (15-minute intervals, efficiencies 0.95, one station, box ``lo = -3 kW``):

* vehicle A (V2G, 7 kW both ways) is plugged in over intervals 0–3 at its upper energy bound
  ``e = e_max = 54 kWh`` and needs 36 kWh: idling at 0 kW is feasible, so it must draw nothing;
* vehicle B (no V2G) is plugged in over intervals 4–7 and needs exactly
  ``4 * 0.95 * 7 * 0.25 = 6.65 kWh``: it must charge 7 kW throughout, 2 kW above the box's
  ``hi = 5 kW`` there (``hi = 20 kW`` before).

B's 2 kW do not depend on ``theta``; the least violating ``theta`` makes A's reference discharge
``7 (1 - 2 theta) > 3 kW`` in intervals 0–3. The oracle (``tests.verification.session_lp``, an
LP over the raw session rows) confirms what each interval can draw; nothing of the package is
used by it.

Breaking the rule on purpose: counting the reference's distance below the box as excess too (as
``flexibility.compiled.fit_theta_columns`` did) reports 1.9 kW of unsheddable load in
intervals 0–3 and fails ``test_reference_below_the_box_is_not_unsheddable_load``.
"""

from __future__ import annotations

import numpy as np

from flexibility.fleet import Fleet
from flexibility.inner import fleet_batteries
from tests.verification.session_lp import Plugged, deliverable

DT_H = 0.25
ETA = 0.95
T = 8
NET_LO_KW = np.full((T, 1), -3.0)
NET_HI_KW = np.array([20.0] * 4 + [5.0] * 4)[:, None]
B_E0_KWH = 36.0 - 4 * ETA * 7.0 * DT_H  # B needs full power over its four intervals


def _fleet() -> Fleet:
    return Fleet(arrival_idx=[[0, 4]], departure_idx=[[4, 8]], e_init_kwh=[[54.0, B_E0_KWH]],
                 e_min_kwh=[[12.0, 12.0]], e_max_kwh=[[54.0, 54.0]], e_req_kwh=[[36.0, 36.0]],
                 p_ch_max_kw=[[7.0, 7.0]], p_dis_max_kw=[[7.0, 0.0]], eta_ch=ETA, eta_dis=ETA,
                 dt_h=DT_H)


def _vehicle(e_kwh: float, departure_idx: int, p_dis_kw: float) -> Plugged:
    one = lambda x: np.array([x], dtype=float)  # noqa: E731
    return Plugged(e_kwh=one(e_kwh), departure_idx=np.array([departure_idx]),
                   e_min_kwh=one(12.0), e_max_kwh=one(54.0), e_req_kwh=one(36.0),
                   p_ch_kw=one(7.0), p_dis_kw=one(p_dis_kw), q_kwh=one(36.0))


def test_reference_below_the_box_is_not_unsheddable_load():
    a, b = _vehicle(54.0, 4, 7.0), _vehicle(B_E0_KWH, 8, 0.0)
    # the oracle: A can idle in interval 0 (0 kW lies in the box [-3, 20]) ...
    assert deliverable(a, 0, 0.0, ETA, ETA, DT_H)
    # ... and B must draw 7 kW in interval 4, 2 kW above the box's 5 kW
    assert deliverable(b, 4, 7.0, ETA, ETA, DT_H)
    assert not deliverable(b, 4, 6.9, ETA, ETA, DT_H)
    sb = fleet_batteries(_fleet(), np.zeros((1, 2), dtype=np.int64), 1, T, 0, NET_LO_KW,
                         NET_HI_KW)
    assert sb.misfit[0]  # no theta fits: the reference is a compromise
    assert sb.station_ref_kw[0, 0, :4].max() < NET_LO_KW[0, 0]  # it discharges below the box
    np.testing.assert_allclose(sb.unsheddable_kw[0, :4], 0.0, atol=1e-9)
    np.testing.assert_allclose(sb.unsheddable_kw[0, 4:], 7.0 - NET_HI_KW[4:, 0], atol=1e-6)
