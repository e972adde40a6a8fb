"""Scenario files: a TOML document validated by pydantic.

Every field has a unit in its name and a default; see README "Scenario file reference".
Relative paths in a scenario file are resolved against the file's folder; the value
``"builtin:perth_kinross"`` names the shipped Perth & Kinross sessions.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flexibility.stations import TOTAL_LABEL
from scenarios.dispatch_config import Dispatch
from scenarios.errors import InputError
from scenarios.timeaxis import DAY_MIN, TimeAxis, TimeOfDay, hhmm, minutes_of_day
from scenarios.traffic_config import Traffic

BUILTIN_SESSIONS = "builtin:perth_kinross"
DEFAULT_SCENARIO = "paper_case"
#: Longest study horizon (days). The behaviour model samples one day of sessions per station and
#: day of the horizon, so a horizon is a day or a few days; longer ones are refused rather than
#: stretched silently (e.g. ``dt_min = 1440`` with 96 intervals would be 96 days).
MAX_HORIZON_DAYS = 7

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Efficiency = Annotated[float, Field(gt=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Horizon(_Strict):
    """The study horizon."""

    start: TimeOfDay = "00:00"
    n_intervals: int = Field(96, ge=1, le=10_000)
    dt_min: int = Field(15, ge=1, le=1440)
    previous_day_carry_over: bool = True

    @model_validator(mode="after")
    def _check_length(self) -> Horizon:
        total = self.n_intervals * self.dt_min
        if total > MAX_HORIZON_DAYS * DAY_MIN:
            one_day = max(1, DAY_MIN // self.dt_min)
            raise ValueError(
                f"n_intervals x dt_min = {self.n_intervals} x {self.dt_min} min = "
                f"{total / DAY_MIN:g} days exceeds the {MAX_HORIZON_DAYS}-day maximum (the "
                f"behaviour model samples daily sessions); for one day at {self.dt_min}-minute "
                f"steps use n_intervals = {one_day}, or keep n_intervals x dt_min <= "
                f"{MAX_HORIZON_DAYS * DAY_MIN}")
        return self

    @property
    def start_min(self) -> int:
        """Horizon start in minutes after midnight."""
        return minutes_of_day(self.start)

    @property
    def dt_h(self) -> float:
        """Interval length in hours."""
        return self.dt_min / 60.0

    @property
    def axis(self) -> TimeAxis:
        """The horizon's time axis (labels, plot positions, ``HH:MM`` → interval)."""
        return TimeAxis(self.start_min, self.dt_min, self.n_intervals)


class EVParams(_Strict):
    """Vehicle and charger parameters shared by the fleet."""

    capacity_kwh: float = Field(60.0, gt=0)
    p_ch_max_kw: float = Field(7.0, ge=0)
    p_dis_max_kw: float = Field(7.0, ge=0)
    soc_min: Fraction = 0.2
    soc_max: Fraction = 0.9
    soc_departure_min: Fraction = 0.6
    eta_ch: Efficiency = 0.95
    eta_dis: Efficiency = 0.95

    @model_validator(mode="after")
    def _check_soc(self) -> EVParams:
        if self.soc_min > self.soc_max:
            raise ValueError(f"soc_min ({self.soc_min}) is above soc_max ({self.soc_max}); "
                             "make soc_min <= soc_max")
        if self.soc_departure_min > self.soc_max:
            raise ValueError(f"soc_departure_min ({self.soc_departure_min}) can never be "
                             f"reached below soc_max ({self.soc_max}); lower it")
        return self


class InitialSOC(_Strict):
    """How initial SOC is obtained from sessions (see ``scenarios.sessions``)."""

    method: Literal["target_minus_delivered", "column"] = "target_minus_delivered"
    target_soc: Fraction = 0.9
    floor_soc: Fraction = 0.05

    @model_validator(mode="after")
    def _check_floor(self) -> InitialSOC:
        check_soc_floor(self.floor_soc, self.target_soc, "floor_soc", "target_soc")
        return self


def check_soc_floor(floor_soc: float, target_soc: float, floor_name: str,
                    target_name: str) -> None:
    """Initial SOC is clipped to ``[floor_soc, target_soc]``: the floor must lie below the target.

    Raises:
        ValueError: ``floor_soc >= target_soc`` (every session would get the same initial SOC).
    """
    if floor_soc >= target_soc:
        raise ValueError(f"{floor_name} ({floor_soc:g}) is not below {target_name} "
                         f"({target_soc:g}): every session would start at the same SOC; make "
                         f"{floor_name} < {target_name} (defaults 0.05 and 0.9)")


class Behaviour(_Strict):
    """Calibration data and participation."""

    sessions: str = BUILTIN_SESSIONS
    max_charger_kw: float = Field(22.0, gt=0)
    max_dwell_h: float = Field(48.0, gt=0)
    v2g_share: Fraction = 0.5
    initial_soc: InitialSOC = InitialSOC()
    unreachable_requirement: Literal["cap"] = "cap"


class Station(_Strict):
    """One charging station."""

    name: str = Field(min_length=1)
    n_ev: int = Field(ge=0)
    bus: int | None = None
    chargers: int | None = Field(None, ge=1)


class Assessment(_Strict):
    """Settings of ``run_sim.py assess``."""

    alpha: float = Field(0.90, gt=0.0, lt=1.0)
    n_scenarios: int = Field(500, ge=1)
    da_statistic: Literal["quantile", "mean"] = "quantile"
    rt_times: list[str] = ["00:00", "06:00", "12:00", "18:00"]
    alpha_sensitivity: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = [0.80, 0.90, 0.95, 0.99]
    # "total": one set of kept behaviour days for every station (the α set of the total, what a
    # TSO buys); "stations": each station keeps its own days and the total is their sum
    aggregation: Literal["total", "stations"] = "total"
    # fresh sampled days (another seed) on which coverage of the α sets is measured; 0: skip
    coverage_days: int = Field(200, ge=0)

    @field_validator("rt_times")
    @classmethod
    def _check_times(cls, v: list[str]) -> list[str]:
        seen: dict[int, str] = {}
        for s in v:
            m = minutes_of_day(s)
            if m in seen:
                raise ValueError(f"{s!r} is listed twice (as {seen[m]!r} before); list each "
                                 "real-time observation time once")
            seen[m] = s
        return v


class Profiles(_Strict):
    """Background load and PV of the feeder (see ``scenarios.profiles``)."""

    source: str = "builtin:simbench_summer_weekday"
    load_min_kw: float = Field(1150.0, ge=0)
    load_peak_kw: float = Field(1850.0, ge=0)
    pv_peak_kw: float = Field(600.0, ge=0)
    pv_buses: list[int] = []

    @model_validator(mode="after")
    def _check_load(self) -> Profiles:
        if self.load_min_kw > self.load_peak_kw:
            raise ValueError(f"load_min_kw ({self.load_min_kw}) is above load_peak_kw "
                             f"({self.load_peak_kw}); swap them")
        return self


class Grid(_Strict):
    """The distribution feeder and its limits (paper §3.3, §4.1)."""

    feeder: str = "case33bw"
    bus_numbering: Literal["one_based", "index"] = "one_based"
    v_min_pu: float = Field(0.95, gt=0)
    v_max_pu: float = Field(1.05, gt=0)
    substation_kw: float = Field(2000.0, gt=0)
    line_margin: float = Field(1.0, gt=0)
    thermal_polygon_sides: int = Field(12, ge=4, le=360)
    policy: Literal["uniform", "optimal"] = "uniform"
    converter_kva_per_kw: float = Field(1.0, gt=0)
    pq_directions: int = Field(24, ge=4, le=720)
    profiles: Profiles = Profiles()

    @model_validator(mode="after")
    def _check_voltage(self) -> Grid:
        if self.v_min_pu >= self.v_max_pu:
            raise ValueError(f"voltage limits inverted: v_min_pu = {self.v_min_pu} is not below "
                             f"v_max_pu = {self.v_max_pu}; use e.g. 0.95 and 1.05")
        return self


CallPolicy = Literal["none", "follow-da", "random-within", "max-up", "max-down", "regulation",
                     "edge-da", "edge-prev", "dispatch:oba", "dispatch:bonferroni",
                     "dispatch:so", "dispatch:ro", "dispatch:zonal"]


class Simulation(_Strict):
    """Settings of ``run_sim.py simulate`` (the co-simulated day)."""

    policy: CallPolicy = "random-within"
    n_scenarios: int = Field(200, ge=1)
    queue_rule: Literal["wait", "leave"] = "wait"
    regulation_period_min: float = Field(240.0, gt=0)


class Scenario(_Strict):
    """A complete scenario file."""

    name: str = "scenario"
    description: str = ""
    seed: int = Field(0, ge=0)
    horizon: Horizon = Horizon()
    ev: EVParams = EVParams()
    behaviour: Behaviour = Behaviour()
    stations: list[Station] = Field(min_length=1)
    assessment: Assessment = Assessment()
    grid: Grid = Grid()
    simulation: Simulation = Simulation()
    traffic: Traffic | None = None
    dispatch: Dispatch = Field(default_factory=Dispatch)
    base_dir: str = Field(".", exclude=True)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        names = [s.name for s in self.stations]
        if TOTAL_LABEL in names:
            raise ValueError(f"stations: the name {TOTAL_LABEL!r} is reserved for the total of "
                             "all stations in the output tables; rename that station")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"stations: name(s) {', '.join(map(repr, dup))} used more than "
                             "once; give every station its own name")
        self._check_rt_times()
        problem = traffic_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    def _check_rt_times(self) -> None:
        """Real-time observation times lie on the interval grid of the horizon."""
        hz = self.horizon
        for s in self.assessment.rt_times:
            off = (minutes_of_day(s) - hz.start_min) % DAY_MIN
            if off % hz.dt_min:
                below = hz.start_min + off // hz.dt_min * hz.dt_min
                raise ValueError(
                    f"assessment.rt_times: {s!r} is not on the {hz.dt_min}-minute interval grid "
                    f"from horizon.start {hz.start}; use {hhmm(below)} or "
                    f"{hhmm(below + hz.dt_min)}")

    def sessions_path(self) -> Path:
        """Resolved path of the calibration sessions CSV."""
        if self.behaviour.sessions == BUILTIN_SESSIONS:
            return Path(str(resources.files("scenarios") / "data" / "perth_kinross_2016_17.csv"))
        path = Path(self.behaviour.sessions)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def with_overrides(self, grid: dict | None = None, simulation: dict | None = None,
                       **assessment: object) -> Scenario:
        """A copy with assessment (grid, simulation) fields replaced (CLI options); re-validated."""
        data = self.model_dump()
        data["base_dir"] = self.base_dir
        data["simulation"].update({k: v for k, v in (simulation or {}).items() if v is not None})
        data["assessment"].update({k: v for k, v in assessment.items() if v is not None})
        data["grid"].update({k: v for k, v in (grid or {}).items() if v is not None})
        return validate_scenario(data, "command line")


def traffic_problem(scenario: Scenario) -> str | None:
    """What is wrong with the ``[traffic]`` section against the rest of the scenario, if anything.

    The one check of traffic stations (shared by ``simulate``, ``traffic`` and scenario
    loading): every traffic station is one of the ``[[stations]]`` (same name, same bus), named
    once, and the traffic demand window lies inside the horizon.
    """
    cfg = scenario.traffic
    if cfg is None:
        return None
    stations = {s.name: s for s in scenario.stations}
    seen: set[str] = set()
    for st in cfg.stations:
        where = f"traffic.stations.{st.name}"
        if st.name in seen:
            return f"{where}: named twice; give every traffic station its own name"
        seen.add(st.name)
        if st.name not in stations:
            return (f"{where}: not among [[stations]] ({', '.join(stations)}); add a station "
                    "of that name there with its bus and chargers, or rename it")
        bus = stations[st.name].bus
        if st.bus is None:
            return (f"{where}.bus: missing; give the feeder bus of the station"
                    + (f" (stations.{st.name}.bus = {bus})" if bus is not None else ""))
        if bus is not None and st.bus != bus:
            return (f"{where}.bus: {st.bus} differs from stations.{st.name}.bus = {bus}; use "
                    "the same bus in both sections")
    hz = scenario.horizon
    offset = traffic_offset_min(cfg.start, hz.start_min)
    horizon_min = hz.n_intervals * hz.dt_min
    if offset < 0 or offset + cfg.duration_min > horizon_min:
        return (f"traffic.start/duration_min: demand {cfg.start} + {cfg.duration_min:g} min "
                f"lies outside the horizon ({hz.start} + {horizon_min} min); align them")
    return None


def traffic_offset_min(traffic_start: str, horizon_start_min: float) -> float:
    """Minutes from the horizon start to the traffic demand start (the next time the clock
    shows ``traffic_start``: ``(start - horizon start) mod 1440``, in [0, 1440))."""
    return float((minutes_of_day(traffic_start) - horizon_start_min) % DAY_MIN)


def validate_scenario(data: dict, origin: str) -> Scenario:
    """Validate scenario data (a parsed TOML or a modified ``model_dump``) from ``origin``.

    Raises:
        InputError: The first schema violation, one line naming the field and the fix.
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        extra = " (unknown field; check the spelling against README)" if \
            err["type"] == "extra_forbidden" else ""
        where = f"{loc}: " if loc else ""  # scenario-wide checks name their fields themselves
        raise InputError(f"{origin}: {where}{msg}{extra}") from None


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario file (``None``: the built-in default scenario).

    Raises:
        InputError: Unreadable TOML or a field that fails validation (one line, names it).
    """
    if path is None:
        path = Path(str(resources.files("scenarios") / f"{DEFAULT_SCENARIO}.toml"))
    path = Path(path)
    if not path.is_file():
        builtin = Path(str(resources.files("scenarios") / f"{path}.toml"))
        if builtin.is_file():
            path = builtin
        else:
            raise InputError(f"--scenario: {path} does not exist; pass a TOML file or a "
                             f"built-in name such as '{DEFAULT_SCENARIO}'")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    data["base_dir"] = str(path.parent)
    return validate_scenario(data, str(path))
