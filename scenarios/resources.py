"""Up-front memory check: refuse a scenario whose sampled fleets cannot fit in memory.

The dominant arrays of every command are the sampled scenario fleets: per sampled day ``m``,
session ``n`` (all stations; one day of ``n_ev`` sessions per station and horizon day, plus
the previous day's with ``horizon.previous_day_carry_over``) and interval ``t`` a few float64
bounds (the per-vehicle batteries of ``flexibility.battery``). The estimate is

    bytes = BASE_BYTES + 8 * N_sessions * M * (COPIES * T + SAMPLE_FLOATS)

with ``COPIES`` by command and ``M`` the sampled days held at once (``assess``:
``assessment.n_scenarios`` plus ``assessment.coverage_days``; ``simulate`` and each Monte Carlo
replicate: the larger of ``simulation.n_scenarios`` and ``assessment.coverage_days``, as the
day-ahead and real-time pools are built one after the other). ``COPIES`` was measured on the
paper case (peak resident memory at 200 and 1,150 EVs a day: 1.05 copies for ``assess`` and
1.45 for ``simulate`` above the interpreter's 0.2 and 0.5 GB) and given about 50 % margin;
``SAMPLE_FLOATS`` covers the session draws and fleet parameters (one value per sampled session
each). Estimates: paper case ``assess`` 1.0 GB (measured 0.37), ``simulate`` 0.8 GB (measured
0.63); one station of 10,000 EVs ``assess`` 18.8 GB (measured over 10 GB), ``simulate`` 8.9 GB.
The limit is :data:`MEMORY_FRACTION` of the machine's physical memory (or of the cgroup limit of
a container, when lower).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from scenarios.config import Scenario
from scenarios.errors import InputError
from scenarios.timeaxis import DAY_MIN

#: Share of physical memory a run may plan to use (the rest: OS, other processes, slack).
MEMORY_FRACTION = 0.8
#: float64 arrays of shape (M, N_sessions, T) alive at the peak, by command (measured about
#: 1.05 for ``assess`` and 1.45 for ``simulate``, which also holds the real-time pools).
COPIES = {"assess": 1.5}
DEFAULT_COPIES = 2.5
#: float64 values per sampled session besides the (M, N, T) arrays (draws, fleet parameters).
SAMPLE_FLOATS = 16
#: Interpreter, libraries, feeder and result tables (measured 0.2 GB for ``assess``, 0.5 GB for
#: ``simulate`` with the agents).
BASE_BYTES = 600 * 2**20
#: Commands whose memory is dominated by sampled fleets.
FLEET_COMMANDS = ("simulate", "assess", "montecarlo", "compare-da-rt")

_GB = 1e9


def memory_limit_bytes() -> int:
    """:data:`MEMORY_FRACTION` of physical memory (or of a lower cgroup memory limit)."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(MEMORY_FRACTION * total)


def _sampled_days(scenario: Scenario, command: str) -> tuple[int, str]:
    """Sampled days held at once and the scenario field that sets them."""
    a, sim = scenario.assessment, scenario.simulation
    cover = a.coverage_days if a.coverage_days > 1 else 0
    if command == "assess":
        return a.n_scenarios + cover, "assessment.n_scenarios"
    return max(sim.n_scenarios, cover), "simulation.n_scenarios"


def estimate_memory_bytes(scenario: Scenario, command: str) -> int:
    """Estimated peak memory of one run of ``command`` on ``scenario`` (module docstring).

    ``montecarlo`` and ``compare-da-rt`` give the estimate of one replicate (one worker); other
    commands than :data:`FLEET_COMMANDS` (``traffic``, ``calibrate``) give 0.
    """
    if command not in FLEET_COMMANDS:
        return 0
    hz = scenario.horizon
    days = math.ceil(hz.n_intervals * hz.dt_min / DAY_MIN) + int(hz.previous_day_carry_over)
    n_sessions = sum(s.n_ev for s in scenario.stations) * days
    m, _ = _sampled_days(scenario, command)
    copies = COPIES.get(command, DEFAULT_COPIES)
    return int(BASE_BYTES + 8 * n_sessions * m * (copies * hz.n_intervals + SAMPLE_FLOATS))


def check_memory(scenario: Scenario, command: str, workers: int = 1,
                 limit_bytes: int | None = None) -> int:
    """Refuse a run whose estimated memory exceeds the limit, before any work starts.

    Args:
        scenario: The validated scenario (with any command-line overrides applied).
        command: ``simulate``, ``assess``, ``montecarlo``, ``compare-da-rt`` (checked) or any
            other command (nothing to check).
        workers: Replicates running at once on this machine (``montecarlo --workers``).
        limit_bytes: The limit; default :func:`memory_limit_bytes`.

    Returns:
        The estimate in bytes (0 for commands without sampled fleets).

    Raises:
        InputError: One line with the estimate, the limit, and the fields to lower.
    """
    need = estimate_memory_bytes(scenario, command) * max(1, workers)
    limit = memory_limit_bytes() if limit_bytes is None else int(limit_bytes)
    if need <= limit:
        return need
    biggest = max(scenario.stations, key=lambda s: s.n_ev)
    m, m_field = _sampled_days(scenario, command)
    n_ev = sum(s.n_ev for s in scenario.stations)
    per_worker = f" with {workers} workers" if workers > 1 else ""
    source = f" ({MEMORY_FRACTION:.0%} of this machine's memory)" if limit_bytes is None else ""
    raise InputError(
        f"{command} on this scenario needs about {need / _GB:.1f} GB of memory{per_worker} "
        f"({n_ev:,} EVs a day, {m:,} sampled days, {scenario.horizon.n_intervals} intervals), "
        f"above the limit of {limit / _GB:.1f} GB{source}; lower "
        f"stations.{biggest.name}.n_ev ({biggest.n_ev:,}) or {m_field}")
