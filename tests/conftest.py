import os

import numpy as np
import pytest
from hypothesis import settings

from scenarios.behaviour import BehaviourModel
from scenarios.config import load_scenario
from scenarios.sessions import load_sessions

# Property tests draw the same examples on every run (a red CI is reproducible); set
# HYPOTHESIS_PROFILE=explore to search with fresh random examples.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def paper_scenario():
    return load_scenario()


@pytest.fixture(scope="session")
def shipped_model(paper_scenario):
    s = paper_scenario
    sessions = load_sessions(s.sessions_path(), s.behaviour.max_charger_kw,
                             s.behaviour.max_dwell_h)
    return BehaviourModel.fit(sessions, "builtin", "target_minus_delivered",
                              s.ev.capacity_kwh)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
