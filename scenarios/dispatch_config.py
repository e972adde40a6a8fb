"""The ``[dispatch]`` section of a scenario file: the day-ahead dispatch of the DSO.

Devices besides the EV aggregators (one per station, given by the packaged day-ahead
boundaries): dispatchable generators, a wind farm, the import price and the uncertainty data.
Validated by pydantic like the rest of the scenario. Defaults are our assumptions (the paper
of Li et al. does not publish its case data): two 2,000 kW generators (buses 3 and 23) and no
wind.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scenarios.builtins import check_builtin
from scenarios.timeaxis import TimeOfDay, minutes_of_day

Method = Literal["oba", "bonferroni", "so", "ro", "zonal"]
BUILTIN_YEAR = "builtin:simbench_2016_year"
BUILTIN_SETS = "builtin:simbench_2016_sets"
#: Settings of every scenario section (``scenarios.config``, ``scenarios.traffic_config``):
#: unknown fields refused, values frozen, strict types (a ``bool`` is ``true``/``false``, an
#: ``int`` a whole number, a ``float`` any number; nothing is coerced from text) and finite
#: numbers only.
SCENARIO_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True,
                                   allow_inf_nan=False)


class _Strict(BaseModel):
    model_config = SCENARIO_MODEL_CONFIG


class Generator(_Strict):
    """A dispatchable generator (micro-turbine, diesel, ...)."""

    name: str = Field(min_length=1)
    bus: int
    p_max_kw: float = Field(gt=0)
    cost_per_kwh: float = Field(ge=0)
    reserve_cost_per_kw: float = Field(0.02, ge=0)
    kg_per_kwh: float = Field(0.8, ge=0)


class PricePeriod(_Strict):
    """Import price from ``start`` until the next period's start (time of use)."""

    start: TimeOfDay
    price_per_kwh: float = Field(ge=0)


def _default_generators() -> list[Generator]:
    return [Generator(name="DG1", bus=3, p_max_kw=2000.0, cost_per_kwh=0.55),
            Generator(name="DG2", bus=23, p_max_kw=2000.0, cost_per_kwh=0.65)]


def _default_prices() -> list[PricePeriod]:
    return [PricePeriod(start="00:00", price_per_kwh=0.35),
            PricePeriod(start="08:00", price_per_kwh=0.70),
            PricePeriod(start="17:00", price_per_kwh=1.10),
            PricePeriod(start="21:00", price_per_kwh=0.70),
            PricePeriod(start="23:00", price_per_kwh=0.35)]


class Renewable(_Strict):
    """A PV plant or wind turbine of the zonal case.

    Output up to ``p_max_kw`` times the profile's normalised shape; the rest is curtailed.
    Its inverter's reactive output (eq. 32's ``Q^PV``, ``Q^WP``) lies within
    ``+-q_max_kvar`` (``None``: ``dispatch.zonal.inverter_q_per_kw`` times ``p_max_kw``).
    """

    bus: int
    p_max_kw: float = Field(gt=0)
    kind: Literal["pv", "wind"] = "pv"
    q_max_kvar: float | None = Field(None, ge=0)


class Capacitor(_Strict):
    """A switched capacitor bank: ``steps`` steps of ``step_kvar``."""

    bus: int
    step_kvar: float = Field(gt=0)
    steps: int = Field(ge=1)


class Zonal(_Strict):
    """The two-layer zonal dispatch (``method = "zonal"``; bilevel zonal dispatch paper).

    Attributes (of the interaction between the layers and of the case):
        dg_must_run: The diesels run at full output all day, before and after (the paper's
            Table 2 has the same diesel cost in both).
        carbon_per_interval: The carbon ladder (eq. 4) prices each interval's emission.
        targets: ``"economic"``: the areas' targets are the economic plan's area sums (eq. 9
            with one plan); ``"max_with_losses"``: the larger of the economic plan's and the
            loss-minimising plan's (eq. 6) area sums, active and reactive (eqs. 9-10).
        target_tol_kw: The targets agree between two rounds of the layers when no area's
            target moves by more than this in any interval.
        target_rounds: Most rounds of the layers.
        response_in_layer: The distribution layer plans the areas' EV energy per tariff
            period within their users' price response (eq. 25): a DR-consistent plan.
        inverter_q_per_kw: Reactive range of the renewables' inverters per kW of their rating
            (eq. 32's ``Q^PV``, ``Q^WP`` within ``+-inverter_q_per_kw p_max_kw``; 0.33 is a
            power factor of 0.95 at rated output; 0: unity power factor). A plant's own
            ``q_max_kvar`` overrides it.
    """

    renewables: list[Renewable] = Field(default_factory=list)
    capacitors: list[Capacitor] = Field(default_factory=list)
    thermal_share: float = Field(0.476, ge=0, le=1)
    thermal_kg_per_kwh: float = Field(1.08, ge=0)
    quota_kg_per_kwh: float = Field(0.7, ge=0)
    carbon_price_per_t: float = Field(200.0, ge=0)
    carbon_step_t: float = Field(50.0, gt=0)
    carbon_growth: float = Field(0.25, ge=0)
    curtail_per_kwh: float = Field(0.1, ge=0)
    demand_charge_per_kw: float = Field(32.0 / 30.0, ge=0)
    v2g_wear_per_kwh: float = Field(0.05, ge=0)
    ramp_per_kw: float = Field(0.01, ge=0)
    weights: tuple[float, float, float] = (0.5, 0.9, 0.4)
    min_buses: int = Field(3, ge=1)
    max_buses: int = Field(12, ge=1)
    dg_must_run: bool = False
    carbon_per_interval: bool = False
    targets: Literal["economic", "max_with_losses"] = "economic"
    target_tol_kw: float = Field(1.0, gt=0)
    target_rounds: int = Field(8, ge=1)
    response_in_layer: bool = False
    inverter_q_per_kw: float = Field(0.0, ge=0)

    @field_validator("weights", mode="before")
    @classmethod
    def _weights_list(cls, v: object) -> object:
        return tuple(v) if isinstance(v, list) else v  # TOML arrays are lists


class Dispatch(_Strict):
    """Settings of ``run_sim.py dispatch`` and of the ``dispatch:*`` call policies."""

    method: Method = "oba"
    epsilon: float = Field(0.05, gt=0.0, lt=1.0)
    generators: list[Generator] = Field(default_factory=_default_generators)
    wind_peak_kw: float = Field(0.0, ge=0)
    wind_buses: list[int] = Field(default_factory=list)
    prices: list[PricePeriod] = Field(default_factory=_default_prices, min_length=1)
    ev_reserve_cost_per_kw: float = Field(0.01, ge=0)
    uncertainty_source: str = BUILTIN_SETS
    uncertainty_months: list[int] = Field(default_factory=lambda: [5, 6, 7, 8, 9], min_length=1)
    uncertainty_weekend: bool = False
    forecast: Literal["energy-scaled", "day-type-mean"] = "energy-scaled"
    forecast_window_days: int = Field(14, ge=1, le=180)
    max_components: int = Field(4, ge=1, le=10)
    so_samples: int = Field(20, ge=1)
    export_price_per_kwh: float | None = Field(None, ge=0)
    export_cap_kw: float | None = Field(None, ge=0)
    ambiguity: Literal["moment", "unimodal"] = "moment"
    union: Literal["rows", "directions"] = "directions"
    zonal: Zonal = Field(default_factory=Zonal)

    @field_validator("prices")
    @classmethod
    def _sorted(cls, v: list[PricePeriod]) -> list[PricePeriod]:
        starts = [minutes_of_day(p.start) for p in v]
        if starts != sorted(starts) or len(set(starts)) < len(starts):
            raise ValueError("periods must start at increasing times of day, e.g. 00:00, "
                             "08:00, 17:00")
        return v

    @field_validator("uncertainty_source")
    @classmethod
    def _source(cls, v: str) -> str:
        return check_builtin(v, (BUILTIN_YEAR, BUILTIN_SETS), "a year CSV path")

    @field_validator("uncertainty_months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        if any(not 1 <= m <= 12 for m in v):
            raise ValueError("months are 1..12, e.g. [6, 7, 8] for summer")
        return v

    @model_validator(mode="after")
    def _check(self) -> Dispatch:
        names = [g.name for g in self.generators]
        if len(set(names)) < len(names):
            raise ValueError("generators: every generator needs its own name")
        low = min(p.price_per_kwh for p in self.prices)
        if self.export_price_per_kwh is not None and self.export_price_per_kwh > low:
            raise ValueError(f"export_price_per_kwh: {self.export_price_per_kwh:g} is above the "
                             f"lowest import price {low:g}; give at most {low:g} (else the "
                             "dispatch would buy to export without end)")
        if self.wind_peak_kw > 0 and not self.wind_buses:
            raise ValueError("wind_buses: give the bus(es) of the wind farm when wind_peak_kw "
                             "> 0")
        return self

    def price_at(self, minute_of_day: float) -> float:
        """Import price (per kWh) at a time of day (minutes, periodic)."""
        m = minute_of_day % 1440
        price = self.prices[-1].price_per_kwh  # before the first start: the day wraps
        for p in self.prices:
            if minutes_of_day(p.start) <= m:
                price = p.price_per_kwh
        return price
