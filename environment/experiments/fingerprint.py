"""What determines a replicate, hashed, so a resume can refuse a different experiment.

A Monte Carlo folder stores the fingerprint of its run in ``manifest.json``: the scenario after
defaults (every field, the seed included), the behaviour model (copula variables, marginals,
correlation, source and metadata), the call policy, the sweep point and the code (package
version and a hash of the package's source files). ``--resume`` compares every component and
refuses, naming what differs, instead of mixing replicates of two experiments.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scenarios.config import Scenario
from scenarios.errors import InputError

if TYPE_CHECKING:
    from scenarios.behaviour import BehaviourModel

PACKAGES = ("agents", "environment", "flexibility", "grid", "traffic", "scenarios")
ROOT = Path(__file__).resolve().parents[2]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _canonical(doc: object) -> bytes:
    return json.dumps(doc, sort_keys=True, default=str).encode()


def code_version() -> str:
    """Package version and a hash of every source file of the package (sorted paths)."""
    h = hashlib.sha256()
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    try:
        version = metadata.version("evflex")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}+{h.hexdigest()[:12]}"


def behaviour_hash(model: BehaviourModel) -> str:
    """Hash of the fitted behaviour model (what sampling depends on)."""
    c = model.copula
    h = hashlib.sha256()
    h.update(_canonical({"names": list(c.names), "source": model.source, "meta": model.meta}))
    h.update(np.ascontiguousarray(c.marginals, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(c.corr, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def scenario_fingerprint(scenario: Scenario) -> str:
    """Hash of everything the scenario file sets (canonical JSON of the validated model)."""
    return _sha(_canonical(scenario.model_dump(mode="json")))


def run_fingerprint(scenario: Scenario, behaviour: BehaviourModel, policy: str | None,
                    sweep_point: dict[str, str]) -> dict[str, str]:
    """The components that determine every replicate of a run (module docstring)."""
    return {"scenario": scenario_fingerprint(scenario),
            "seed": str(scenario.seed),
            "behaviour": behaviour_hash(behaviour),
            "policy": policy or scenario.simulation.policy,
            "sweep_point": json.dumps(sweep_point, sort_keys=True),
            "code": code_version()}


def check_resume(manifest: Path, fingerprint: dict[str, str]) -> None:
    """Refuse to resume a run whose stored fingerprint differs from this one.

    Raises:
        InputError: A component differs (named, with both values), or the folder's manifest
            predates fingerprints.
    """
    doc = json.loads(manifest.read_text())
    stored = doc.get("fingerprint")
    if stored is None:
        raise InputError(f"--resume: {manifest.parent} was written without a fingerprint "
                         "(an older version); start a new run in another folder")
    diff = [k for k in fingerprint if stored.get(k) != fingerprint[k]]
    if diff:
        parts = ", ".join(f"{k} ({stored.get(k)} -> {fingerprint[k]})" for k in diff)
        raise InputError(f"--resume: {manifest.parent} is a different experiment: {parts}; "
                         "resume with the same scenario, seed, behaviour, policy, sweep and "
                         "code, or choose a new --out")
