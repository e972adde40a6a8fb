"""Scenario files: a TOML document validated by pydantic.

Every field has a unit in its name and a default; see docs/scenario-reference.md (generated
from these models by docs/gen_scenario_reference.py).
Relative paths in a scenario file are resolved against the file's folder; the value
``"builtin:perth_kinross"`` names the shipped Perth & Kinross sessions and
``"builtin:home_charging_nhts"`` the shipped residential (evening-to-morning) sessions.

Values are read strictly: numbers must be finite, a ``bool`` field takes ``true``/``false``
only and an ``int`` field a whole number without quotes (a ``float`` field also takes an
integer such as ``2000``). Every refusal is one line naming the field, the value and the fix.
"""

from __future__ import annotations

import codecs
import json
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator

from flexibility.stations import TOTAL_LABEL
from scenarios.builtins import PREFIX as BUILTIN_PREFIX
from scenarios.dispatch_config import SCENARIO_MODEL_CONFIG, Dispatch
from scenarios.errors import InputError
from scenarios.sections import (
    BUILTIN_SESSION_FILES,
    Assessment,
    Behaviour,
    EVParams,
    Grid,
    Horizon,
    Simulation,
    Station,
)
from scenarios.sections import check_soc_floor as check_soc_floor  # re-exported (calibrate)
from scenarios.timeaxis import DAY_MIN, hhmm, minutes_of_day
from scenarios.traffic_config import Traffic

DEFAULT_SCENARIO = "paper_case"


class Scenario(BaseModel):
    """A complete scenario file."""

    model_config = SCENARIO_MODEL_CONFIG

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
        problem = traffic_problem(self) or fleet_problem(self)
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
        shipped = BUILTIN_SESSION_FILES.get(self.behaviour.sessions)
        if shipped is not None:
            return Path(str(resources.files("scenarios") / "data" / shipped))
        path = Path(self.behaviour.sessions)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def with_overrides(self, grid: dict | None = None, simulation: dict | None = None,
                       dispatch: dict | None = None, **assessment: object) -> Scenario:
        """A copy with assessment (grid, simulation, dispatch) fields replaced (CLI options);
        re-validated. ``None`` values leave a field as it is."""
        data = self.model_dump()
        data["base_dir"] = self.base_dir
        data["simulation"].update({k: v for k, v in (simulation or {}).items() if v is not None})
        data["dispatch"].update({k: v for k, v in (dispatch or {}).items() if v is not None})
        data["assessment"].update({k: v for k, v in assessment.items() if v is not None})
        data["grid"].update({k: v for k, v in (grid or {}).items() if v is not None})
        return validate_scenario(data, "command line")


def fleet_problem(scenario: Scenario, command: str | None = None) -> str | None:
    """Why the scenario has no vehicles for ``command``, if so.

    Vehicles come from the behaviour model (``n_ev`` per station) or, in a coupled scenario,
    from the road traffic's users (``[traffic]``, which the co-simulated day of ``simulate``
    and ``montecarlo`` runs). ``assess`` studies the behaviour model's vehicles only.

    Args:
        scenario: The scenario.
        command: The command to run (``None``: any; the check of scenario loading).
    """
    if any(s.n_ev > 0 for s in scenario.stations):
        return None
    if scenario.traffic is None:
        return ("stations: every n_ev is 0 and there is no [traffic] section to bring EVs; "
                "give at least one station EVs")
    if command == "assess":
        return (f"stations: every n_ev is 0 (the EVs of {scenario.name} come from [traffic], "
                "which assess does not model); give at least one station EVs, or run "
                "'simulate' for the coupled day")
    return None


def dispatch_problem(scenario: Scenario) -> str | None:
    """Why ``run_sim.py dispatch`` cannot replay its variants on the scenario, if so.

    The day-ahead forecast days of the EVs alternate between fitting the EV demand errors and
    the held-out replay, so the replay needs at least two of them: the behaviour model's
    ``simulation.n_scenarios`` days (a ``[traffic]`` scenario forecasts with its one-day
    equilibrium instead).
    """
    if scenario.traffic is not None:
        return (f"--scenario: {scenario.name} has a [traffic] section, whose EV forecast is the "
                "one-day traffic equilibrium, but dispatch replays on held-out sampled EV days "
                "(every other forecast day); use a scenario without [traffic], e.g. paper_case")
    n = scenario.simulation.n_scenarios
    if n < 2:
        return (f"simulation.n_scenarios: {n} sampled day leaves no held-out EV day for the "
                "replay of dispatch (the days alternate between fitting and replay); use at "
                "least 2, e.g. 200")
    return None


def traffic_section(scenario: Scenario, command: str) -> Traffic:
    """The scenario's ``[traffic]`` section, for a command that needs one.

    Raises:
        InputError: The scenario has none (naming a shipped coupled scenario).
    """
    if scenario.traffic is None:
        raise InputError(f"--scenario: {scenario.name} has no [traffic] section, which "
                         f"{command} needs; use a coupled scenario such as nd_coupled")
    return scenario.traffic


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
    """Minutes from the horizon start to the traffic demand start.

    The next time the clock shows ``traffic_start``: ``(start - horizon start) mod 1440``, in
    [0, 1440).
    """
    return float((minutes_of_day(traffic_start) - horizon_start_min) % DAY_MIN)


#: Pydantic's type errors, told as the problem and its fix (after the field and its value).
_TYPE_ERRORS = {
    "bool_type": "is not true or false; write true or false without quotes",
    "int_type": "is not a whole number; write an integer without quotes or a decimal point",
    "float_type": "is not a number; write a number without quotes, e.g. 7.0",
    "finite_number": "is not a finite number; give a finite value",
    "string_type": "is not text; put it in quotes",
}


def _shown(value: object) -> str | None:
    """A scalar input as the scenario file writes it (``None`` for tables and arrays)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return repr(value)
    return None


def validation_message(exc: ValidationError, origin: str) -> str:
    """One line for the first error of a scenario validation: origin, field, value, fix."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    kind = err["type"]
    shown = _shown(err.get("input"))
    if kind == "extra_forbidden":
        msg += " (unknown field; check the spelling against docs/scenario-reference.md)"
    elif kind in _TYPE_ERRORS and shown is not None:
        return f"{origin}: {loc} = {shown} {_TYPE_ERRORS[kind]}"
    elif kind not in ("value_error", "assertion_error", "missing") and shown is not None:
        loc = f"{loc} = {shown}"  # pydantic's own message lacks the value
    where = f"{loc}: " if loc else ""  # scenario-wide checks name their fields themselves
    return f"{origin}: {where}{msg}"


def validate_scenario(data: dict, origin: str) -> Scenario:
    """Validate scenario data (a parsed TOML or a modified ``model_dump``) from ``origin``.

    Raises:
        InputError: The first schema violation, one line naming the field and the fix.
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_message(exc, origin)) from None


def builtin_scenarios() -> list[str]:
    """Names of the shipped scenarios (``--scenario NAME``)."""
    return sorted(p.name.removesuffix(".toml") for p in resources.files("scenarios").iterdir()
                  if p.name.endswith(".toml"))


def scenario_path(path: str | Path | None) -> Path:
    """The scenario file named by ``--scenario``.

    A TOML file, or a built-in name (with or without ``builtin:``); ``None`` is the default
    scenario.

    Raises:
        InputError: A folder, an unknown built-in name or a missing file.
    """
    if path is None:
        return Path(str(resources.files("scenarios") / f"{DEFAULT_SCENARIO}.toml"))
    text = str(path)
    known = builtin_scenarios()
    if text.startswith(BUILTIN_PREFIX):
        if text.removeprefix(BUILTIN_PREFIX) not in known:
            raise InputError(f"--scenario: {text!r} is not a built-in scenario; use one of "
                             f"{', '.join(known)} (or a TOML file)")
        text = text.removeprefix(BUILTIN_PREFIX)
    path = Path(text)
    if path.is_dir():
        raise InputError(f"--scenario: {path} is a folder; give a file (a scenario TOML) or a "
                         f"built-in name such as '{DEFAULT_SCENARIO}'")
    if path.is_file():
        return path
    if text in known:
        return Path(str(resources.files("scenarios") / f"{text}.toml"))
    raise InputError(f"--scenario: {path} does not exist; pass a TOML file or a built-in "
                     f"name ({', '.join(known)})")


def read_scenario_text(path: Path) -> str:
    """The text of a scenario file: UTF-8 (a leading byte-order mark is skipped).

    Raises:
        InputError: An unreadable file, UTF-16/32 text or bytes that are not UTF-8.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"--scenario: cannot read {path} ({exc.strerror or exc}); check the "
                         "file's permissions") from None
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if raw.startswith(bom):
            raise InputError(f"{path}: the file is {name} text; save the scenario as UTF-8 "
                             "(TOML files are UTF-8)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at "
                         f"offset {exc.start}); save the scenario as UTF-8 TOML") from None
    if "\x00" in text:
        raise InputError(f"{path}: not a text file (it contains NUL bytes); save the scenario "
                         "as UTF-8 TOML")
    return text


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario file (``None``: the built-in default scenario).

    Raises:
        InputError: Unreadable TOML or a field that fails validation (one line, names it).
    """
    path = scenario_path(path)
    try:
        data = tomllib.loads(read_scenario_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    data["base_dir"] = str(path.parent.absolute())  # dask workers may run in another folder
    scenario = validate_scenario(data, str(path))
    problem = feeder_file_problem(scenario)
    if problem:
        raise InputError(problem)
    return scenario


def feeder_file_problem(scenario: Scenario) -> str | None:
    """What is wrong with a pandapower JSON ``grid.feeder`` as a file, if anything.

    Checked when the scenario is loaded, before any work; ``grid.feeder.load_feeder`` checks
    the same (and the network itself) when the feeder is built.
    """
    spec = scenario.grid.feeder
    if not spec.endswith(".json"):
        return None
    path = Path(spec) if Path(spec).is_absolute() else Path(scenario.base_dir) / spec
    fix = "save the network with pandapower.to_json(net, path)"
    if path.is_dir():
        return f"grid.feeder: {path} is a folder; give a file ({fix})"
    if not path.is_file():
        return (f"grid.feeder: {path} does not exist; give a pandapower JSON file, 'case33bw' "
                "or 'ieee123'")
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError
        return f"grid.feeder: {path} is not valid JSON ({exc}); {fix}"
    if not (isinstance(doc, dict) and doc.get("_class") == "pandapowerNet"):
        return (f"grid.feeder: {path} is JSON but not a pandapower network (no pandapowerNet "
                f"object at the top); {fix}")
    return None
