"""Scenario fields set by name: Monte Carlo sweeps (``KEY=V1,V2``, grid product) and a run's
``--set KEY=VALUE``.

Every point's scenario is validated up front (``scenarios.config.validate_scenario``), so a bad
sweep value fails before any replicate runs, with the field and the fix named.
"""

from __future__ import annotations

import itertools

from scenarios.config import Scenario, validate_scenario
from scenarios.errors import InputError

SWEEP_ALIASES = {"alpha": "assessment.alpha", "policy": "simulation.policy",
                 "n_scenarios": "simulation.n_scenarios", "v2g_share": "behaviour.v2g_share",
                 "substation_kw": "grid.substation_kw", "seed": "seed"}


CALIBRATION_ALPHAS = (0.8, 0.9, 0.95, 0.99)


def parse_sweeps(specs: list[str] | None) -> list[tuple[str, list[str]]]:
    """``["alpha=0.8,0.9", "n_ev=100,200"]`` -> ``[("alpha", ["0.8", "0.9"]), ...]``."""
    out = []
    for spec in specs or []:
        key, sep, values = spec.partition("=")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not vals:
            raise InputError(f"--sweep: {spec!r} is not KEY=V1,V2,...; e.g. alpha=0.8,0.9")
        out.append((key.strip(), vals))
    return out


PER_STATION = ("n_ev", "chargers")
"""Keys that set one field of every station (``[[stations]]``) to the value."""


def apply_sweep(scenario: Scenario, key: str, value: str, flag: str = "--sweep") -> Scenario:
    """The scenario with one parameter set (aliases, ``n_ev`` or ``chargers`` of every station,
    or any dotted field path);
    ``flag`` names the option in messages.

    Raises:
        InputError: Unknown key or a value the scenario schema rejects.
    """
    data = scenario.model_dump()
    data["base_dir"] = scenario.base_dir
    parsed = _parse(value)
    if key in PER_STATION:
        for st in data["stations"]:
            st[key] = parsed
    else:
        path = SWEEP_ALIASES.get(key, key).split(".")
        node = data
        for part in path[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise _unknown(key, flag)
            node = node[part]
        if not isinstance(node, dict) or path[-1] not in node:
            raise _unknown(key, flag)
        node[path[-1]] = parsed
    return validate_scenario(data, f"{flag} {key}={value}")


def apply_settings(scenario: Scenario, specs: list[str] | None) -> Scenario:
    """The scenario with every ``KEY=VALUE`` of ``--set`` applied in turn (:func:`apply_sweep`).

    Raises:
        InputError: A spec that is not ``KEY=VALUE``, an unknown key or a rejected value.
    """
    for spec in specs or []:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"--set: {spec!r} is not KEY=VALUE; e.g. "
                             "dispatch.zonal.demand_charge_per_kw=5")
        scenario = apply_sweep(scenario, key.strip(), value.strip(), "--set")
    return scenario


def _unknown(key: str, flag: str) -> InputError:
    return InputError(f"{flag}: unknown key {key!r}; use n_ev, chargers, one of "
                      f"{', '.join(sorted(SWEEP_ALIASES))}, or a dotted scenario field such "
                      "as grid.v_min_pu")


def _parse(value: str):
    """A swept value as TOML would give it: ``true``/``false``, an int, a float or text."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def sweep_points(scenario: Scenario, sweeps: list[tuple[str, list[str]]]
                 ) -> list[tuple[dict[str, str], Scenario]]:
    """The grid product of the sweeps, each point's scenario validated up front."""
    if not sweeps:
        return [({}, scenario)]
    keys = [k for k, _ in sweeps]
    points = []
    for values in itertools.product(*(v for _, v in sweeps)):
        sc = scenario
        for k, v in zip(keys, values, strict=True):
            sc = apply_sweep(sc, k, v)
        points.append((dict(zip(keys, values, strict=True)), sc))
    return points


def point_folder(params: dict[str, str]) -> str:
    """Folder name of a sweep point."""
    return "__".join(f"{k}={v}" for k, v in params.items()) or "base"
