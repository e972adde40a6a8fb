"""Data of the zonal distribution layer: the day's instance and its plan.

``dispatch.zonal_dn`` states the model the instance feeds and the plan is written back from.
"""

from __future__ import annotations

from dataclasses import dataclass

from flexibility.common import FloatArray, IntArray


@dataclass(frozen=True)
class ZonalNetwork:
    """One day of the distribution layer (``T`` intervals, ``n`` buses).

    Attributes:
        dt_h: Interval length.
        load_p_kw: Base load ``(T, n)``.
        load_q_kvar: ``(T, n)``.
        price_per_kwh: Purchase price ``(T,)``.
        res_bus: Renewable positions ``(K,)``; ``res_avail_kw`` ``(T, K)``.
        line_scale: Multiplier of each branch's rating ``(n-1,)`` in the line rows (``None``:
            1; the AC rounds lower it where the plan's AC current exceeds a rating).
        res_q_max_kvar: Reactive range of each renewable's inverter ``(K,)`` (``+-``; eq. 32's
            ``Q^PV``, ``Q^WP``); ``None``: unity power factor (no reactive columns).
        dg_bus: Diesel positions ``(M,)``; ``dg_max_kw``, ``dg_cost_per_kwh``,
            ``dg_kg_per_kwh`` ``(M,)``.
        cap_bus: Capacitor positions ``(C,)``; ``cap_step_kvar``, ``cap_steps`` ``(C,)``.
        area_share: ``(D, n)`` share of each area's EV power per bus (rows sum to 1).
        ev_lo_kw, ev_hi_kw: ``(T, D)`` EV area power bounds.
        ev_y_lo_kwh, ev_y_hi_kwh: ``(T, D)`` cumulative energy bounds after each interval.
        area_of_bus: Area of every bus ``(n,)`` (eq. 9 sums over it).
        v_min_pu, v_max_pu: Voltage limits.
        substation_kw: Purchase limit.
        curtail_per_kwh: Curtailment penalty.
        thermal_share: Share of thermal power in purchases; ``thermal_kg_per_kwh`` its
            emission factor (1.08, a coal-fired factor: our assumption, the paper does not
            state it); ``quota_kg_per_kwh`` the free quota per kWh of thermal energy.
        carbon_price_per_t, carbon_step_t, carbon_growth: The ladder.
        polygon_sides: Sides of the line polygons.
        loss_kw: Losses added to the purchase ``(T,)`` (``None``: lossless).
        demand_charge_per_kw: Charge on the day's peak purchase (the paper's capacity price,
            32 per kVA and month, is about 1.07 per kW and day).
        v2g_wear_per_kwh: Battery wear per kWh discharged by an area's EVs (the aggregate is
            lossless; without it charging and discharging in one price period cost nothing).
        ev_period: Peak/flat/valley period per interval ``(T,)``; with ``ev_base_period_kwh``
            ``(D, 3)`` (each area's EV energy per period at the base prices) and
            ``elasticity`` (3 x 3) the areas' EV energy per period follows the users' price
            response (eq. 25 on period totals, relative price changes ``|r| <=
            max_price_change``): the layer plans only what the aggregation layer can obtain
            from its users. ``None``: the EVs are fully dispatchable within their sets.
        response_override_per_kwh: Price of a kWh by which the layer moves an area's period
            energy beyond its users' response (``0``: the response is a hard row; else the row
            gets slacks ``o+ - o-`` at this price, for the intervals where a network limit
            cannot carry what the users would do).
        dg_must_run: The diesels run at ``dg_max`` in every interval (the paper's Table 2
            has the same diesel cost before and after: the units are not dispatched).
        carbon_per_interval: The ladder prices each interval's traded emission ``E_t``
            (eq. 4 is indexed by ``t``), ``C = sum_t C(E_t)``; ``False``: the day's ``E``.
        objective: ``"economic"`` (eq. 1) or ``"losses"`` (eq. 6: the losses on the lines
            between areas, ``sum_t sum_ab G_ab (V_a - V_b)^2``, under the same rows).
        loss_tangents: Tangent points per inter-area line of the ``"losses"`` objective.
        tie_lines: Branches (index ``b`` feeds position ``b + 1``) whose ends lie in two
            areas: the ``L_t`` of eq. 6.
        cap_fixed: Capacitor steps held fixed ``(T, C)`` (``None``: integer columns); the
            loss-minimising plan keeps the economic plan's steps, so it is an LP.
    """

    dt_h: float
    load_p_kw: FloatArray
    load_q_kvar: FloatArray
    price_per_kwh: FloatArray
    res_bus: IntArray
    res_avail_kw: FloatArray
    dg_bus: IntArray
    dg_max_kw: FloatArray
    dg_cost_per_kwh: FloatArray
    dg_kg_per_kwh: FloatArray
    cap_bus: IntArray
    cap_step_kvar: FloatArray
    cap_steps: IntArray
    area_share: FloatArray
    ev_lo_kw: FloatArray
    ev_hi_kw: FloatArray
    ev_y_lo_kwh: FloatArray
    ev_y_hi_kwh: FloatArray
    area_of_bus: IntArray
    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    substation_kw: float = 5000.0
    curtail_per_kwh: float = 0.1
    thermal_share: float = 0.476
    thermal_kg_per_kwh: float = 1.08
    quota_kg_per_kwh: float = 0.7
    carbon_price_per_t: float = 200.0
    carbon_step_t: float = 50.0
    carbon_growth: float = 0.25
    polygon_sides: int = 8
    loss_kw: FloatArray | None = None
    demand_charge_per_kw: float = 0.0
    v2g_wear_per_kwh: float = 0.0
    ev_period: IntArray | None = None
    ev_base_period_kwh: FloatArray | None = None
    elasticity: FloatArray | None = None
    max_price_change: float = 0.5
    response_override_per_kwh: float = 0.0
    ev_anchor_kw: FloatArray | None = None
    anchor_penalty_per_kwh: float = 0.0
    ev_energy_target_kwh: FloatArray | None = None
    unserved_per_kwh: float = 0.0
    purchase_ramp_per_kw: float = 0.0
    ev_ramp_per_kw: float = 0.0
    dg_must_run: bool = False
    carbon_per_interval: bool = False
    objective: str = "economic"
    loss_tangents: int = 12
    tie_lines: tuple[int, ...] = ()
    cap_fixed: FloatArray | None = None
    res_q_max_kvar: FloatArray | None = None
    line_scale: FloatArray | None = None

    @property
    def carbon_rows_n(self) -> int:
        """Number of ladder arguments: ``T`` per interval, else 1."""
        return self.load_p_kw.shape[0] if self.carbon_per_interval else 1


@dataclass(frozen=True)
class ZonalPlan:
    """Write-back of the distribution layer.

    Attributes:
        feasible: Optimum found.
        cost: Total; ``purchase``, ``diesel``, ``curtailment``, ``carbon`` its parts.
        buy_kw: ``(T,)``; ``res_kw`` ``(T, K)``; ``dg_kw`` ``(T, M)``; ``cap`` ``(T, C)``
            steps; ``ev_kw`` ``(T, D)``.
        emission_t: Traded emission ``E`` (t; the sum of the ``E_t`` per interval).
        carbon_lp: The epigraph variable(s) ``z`` at the optimum, summed (equals ``carbon``).
        area_p_kw: Active target per area ``(T, D)`` (eq. 9).
        p_bus_kw: Nodal consumption ``(T, n)``; ``q_bus_kvar`` ``(T, n)``.
        response_override_kwh: Energy moved beyond the users' price response (``o+ + o-``).
    """

    feasible: bool
    cost: float
    purchase: float
    diesel: float
    curtailment: float
    carbon: float
    buy_kw: FloatArray
    res_kw: FloatArray
    dg_kw: FloatArray
    cap: FloatArray
    ev_kw: FloatArray
    emission_t: float
    carbon_lp: float
    area_p_kw: FloatArray
    p_bus_kw: FloatArray
    q_bus_kvar: FloatArray
    response_override_kwh: float = 0.0
