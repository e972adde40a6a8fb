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

``dispatch`` builds the day of ``simulate`` and then replays each solved variant on
``--replay-days`` days at once: per replay day and uncertain row (``4 n_bus + 2`` per interval:
substation, voltage and line rows and the two reserve rows) the gathered errors, their product
and the violation flags, :data:`REPLAY_BYTES_PER_ROW` (measured 23 bytes on the paper case:
1.2 GB peak at 2,000 days, 3.6 GB at 10,000), with 50 % margin.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from scenarios.config import Scenario, dispatch_problem, fleet_problem
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
#: Bytes per uncertain row and replay day of ``dispatch`` (measured 23; with margin).
REPLAY_BYTES_PER_ROW = 36
#: Buses of the built-in feeder; other feeders' counts are read from their pandapower JSON.
KNOWN_FEEDER_BUSES = {"case33bw": 33, "ieee123": 119}
#: Buses assumed for a feeder whose size is not known without loading it (a SimBench code).
DEFAULT_FEEDER_BUSES = 200

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


def _sampled_days(scenario: Scenario, command: str) -> tuple[int, str, int]:
    """Sampled days held at once, the scenario field that sets them and its value.

    Outside ``assess`` the larger of ``simulation.n_scenarios`` and
    ``assessment.coverage_days``.
    """
    a, sim = scenario.assessment, scenario.simulation
    cover = a.coverage_days if a.coverage_days > 1 else 0
    if command == "assess":
        return a.n_scenarios + cover, "assessment.n_scenarios", a.n_scenarios
    if cover > sim.n_scenarios:
        return cover, "assessment.coverage_days", cover
    return sim.n_scenarios, "simulation.n_scenarios", sim.n_scenarios


def _fleet_shape(scenario: Scenario, command: str) -> tuple[int, int, float]:
    """Sampled sessions a day, sampled days held at once, float64 values per day and session.

    Sessions of all stations and horizon days (and the previous day's with carry-over).
    """
    hz = scenario.horizon
    days = math.ceil(hz.n_intervals * hz.dt_min / DAY_MIN) + int(hz.previous_day_carry_over)
    n_sessions = sum(s.n_ev for s in scenario.stations) * days
    m = _sampled_days(scenario, command)[0]
    copies = COPIES.get(command, DEFAULT_COPIES)
    return n_sessions, m, copies * hz.n_intervals + SAMPLE_FLOATS


def estimate_memory_bytes(scenario: Scenario, command: str) -> int:
    """Estimated peak memory of one run of ``command`` on ``scenario`` (module docstring).

    ``montecarlo`` and ``compare-da-rt`` give the estimate of one replicate (one worker); other
    commands than :data:`FLEET_COMMANDS` (``traffic``, ``calibrate``) give 0.
    """
    if command not in FLEET_COMMANDS:
        return 0
    n_sessions, m, per = _fleet_shape(scenario, command)
    return int(BASE_BYTES + 8 * n_sessions * m * per)


def feeder_buses(scenario: Scenario) -> int:
    """Buses of the scenario's feeder, without loading it.

    A pandapower JSON is only parsed; :data:`DEFAULT_FEEDER_BUSES` when the count cannot be
    read.
    """
    spec = scenario.grid.feeder
    if spec in KNOWN_FEEDER_BUSES:
        return KNOWN_FEEDER_BUSES[spec]
    if spec.endswith(".json"):
        path = Path(spec) if Path(spec).is_absolute() else Path(scenario.base_dir) / spec
        try:
            bus = json.loads(path.read_text())["_object"]["bus"]["_object"]
            return len(json.loads(bus)["index"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # the feeder's loader names what is wrong with the file
    return DEFAULT_FEEDER_BUSES


def replay_bytes_per_day(scenario: Scenario) -> int:
    """Memory of one replay day of ``dispatch`` (module docstring)."""
    rows = scenario.horizon.n_intervals * (4 * feeder_buses(scenario) + 2)
    return REPLAY_BYTES_PER_ROW * rows


def check_dispatch(scenario: Scenario, replay_days: int, limit_bytes: int | None = None) -> int:
    """The up-front checks of ``run_sim.py dispatch`` (before the day is built).

    The replay has held-out EV days (:func:`scenarios.config.dispatch_problem`) and the day
    (as ``simulate`` builds it) plus the replay of ``replay_days`` days fit in memory.

    Args:
        scenario: The validated scenario.
        replay_days: ``--replay-days``.
        limit_bytes: The memory limit; default :func:`memory_limit_bytes`.

    Returns:
        The estimated peak memory in bytes.

    Raises:
        InputError: No held-out EV days, fewer than one replay day, or a run that does not
            fit (naming ``--replay-days`` and a value that fits when the replay is too large).
    """
    problem = dispatch_problem(scenario)
    if problem:
        raise InputError(problem)
    if replay_days < 1:
        raise InputError(f"--replay-days: {replay_days} < 1; use e.g. 2000")
    day = check_memory(scenario, "simulate", limit_bytes=limit_bytes)
    limit = memory_limit_bytes() if limit_bytes is None else int(limit_bytes)
    per_day = replay_bytes_per_day(scenario)
    need = day + per_day * replay_days
    if need > limit:
        fits = max(0, (limit - day) // per_day)
        raise InputError(
            f"--replay-days: {replay_days:,} replay days need about {need / _GB:.1f} GB of "
            f"memory ({per_day / 1e6:,.2f} MB a day on {scenario.horizon.n_intervals} "
            f"intervals), above the limit of {limit / _GB:.1f} GB; use at most {fits:,} "
            f"(the default is 2000)")
    return need


def check_memory(scenario: Scenario, command: str, workers: int = 1,
                 limit_bytes: int | None = None) -> int:
    """Refuse a run whose estimated memory exceeds the limit, before any work starts.

    Also refuses ``assess`` on a scenario without sampled EVs (every ``n_ev`` 0 in a coupled
    scenario: :func:`scenarios.config.fleet_problem`), which has nothing to estimate or assess.

    The message leads with what drives the estimate, the larger dimension of the sampled
    fleets: the sampled days (``simulation.n_scenarios``, ``--scenarios``) or the EVs a day
    (``stations.<name>.n_ev``), with the largest value that would fit.

    Args:
        scenario: The validated scenario (with any command-line overrides applied).
        command: ``simulate``, ``assess``, ``montecarlo``, ``compare-da-rt`` (checked) or any
            other command (nothing to check).
        workers: Replicates running at once on this machine (``montecarlo --workers``).
        limit_bytes: The limit; default :func:`memory_limit_bytes`.

    Returns:
        The estimate in bytes (0 for commands without sampled fleets).

    Raises:
        InputError: One line with the estimate, the limit, and the fields to lower (or why
            ``assess`` has no EVs).
    """
    problem = fleet_problem(scenario, command)
    if problem:
        raise InputError(problem)
    workers = max(1, workers)
    need = estimate_memory_bytes(scenario, command) * workers
    limit = memory_limit_bytes() if limit_bytes is None else int(limit_bytes)
    if need <= limit:
        return need
    biggest = max(scenario.stations, key=lambda s: s.n_ev)
    m, m_field, m_value = _sampled_days(scenario, command)
    n_sessions, _, per = _fleet_shape(scenario, command)
    n_ev = sum(s.n_ev for s in scenario.stations)
    per_worker = f" with {workers} workers" if workers > 1 else ""
    source = f" ({MEMORY_FRACTION:.0%} of this machine's memory)" if limit_bytes is None else ""
    room = limit / workers - BASE_BYTES  # bytes for the sampled fleets of one run
    if command in ("simulate", "assess") and m_field.endswith("n_scenarios"):
        m_field += " (--scenarios)"
    fits = int(room // (8 * n_sessions * per)) - (m - m_value) if n_sessions else m_value
    ev_field = f"stations.{biggest.name}.n_ev ({biggest.n_ev:,})"
    if m >= n_sessions and fits >= 1:  # the sampled days are the larger dimension: lead
        fix = f"{m_field} from {m_value:,} to at most {fits:,}, or {ev_field}"
    else:
        fix = f"{ev_field} or {m_field}"
    raise InputError(
        f"{command} on this scenario needs about {need / _GB:.1f} GB of memory{per_worker} "
        f"({n_ev:,} EVs a day, {m:,} sampled days, {scenario.horizon.n_intervals} intervals), "
        f"above the limit of {limit / _GB:.1f} GB{source}; lower {fix}")
