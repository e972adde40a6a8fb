"""Packaged transmission boundaries are deliverable: an independent disaggregation LP
(``tests.oracles.split_exists``, HiGHS) finds per-EV set-points for trajectories inside B that
meet every vehicle constraint, departure requirement and the network's LinDistFlow rows. The LP
is built from the raw session numbers with the floor, ceiling and reachable requirement derived
by the oracle itself (never through ``Fleet``'s helpers) and knows nothing of the inner boxes.
The network rows are the security set's ``A p <= b`` (verified against AC elsewhere)."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flexibility.aggregation import station_envelope
from flexibility.fleet import Fleet
from flexibility.packaging import station_inner_box
from grid.layers import layers_for
from tests.grid_fixtures import small_grid_model
from tests.oracles import split_exists
from tests.session_strategies import raw_fleets

T = 8
DESIGN_LOAD_KW = 3715.0  # case33bw total nominal load


def _unit(shape):
    return arrays(np.float64, shape, elements=st.floats(0.0, 1.0, allow_nan=False,
                                                                  allow_subnormal=False))


@settings(max_examples=40, deadline=None)
@given(raw=raw_fleets(max_vehicles=6, horizon=T), load=_unit(T),
       margin=st.floats(0.0, 25.0), theta=_unit(T), mode=st.sampled_from(["random", "extreme"]))
def test_trajectories_inside_B_are_deliverable(raw, load, margin, theta, mode):
    n = raw.n
    station_of = np.arange(n) % 2
    raw = raw.replace(station=station_of)
    fleet = Fleet(**raw.fleet_kwargs())
    scale = 0.2 + 0.4 * load
    gm = small_grid_model(scale, DESIGN_LOAD_KW * scale.max() + margin, (18, 33))
    fleets_j = {f"S{j}": fleet.take(station_of == j) for j in range(2)}
    envs = {s: station_envelope(f, T) for s, f in fleets_j.items()}
    boxes = {s: station_inner_box(f, T) for s, f in fleets_j.items()}
    layers = layers_for(gm, envs, boxes, fleet.eta_ch, fleet.eta_dis)
    assume(layers.empty_intervals.size == 0)
    assume(not layers.dist_boxes.ldf.background_infeasible.any())
    b = layers.transmission.total
    w = theta if mode == "random" else (theta < 0.5).astype(float)
    p = b.p_down_kw + w * (b.p_up_kw - b.p_down_kw)
    assert split_exists(raw, p, T, station_rows=(gm.sec.a_p, gm.sec.b))
    # B lies inside the distribution-layer allocation (except where it had to use its own)
    dist = layers.distribution.total
    inside = np.ones(T, dtype=bool)
    inside[layers.own_allocation_intervals] = False
    assert np.all(b.p_up_kw[inside] <= dist.p_max_kw[inside] + 1e-7)
    assert np.all(b.p_down_kw[inside] >= dist.p_min_kw[inside] - 1e-7)
    # and always inside the station layer
    assert np.all(b.p_up_kw <= sum(e.p_max_kw for e in envs.values()) + 1e-7)


def test_split_oracle_rejects_what_the_fleet_cannot_do():
    """The disaggregation check can fail: beyond the chargers, or missing a requirement."""
    from tests.oracles import RawFleet

    raw = RawFleet(a=[0], d=[4], e0=[20.0], e_min=[10.0], e_max=[50.0], e_req=[30.0], pc=[10.0],
                   pd=[10.0], eta_c=1.0, eta_d=1.0, dt=1.0)
    assert split_exists(raw, np.array([10.0, 0.0, 0.0, 0.0]), 4)  # exactly the requirement
    assert not split_exists(raw, np.array([9.0, 0.0, 0.0, 0.0]), 4)  # 1 kWh short
    assert not split_exists(raw, np.array([11.0, 0.0, 0.0, 0.0]), 4)  # above the charger
    assert not split_exists(raw, np.array([10.0, 10.0, 10.0, 1.0]), 4)  # above the ceiling


@settings(max_examples=60, deadline=None)
@given(raw=raw_fleets(max_vehicles=5, horizon=10))
def test_station_inner_box_lies_inside_the_station_envelope(raw):
    fleet = Fleet(**raw.fleet_kwargs())
    box = station_inner_box(fleet, 10)
    env = station_envelope(fleet, 10)
    assert np.all(box.hi_kw <= env.p_max_kw + 1e-7)
    assert np.all(box.lo_kw >= env.p_min_kw - 1e-7)
