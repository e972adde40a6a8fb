"""The ``[traffic]`` section of a scenario file: road network, demand, stations on the roads.

Validated by pydantic like the rest of the scenario (``scenarios.config``, which checks the
traffic stations against the ``[[stations]]`` in ``traffic_problem``).

Networks: ``network = "nguyen-dupuis"`` (built in, with its standard demand), ``"custom"``
(``[[traffic.links]]`` and ``[[traffic.od]]``) or ``"tntp"``: a network of the "Transportation
Networks for Research" collection read by ``traffic.tntp`` from ``net_file`` and ``trips_file``
(paths relative to the scenario file, or ``"builtin:sioux_falls"`` for the shipped Sioux Falls
files). The TNTP OD flows are rates in veh/h like every ``od`` entry: the model loads
``rate * duration_min / 60`` vehicles per pair, so the Sioux Falls table (360,600 veh/h in
total) puts 360,600 vehicles on the roads with ``duration_min = 60``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from scenarios.dispatch_config import SCENARIO_MODEL_CONFIG
from scenarios.timeaxis import TimeOfDay

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NETWORKS = ("nguyen-dupuis", "custom", "tntp")
BUILTIN_TNTP = {  # builtin:<name> -> the shipped files in scenarios/data/<name>/
    "sioux_falls": ("SiouxFalls_net.tntp", "SiouxFalls_trips.tntp"),
}


class _Strict(BaseModel):
    model_config = SCENARIO_MODEL_CONFIG


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
    """The road network, its demand and the EV users (paper: spatiotemporal DTA, §1.1 and §3).

    Besides the paper's fields:

    Attributes:
        net_file: ``network = "tntp"``: the ``*_net.tntp`` file (relative to the scenario file)
            or ``"builtin:sioux_falls"``.
        trips_file: ``network = "tntp"``: the ``*_trips.tntp`` file (or ``"builtin:..."``);
            leave it out to give the demand as ``[[traffic.od]]`` instead.
        tntp_time_unit_min: Minutes per unit of the TNTP free-flow times (1: read as minutes,
            the usual reading of Sioux Falls' 0.01 h units).
        demand_scale: Factor on the OD demand of any network (1: as given).
        platoon_veh: Regular users per simulated vehicle in the dynamic loading (1: each
            vehicle on its own; 10-50 make city-scale demand tractable, see
            ``traffic.assignment``). Station users always travel one per trip.
        station_capacity: ``hard``: a station link's ports are servers and vehicles queue for
            them (at most ``ports`` in service); ``soft``: the paper's waiting cost
            ``t = t_s (1 + (h / c)^3)`` on the station link with ``h`` its vehicles and ``c``
            its ports, so occupancy above ``c`` is possible but costly (both traffic models).
        departure_shifts_min: Departure-time choice of the station users: the shifts of the
            desired departure they may take (minutes, multiples of ``interval_min``, with 0);
            empty: fixed departures.
        schedule_early_per_h: ``beta`` of the schedule delay, per hour of leaving early.
        schedule_late_per_h: ``gamma`` of the schedule delay, per hour of leaving late.
        share_update: ``msa`` (move towards the cheapest alternative by a falling step) or
            ``swap`` (move shares in proportion to their excess cost, ``swap_scale``
            CNY moving a whole share; see ``traffic.assignment``).
        swap_scale: ``kappa`` of the proportional swap (CNY).
    """

    network: str = "nguyen-dupuis"
    links: list[TrafficLink] = []
    od: list[OD] = []
    net_file: str = ""
    trips_file: str = ""
    tntp_time_unit_min: float = Field(1.0, gt=0)
    demand_scale: float = Field(1.0, ge=0)
    platoon_veh: int = Field(1, ge=1)
    stations: list[TrafficStation] = []
    start: TimeOfDay = "17:00"
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
    station_capacity: Literal["hard", "soft"] = "hard"
    departure_shifts_min: list[float] = []
    schedule_early_per_h: float = Field(18.0, ge=0)
    schedule_late_per_h: float = Field(72.0, ge=0)
    share_update: Literal["msa", "swap"] = "msa"
    swap_scale: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Traffic:
        if self.charging_share + self.v2g_share > 1.0:
            raise ValueError("charging_share + v2g_share exceeds 1; lower one of them")
        if self.network == "custom" and (not self.links or not self.od):
            raise ValueError("network = 'custom' needs [[traffic.links]] and [[traffic.od]]")
        if self.network not in NETWORKS:
            raise ValueError(f"network {self.network!r} is not built in; use 'nguyen-dupuis', "
                             "'custom' with [[traffic.links]] or 'tntp' with net_file")
        if self.links and self.network != "custom":
            raise ValueError(f"links: [[traffic.links]] are only read with network = 'custom' "
                             f"(network is {self.network!r}); remove them or switch")
        if self.network == "tntp":
            if not self.net_file:
                raise ValueError("net_file: network = 'tntp' needs the *_net.tntp file, e.g. "
                                 "net_file = 'builtin:sioux_falls'")
            if not self.trips_file and not self.od:
                raise ValueError("trips_file: network = 'tntp' needs the *_trips.tntp file "
                                 "(or [[traffic.od]] entries), e.g. trips_file = "
                                 "'builtin:sioux_falls'")
            if self.trips_file and self.od:
                raise ValueError("trips_file: given together with [[traffic.od]]; keep one "
                                 "source of demand")
            for name in ("net_file", "trips_file"):
                value = getattr(self, name)
                key = value.removeprefix("builtin:")
                if value.startswith("builtin:") and key not in BUILTIN_TNTP:
                    raise ValueError(f"{name}: {value!r} is not shipped; use one of "
                                     f"{', '.join('builtin:' + k for k in BUILTIN_TNTP)} or a "
                                     "file path")
        elif self.net_file or self.trips_file:
            raise ValueError(f"net_file/trips_file: only read with network = 'tntp' (network is "
                             f"{self.network!r}); set network = 'tntp' or remove them")
        if self.departure_shifts_min:
            shifts = self.departure_shifts_min
            if 0.0 not in shifts or len(set(shifts)) != len(shifts):
                raise ValueError("departure_shifts_min: list each shift once and include 0, "
                                 "e.g. [-20, -10, 0, 10, 20]")
            if any(abs(d / self.interval_min - round(d / self.interval_min)) > 1e-9
                   for d in shifts):
                raise ValueError(f"departure_shifts_min: every shift must be a multiple of "
                                 f"interval_min ({self.interval_min:g} min)")
        if self.profile and len(self.profile) * self.interval_min < self.duration_min - 1e-9:
            raise ValueError("profile has fewer entries than demand intervals")
        return self

    def tntp_paths(self, base_dir: str | Path = ".") -> tuple[Path | None, Path | None]:
        """The TNTP network and trips files (``None`` where not given).

        Args:
            base_dir: Folder that relative paths are resolved against (the scenario file's).
        """
        out: list[Path | None] = []
        for i, value in enumerate((self.net_file, self.trips_file)):
            if not value:
                out.append(None)
            elif value.startswith("builtin:"):
                name = value.removeprefix("builtin:")
                out.append(Path(str(resources.files("scenarios") / "data" / name))
                           / BUILTIN_TNTP[name][i])
            else:
                path = Path(value)
                out.append(path if path.is_absolute() else Path(base_dir) / path)
        return out[0], out[1]
