"""Shared pieces of the command-line runs: behaviour model, seed, output folder."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from environment.cli.output_dir import default_folder
from environment.summaries import CommandSummary
from scenarios.errors import InputError


def run_folder(out: str | None) -> Path:
    """The folder a command writes into.

    ``out`` (the staging folder when run from the CLI, see ``environment.cli.output_dir``), or a
    new unique ``runs/<timestamp>``.
    """
    return Path(out) if out else default_folder()


def shown_folder(args: argparse.Namespace, out: Path) -> Path:
    """The folder to name on the console: where the staged run will appear."""
    final = getattr(args, "final_out", None)
    return Path(final) if final is not None else out


def resolve_seed(scenario, seed: int | None) -> int:
    """The run's seed: the option, else the scenario's.

    Raises:
        InputError: A negative seed.
    """
    seed = scenario.seed if seed is None else seed
    if seed < 0:
        raise InputError(f"--seed: {seed} is negative; use a non-negative integer")
    return seed


def load_behaviour(scenario, behaviour_dir: str | None):
    """The behaviour model: a calibrated folder, or a fit of the scenario's sessions."""
    from scenarios.behaviour import BehaviourModel
    from scenarios.sessions import load_sessions

    if behaviour_dir:
        return BehaviourModel.load(behaviour_dir)
    b = scenario.behaviour
    sessions = load_sessions(scenario.sessions_path(), b.max_charger_kw, b.max_dwell_h)
    return BehaviourModel.fit(sessions, b.sessions, b.initial_soc.method,
                              scenario.ev.capacity_kwh, b.initial_soc.target_soc,
                              b.initial_soc.floor_soc, scenario.ev.eta_ch)


def cleaning_line(model) -> str | None:
    """The behaviour data's cleaning counts by reason (console), if the model records them."""
    from scenarios.sessions import cleaning_summary

    report = model.meta.get("cleaning") if isinstance(model.meta, dict) else None
    return f"  {cleaning_summary(report)}" if report else None


@dataclass(frozen=True)
class CommandOutcome:
    """What a command's run returns: its exit code and its typed summary (``None`` when it
    wrote none), so that another command (``reproduce``) can read the summary's attributes."""

    exit_code: int
    summary: CommandSummary | None


def lead_line(verdict, text: str) -> str:
    """The first console line: the verdict, then the run's headline."""
    return f"{verdict.lead()} — {text}"


def add_settings(p: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE``: scenario fields for this run only (:func:`load_with_settings`)."""
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set a scenario field for this run (repeatable): n_ev or chargers (every "
                        "station's), alpha, policy, "
                        "n_scenarios, v2g_share, substation_kw or a dotted field such as "
                        "dispatch.zonal.demand_charge_per_kw=5; validated like the file")


def load_with_settings(name: str | None, settings: list[str] | None):
    """The scenario ``name`` (file or built-in) with the ``--set`` fields applied.

    Raises:
        InputError: The scenario or a setting is refused (the field and the fix named).
    """
    from environment.experiments.sweeps import apply_settings
    from scenarios.config import load_scenario

    return apply_settings(load_scenario(name), settings)
