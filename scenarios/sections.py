"""The sections of a scenario file as pydantic models.

Horizon, EVs, behaviour, stations, assessment, grid and simulation; ``scenarios.config``
assembles them (with ``[traffic]`` and ``[dispatch]``) into a ``Scenario``.

Values are read strictly (``scenarios.dispatch_config.SCENARIO_MODEL_CONFIG``): finite numbers,
``true``/``false`` for a ``bool``, whole numbers for an ``int``.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field, field_validator, model_validator

from scenarios.builtins import check_builtin
from scenarios.dispatch_config import SCENARIO_MODEL_CONFIG
from scenarios.timeaxis import DAY_MIN, TimeAxis, TimeOfDay, minutes_of_day

BUILTIN_SESSIONS = "builtin:perth_kinross"
#: The shipped sessions tables by ``builtin:`` name (files in ``scenarios/data``): the Perth &
#: Kinross public charging sessions, and residential evening-to-morning sessions drawn from the
#: NHTS-2009 home-charging fit (``scenarios.tools.make_home_sessions``).
BUILTIN_SESSION_FILES = {BUILTIN_SESSIONS: "perth_kinross_2016_17.csv",
                         "builtin:home_charging_nhts": "home_charging_nhts.csv"}
#: Longest study horizon (days). The behaviour model samples one day of sessions per station and
#: day of the horizon, so a horizon is a day or a few days; longer ones are refused rather than
#: stretched silently (e.g. ``dt_min = 1440`` with 96 intervals would be 96 days).
MAX_HORIZON_DAYS = 7
#: Largest ``grid.line_margin`` (``grid.feeder.MAX_LINE_MARGIN``): derived line ratings are
#: ``line_margin`` times the design-load current, so 100 already leaves every line unlimited.
MAX_LINE_MARGIN = 100.0

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Efficiency = Annotated[float, Field(gt=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = SCENARIO_MODEL_CONFIG


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

    @field_validator("sessions")
    @classmethod
    def _check_sessions(cls, v: str) -> str:
        return check_builtin(v, tuple(BUILTIN_SESSION_FILES), "a sessions CSV path")


class Station(_Strict):
    """One charging station."""

    name: str = Field(min_length=1)
    n_ev: int = Field(ge=0)
    bus: int | None = None
    chargers: int | None = Field(None, ge=1)
    # where it is (WGS84 degrees): EVs finding another station full can reroute here
    # (simulation.queue_rule = "reroute"); without coordinates no EV reroutes to or from it
    lon_deg: float | None = Field(None, ge=-180.0, le=180.0)
    lat_deg: float | None = Field(None, ge=-90.0, le=90.0)

    @model_validator(mode="after")
    def _both_coordinates(self) -> Station:
        if (self.lon_deg is None) != (self.lat_deg is None):
            raise ValueError(f"station {self.name}: give both lon_deg and lat_deg, or neither")
        return self


class Assessment(_Strict):
    """Settings of ``run_sim.py assess``."""

    alpha: float = Field(0.90, gt=0.0, lt=1.0)
    n_scenarios: int = Field(500, ge=1)
    da_statistic: Literal["quantile", "mean"] = "quantile"
    rt_times: list[str] = ["00:00", "06:00", "12:00", "18:00"]
    # instants of the P-Q table and figure (the paper's Table 6 and Figs 11-14)
    pq_times: list[str] = ["12:00", "18:30", "21:00", "23:00"]
    alpha_sensitivity: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = [0.80, 0.90, 0.95, 0.99]
    # "total": one set of kept behaviour days for every station (the α set of the total, what a
    # TSO buys); "stations": each station keeps its own days and the total is their sum
    aggregation: Literal["total", "stations"] = "total"
    # which α set the station layer reports (DA, RT and the α sensitivity). "whole-day": the
    # scenarios kept as one set of days, their sets intersected around each day's reference
    # (every trajectory of the set feasible on a share α of the days, calibrated and covered on
    # fresh days). "per-interval": the paper's definition, each bound of each interval alone the
    # α quantile of the scenarios' exact projections (larger; no joint guarantee), widened to
    # contain the reference the grid layers are built around
    alpha_definition: Literal["whole-day", "per-interval"] = "whole-day"
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

    @field_validator("source")
    @classmethod
    def _check_source(cls, v: str) -> str:
        return check_builtin(v, ("builtin:simbench_summer_weekday", "builtin:zonal_two_peak_day"),
                             "a profiles CSV path")

    @model_validator(mode="after")
    def _check_load(self) -> Profiles:
        if self.load_min_kw > self.load_peak_kw:
            raise ValueError(f"load_min_kw ({self.load_min_kw}) is above load_peak_kw "
                             f"({self.load_peak_kw}); swap them")
        return self


class DistributedGenerator(_Strict):
    """A dispatchable generator on the feeder (unity power factor), read by the grid check of
    ``flexibility-region`` (``environment.experiments.region_grid``)."""

    bus: int
    p_max_kw: float = Field(gt=0)


class Grid(_Strict):
    """The distribution feeder and its limits (paper §3.3, §4.1).

    ``dg``: dispatchable generators; only the region's grid check (``flexibility-region``)
    dispatches them, the other commands see the feeder without them.
    """

    feeder: str = "case33bw"
    bus_numbering: Literal["one_based", "index"] = "one_based"
    v_min_pu: float = Field(0.95, gt=0)
    v_max_pu: float = Field(1.05, gt=0)
    substation_kw: float = Field(2000.0, gt=0)
    line_margin: float = Field(1.0, gt=0, le=MAX_LINE_MARGIN)
    thermal_polygon_sides: int = Field(12, ge=4, le=360)
    policy: Literal["uniform", "optimal"] = "uniform"
    converter_kva_per_kw: float = Field(1.0, gt=0)
    pq_directions: int = Field(24, ge=4, le=720)
    profiles: Profiles = Profiles()
    dg: list[DistributedGenerator] = []

    @model_validator(mode="after")
    def _check_voltage(self) -> Grid:
        if self.v_min_pu >= self.v_max_pu:
            raise ValueError(f"voltage limits inverted: v_min_pu = {self.v_min_pu} is not below "
                             f"v_max_pu = {self.v_max_pu}; use e.g. 0.95 and 1.05")
        return self


CallPolicy = Literal["none", "follow-da", "random-within", "max-up", "max-down", "regulation",
                     "edge-da", "edge-prev", "reserve-edge", "reserve-random", "dispatch:oba",
                     "dispatch:bonferroni", "dispatch:so", "dispatch:ro", "dispatch:zonal"]
TSO_RULES = tuple(p for p in get_args(CallPolicy) if not p.startswith("dispatch:"))
"""Call policies the TSO applies itself (the others follow a day planner's plan)."""
RESERVE_POLICIES = ("reserve-edge", "reserve-random")
"""Call policies on the day-ahead reserve product."""


class Simulation(_Strict):
    """Settings of ``run_sim.py simulate`` (the co-simulated day)."""

    policy: CallPolicy = "reserve-edge"
    n_scenarios: int = Field(200, ge=1)
    # what the DSO publishes every tick: "alpha-battery" packages the α set of the plugged-in EVs
    # and package_days sampled days of later arrivals as `assess` does (energy rows, the reserve
    # product's baseline); "vehicle-box" sums constant per-vehicle boxes (cheaper, for cities)
    package: Literal["alpha-battery", "vehicle-box"] = "alpha-battery"
    package_days: int = Field(50, ge=1)
    # what an EV does when every charger of its station is taken: "wait" in the queue until its
    # departure, "leave" at once, queue for patience_min then leave ("patience"), or queue for
    # patience_min then drive to the nearest station with a free charger ("reroute")
    queue_rule: Literal["wait", "leave", "patience", "reroute"] = "reroute"
    patience_min: float = Field(15.0, ge=0)
    reroute_max_km: float = Field(5.0, ge=0)
    reroute_speed_kmh: float = Field(25.0, gt=0)
    reroute_detour_factor: float = Field(1.3, ge=1.0)
    reroute_kwh_per_km: float = Field(0.18, ge=0)
    reroute_max_hops: int = Field(2, ge=1)
    regulation_period_min: float = Field(240.0, gt=0)
