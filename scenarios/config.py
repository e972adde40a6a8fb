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
from scenarios.errors import InputError
from scenarios.timeaxis import TimeAxis, minutes_of_day

BUILTIN_SESSIONS = "builtin:perth_kinross"
DEFAULT_SCENARIO = "paper_case"

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Efficiency = Annotated[float, Field(gt=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Horizon(_Strict):
    """The study horizon."""

    start: str = "00:00"
    n_intervals: int = Field(96, ge=1, le=10_000)
    dt_min: int = Field(15, ge=1, le=1440)
    previous_day_carry_over: bool = True

    @field_validator("start")
    @classmethod
    def _check_start(cls, v: str) -> str:
        minutes_of_day(v)
        return v

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
        for s in v:
            minutes_of_day(s)
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
                     "edge-da", "edge-prev"]


class Simulation(_Strict):
    """Settings of ``run_sim.py simulate`` (the co-simulated day)."""

    policy: CallPolicy = "random-within"
    n_scenarios: int = Field(200, ge=1)
    queue_rule: Literal["wait", "leave"] = "wait"
    regulation_period_min: float = Field(240.0, gt=0)


class TrafficStation(_Strict):
    """A charging/V2G station on the road network, connected to a feeder bus."""

    name: str = Field(min_length=1)
    node: int
    bus: int | None = None
    charge_ports: int = Field(60, ge=0)
    v2g_ports: int = Field(40, ge=0)
    service_min: float = Field(30.0, gt=0)
    access_min: float = Field(0.0, ge=0)


class TrafficLink(_Strict):
    """A road link of a custom network."""

    from_node: int
    to_node: int
    free_flow_min: float
    capacity_veh_h: float
    length_km: float = 0.0


class OD(_Strict):
    """Demand of one OD pair (veh/h)."""

    origin: int
    destination: int
    veh_h: float = Field(ge=0)


class Traffic(_Strict):
    """The road network, its demand and the EV users (paper: spatiotemporal DTA, §1.1 and §3)."""

    network: str = "nguyen-dupuis"
    links: list[TrafficLink] = []
    od: list[OD] = []
    stations: list[TrafficStation] = []
    start: str = "17:00"
    duration_min: float = Field(120.0, gt=0)
    interval_min: float = Field(10.0, gt=0)
    profile: list[Annotated[float, Field(ge=0)]] = []
    charging_share: Fraction = 0.2
    v2g_share: Fraction = 0.1
    value_of_time_per_h: float = Field(30.0, ge=0)
    charge_price_per_kwh: float = 2.0
    v2g_price_per_kwh: float = 3.0
    charge_power_kw: float = Field(60.0, gt=0)
    v2g_power_kw: float = Field(40.0, gt=0)
    link_model: Literal["queue", "bpr"] = "queue"
    target_gap: float = Field(0.01, gt=0)
    max_iterations: int = Field(60, ge=1)
    soc_arrival_charging: Fraction = 0.3
    soc_arrival_v2g: Fraction = 0.8

    @field_validator("start")
    @classmethod
    def _check_start(cls, v: str) -> str:
        minutes_of_day(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> Traffic:
        if self.charging_share + self.v2g_share > 1.0:
            raise ValueError("charging_share + v2g_share exceeds 1; lower one of them")
        if self.network == "custom" and (not self.links or not self.od):
            raise ValueError("network = 'custom' needs [[traffic.links]] and [[traffic.od]]")
        if self.network not in ("nguyen-dupuis", "custom"):
            raise ValueError(f"network {self.network!r} is not built in; use 'nguyen-dupuis' "
                             "or 'custom' with [[traffic.links]]")
        if self.profile and len(self.profile) * self.interval_min < self.duration_min - 1e-9:
            raise ValueError("profile has fewer entries than demand intervals")
        return self


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
    base_dir: str = Field(".", exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        names = [s.name for s in self.stations]
        dup = {n for n in names if names.count(n) > 1}
        if dup or TOTAL_LABEL in names:
            raise ValueError(f"station names must be unique and not 'ALL' (got {sorted(dup)})")
        return self

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


def validate_scenario(data: dict, origin: str) -> Scenario:
    """Validate scenario data (a parsed TOML or a modified ``model_dump``) from ``origin``.

    Raises:
        InputError: The first schema violation, one line naming the field and the fix.
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        extra = " (unknown field; check the spelling against README)" if \
            err["type"] == "extra_forbidden" else ""
        raise InputError(f"{origin}: {loc}: {msg}{extra}") from None


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
