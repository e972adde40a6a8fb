"""The FOR experiment on dask.distributed: directions x budgets as tasks, resumable.

Store (``DIR/<model>/``): ``setup.json`` (the no-coupon equilibrium and the response model,
computed once) and ``points/<budget>_<k>.json`` per direction ``k`` and budget, each written
atomically by the worker that found it. ``manifest.json`` holds the fingerprint (scenario,
model, ``t*``, band, step, refinement, code); ``--resume`` skips the finished points and refuses
a folder of another experiment. Directions are independent and every point is deterministic
(no random numbers), so the result does not depend on the number of workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.coupons import lp_coupons
from environment.experiments.cluster import Cluster
from environment.experiments.fingerprint import check_resume, code_version
from environment.experiments.flex_region import (
    BoundaryPoint,
    Outcome,
    RegionSetup,
    acceptable,
    boundary_point,
    model_interval_min,
    refit,
    setup,
    shared_grid,
    solve,
    solve_here,
    verify_proposal,
)
from environment.outputs import number, write_json
from flexibility.region import directions
from grid.layers import GridModel
from scenarios.config import Scenario, traffic_section
from scenarios.errors import InputError


@dataclass(frozen=True)
class RegionOptions:
    """What determines every point of a FOR run (the fingerprint)."""

    model: str = "dynamic"
    t_star: str = "18:00"
    step_deg: float = 45.0
    band_min: float | None = None  # None: the model's interval (flex_region.model_interval_min)
    fd_step_per_kwh: float = 0.5
    refine: int = 1
    grid: str = "enforce"
    shared: bool = True


def fingerprint(scenario: Scenario, opt: RegionOptions) -> dict[str, str]:
    """Scenario hash, options and code version."""
    doc = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, default=str).encode()
    return {"scenario": hashlib.sha256(doc).hexdigest()[:16], "model": opt.model,
            "time": opt.t_star, "step_deg": str(opt.step_deg), "band_min": str(opt.band_min),
            "fd_step_per_kwh": str(opt.fd_step_per_kwh), "refine": str(opt.refine),
            "shared": str(opt.shared),
            "grid": opt.grid, "code": code_version()}


def _outcome_doc(o: Outcome) -> dict:
    return {"psi": o.psi.tolist(), "p_kw": o.p_kw.tolist(), "gap": o.gap, "spent": o.spent,
            "grid_feasible": o.grid_feasible, "vm_min_pu": o.vm_min_pu}


def _outcome(doc: dict) -> Outcome:
    return Outcome(np.asarray(doc["psi"]), np.asarray(doc["p_kw"]), number(doc["gap"]),
                   number(doc["spent"]), bool(doc["grid_feasible"]), number(doc["vm_min_pu"]))


def _setup_doc(s: RegionSetup) -> dict:
    return {"model": s.model, "t_star_min": s.t_star_min, "band_min": s.band_min,
            "n_bands": s.n_bands, "stations": list(s.stations), "psi_max": s.psi_max.tolist(),
            "base": _outcome_doc(s.base), "jac": s.jac.tolist(),
            "spend_rate": s.spend_rate.tolist(),
            "base_shares": None if s.base_shares is None else [
                None if x is None else x.tolist() for x in s.base_shares],
            "grid_mode": s.grid_mode, "trust_radius": s.trust_radius}


def _setup_from(doc: dict, scenario: Scenario, grid: GridModel | None) -> RegionSetup:
    shares = doc["base_shares"]
    return RegionSetup(scenario, doc["model"], float(doc["t_star_min"]), float(doc["band_min"]),
                       int(doc["n_bands"]), tuple(doc["stations"]), np.asarray(doc["psi_max"]),
                       _outcome(doc["base"]), np.asarray(doc["jac"]),
                       np.asarray(doc["spend_rate"]),
                       None if shares is None
                       else [None if x is None else np.asarray(x) for x in shares],
                       str(doc["grid_mode"]), float(doc.get("trust_radius", 0.5)), grid)


def point_doc(p: BoundaryPoint, k: int) -> dict:
    """One finished direction as stored."""
    return {"k": k, "direction": p.direction.tolist(), "budget": p.budget,
            "outcome": _outcome_doc(p.outcome), "evaluations": p.evaluations,
            "runtime_s": p.runtime_s, "tried": [_outcome_doc(o) for o in p.tried]}


def _run_point(s: RegionSetup, k: int, direction: np.ndarray, budget: float, refine: int,
               path: str) -> dict:
    """Worker task: search one direction and store it atomically."""
    doc = point_doc(boundary_point(s, direction, budget, refine), k)
    write_json(Path(path), doc)
    return doc


@dataclass(frozen=True)
class RegionRun:
    """Stored results of one model: set-up, directions and the points per budget."""

    setup: RegionSetup
    directions: np.ndarray
    points: dict[float, list[dict]]
    setup_s: float
    resumed: int


def run_region(cluster: Cluster | None, scenario: Scenario, opt: RegionOptions,
               budgets: list[float], folder: Path, resume: bool = False,
               progress: bool = True, grid: GridModel | None = None) -> RegionRun:
    """Compute (or resume) the boundary points of every direction and budget (``grid``: the
    scenario's grid model if already built; the tasks carry it where :func:`shared_grid`
    allows)."""
    from tqdm import tqdm

    band_min = opt.band_min if opt.band_min is not None else \
        model_interval_min(traffic_section(scenario, "flexibility-region"), opt.model)
    opt = dataclasses.replace(opt, band_min=band_min)
    root = Path(folder) / opt.model
    manifest = root / "manifest.json"
    fp = fingerprint(scenario, opt)
    if manifest.is_file():
        if not resume:
            raise InputError(f"--out: {folder} already holds a {opt.model} region; add "
                             "--resume to continue it or choose another folder")
        check_resume(manifest, fp)
    write_json(manifest, {"fingerprint": fp})
    t0 = time.perf_counter()
    setup_path = root / "setup.json"
    if setup_path.is_file():
        s = _setup_from(json.loads(setup_path.read_text()), scenario,
                        None if grid is None else shared_grid(grid))
    else:
        s = setup(scenario, opt.model, opt.t_star, band_min, opt.fd_step_per_kwh,
                  opt.grid, cluster, grid)
        write_json(setup_path, _setup_doc(s))
    setup_s = time.perf_counter() - t0
    dirs = directions(len(s.stations), opt.step_deg)
    todo = []
    points: dict[float, list[dict]] = {float(b): [] for b in budgets}
    for b in budgets:
        for k, a in enumerate(dirs):
            path = root / "points" / f"{b:g}_{k}.json"
            if path.is_file():
                points[float(b)].append(json.loads(path.read_text()))
            else:
                todo.append((float(b), k, a, path))
    resumed = sum(len(v) for v in points.values())
    if opt.shared:
        _run_shared(cluster, s, todo, points, progress, opt.refine)
    else:
        bar = tqdm(total=len(todo) + resumed, initial=resumed, desc=f"{opt.model} directions",
                   unit="pt", disable=not progress, leave=False)

        def keep(b: float, doc: dict) -> None:
            points[b].append(doc)
            bar.update()

        with bar:
            _execute(cluster, s, [(b, _run_point, (k, a, b, opt.refine, str(path)),
                                   f"for-{opt.model}-{b:g}-{k}") for b, k, a, path in todo],
                     keep)
    for v in points.values():
        v.sort(key=lambda d: d["k"])
    return RegionRun(s, dirs, points, setup_s, resumed)


def solver(cluster: Cluster | None, s: RegionSetup
           ) -> Callable[[list[np.ndarray]], list[Outcome]]:
    """Equilibria of a list of coupon vectors (:func:`flex_region.solve`), in the given order:
    one task each, shared by this process and the cluster's workers (:func:`_execute`), or
    one after the other in this process.
    """
    if cluster is None:
        return solve_here(s)

    def evaluate(psis: list[np.ndarray]) -> list[Outcome]:
        got: dict[int, Outcome] = {}
        _execute(cluster, s, [(i, solve, (np.asarray(x, dtype=float),),
                               f"solve-{s.model}-{_proposal_key(x)}") for i, x in enumerate(psis)],
                 got.__setitem__)
        return [got[i] for i in range(len(psis))]

    return evaluate


def _execute(cluster: Cluster | None, s: RegionSetup,
             calls: list[tuple[Any, Callable[..., Any], tuple, str]],
             done: Callable[[Any, Any], None]) -> None:
    """Run ``fn(s, *args)`` for every ``(tag, fn, args, key)`` in this process, alone or
    with the cluster's workers (:meth:`Cluster.share`; ``s`` scattered to them once);
    ``done(tag, result)`` as each finishes.
    """
    if cluster is None:
        for tag, fn, args, _ in calls:
            done(tag, fn(s, *args))
        return

    def there(client):
        s_f = client.scatter(s, broadcast=True, hash=False)
        return lambda call: client.submit(call[1], s_f, *call[2], key=call[3], retries=2,
                                          pure=False)

    cluster.share(calls, lambda call: call[1](s, *call[2]), there,
                  lambda i, res: done(calls[i][0], res))


def _proposal_key(psi: np.ndarray) -> str:
    return hashlib.sha256(np.round(psi, 12).tobytes()).hexdigest()[:16]


def _run_search(s: RegionSetup, psi: np.ndarray, budget: float) -> dict:
    """Worker task: verify one LP proposal (step 3) and return every outcome tried."""
    t0 = time.perf_counter()
    found, seen = verify_proposal(s, psi, budget)
    return {"found": None if found is None else _outcome_doc(found),
            "tried": [_outcome_doc(o) for o in seen], "runtime_s": time.perf_counter() - t0}


def _run_shared(cluster: Cluster | None, s: RegionSetup, todo: list,
                points: dict[float, list[dict]], progress: bool, refine: int = 0) -> None:
    """Directions that propose the same coupons share one verification: each distinct
    (budget, proposal) is verified once and its result written for every direction that
    proposed it. ``refine`` more rounds follow: the response model is refitted to every
    equilibrium verified so far (``flex_region.refit``), each direction's LP is solved again
    with its trust region centred at its best point, and the new distinct proposals are
    verified; a direction keeps the better of its points (``a^T P``).
    """
    from tqdm import tqdm

    best: dict[tuple[float, int], dict] = {}
    record: dict[tuple[float, int], dict] = {}
    seen: list[Outcome] = []
    jac = s.jac
    for rnd in range(1 + refine):
        jobs: dict[tuple[float, str], tuple[np.ndarray, list]] = {}
        for b, k, a, path in todo:
            own = best.get((b, k))
            centre = None if own is None else np.asarray(own["psi"])
            psi = lp_coupons(a, jac, s.spend_rate, s.psi_max, b, centre, s.trust_radius)
            if centre is not None and np.allclose(psi, centre, atol=1e-9):
                continue
            jobs.setdefault((b, _proposal_key(psi)), (psi, []))[1].append((k, a, path))
        if not jobs:
            break
        # longest first, so the round's last task is a short one: a proposal is expected to
        # cost what its directions' searches cost so far (backtracking repeats)
        order = sorted(jobs, key=lambda key: -max(
            (record.get((key[0], k), {}).get("evaluations", 0) for k, _, _ in jobs[key][1]),
            default=0))
        bar = tqdm(total=len(jobs), desc=f"{s.model} proposals ({rnd + 1})", unit="eq",
                   disable=not progress, leave=False)

        tried: dict[int, list[Outcome]] = {}

        def store(b: float, res: dict, members: list, bar=bar, tried=tried) -> None:
            found = res["found"]
            tried[id(members)] = [_outcome(o) for o in res["tried"]]
            for i, (k, a, _) in enumerate(members):
                old = best.get((b, k), _outcome_doc(s.base))
                out = found if found is not None and np.dot(a, found["p_kw"]) < np.dot(
                    a, old["p_kw"]) - 1e-9 else old
                best[(b, k)] = out
                rec = record.setdefault((b, k), {"evaluations": 0, "runtime_s": 0.0,
                                                 "tried": []})
                if i == 0:
                    rec["evaluations"] += len(res["tried"])
                    rec["runtime_s"] += res["runtime_s"]
                    rec["tried"].extend(res["tried"])
            bar.update()

        with bar:
            _execute(cluster, s, [((b, members), _run_search, (psi, b),
                                   f"for-{s.model}-{b:g}-{key}-r{rnd}")
                                  for (b, key), (psi, members) in
                                  ((job, jobs[job]) for job in order)],
                     lambda tag, res: store(tag[0], res, tag[1]))
        for job in order:  # in a fixed order, whatever order the tasks finished in
            seen.extend(tried[id(jobs[job][1])])
        jac = refit(s, seen)
    for b, k, a, path in todo:
        rec = record.get((b, k), {"evaluations": 0, "runtime_s": 0.0, "tried": []})
        doc = {"k": k, "direction": np.asarray(a).tolist(), "budget": b,
               "outcome": best.get((b, k), _outcome_doc(s.base)), **rec}
        write_json(Path(path), doc)
        points[b].append(doc)


def best_points(run: RegionRun) -> dict[float, list[tuple[Outcome, float]]]:
    """Per budget and direction: the best verified outcome of the whole run, and the budget
    whose search found it.

    Every equilibrium the run solved (accepted points and the backtracking tries of every
    direction and budget, and the no-coupon point) is a valid outcome for any budget its
    realised spend fits, so direction ``a`` of budget ``B`` takes ``argmin a^T P`` over the
    acceptable ones (:func:`acceptable`). A larger budget's pool contains a smaller one's, so
    its point in every probed direction is at least as far out; the hulls are nested up to the
    direction resolution (a smaller budget's point may lie outside the larger hull between two
    probed directions) and the flatness tolerance.
    """
    out: dict[float, list[tuple[Outcome, float]]] = {}
    for b in sorted(run.points):
        ok = pooled(run, b)
        p = np.array([o.p_kw for o, _ in ok])
        out[b] = [ok[int(np.argmin(p @ a))] for a in run.directions]
    return out


def pooled(run: RegionRun, budget: float) -> list[tuple[Outcome, float]]:
    """Every equilibrium the run solved that is acceptable within ``budget`` (the no-coupon
    one first), with the budget whose search solved it.
    """
    s = run.setup
    target = s.scenario.traffic.target_gap if s.scenario.traffic else 0.01
    pool: list[tuple[Outcome, float]] = [(s.base, 0.0)]
    for b, docs in run.points.items():
        for d in docs:
            pool.extend((_outcome(o), b) for o in [d["outcome"], *d.get("tried", [])])
    need_grid = s.grid_mode == "enforce"
    return [(o, src) for o, src in pool if acceptable(o, budget, target, need_grid)]
