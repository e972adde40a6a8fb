"""Command-line interface of ``run_sim.py``: argument parsing and dispatch to ``cmd_*`` modules."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from typing import get_args

from environment.cli.numbers import finite_float
from environment.cli.runs import add_settings
from environment.verdict import CONTRACT_TEXT, EXIT_INPUT, EXIT_INTERRUPTED
from flexibility.common import ModelInputError
from scenarios.errors import InputError
from scenarios.sections import CallPolicy

DESCRIPTION = """\
EV grid-flexibility co-simulator (the transmission-distribution-microgrid assessment of
Wang et al. 2026).

Commands:
  simulate   rolling real-time validation run: EV, station, grid and transmission agents on the
             scenario's clock (15-minute ticks by default); the TSO calls on the published
             boundary and delivery is checked (default command)
  assess     three-layer flexibility assessment (station -> distribution -> transmission),
             day-ahead and real-time
  montecarlo Monte Carlo of co-simulated days on dask.distributed (resumable, sweeps)
  compare-da-rt
             Monte Carlo of co-simulated days, then the day-ahead boundary against the real-time
             boundaries of every interval (how much DA overstates what RT can deliver)
  traffic    road traffic: static or dynamic user equilibrium on a road network with
             charging/V2G stations (Nguyen-Dupuis built in)
  flexibility-region
             flexible operation region of the stations' net load under coupon budgets:
             rotating hyperplanes over traffic equilibria, convex hulls, volume against budget,
             dynamic against static assignment, the validating tier dispatch (resumable)
  dispatch   the DSO's day-ahead dispatch under a joint chance constraint (oba, bonferroni,
             so, ro) on the day's packaged EV boundaries, replayed on data days
  calibrate  fit the behaviour model (Gaussian copula) to a sessions CSV
  reproduce  run a paper's case study and write its tables beside the paper's values
             (hierarchical, drjcc, zonal, region or all; --quick for reduced cases)

Run 'python run_sim.py COMMAND --help' for a command's options and its checks. With no command,
'simulate' runs on the built-in default scenario (the paper case: 200 EV sessions drawn for one
day at 4 stations on IEEE 33-bus, the TSO calling the day-ahead reserve at its edges around the
baseline the stations declare every tick; the realised day
differs from the draw as users do -- no-shows leave, sessions carried over from the previous
evening join: 205 EVs on the default seed, 26 of them carried over) and writes runs/<timestamp>/
(a new folder, never overwritten; an explicit --out must be new or empty).

{contract}
Threads: BLAS/OpenMP are pinned to one thread per process (the matrices are small; two
threads on a busy machine were measured up to 14x slower), Monte Carlo workers included.
Set OMP_NUM_THREADS, OPENBLAS_NUM_THREADS or MKL_NUM_THREADS to choose otherwise.
"""
SIMULATE_EPILOG = """\
checks: validity -- no AC violation at a realised operating point (undervoltage, overvoltage,
line, transformer, substation), no grid-infeasible tick (must-charge load -- what the
plugged-in EVs cannot shed now -- the network could not carry), a day-ahead commitment without
grid-infeasible intervals (the expected vehicles' unavoidable draw on a kept sampled day the
network could not carry), no published boundary with P_down > P_up; target -- every call
inside the boundary published at its tick delivered (the package's own promise; TSO rules
only) and at least 99 % of the calls delivered (within 1 %); under a reserve-* policy the
latter is a report instead: whether every reserve call of the day held (the product promises
that on a share alpha of days, which one day cannot test; montecarlo --calibration does);
report -- no tick, and no day-ahead interval, the DSO flagged the alpha package (its lower
bound above the network; the published boundary is capped either way).

{contract}"""


POLICIES = get_args(CallPolicy)  # the one list: the scenario's simulation.policy values


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", metavar="FILE",
                   help="scenario TOML file or built-in name (default: paper_case)")
    p.add_argument("--behaviour", metavar="DIR",
                   help="behaviour model folder written by 'calibrate' (default: fit the "
                        "scenario's sessions CSV on the fly)")
    p.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/<timestamp>)")


def _output_flags(p: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--no-plots``, the same for every command that runs something."""
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its sub-commands."""
    parser = argparse.ArgumentParser(prog="run_sim.py",
                                     description=DESCRIPTION.format(contract=CONTRACT_TEXT),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    m = sub.add_parser("simulate", help="rolling real-time validation run (default)",
                       description="Co-simulate one horizon: EVs arrive and queue for chargers, "
                                   "stations update RT envelopes every tick, the grid agent clips "
                                   "them (LinDistFlow + AC) and publishes the transmission "
                                   "boundary, the TSO calls on it, stations dispatch their EVs "
                                   "and delivery is checked. Writes summary.json, "
                                   "ticks.parquet, evs.parquet, network.parquet, "
                                   "setpoints.parquet and PNG plots.",
                       epilog=SIMULATE_EPILOG.format(contract=CONTRACT_TEXT),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(m)
    add_settings(m)
    m.add_argument("--policy", choices=POLICIES,
                   help="TSO call policy (default: the scenario's simulation.policy, "
                        "reserve-edge in the paper case: the declared baseline plus the day-"
                        "ahead reserve at an edge, held over random spans; reserve-random: "
                        "inside the reserve; random-within: inside the published boundary); "
                        "edge-da / edge-prev call at an edge "
                        "of the day-ahead / previous tick's boundary, which can fail; "
                        "dispatch:oba|bonferroni|so|ro: the DSO's day-ahead chance-"
                        "constrained dispatch (scenario [dispatch]) with affine recourse on "
                        "realised data days; dispatch:zonal: the two-layer low-carbon dispatch "
                        "(partition, distribution layer, price-responsive areas; scenario "
                        "[dispatch.zonal]) executed with the realised EVs")
    m.add_argument("--scenarios", type=int, metavar="M",
                   help="sampled future days per station for the RT envelopes (>= 1)")
    _output_flags(m)

    a = sub.add_parser("assess", help="three-layer flexibility assessment",
                       description="Compute day-ahead and real-time envelopes of the station "
                                   "layer, clip them with the feeder (LinDistFlow, AC-checked "
                                   "with pandapower's model), package the deliverable "
                                   "transmission boundary and trace the P-Q sets; write "
                                   "summary.json, envelopes.parquet, network.parquet, "
                                   "ac_validation.parquet, pq.parquet and PNG plots to --out.")
    _common(a)
    add_settings(a)
    a.add_argument("--layer", choices=["all", "station"], default="all",
                   help="all: station, distribution and transmission layers (default); "
                        "station: the station layer only")
    a.add_argument("--policy", choices=["uniform", "optimal"],
                   help="allocation of network capacity among stations: uniform (common "
                        "scaling, the paper) or optimal (LP maximising the total); default: "
                        "the scenario's grid.policy")
    a.add_argument("--alpha", type=finite_float("--alpha", "0.9"),
                   help="confidence level of the inner envelope, in (0, 1)")
    a.add_argument("--scenarios", type=int, metavar="M", help="behaviour scenarios M (>= 1)")
    a.add_argument("--alpha-definition", choices=["whole-day", "per-interval"],
                   help="station-layer α set: whole-day (kept days, calibrated) or "
                        "per-interval (the paper's per-interval α quantiles); default: the "
                        "scenario's assessment.alpha_definition")
    a.add_argument("--exclusivity-benchmark", action="store_true",
                   help="also run the relaxation-vs-MILP benchmark (paper §4.2) for nEV = 8, "
                        "12, 16, 20, 24 on one station (takes minutes)")
    a.add_argument("--exclusivity-days", type=int, default=8, metavar="D",
                   help="sampled days per size in the exclusivity benchmark (default 8)")
    _output_flags(a)

    for name, text, short in (("montecarlo", "Run N co-simulated days (each with its own seed from "
                                      "the scenario seed) on dask.distributed and summarise "
                                      "every metric with mean, std and 95 % CI.",
                                      "Monte Carlo of co-simulated days (resumable, sweeps)"),
                       ("compare-da-rt", "Run N co-simulated days and compare the day-ahead "
                                         "boundary with the real-time boundaries per interval "
                                         "(paper Figure 4 form).",
                                         "Monte Carlo days, then DA vs RT boundaries")):
        mc = sub.add_parser(name, help=short, description=text +
                            " Writes summary.json, replicates.parquet, replicates/<id>/ and "
                            "PNG plots to --out; --resume continues a run.")
        mc.add_argument("--scenario", metavar="FILE", help="scenario TOML or built-in name")
        mc.add_argument("--behaviour", metavar="DIR", help="behaviour model folder")
        mc.add_argument("--replicates", type=int, required=True, metavar="N",
                        help="replicates (co-simulated days) per sweep point")
        g = mc.add_mutually_exclusive_group()
        g.add_argument("--workers", type=int, default=1, metavar="K",
                       help="worker processes of a local dask cluster (default 1)")
        g.add_argument("--scheduler", metavar="ADDR",
                       help="use an existing dask scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(unencrypted) or tls://10.0.0.5:8786 (with --tls-*); its workers "
                            "write the replicates into --out, which must be the same folder on "
                            "every worker machine and this one (a shared filesystem)")
        g.add_argument("--scheduler-file", metavar="FILE",
                       help="like --scheduler, with the address read from the file that "
                            "'dask scheduler --scheduler-file FILE' writes")
        mc.add_argument("--tls-ca-file", metavar="PEM",
                        help="with a tls:// scheduler: the CA certificate(s) that signed the "
                             "scheduler's and workers' certificates")
        mc.add_argument("--tls-cert", metavar="PEM",
                        help="with a tls:// scheduler: this machine's certificate (it may hold "
                             "the key too)")
        mc.add_argument("--tls-key", metavar="PEM",
                        help="with a tls:// scheduler: this machine's private key, unless it "
                             "is in --tls-cert")
        mc.add_argument("--out", required=True, metavar="DIR", help="output folder")
        mc.add_argument("--resume", action="store_true",
                        help="continue a run in --out, skipping finished replicates")
        mc.add_argument("--ci-target", type=finite_float("--ci-target"), metavar="X",
                        help="stop once the 95 %% CI half-width of --ci-metric is below X")
        mc.add_argument("--ci-metric", default="deliverability_rate",
                        help="metric for --ci-target (default deliverability_rate)")
        mc.add_argument("--sweep", action="append", metavar="KEY=V1,V2",
                        help="sweep a scenario parameter (repeatable; grid product): n_ev, "
                             "alpha, policy, n_scenarios, v2g_share, substation_kw or a "
                             "dotted field such as grid.v_min_pu")
        mc.add_argument("--policy", choices=POLICIES,
                        help="TSO call policy of every replicate (default: the scenario's)")
        mc.add_argument("--calibration", action="store_true",
                        help="sweep alpha over 0.8, 0.9, 0.95, 0.99 and write calibration."
                             "parquet and calibration.png (per alpha: hold rate of the calls "
                             "inside each layer with its Wilson interval, days on which every "
                             "reserve call held, the DA schedule's hold rate); under a "
                             "reserve-* policy (the default) the share of such days (its "
                             "Wilson upper end) and of reserve calls held must reach alpha - "
                             "0.02 (exit 4 otherwise)")
        _output_flags(mc)

    tr = sub.add_parser("traffic", help="static or dynamic traffic assignment",
                        description="Solve a user equilibrium on a road network: static "
                                    "(path-based, relative gap 1e-8) or dynamic (event-driven "
                                    "loading of individual vehicles, iterated to a relative "
                                    "gap of 1 %). Writes summary.json, links.parquet, "
                                    "stations.parquet (dynamic) and PNG plots.")
    tr.add_argument("--network", default="nguyen-dupuis",
                    help="built-in network (nguyen-dupuis) when no --scenario is given")
    tr.add_argument("--scenario", metavar="FILE",
                    help="scenario with a [traffic] section (network, stations, demand), "
                         "e.g. nd_coupled")
    tr.add_argument("--assignment", choices=["static", "dynamic"], default="dynamic",
                    help="static UE (one period) or dynamic UE (default)")
    tr.add_argument("--link-model", choices=["queue", "bpr"],
                    help="dynamic link model: point queue or the paper's BPR on inflow "
                         "(default: the scenario's, queue)")
    tr.add_argument("--target-gap", type=finite_float("--target-gap"), help="gap to stop at")
    tr.add_argument("--out", metavar="DIR", help="output folder (default: runs/<timestamp>)")
    _output_flags(tr)

    from environment.cli.flexregion import add_parser as add_flexregion

    add_flexregion(sub)
    from environment.cli.dispatch import add_parser as add_dispatch

    add_dispatch(sub)
    from environment.cli.reproduce import add_parser as add_reproduce

    add_reproduce(sub)
    c = sub.add_parser("calibrate", help="fit the behaviour model to a sessions CSV",
                       description="Clean a sessions CSV (columns: arrival, departure, "
                                   "energy_kwh; optional charger_kw, charger_model, soc_init), "
                                   "fit the Gaussian copula and save it to --out.")
    c.add_argument("--sessions", required=True, metavar="FILE", help="sessions CSV")
    c.add_argument("--out", required=True, metavar="DIR", help="folder for the fitted model")
    c.add_argument("--quiet", action="store_true", help="no progress output (there is none)")
    c.add_argument("--capacity-kwh", type=finite_float("--capacity-kwh"), default=60.0,
                   help="battery capacity used to derive initial SOC (default 60)")
    c.add_argument("--soc-method", choices=["target_minus_delivered", "column"],
                   default="target_minus_delivered",
                   help="initial SOC: target minus delivered energy, or the soc_init column")
    c.add_argument("--target-soc", type=finite_float("--target-soc"), default=0.9,
                   help="SOC at plug-out (default 0.9)")
    c.add_argument("--floor-soc", type=finite_float("--floor-soc"), default=0.05, help="lowest SOC")
    c.add_argument("--eta-ch", type=finite_float("--eta-ch"), default=0.95, help="efficiency")
    c.add_argument("--max-charger-kw", type=finite_float("--max-charger-kw"), default=22.0,
                   help="keep charge points up to this rating, i.e. AC (default 22)")
    c.add_argument("--max-dwell-h", type=finite_float("--max-dwell-h"), default=48.0,
                   help="drop sessions longer than this (default 48 h)")
    c.add_argument("--default-charger-kw", type=finite_float("--default-charger-kw"),
                   help="rating for rows without charger_kw/known charger_model")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input, one line on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("--") and argv[0] not in ("--help", "-h")):
        argv = ["simulate", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.parser = parser  # reproduce parses the commands it runs with it
    limits = _pin_threads()
    restore = _sigterm_as_interrupt()
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("interrupted: no results were kept (the partial output folder was removed); "
              "montecarlo and flexibility-region keep finished work for --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        restore()
        if limits is not None:  # leave the caller's process as it was
            limits.restore_original_limits()
            for v in THREAD_VARS:
                os.environ.pop(v, None)


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C (clean up, one line, exit 130); returns the undo function."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, old)


def _pin_threads():
    """One BLAS/OpenMP thread per process unless the user set a thread variable.

    The variables are set for child processes (dask workers import numpy afresh); this
    process's already loaded libraries are limited with threadpoolctl.
    """
    if any(v in os.environ for v in THREAD_VARS):
        return None
    for v in THREAD_VARS:
        os.environ[v] = "1"
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command (see :func:`main`)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; the one backend switch of the project
    try:
        if args.command == "calibrate":
            return _calibrate(args)
        with ExitStack() as locks:  # output folders locked until the command returns
            args.locks = locks
            if args.command == "flexibility-region":
                from environment.cli.flexregion import run_flexibility_region

                return run_flexibility_region(args).exit_code
            if args.command in ("montecarlo", "compare-da-rt"):
                from environment.cli.montecarlo import run_montecarlo_command

                return run_montecarlo_command(args)
            return _single_shot(args)
    except ModelInputError as exc:  # InputError, FeederError, NetworkError, FleetError, ...
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # writing the results failed (disk full, permissions, ...)
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: cannot write the results{where}: {exc.strerror or exc}; nothing was "
              f"left behind, fix the location and run again", file=sys.stderr)
        return EXIT_INPUT


def _single_shot(args: argparse.Namespace) -> int:
    """``simulate``, ``assess``, ``dispatch`` or ``traffic`` into a staged folder.

    The folder is complete or absent. What the command prints on stdout is held back until its
    results are in place, so a run that cannot keep them never shows a result line.
    """
    import io
    from contextlib import redirect_stdout

    from environment.cli.output_dir import staged_output

    if args.command == "simulate":
        from environment.cli.simulate import run_simulate as run
    elif args.command == "dispatch":
        from environment.cli.dispatch import run_dispatch as run
    elif args.command == "traffic":
        from environment.cli.traffic import run_traffic as run
    elif args.command == "reproduce":
        from environment.cli.reproduce import run_reproduce as run
    else:
        from environment.cli.assess import run_assess as run
    held = io.StringIO()
    with staged_output(args.out) as staged:
        args.out, args.final_out = str(staged.work), staged.final
        with redirect_stdout(held):
            code = run(args).exit_code
    sys.stdout.write(held.getvalue())
    sys.stdout.flush()
    return code


def _calibrate(args: argparse.Namespace) -> int:
    """``calibrate``: check the options, clean the sessions, fit and save the behaviour model."""
    import math

    from scenarios.behaviour import BehaviourModel
    from scenarios.config import check_soc_floor
    from scenarios.sessions import cleaning_summary, load_sessions

    for name in ("target_soc", "floor_soc"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise InputError(f"--{name.replace('_', '-')}: {value} is outside [0, 1]; give SOC "
                             "as a fraction")
    if not 0.0 < args.eta_ch <= 1.0:
        raise InputError(f"--eta-ch: {args.eta_ch} is outside (0, 1]; give an efficiency such "
                         "as 0.95")
    try:
        check_soc_floor(args.floor_soc, args.target_soc, "--floor-soc", "--target-soc")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    for name, unit in (("capacity_kwh", "battery capacity in kWh, e.g. 60"),
                       ("max_charger_kw", "charger rating in kW, e.g. 22"),
                       ("max_dwell_h", "dwell in hours, e.g. 48"),
                       ("default_charger_kw", "charger rating in kW, e.g. 7")):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"--{name.replace('_', '-')}: {value:g} is not positive; give the "
                             f"{unit}")
    sessions = load_sessions(args.sessions, args.max_charger_kw, args.max_dwell_h,
                             args.default_charger_kw)
    model = BehaviourModel.fit(sessions, str(args.sessions), args.soc_method, args.capacity_kwh,
                               args.target_soc, args.floor_soc, args.eta_ch)
    model.save(args.out)
    print(f"{cleaning_summary(sessions.report)}\ncalibrated on {len(sessions)} sessions -> "
          f"{args.out}")
    return 0
