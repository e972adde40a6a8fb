"""Write docs/scenario-reference.md from the scenario's pydantic models.

Run from the repository root::

    python docs/gen_scenario_reference.py            # rewrite the page
    python docs/gen_scenario_reference.py --check    # exit 1 if the page is out of date

Field names, types, defaults and constraints come from the models (``scenarios.config.Scenario``
and the sections it holds); a section's text from its class docstring; a field's meaning from
the ``Attributes:`` block of its class docstring where there is one, else from ``MEANING``
below. A field without a meaning fails the script, so a new field cannot be left undocumented.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from pathlib import Path

import annotated_types as at
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios.config import Scenario  # noqa: E402

PAGE = ROOT / "docs" / "scenario-reference.md"

#: Meaning of every field whose class docstring has no ``Attributes:`` entry for it.
MEANING: dict[str, str] = {
    "name": "label of the scenario",
    "description": "free text",
    "seed": "seed of the single `numpy.random.Generator` of the run",
    "horizon": "the study horizon",
    "ev": "vehicle and charger parameters",
    "behaviour": "calibration data and participation",
    "assessment": "settings of `assess`",
    "grid": "the distribution feeder and its limits",
    "simulation": "settings of `simulate`",
    "dispatch": "settings of `dispatch` and the `dispatch:*` call policies",
    "horizon.start": "clock time of the first interval",
    "horizon.n_intervals": "number of intervals T (`n_intervals × dt_min` at most 7 days: the "
                           "behaviour model samples daily sessions)",
    "horizon.dt_min": "interval length (min)",
    "horizon.previous_day_carry_over": "include the previous day's sessions still plugged in at "
                                       "the start",
    "ev.capacity_kwh": "battery capacity (kWh)",
    "ev.p_ch_max_kw": "charging power limit (kW)",
    "ev.p_dis_max_kw": "discharging power limit (kW)",
    "ev.soc_min": "lowest SOC while plugged in",
    "ev.soc_max": "highest SOC while plugged in",
    "ev.soc_departure_min": "SOC required at departure (≤ `soc_max`)",
    "ev.eta_ch": "charging efficiency, in (0, 1]",
    "ev.eta_dis": "discharging efficiency, in (0, 1]",
    "behaviour.sessions": "sessions CSV (path relative to the scenario file; the columns are "
                          "described under [calibrate](user-guide/calibrate.md)), or a shipped "
                          "table: `\"builtin:perth_kinross\"` (public sessions, Perth & "
                          "Kinross) or `\"builtin:home_charging_nhts\"` (residential, "
                          "evening to morning)",
    "behaviour.max_charger_kw": "cleaning: sessions on charge points rated above this are "
                                "dropped (AC charge points only)",
    "behaviour.max_dwell_h": "cleaning: sessions that dwell longer are dropped",
    "behaviour.v2g_share": "share of vehicles willing to discharge (the others charge only)",
    "behaviour.initial_soc": "how the initial SOC is obtained (below)",
    "behaviour.initial_soc.method": "`target_minus_delivered`: `soc_init = clip(target_soc − "
                                    "η_ch · energy_kwh / capacity_kwh, floor_soc, target_soc)`; "
                                    "`column`: the file's `soc_init`",
    "behaviour.initial_soc.target_soc": "habitual SOC at the end of a session",
    "behaviour.initial_soc.floor_soc": "lowest initial SOC (below `target_soc`)",
    "behaviour.unreachable_requirement": "a departure SOC the vehicle cannot reach in its dwell "
                                         "is capped to the reachable energy and counted "
                                         "(`unreachable_requirements_capped`)",
    "stations": "the charging stations (at least one)",
    "stations.name": "station name (not `ALL`, which labels the total in tables)",
    "stations.n_ev": "sessions per day",
    "stations.bus": "feeder bus (in `grid.bus_numbering`)",
    "stations.chargers": "charge points (`simulate`; default: one per session)",
    "stations.lon_deg": "longitude (WGS84 degrees): EVs may reroute here from a full station "
                        "(with `lat_deg`)",
    "stations.lat_deg": "latitude (WGS84 degrees)",
    "assessment.alpha": "confidence level of the inner envelope, in (0, 1)",
    "assessment.n_scenarios": "behaviour scenarios M (sampled days)",
    "assessment.da_statistic": "DA envelope: the α set (`quantile`), or `mean` (expectation of "
                               "the days' rows)",
    "assessment.pq_times": "instants of the P-Q table and figure of `assess` (the paper's "
                           "Table 6 instants by default)",
    "assessment.rt_times": "real-time observation times (each once, on the interval grid from "
                           "`horizon.start`)",
    "assessment.alpha_sensitivity": "confidence levels of the sensitivity table",
    "assessment.aggregation": "`total`: one set of kept days for all stations (α set of the "
                              "total); `stations`: per-station α sets summed",
    "assessment.alpha_definition": "`whole-day`: the α set of kept days intersected around "
                                   "each day's reference (calibrated, whole-day coverage); "
                                   "`per-interval`: the paper's per-interval α quantiles of "
                                   "the scenarios' exact projections (no joint guarantee)",
    "assessment.coverage_days": "fresh sampled days (another stream) that calibrate the α sets "
                                "(even days) and measure coverage (odd days); 0: no calibration, "
                                "`ceil(αM)` days kept",
    "grid.feeder": "`case33bw`, `ieee123` (IEEE 123-node test feeder, balanced "
                   "positive-sequence equivalent; use `bus_numbering = \"index\"` with its "
                   "bus numbers, substation 150), a pandapower `.json` file (relative to the "
                   "scenario file) or a SimBench code (e.g. `1-MV-urban--0-sw`, "
                   "`1-MVLV-urban-all-0-sw`; needs `pip install -e \".[simbench]\"`; the "
                   "network is cached (pickle) in `~/.cache/evflex` — "
                   "`EVFLEX_CACHE_DIR` moves it, `EVFLEX_CACHE_DIR=off` turns it off)",
    "grid.bus_numbering": "station buses: `one_based` (k-th row of the bus table, the paper's "
                          "numbering; 1 = substation in case33bw) or `index` (pandapower bus "
                          "index; ieee123: the IEEE bus number)",
    "grid.v_min_pu": "lower voltage limit (p.u.)",
    "grid.v_max_pu": "upper voltage limit (p.u.)",
    "grid.substation_kw": "active-power headroom of the supply transformer (both directions) — "
                          "our assumption, the paper does not state it",
    "grid.line_margin": "lines without a rating (case33bw, ieee123) are rated at "
                        "`line_margin` × their current at the case's design load",
    "grid.thermal_polygon_sides": "sides of the polygon replacing each thermal circle",
    "grid.policy": "allocation among stations: `uniform` (common scaling) or `optimal` (one LP)",
    "grid.converter_kva_per_kw": "P–Q sets: converter rating S_j,t = k · max(P_max, −P_min) of "
                                 "the station",
    "grid.pq_directions": "directions of the P–Q support LPs",
    "grid.profiles": "background load and PV (below)",
    "grid.profiles.source": "CSV with columns `time` (HH:MM), `load_p`, `pv_p` (shapes)",
    "grid.profiles.load_min_kw": "feeder load is scaled affinely to [`load_min_kw`, "
                                 "`load_peak_kw`]",
    "grid.profiles.load_peak_kw": "see `load_min_kw`",
    "grid.profiles.pv_peak_kw": "PV peak",
    "grid.profiles.pv_buses": "PV buses (empty: PV spread like the nominal loads)",
    "simulation.policy": "TSO call policy (see [simulate](user-guide/simulate.md#call-policies))",
    "simulation.n_scenarios": "sampled days per station in the forecast pool (the day-ahead "
                              "commitment, the later arrivals of every tick)",
    "simulation.package": "what the DSO publishes every tick: the α battery packaged as "
                          "`assess` does (`alpha-battery`) or summed per-vehicle boxes "
                          "(`vehicle-box`, cheaper, for cities)",
    "simulation.package_days": "pool days behind each tick's α package (the first of the pool)",
    "simulation.queue_rule": "what an EV does when every charger of its station is taken: "
                             "`wait` in the queue until its departure, `leave` at once, queue "
                             "`patience_min` then leave (`patience`), or queue `patience_min` "
                             "then drive to the nearest station with a free charger within "
                             "`reroute_max_km` (`reroute`; needs station coordinates, else it "
                             "leaves); every outcome is counted in `summary.json` `access`",
    "simulation.patience_min": "longest wait in a station's queue before leaving or rerouting "
                               "(`patience`, `reroute`); the departure ends any wait earlier",
    "simulation.reroute_max_km": "farthest station (road km) an EV reroutes to",
    "simulation.reroute_speed_kmh": "driving speed of a reroute",
    "simulation.reroute_detour_factor": "road km per straight-line km between stations",
    "simulation.reroute_kwh_per_km": "battery energy a reroute's driving uses",
    "simulation.reroute_max_hops": "stations an EV tries after its own before it leaves",
    "simulation.regulation_period_min": "period of the `regulation` signal (min)",
    "traffic": "road network, demand and stations on the roads; absent: no traffic model",
    "traffic.network": "`nguyen-dupuis`, `custom` (with `[[traffic.links]]`) or `tntp`",
    "traffic.links": "links of a custom network",
    "traffic.links.from_node": "tail node",
    "traffic.links.to_node": "head node",
    "traffic.links.free_flow_min": "free-flow travel time (min)",
    "traffic.links.capacity_veh_h": "capacity (veh/h)",
    "traffic.links.length_km": "length (km)",
    "traffic.od": "OD demand (default: the standard Nguyen–Dupuis demand)",
    "traffic.od.origin": "origin node",
    "traffic.od.destination": "destination node",
    "traffic.od.veh_h": "demand (veh/h)",
    "traffic.stations": "stations on the road network",
    "traffic.stations.name": "one of the `[[stations]]`",
    "traffic.stations.node": "road node",
    "traffic.stations.bus": "feeder bus (the same as the station's in `[[stations]]`)",
    "traffic.stations.charge_ports": "charging ports",
    "traffic.stations.v2g_ports": "V2G ports",
    "traffic.stations.service_min": "service time (min)",
    "traffic.stations.access_min": "access time from the road (min)",
    "traffic.start": "start of the demand period",
    "traffic.duration_min": "length of the demand period (min)",
    "traffic.interval_min": "departure interval (min)",
    "traffic.profile": "demand multipliers per interval (empty: flat)",
    "traffic.charging_share": "λ: share of users who charge",
    "traffic.v2g_share": "φ: share of users who discharge (V2G)",
    "traffic.value_of_time_per_h": "value of time (CNY/h), generalized cost",
    "traffic.charge_price_per_kwh": "charging price (CNY/kWh), generalized cost",
    "traffic.v2g_price_per_kwh": "V2G price (CNY/kWh), generalized cost",
    "traffic.charge_power_kw": "charging power of a station user (kW)",
    "traffic.v2g_power_kw": "discharging power of a V2G user (kW)",
    "traffic.link_model": "dynamic loading: `queue` (point queue) or `bpr`",
    "traffic.target_gap": "relative gap of the dynamic assignment",
    "traffic.max_iterations": "iterations of the dynamic assignment",
    "traffic.soc_arrival_charging": "SOC of charging users when they arrive (co-simulation)",
    "traffic.soc_arrival_v2g": "SOC of V2G users when they arrive (co-simulation)",
    "grid.dg": "dispatchable generators (unity power factor) that the grid check of "
               "`flexibility-region` dispatches on the LinDistFlow rows of t*; the other "
               "commands see the feeder without them",
    "grid.dg.bus": "bus of the generator (in `grid.bus_numbering`)",
    "grid.dg.p_max_kw": "capacity of the generator (kW)",
    "dispatch.method": "variant of `dispatch` and the default of `--method`",
    "dispatch.epsilon": "joint risk per interval",
    "dispatch.generators": "dispatchable generators (buses in `grid.bus_numbering`)",
    "dispatch.generators.name": "generator name",
    "dispatch.generators.bus": "feeder bus",
    "dispatch.generators.p_max_kw": "largest output (kW)",
    "dispatch.generators.cost_per_kwh": "energy cost",
    "dispatch.generators.reserve_cost_per_kw": "reserve cost",
    "dispatch.generators.kg_per_kwh": "emission factor (kg CO₂ per kWh)",
    "dispatch.wind_peak_kw": "wind farm peak (forecast = its day-type mean, error from the WP4 "
                             "profile); 0: no wind",
    "dispatch.wind_buses": "buses of the wind farm",
    "dispatch.prices": "import price periods, each from `start` to the next period's start",
    "dispatch.prices.start": "start of the period",
    "dispatch.prices.price_per_kwh": "import price",
    "dispatch.ev_reserve_cost_per_kw": "EV aggregators' reserve price",
    "dispatch.uncertainty_source": "the year of profiles whose forecast errors are used",
    "dispatch.uncertainty_months": "months of the days used",
    "dispatch.uncertainty_weekend": "use weekend days instead of weekdays",
    "dispatch.forecast": "forecast of a day: the seasonal day-type mean, scaled to the day's "
                         "energy (`energy-scaled`) or not (`day-type-mean`)",
    "dispatch.forecast_window_days": "± days of the seasonal day-type mean (the day left out)",
    "dispatch.max_components": "largest Gaussian-mixture size tried per interval (BIC picks)",
    "dispatch.so_samples": "training days of `so`",
    "dispatch.export_price_per_kwh": "price earned per kWh exported at the substation "
                                      "(unset: the import price; at most the lowest import "
                                      "price)",
    "dispatch.export_cap_kw": "largest export at the substation (unset: only the "
                              "substation rows bound it; 0: no export)",
    "dispatch.ambiguity": "distributions the chance rows hold for: every one with the fitted "
                          "moments (`moment`, Cantelli) or the unimodal ones where the fitted "
                          "mixture's row error is unimodal (`unimodal`, one-sided "
                          "Vysochanskij–Petunin)",
    "dispatch.union": "what `bonferroni` and `oba` split the risk over: every uncertain row "
                      "(`rows`, the textbook union bound) or the few uncertainty directions "
                      "spanning them (`directions`)",
    "dispatch.zonal": "the two-layer zonal dispatch (below)",
    "dispatch.zonal.renewables": "PV and wind plants",
    "dispatch.zonal.renewables.bus": "feeder bus",
    "dispatch.zonal.renewables.p_max_kw": "rated output (kW)",
    "dispatch.zonal.renewables.kind": "`pv` or `wind` (the profile)",
    "dispatch.zonal.renewables.q_max_kvar": "reactive range of its inverter, +- (kvar; "
                                            "default: `inverter_q_per_kw` x rating)",
    "dispatch.zonal.dg_must_run": "diesels at full output all day, before and after",
    "dispatch.zonal.carbon_per_interval": "the carbon ladder prices each interval (eq. 4)",
    "dispatch.zonal.targets": "`economic` or `max_with_losses` (eqs. 6, 9-10)",
    "dispatch.zonal.target_tol_kw": "targets agree between rounds within this (kW)",
    "dispatch.zonal.target_rounds": "most rounds between the layers",
    "dispatch.zonal.response_in_layer": "the layer plans within the users' price response",
    "dispatch.zonal.inverter_q_per_kw": "inverters' reactive range per kW of rating (eq. 32)",
    "dispatch.zonal.capacitors": "switched capacitor banks",
    "dispatch.zonal.capacitors.bus": "feeder bus",
    "dispatch.zonal.capacitors.step_kvar": "size of a step (kvar)",
    "dispatch.zonal.capacitors.steps": "number of steps",
    "dispatch.zonal.thermal_share": "thermal share of purchases",
    "dispatch.zonal.thermal_kg_per_kwh": "emission factor of the thermal share (kg/kWh)",
    "dispatch.zonal.quota_kg_per_kwh": "free carbon quota per kWh (kg/kWh)",
    "dispatch.zonal.carbon_price_per_t": "base carbon price (per t)",
    "dispatch.zonal.carbon_step_t": "width of a step of the carbon price ladder (t)",
    "dispatch.zonal.carbon_growth": "price growth per step of the ladder",
    "dispatch.zonal.curtail_per_kwh": "curtailment penalty",
    "dispatch.zonal.demand_charge_per_kw": "charge on the day's peak purchase (per kW-day)",
    "dispatch.zonal.v2g_wear_per_kwh": "V2G wear cost",
    "dispatch.zonal.ramp_per_kw": "tie-breaking ramp cost on purchase and EV power",
    "dispatch.zonal.weights": "weights of the partition's comprehensive indicator (eq. 21)",
    "dispatch.zonal.min_buses": "smallest area size of the partition's penalty (buses)",
    "dispatch.zonal.max_buses": "largest area size of the partition's penalty (buses)",
}

TOML_HEADER = {  # sections written as [[...]] arrays of tables
    "stations", "traffic.links", "traffic.od", "traffic.stations", "dispatch.generators",
    "dispatch.prices", "dispatch.zonal.renewables", "dispatch.zonal.capacitors",
}


def attribute_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` block of a Google-style class docstring, by attribute name."""
    doc = inspect.getdoc(cls) or ""
    out: dict[str, str] = {}
    lines = doc.splitlines()
    if "Attributes:" not in lines:
        return out
    current = None
    for line in lines[lines.index("Attributes:") + 1:]:
        if line and not line.startswith(" "):
            break
        if line.startswith("    ") and not line.startswith("        ") and ":" in line:
            current, text = line.strip().split(":", 1)
            out[current] = text.strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return {k: md(v) for k, v in out.items()}


def summary(cls: type) -> str:
    """The class docstring without its ``Attributes:`` block."""
    doc = inspect.getdoc(cls) or ""
    text = " ".join(doc.split("Attributes:")[0].split())
    if text.endswith(":"):  # a lead-in to the Attributes block ("Besides the paper's fields:")
        text = text[:text.rstrip(":").rfind(".") + 1]
    return md(text)


def md(text: str) -> str:
    """Docstring markup (reStructuredText literals) as Markdown."""
    return text.replace("``", "`")


def model_of(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``M``, ``list[M]``, ``M | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = model_of(arg)
        if found is not None:
            return found
    return None


def type_name(annotation: object) -> str:
    """A short readable type: ``int``, ``list[float]``, ``"a" | "b"``, ``Section``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in args)
    if origin in (list, tuple):
        inner = ", ".join(type_name(a) for a in args if a is not Ellipsis)
        return f"{origin.__name__}[{inner}]"
    if annotation is type(None):
        return "none"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "table"
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def constraints(field: object) -> str:
    """Bounds of a field (``≥ 0``, ``< 1``, at least one entry) from its metadata."""
    parts = []
    metadata = list(getattr(field, "metadata", []))
    annotation = getattr(field, "annotation", None)
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            metadata.extend(getattr(extra, "metadata", []))
    for m in metadata:
        if isinstance(m, at.Ge):
            parts.append(f"≥ {m.ge:g}")
        elif isinstance(m, at.Gt):
            parts.append(f"> {m.gt:g}")
        elif isinstance(m, at.Le):
            parts.append(f"≤ {m.le:g}")
        elif isinstance(m, at.Lt):
            parts.append(f"< {m.lt:g}")
        elif isinstance(m, at.MinLen) and annotation is str:
            parts.append("not empty")
        elif isinstance(m, at.MinLen):
            parts.append(f"at least {m.min_length} " + ("entry" if m.min_length == 1 else
                                                        "entries"))
    return ", ".join(parts)


def show(value: object) -> str:
    """A default as it would be written in TOML (abbreviated for tables)."""
    if isinstance(value, BaseModel):
        return "(table)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], BaseModel):
            return "; ".join(
                "{" + ", ".join(f"{k} = {v:g}" if isinstance(v, float) else
                                f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}"
                                for k, v in item.model_dump().items()) + "}"
                for item in value)
        return "`[" + ", ".join(show(v).strip("`") for v in value) + "]`"
    return f"`{value}`"


def default_of(field: object) -> str:
    """The field's default, or *required*."""
    if getattr(field, "default_factory", None) is not None:
        return show(field.default_factory())  # type: ignore[attr-defined]
    default = field.default  # type: ignore[attr-defined]
    if default is PydanticUndefined:
        return "*required*"
    if default is None:
        return "—"
    return show(default)


def sections(model: type[BaseModel], prefix: str, out: list, missing: list) -> None:
    """Append the tables of ``model`` and of every section below it (depth first)."""
    rows = []
    below = []
    docs = attribute_docs(model)
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        path = f"{prefix}.{name}" if prefix else name
        sub = model_of(field.annotation)
        meaning = docs.get(name) or MEANING.get(path)
        if meaning is None:
            missing.append(path)
            meaning = ""
        kind = type_name(field.annotation)
        if sub is not None:
            kind = "array of tables" if path in TOML_HEADER else "table"
            link = "#" + path.replace(".", "")
            meaning = f"{meaning} — see [`{header(path)}`]({link})"
            below.append((sub, path))
        rows.append(f"| `{name}` | {kind} | {default_of(field)} | {constraints(field)} | "
                    f"{meaning} |")
    title = header(prefix) if prefix else "top level"
    out.append(f"## `{title}`\n" if prefix else "## Top level\n")
    text = summary(model)
    if text:
        out.append(text + "\n")
    out.append("| field | type | default | constraints | meaning |")
    out.append("| --- | --- | --- | --- | --- |")
    out.extend(rows)
    out.append("")
    for sub, path in below:
        sections(sub, path, out, missing)


def header(path: str) -> str:
    """The TOML header of a section path."""
    return f"[[{path}]]" if path in TOML_HEADER else f"[{path}]"


INTRO = """\
# Scenario reference

<!-- generated by docs/gen_scenario_reference.py from the pydantic models in
scenarios/config.py, scenarios/sections.py, scenarios/dispatch_config.py and
scenarios/traffic_config.py; do not edit by hand -->

A scenario is a TOML file; `--scenario FILE|NAME` takes a path or the name of a shipped one
(`paper_case`, the default, is the paper's §4.1 case; also `nd_coupled`, `city`,
`city_traffic`, `ux37`, `zonal_case`, all in `scenarios/`). Every field is optional except
`stations`; unknown fields are rejected. Values are read strictly: numbers must be finite, a
`bool` field takes `true`/`false` only and an `int` field a whole number without quotes (a
`float` field also takes an integer such as `2000`). Relative paths are resolved against the
scenario file's folder. A refused value ends the command with exit code 2 and one line naming
the field, the value and the fix.

**Time grid.** A session arriving at minute `t_arr` and leaving at `t_dep` is controllable for
the whole intervals it covers (`ceil(t_arr/dt)` to `floor(t_dep/dt)`); shorter sessions have
zero dwell. A vehicle arriving below `soc_min` is never discharged below its arrival energy; one
above `soc_max` is never forced to discharge.

**Sign convention** (everywhere): charging is positive.

A minimal scenario:

```toml
name = "two stations"

[[stations]]
name = "A"
n_ev = 50
bus = 18

[[stations]]
name = "B"
n_ev = 50
bus = 33
```
"""


def render() -> str:
    """The page's text."""
    out: list[str] = [INTRO]
    missing: list[str] = []
    sections(Scenario, "", out, missing)
    if missing:
        raise SystemExit("fields without a meaning (add them to MEANING): " + ", ".join(missing))
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    """Write the page, or with ``--check`` compare it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is out of date; run python docs/gen_scenario_reference.py")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
