"""The four papers' reproductions: what is run, and each page's rows from the typed summaries.

Every paper is a :class:`PaperSpec`: its runs (command lines, full and ``--quick``), the figures
named after the paper's, and a row builder reading the runs' typed summaries
(``environment.summaries``) beside the paper values (``rows.paper_values``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from environment.experiments.reproduce.rows import PaperValue, Row, make_row, paper_values
from environment.summaries import (
    AssessSummary,
    DispatchSummary,
    RegionSummary,
    TierValidation,
    ZonalSummary,
)


@dataclass(frozen=True)
class Step:
    """One command a reproduction runs (``argv`` without ``--out``)."""

    name: str
    argv: tuple[str, ...]
    quick_argv: tuple[str, ...]


@dataclass(frozen=True)
class PaperSpec:
    """One paper: its title, runs, figures (``(paper's name, step, file)``) and row builder."""

    key: str
    title: str
    steps: tuple[Step, ...]
    figures: tuple[tuple[str, str, str], ...]
    rows: Callable[[Mapping[str, object], bool], list[Row]]
    quick_note: str
    details: Callable[[Mapping[str, object]], tuple[str, ...]] = lambda summaries: ()
    """Markdown lines the page adds after its causes (computed from the same summaries)."""

    def figure_files(self) -> tuple[str, ...]:
        """The file name of each figure in the page's ``figures/`` folder: ``<paper>_<file>``
        for a file's first figure, ``<step>_<file>`` for the same file from a later run."""
        seen: set[str] = set()
        out = []
        for _, step, file in self.figures:
            out.append(f"{self.key}_{file}" if file not in seen else f"{step}_{file}")
            seen.add(file)
        if len(set(out)) != len(out):
            raise ValueError(f"{self.key}: two figures would share a file name: {out}")
        return tuple(out)


def _rows(paper: str, ours: Mapping[str, float | None], quick: bool) -> list[Row]:
    values = paper_values(paper)
    return [make_row(paper, v, ours.get(k), quick, ran=k in ours) for k, v in values.items()]


def hierarchical_rows(summaries: Mapping[str, object], quick: bool) -> list[Row]:
    """Tables 1 and 3-6 and the α sensitivity from ``assess`` (``AssessSummary``).

    The station layer twice: under our whole-day α definition (``assess``: the layer rows and
    the ``alpha_*`` sensitivity) and under the paper's per-interval one (``assess
    --alpha-definition per-interval``: the ``per_interval_*`` sensitivity).
    """
    s, per_interval = summaries["assess"], summaries["assess_per_interval"]
    assert isinstance(s, AssessSummary) and isinstance(per_interval, AssessSummary)
    assert per_interval.alpha_definition == "per-interval"
    ours: dict[str, float | None] = {"spearman_gap_max": s.behaviour["spearman_gap_max"]}
    for layer, m in s.layers.items():
        ours |= {f"{layer}_peak_ch_kw": m.peak_ch_kw, f"{layer}_peak_dis_kw": m.peak_dis_kw,
                 f"{layer}_area_kwh": m.area_kwh}
    for a in s.alpha_sensitivity:
        ours |= {f"alpha_{a.alpha:.2f}_peak_ch_kw": a.peak_ch_kw,
                 f"alpha_{a.alpha:.2f}_peak_dis_kw": a.peak_dis_kw,
                 f"alpha_{a.alpha:.2f}_area_kwh": a.area_kwh}
    for a in per_interval.alpha_sensitivity:  # the paper's definition: its effect alone
        ours |= {f"per_interval_{a.alpha:.2f}_peak_ch_kw": a.peak_ch_kw,
                 f"per_interval_{a.alpha:.2f}_peak_dis_kw": a.peak_dis_kw,
                 f"per_interval_{a.alpha:.2f}_area_kwh": a.area_kwh}
    if s.grid is not None:
        for layer, red in s.grid["reductions_pct"].items():
            ours |= {f"{layer}_reduction_peak_ch_pct": red["peak_ch_pct"],
                     f"{layer}_reduction_peak_dis_pct": red["peak_dis_pct"],
                     f"{layer}_reduction_area_pct": red["area_pct"]}
        for r in s.grid["pq"]["rows"]:
            ours |= {f"pq_{r['time']}_p_max_kw": r["p_max_kw"],
                     f"pq_{r['time']}_q_max_kvar": r["q_max_kvar"]}
    return _rows("hierarchical", ours, quick)


def drjcc_rows(summaries: Mapping[str, object], quick: bool) -> list[Row]:
    """The OBA / Bonferroni / SO / RO comparison from ``dispatch --method all`` (the moment
    set) and the OBA saving over Bonferroni from the same under the unimodal set (under the
    moment set the equal split has no dispatch on this case)."""
    s, uni = summaries["dispatch"], summaries["dispatch_unimodal"]
    assert isinstance(s, DispatchSummary) and isinstance(uni, DispatchSummary)
    v = s.variants

    def cost(m: str) -> float | None:
        return v[m].cost if m in v and v[m].feasible else None

    def pct_days(m: str, violated: bool) -> float | None:
        ok = v[m].days_without_violation if m in v else None
        if ok is None:
            return None
        return 100.0 * ((1.0 - ok) if violated else ok)

    oba, ro = cost("oba"), cost("ro")
    big = summaries["dispatch_123"]
    assert isinstance(big, DispatchSummary)
    u_oba, u_bon = (uni.variants[m].cost if uni.variants[m].feasible else None
                    for m in ("oba", "bonferroni"))
    return _rows("drjcc", quick=quick, ours={
        "oba_saving_vs_bonferroni_pct": None if u_oba is None or u_bon is None
        else 100.0 * (u_bon - u_oba) / u_bon,
        "oba_reliability_pct": pct_days("oba", False),
        "so_violated_days_pct": pct_days("so", True),
        "ro_premium_over_oba_pct": None if oba is None or ro is None
        else 100.0 * (ro / oba - 1.0),
        "ro_reliability_pct": pct_days("ro", False),
        "oba_solve_s_123_node_4400_ev": big.variants["oba"].solve_s})


def zonal_rows(summaries: Mapping[str, object], quick: bool) -> list[Row]:
    """Table 2, the cost reduction and the peak shaving from ``dispatch --method zonal``.

    The paper's Table 2 is the day before and after the distribution layer's optimization
    (:func:`_plan_reduction`), so its "after" rows are that layer's plan; the ``both_layers_*``
    rows are the aggregation layer's realised day (its vehicles' price response, at its AC
    purchase), which is where the paper's peak shaving by the EVs is read. Each sensitivity run
    of ``ZONAL_SENSITIVITY`` gives the same four quantities with its tag.
    """
    s = summaries["zonal"]
    assert isinstance(s, ZonalSummary)
    ours: dict[str, float | None] = {}
    for when, c in (("before", s.before), ("after", s.after)):
        ours |= {f"{when}_purchase": c.purchase, f"{when}_diesel": c.diesel,
                 f"{when}_curtailment": c.curtailment, f"{when}_carbon": c.carbon,
                 f"{when}_total": c.total}
    for run in (ZONAL_BASE, *ZONAL_SENSITIVITY):
        v = summaries[run.name]
        assert isinstance(v, ZonalSummary)
        suffix = f"_{run.tag}" if run.tag else ""
        both, shaving = _both_layers(v)
        ours |= {f"cost_reduction_pct{suffix}": _plan_reduction(v),
                 f"plan_peak_shaving_pct{suffix}": v.peak_shaving_pct,
                 f"both_layers_cost_reduction_pct{suffix}": both,
                 f"peak_shaving_pct{suffix}": shaving}
    return _rows("zonal", ours, quick)


def _plan_reduction(s: ZonalSummary) -> float:
    """The total cost reduction (%) of the distribution layer's plan alone: the paper's Table
    2 is titled "Comparison of daily electricity costs before and after optimization of the
    distribution network layer" (section 3.3; its abstract: "After optimization at the
    distribution network layer, the daily operating cost is reduced ...")."""
    return 100.0 * (1.0 - s.after.total / s.before.total)


def _both_layers(s: ZonalSummary) -> tuple[float | None, float | None]:
    """The two-layer day's total cost reduction (%) and peak shaving (%) against the
    uncoordinated day (``None`` where the aggregation layer did not run)."""
    al = s.aggregation_layer
    if al is None or al.costs is None:
        return None, None
    return 100.0 * (1.0 - al.costs.total / s.before.total), al.peak_shaving_pct_vs_before


@dataclass(frozen=True)
class ZonalRun:
    """One run of the zonal case: its tag (empty: the case itself) and its ``--set`` settings.

    Under ``--quick`` a run on residential sessions (``residential``) runs on
    ``ZONAL_QUICK_N_EV`` vehicles per station; ``plotted`` runs draw their figures (not under
    ``--quick``).
    """

    tag: str
    settings: tuple[str, ...]
    residential: bool = True
    plotted: bool = False

    @property
    def name(self) -> str:
        """Its step's name, the key of its summary: ``zonal`` or ``zonal_<tag>``."""
        return f"zonal_{self.tag}" if self.tag else "zonal"

    def argv(self, quick: bool = False) -> tuple[str, ...]:
        """The run's command line."""
        fewer = (f"n_ev={ZONAL_QUICK_N_EV}",) if quick and self.residential else ()
        sets = tuple(a for setting in (*self.settings, *fewer) for a in ("--set", setting))
        plots = self.plotted and not quick
        return ("dispatch", "--method", "zonal", "--scenario", "zonal_case", *sets,
                *(() if plots else ("--no-plots",)))


ZONAL_QUICK_N_EV = 100
"""Vehicles per station of the residential runs under ``--quick`` (the case has 300): a car
parked overnight makes the vehicles' tracking LPs large."""

ZONAL_BASE = ZonalRun("", (), plotted=True)
"""The zonal case as shipped (``scenarios/zonal_case.toml``)."""

ZONAL_SENSITIVITY = (
    ZonalRun("night_load", ("grid.profiles.load_min_kw=2600",)),
    ZonalRun("demand_charge", ("dispatch.zonal.demand_charge_per_kw=5",)),
    ZonalRun("v2g_all", ("behaviour.v2g_share=1.0",)),
    ZonalRun("response", ("dispatch.zonal.response_in_layer=true",), plotted=True),
    ZonalRun("public", ("behaviour.sessions=builtin:perth_kinross", "horizon.start=00:00"),
             residential=False, plotted=True),
)
"""The zonal case's choices where the paper gives no number, each moved once (``--set``):
the night load at 70 % of the peak instead of 35 %, a demand charge of 5 per kW-day instead of
the paper's capacity price (1.07), every EV willing to discharge instead of half, the
distribution layer planning the EVs within their users' price response (the DR-consistent
plan) instead of as the operator, and the EVs as the Perth & Kinross public daytime sessions
on a day from midnight instead of residential evening-to-morning sessions from noon."""


def region_rows(summaries: Mapping[str, object], quick: bool) -> list[Row]:
    """Volumes per budget, the static/dynamic comparison and the tier validation."""
    s = summaries["region"]
    assert isinstance(s, RegionSummary)
    ours: dict[str, float | None] = {}
    dyn, sta = s.models.get("dynamic"), s.models.get("static")
    if dyn is not None:
        for b, r in dyn.budgets.items():
            ours[f"dynamic_volume_{b}"] = r.volume_mw3
        top = dyn.budgets[max(dyn.budgets, key=float)]
        ours["dynamic_half_range_mw"] = max((hi - lo) / 2 for lo, hi in top.range_mw.values())
    if sta is not None:
        top = sta.budgets[max(sta.budgets, key=float)]
        ours["static_dimension"] = float(top.dimension)
        ours["static_half_range_mw"] = max((hi - lo) / 2 for lo, hi in top.range_mw.values())
    v = s.validation
    if v is not None:
        ours["validation_tier"] = v.chosen_tier
        ours["validation_subsidy_spent"] = v.actual_subsidy_spent
    return _rows("region", ours, quick)


def _measure(volume_mw3: float, dimension: int, measure: float, unit: str, d: int) -> str:
    return f"{volume_mw3:.3g} MW³" if dimension == d else f"{dimension}-D, {measure:.3g} {unit}"


def _ranges(ranges: Mapping[str, tuple[float, float]]) -> str:
    return " / ".join(f"{lo:.2f}…{hi:.2f}" for lo, hi in ranges.values())


def region_details(summaries: Mapping[str, object]) -> tuple[str, ...]:
    """The bounds that set our regions' size, from the run's summary.

    Per traffic model and budget: our region beside the region the run's own linear response
    model predicts (``RegionModelSummary.response``) and the paper's volume; the no-coupon
    point, the ports at their rated power, the spend per unit coupon; and the validation's
    requirement against the station's ports and each tier's reach.
    """
    s = summaries["region"]
    assert isinstance(s, RegionSummary)
    paper = paper_values("region")
    lines = ["## Physical bounds", "",
             "What sets the size of our regions, from the same run's summary: the no-coupon "
             "point, the stations' ports at their rated power, the spend per unit coupon the "
             "set-up realised (one equilibrium per coupon coordinate), and the region that "
             "set-up's linear response predicts for each budget (every coupon vector within "
             "the budget and the price caps: `flexibility.region.budget_image_points`, beyond "
             "16 coupon coordinates the hull of its support at 3° steps; not capped by the "
             "ports). The linear response extrapolates one-coordinate steps "
             "of 0.5 CNY/kWh, so it is an estimate, not a bound: where the equilibria "
             "saturate (users beyond reach, ports) ours stays below it, and where the "
             "departure response has thresholds the steps miss ours can exceed it. The last "
             "column but two is the factor by which the linear response would have to grow "
             "on every axis to reach the paper's volume (below 1: it already predicts more).",
             "",
             "| model | budget (CNY) | ours | linear response | paper | paper / linear, per "
             "axis | ours: range per station (MW) | linear response: range (MW) |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for name, m in s.models.items():
        d = len(m.stations)
        for b, r in m.budgets.items():
            lin = m.response[b]
            pv = paper.get(f"{name}_volume_{b}")
            per_axis = ("—" if pv is None or lin.volume_mw3 <= 0
                        else f"{(pv.paper / lin.volume_mw3) ** (1 / d):.1f}×")
            lines.append(
                f"| {name} | {float(b):,.0f} | "
                f"{_measure(r.volume_mw3, r.dimension, r.measure, r.measure_unit, d)} | "
                f"{_measure(lin.volume_mw3, lin.dimension, lin.measure, lin.measure_unit, d)}"
                f" | {'—' if pv is None else f'{pv.paper:g} MW³'} | {per_axis} | "
                f"{_ranges(r.range_mw)} | {_ranges(lin.range_mw)} |")
        lo, hi = m.spend_rate_cny
        notes.append(
            f"* **{name}**: no-coupon point {' / '.join(f'{x:.2f}' for x in m.base_mw)} MW "
            f"({', '.join(m.stations)}); ports at rated power {_ranges(m.ports_range_mw)} "
            f"MW; a unit coupon (1 CNY/kWh on one station, service and band) realises "
            f"{lo:,.0f}–{hi:,.0f} CNY of spend, so 1,000 CNY buys at most "
            f"{1000 / lo if lo > 0 else float('inf'):.2f} CNY/kWh on the cheapest coordinate.")
    v = s.validation
    if v is not None:
        reach = ", ".join(f"{float(t):,.0f}: {x:.2f}" for t, x in v.max_reachable_mw.items())
        cap = ("" if v.station_charging_capacity_mw is None
               else f"; its charging ports hold {v.station_charging_capacity_mw:.2f} MW")
        notes.append(f"* **validation**: {v.station} needs {v.requirement_mw:.2f} MW (its "
                     f"no-coupon load plus {v.reserve_mw:g} MW){cap}; the tiers' regions "
                     f"reach {reach} MW there.")
    notes.extend(_unlimited_notes(summaries, paper, s.validation))
    return (*lines, "", *notes)


def _unlimited_notes(summaries: Mapping[str, object], paper: Mapping[str, PaperValue],
                     validation: TierValidation | None) -> list[str]:
    """The users within reach: the region our search finds with no budget limit (the step
    ``region_unlimited``, a budget no coupon vector within the price caps exhausts)."""
    u = summaries.get("region_unlimited")
    if not isinstance(u, RegionSummary):
        return []
    out = []
    for name, m in u.models.items():
        b = max(m.budgets, key=float)
        r = m.budgets[b]
        d = len(m.stations)
        size = _measure(r.volume_mw3, r.dimension, r.measure, r.measure_unit, d)
        binds = "" if r.max_subsidy_spent < 0.9 * float(b) else ", close to the budget"
        text = (f"* **{name}, no budget limit** ({float(b):,.0f} CNY; the most a verified "
                f"point spent: {r.max_subsidy_spent:,.0f} CNY{binds}): the "
                f"region our search finds is {size}, per station {_ranges(r.range_mw)} MW: the "
                "users who can be moved in or out of service at t* as far as this search finds "
                "them, a lower estimate of their reach (the search is local; a run that also "
                "searches smaller budgets pools their points and can find more).")
        prefix = f"{name}_volume_"
        vols = {q.removeprefix(prefix): pv.paper for q, pv in paper.items()
                if q.startswith(prefix)}
        if r.dimension == d and vols:
            beyond = [f"{float(bb):,.0f}" for bb, x in vols.items() if x > r.volume_mw3]
            text += (f" The paper's volumes at {', '.join(beyond)} CNY are larger than it."
                     if beyond else " Every paper volume is within it.")
        out.append(text)
        if validation is not None and validation.station in r.range_mw:
            hi = r.range_mw[validation.station][1]
            out.append(f"* **validation, no budget limit**: {validation.station} reaches at "
                       f"most {hi:.2f} MW against the {validation.requirement_mw:.2f} MW "
                       "required.")
    return out


PAPERS: dict[str, PaperSpec] = {
    "hierarchical": PaperSpec(
        "hierarchical",
        "Hierarchical adjustable potential (T–D–M): three-layer envelopes, α, AC, P–Q",
        (Step("assess", ("assess",), ("assess", "--scenarios", "100")),
         Step("assess_per_interval", ("assess", "--alpha-definition", "per-interval"),
              ("assess", "--scenarios", "100", "--alpha-definition", "per-interval"))),
        (("Figure 2: three-layer envelopes", "assess", "three_layer_envelopes.png"),
         ("Figures 8-9: α sensitivity", "assess", "alpha_sensitivity.png"),
         ("Figure 10: AC validation", "assess", "ac_validation.png"),
         ("Figures 11-13: P–Q ranges", "assess", "pq_daily_range.png")),
        hierarchical_rows,
        "both assess runs on 100 sampled behaviour days instead of 500"),
    "drjcc": PaperSpec(
        "drjcc",
        "DRJCC dispatch with optimized Bonferroni approximation: OBA, Bonferroni, SO, RO",
        (Step("dispatch", ("dispatch", "--method", "all"),
              ("dispatch", "--method", "all", "--replay-days", "100")),
         Step("dispatch_unimodal", ("dispatch", "--method", "all", "--ambiguity", "unimodal"),
              ("dispatch", "--method", "all", "--ambiguity", "unimodal", "--replay-days",
               "100")),
         Step("dispatch_123", ("dispatch", "--method", "oba", "--scenario", "drjcc_123_4400",
                               "--no-plots"),
              ("dispatch", "--method", "oba", "--scenario", "drjcc_123_4400", "--no-plots",
               "--replay-days", "30"))),
        (("cost against reliability", "dispatch", "cost_reliability.png"),
         ("dispatch stack", "dispatch", "dispatch_stack.png")),
        drjcc_rows,
        "the first 100 held-out days replayed instead of every one"),
    "zonal": PaperSpec(
        "zonal",
        "Bilevel zonal dispatch with EV demand response: Table 2, peak shaving",
        tuple(Step(run.name, run.argv(), run.argv(quick=True))
              for run in (ZONAL_BASE, *ZONAL_SENSITIVITY)),
        (("Figure 5: partition", "zonal", "partition.png"),
         ("Figure 7: dispatch stack (noon to noon)", "zonal", "zonal_stack.png"),
         ("Figure 7: dispatch stack, plan within the users' price response", "zonal_response",
          "zonal_stack.png"),
         ("Figure 7: dispatch stack, public daytime sessions (midnight to midnight)",
          "zonal_public", "zonal_stack.png")),
        zonal_rows,
        f"the residential runs on {ZONAL_QUICK_N_EV} vehicles per station (300 in the case), "
        "the public-sessions run in full, and without figures"),
    "region": PaperSpec(
        "region",
        "Spatiotemporal flexibility region under coupons (DTA): volumes, DTA vs STA, tiers",
        (Step("region", ("flexibility-region", "--scenario", "nd_coupled", "--budget",
                         "1000,2000,4000,6000", "--tiers", "1000,2000,4000", "--model", "both",
                         "--refine", "3", "--workers", "2"),
              ("flexibility-region", "--scenario", "nd_coupled", "--budget", "1000,2000",
               "--tiers", "1000,2000", "--model", "static", "--step-deg", "90",
               "--refine", "0")),
         Step("region_unlimited",
              ("flexibility-region", "--scenario", "nd_coupled", "--budget", "1000000",
               "--tiers", "1000000", "--model", "dynamic", "--refine", "3", "--workers", "2",
               "--no-plots"),
              ("flexibility-region", "--scenario", "nd_coupled", "--budget", "1000000",
               "--tiers", "1000000", "--model", "static", "--step-deg", "90", "--refine", "0",
               "--no-plots"))),
        (("FOR hulls (dynamic)", "region", "hulls_dynamic.png"),
         ("FOR hulls (static)", "region", "hulls_static.png"),
         ("volume against budget", "region", "volume_vs_budget.png")),
        region_rows,
        "the static model only, budgets 1,000 and 2,000 (and the run with no budget limit), "
        "90° steps, no refinement",
        region_details),
}
"""The four papers by key (``reproduce PAPER``)."""
