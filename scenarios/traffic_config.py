"""The ``[traffic]`` section of a scenario file: road network, demand, stations on the roads.

Validated by pydantic like the rest of the scenario (``scenarios.config``, which checks the
traffic stations against the ``[[stations]]`` in ``traffic_problem``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenarios.timeaxis import TimeOfDay

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
