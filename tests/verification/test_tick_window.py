"""Per-tick grid work on a short window equals the full re-computation.

Every tick the grid agent clips, AC-checks and packages only intervals ``k`` and ``k + 1``
(``agents.grid_operator.LOOKAHEAD_ROWS``). Oracle: the same publication computed over the whole
remaining horizon ``[k, T)`` from the same station envelopes, at every tick of a day, for both
allocation policies.
"""

import numpy as np
import pytest

from agents.grid_operator import LOOKAHEAD_ROWS
from environment.model import CoSimModel
from scenarios.behaviour import BehaviourModel
from scenarios.config import load_scenario
from scenarios.sessions import load_sessions

SMALL = """
name = "window"
seed = 11
[horizon]
n_intervals = 24
start = "12:00"
[[stations]]
name = "CS1"
n_ev = 60
bus = 18
chargers = 40
[[stations]]
name = "CS2"
n_ev = 60
bus = 33
chargers = 40
[simulation]
n_scenarios = 8
policy = "edge-prev"
package = "vehicle-box"   # the windowed publication is the vehicle-box package's
[grid]
policy = "{policy}"
line_margin = 0.7
"""


@pytest.mark.parametrize("policy", ["uniform", "optimal"])
def test_window_equals_full_horizon(policy, tmp_path):
    f = tmp_path / "w.toml"
    f.write_text(SMALL.replace("{policy}", policy))
    sc = load_scenario(f)
    b = sc.behaviour
    model = BehaviourModel.fit(load_sessions(sc.sessions_path(), b.max_charger_kw,
                                             b.max_dwell_h), "builtin", "target_minus_delivered",
                               sc.ev.capacity_kwh)
    sim = CoSimModel(sc, model, sc.seed)
    agent = sim.grid_agent
    windowed = agent.publish
    checked, clipped = [], []

    def both(envs, boxes):
        short, full = windowed(envs, boxes), windowed(envs, boxes, lookahead=None)
        n = min(LOOKAHEAD_ROWS, len(full.infeasible))
        for name, b in full.transmission.labelled():
            s = short.transmission.by_label(name)
            np.testing.assert_allclose(s.p_up_kw[:n], b.p_up_kw[:n], rtol=0, atol=1e-9)
            np.testing.assert_allclose(s.p_down_kw[:n], b.p_down_kw[:n], rtol=0, atol=1e-9)
        for name, d in full.layers.distribution.labelled():
            s_d = short.layers.distribution.by_label(name)
            np.testing.assert_allclose(s_d.p_max_kw[:n], d.p_max_kw[:n], rtol=0, atol=1e-9)
            np.testing.assert_allclose(s_d.p_min_kw[:n], d.p_min_kw[:n], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(short.infeasible[:n], full.infeasible[:n])
        np.testing.assert_allclose(short.unsheddable_kw[:n], full.unsheddable_kw[:n], atol=1e-9)
        checked.append(len(full.infeasible))
        station_max = sum(float(e.p_max_kw[0]) for e in envs.values())
        dist_max = float(full.layers.distribution.total.p_max_kw[0])
        clipped.append(0.0 < dist_max < station_max - 1.0)
        return short

    agent.publish = both
    sim.run()
    sim.release()
    assert len(checked) == sc.horizon.n_intervals  # every tick compared, down to a 1-row window
    assert checked[0] == sc.horizon.n_intervals and checked[-1] == 1
    assert sum(clipped) >= 5  # the network binds, but not to zero: clipping and AC exercised
