"""Prices, coupons and what they cost (spatiotemporal paper §1.1 generalized cost, §2.1 F_bs).

Sign convention: a station's net load is positive when it charges (charging users draw
``charge_power_kw`` per vehicle in service, V2G users inject ``v2g_power_kw``).

Coupons are the operator's decision ``psi``: per station, a charging coupon (CNY/kWh off the
charging price) and a V2G subsidy (CNY/kWh on top of the V2G price), constant within departure
bands of ``band_min`` minutes (band ``b`` covers departures in ``[b band_min, (b+1) band_min)``
from the loading start; the last band also takes later departures). A user pays or receives the
coupon of the band of its departure, so an equilibrium stays a function of the departure
interval as long as ``band_min`` is a multiple of the demand interval.

The subsidy spent is ``F_bs = sum_sessions (coupon + subsidy) * energy`` over the sessions the
equilibrium realises (paper §2.1), ``energy = power * service_min / 60``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from traffic.dynamic import Loading
from traffic.network import RoadNetwork

SERVICES = ("charge", "v2g")


@dataclass(frozen=True)
class Coupons:
    """Station coupons per departure band (module docstring).

    Attributes:
        band_min: Band length (minutes from the loading start).
        charge_per_kwh: Charging coupon per station and band (CNY/kWh).
        v2g_per_kwh: V2G subsidy per station and band (CNY/kWh).
    """

    band_min: float
    charge_per_kwh: dict[str, tuple[float, ...]] = field(default_factory=dict)
    v2g_per_kwh: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.band_min > 0:
            raise ValueError(f"Coupons.band_min must be > 0, got {self.band_min}")
        for name, table in (("charge_per_kwh", self.charge_per_kwh),
                            ("v2g_per_kwh", self.v2g_per_kwh)):
            for station, vals in table.items():
                if len(vals) == 0 or min(vals) < 0:
                    raise ValueError(f"Coupons.{name}[{station!r}]: give one value >= 0 per "
                                     f"band, got {vals}")

    def value(self, service: str, station: str, depart_min: float) -> float:
        """Coupon of ``service`` (``charge`` or ``v2g``) at ``station`` for a departure."""
        return float(self.values(service, station, np.array([depart_min]))[0])

    def values(self, service: str, station: str, depart_min: np.ndarray) -> np.ndarray:
        """:meth:`value` for many departures."""
        table = self.charge_per_kwh if service == "charge" else self.v2g_per_kwh
        vals = table.get(station)
        if not vals:
            return np.zeros(np.shape(depart_min))
        band = np.clip(np.floor(np.asarray(depart_min) / self.band_min + 1e-9).astype(int), 0,
                       len(vals) - 1)
        return np.asarray(vals, dtype=float)[band]

    @classmethod
    def from_vector(cls, psi: np.ndarray, stations: tuple[str, ...] | list[str], n_bands: int,
                    band_min: float) -> Coupons:
        """Coupons from ``psi`` ordered ``[station][charge, v2g][band]``."""
        psi = np.asarray(psi, dtype=float)
        if psi.shape != (len(stations) * len(SERVICES) * n_bands,):
            raise ValueError(f"psi has shape {psi.shape}; expected "
                             f"({len(stations) * len(SERVICES) * n_bands},) = stations x 2 x "
                             "bands")
        t = psi.reshape(len(stations), len(SERVICES), n_bands)
        return cls(band_min, {s: tuple(t[j, 0]) for j, s in enumerate(stations)},
                   {s: tuple(t[j, 1]) for j, s in enumerate(stations)})

    def to_vector(self, stations: tuple[str, ...] | list[str], n_bands: int) -> np.ndarray:
        """Inverse of :meth:`from_vector` (missing stations or bands are 0)."""
        out = np.zeros((len(stations), len(SERVICES), n_bands))
        for j, s in enumerate(stations):
            for i, table in enumerate((self.charge_per_kwh, self.v2g_per_kwh)):
                vals = table.get(s, ())[:n_bands]
                out[j, i, :len(vals)] = vals
        return out.ravel()


@dataclass(frozen=True)
class Prices:
    """Generalized-cost parameters (paper §3 case values by default).

    Attributes:
        value_of_time_per_h: Value of travel time (CNY/h).
        charge_price_per_kwh: Charging price (CNY/kWh).
        v2g_price_per_kwh: V2G discharge price (CNY/kWh).
        charge_power_kw: Charging power per port.
        v2g_power_kw: V2G power per port.
        coupon_per_kwh: Charging coupon per station, all day (CNY/kWh).
        v2g_subsidy_per_kwh: V2G subsidy per station, all day (CNY/kWh).
        coupons: Coupons per departure band, on top of the all-day ones.
    """

    value_of_time_per_h: float = 30.0
    charge_price_per_kwh: float = 2.0
    v2g_price_per_kwh: float = 3.0
    charge_power_kw: float = 60.0
    v2g_power_kw: float = 40.0
    coupon_per_kwh: dict[str, float] = field(default_factory=dict)
    v2g_subsidy_per_kwh: dict[str, float] = field(default_factory=dict)
    coupons: Coupons | None = None

    def incentive_per_kwh(self, service: str, station: str, depart_min: float) -> float:
        """All-day coupon plus the band coupon of a departure (CNY/kWh)."""
        table = self.coupon_per_kwh if service == "charge" else self.v2g_subsidy_per_kwh
        extra = self.coupons.value(service, station, depart_min) if self.coupons else 0.0
        return table.get(station, 0.0) + extra

    def energy_kwh(self, service: str, service_min: float) -> float:
        """Energy of one session: ``power * service_min / 60``."""
        power = self.charge_power_kw if service == "charge" else self.v2g_power_kw
        return power * service_min / 60.0


def money(net: RoadNetwork, path: tuple[int, ...], user: str, prices: Prices,
          depart_min: float = 0.0) -> float:
    """Monetary part of the generalized cost of a path (CNY).

    ``(price - coupon) * energy`` for a charging user's charge link, ``-(V2G price + subsidy)
    * energy`` for a V2G user's V2G link, with the coupons of the departure's band.
    """
    total = 0.0
    for a in path:
        ln = net.links[a]
        if ln.kind == "charge" and user == "charging":
            e = prices.energy_kwh("charge", ln.service_min)
            total += (prices.charge_price_per_kwh
                      - prices.incentive_per_kwh("charge", ln.station, depart_min)) * e
        elif ln.kind == "v2g" and user == "v2g":
            e = prices.energy_kwh("v2g", ln.service_min)
            total -= (prices.v2g_price_per_kwh
                      + prices.incentive_per_kwh("v2g", ln.station, depart_min)) * e
    return total


def _station_traversals(net: RoadNetwork, ld: Loading
                        ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Traversals of station links: their indices, their trips' departure times, the station
    names and each traversal's station index."""
    kinds = np.array([ln.kind in SERVICES for ln in net.links])
    idx = np.flatnonzero(kinds[ld.link])
    vids = np.array([t.vid for t in ld.trips], dtype=np.int64)
    dep = np.array([t.depart_min for t in ld.trips])
    where = np.full(int(vids.max(initial=-1)) + 1, -1, dtype=np.int64)
    where[vids] = np.arange(vids.size)
    names = list(dict.fromkeys(ln.station for ln in net.links if ln.kind in SERVICES))
    st_of_link = np.array([names.index(ln.station) if ln.kind in SERVICES else -1
                           for ln in net.links])
    return idx, dep[where[ld.vid[idx]]], names, st_of_link[ld.link[idx]]


def _link_table(net: RoadNetwork, values) -> np.ndarray:
    """One value per link, ``values(link)`` for station links, 0 elsewhere."""
    return np.array([values(ln) if ln.kind in SERVICES else 0.0 for ln in net.links])


def subsidy_spent(net: RoadNetwork, ld: Loading, prices: Prices) -> dict[str, float]:
    """Realised subsidy per station: ``sum_sessions incentive * energy`` (CNY)."""
    idx, dep, names, st = _station_traversals(net, ld)
    energy = _link_table(net, lambda ln: prices.energy_kwh(ln.kind, ln.service_min))
    links = ld.link[idx]
    incentive = np.zeros(idx.size)
    for a in np.unique(links):  # one vectorised band lookup per station link
        ln = net.links[int(a)]
        on = links == a
        incentive[on] = _incentives(prices, ln.kind, ln.station, dep[on])
    out = np.zeros(len(names))
    np.add.at(out, st, ld.traversal_veh[idx] * incentive * energy[links])
    return {n: float(v) for n, v in zip(names, out, strict=True)}


def _incentives(prices: Prices, service: str, station: str, depart_min: np.ndarray
                ) -> np.ndarray:
    """``incentive_per_kwh`` for many departures (band lookup vectorised)."""
    table = prices.coupon_per_kwh if service == "charge" else prices.v2g_subsidy_per_kwh
    extra = prices.coupons.values(service, station, depart_min) if prices.coupons else 0.0
    return table.get(station, 0.0) + extra + np.zeros(depart_min.shape)


def station_net_load_kw(net: RoadNetwork, ld: Loading, prices: Prices, t_min: float,
                        width_min: float) -> dict[str, float]:
    """Net load per station averaged over ``[t, t + width)`` (kW, charging positive).

    ``P_s = sum_{service links of s} +-power * sum_vehicles overlap([exit - service, exit],
    [t, t + width]) / width`` — the mean number of vehicles in service times the port power.
    """
    if not width_min > 0:
        raise ValueError(f"width_min must be > 0, got {width_min}")
    idx, _, names, st = _station_traversals(net, ld)
    service = _link_table(net, lambda ln: ln.service_min)
    power = _link_table(net, lambda ln: prices.charge_power_kw if ln.kind == "charge"
                        else -prices.v2g_power_kw)
    links = ld.link[idx]
    end = ld.exit_min[idx]
    overlap = np.clip(np.minimum(end, t_min + width_min)
                      - np.maximum(end - service[links], t_min), 0.0, None)
    out = np.zeros(len(names))
    np.add.at(out, st, power[links] * overlap * ld.traversal_veh[idx] / width_min)
    return {n: float(v) for n, v in zip(names, out, strict=True)}
