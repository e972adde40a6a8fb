"""The behaviour model: a Gaussian copula over (arrival time, dwell, initial SOC) per session.

Fitted from a sessions CSV (:mod:`scenarios.sessions`), saved to and loaded from a folder
(``behaviour.npz`` with the marginals and correlation, ``behaviour.json`` with the provenance),
and reported against the data in the form of the paper's Table 1.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from scenarios.copula import GaussianCopula
from scenarios.errors import InputError
from scenarios.sessions import SessionTable, derive_initial_soc

VARIABLES = ("arrival_min", "dwell_min", "soc_init")
LABELS = {"arrival_min": "Arrival time", "dwell_min": "Dwell time",
          "soc_init": "Initial SOC", "departure_min": "Departure time"}


@dataclass(frozen=True)
class BehaviourModel:
    """Fitted behaviour: the copula plus its provenance.

    Attributes:
        copula: Gaussian copula over ``VARIABLES`` (arrival time of day in minutes, dwell in
            minutes, initial SOC as a fraction).
        source: Where the sessions came from.
        meta: Cleaning report, initial-SOC method and parameters, counts.
    """

    copula: GaussianCopula
    source: str
    meta: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, sessions: SessionTable, source: str, soc_method: str, capacity_kwh: float,
            target_soc: float = 0.9, floor_soc: float = 0.05,
            eta_ch: float = 0.95) -> BehaviourModel:
        """Fit on cleaned sessions (initial SOC derived as documented in ``sessions``)."""
        soc, n_floor = derive_initial_soc(sessions, soc_method, capacity_kwh, target_soc,
                                          floor_soc, eta_ch)
        data = np.column_stack([sessions.arrival_min, sessions.dwell_min, soc])
        if len(sessions) < 10:
            raise InputError(f"sessions: only {len(sessions)} usable sessions after cleaning; "
                             "a copula fit needs at least 10")
        _check_variation(data, soc_method)
        meta = {"cleaning": sessions.report,
                "initial_soc": {"method": soc_method, "capacity_kwh": capacity_kwh,
                                "target_soc": target_soc, "floor_soc": floor_soc,
                                "eta_ch": eta_ch, "clipped_to_floor": n_floor},
                "n_sessions": len(sessions),
                "spearman_empirical": _extended_spearman(data).tolist()}
        return cls(copula=GaussianCopula.fit(data, VARIABLES), source=source, meta=meta)

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        """Sessions of shape ``(*size, 3)``: arrival minute of day, dwell minutes, SOC."""
        return self.copula.sample(rng, size)

    def sample_arriving_after(self, rng: np.random.Generator, size: tuple[int, ...],
                              after_min: float, day_start_min: float = 0.0) -> np.ndarray:
        """Sessions conditioned to arrive later than ``after_min`` minutes into the day.

        The day starts at clock minute ``day_start_min``: on the clock the arrivals lie in
        ``(start + after, 1440)`` or ``[0, start)`` (or in ``(start + after - 1440, start)``
        when the rest of the day lies after midnight).
        """
        lo = day_start_min + after_min
        below_start = (-1.0, float(np.nextafter(day_start_min, -1.0)))
        if lo >= 1440.0:  # the remaining part of the day lies after clock midnight
            intervals = [(lo - 1440.0, below_start[1])]
        else:
            intervals = [(lo, 1440.0)] + ([below_start] if day_start_min > 0 else [])
        return self.copula.sample_where(rng, size, 0, intervals)

    def save(self, folder: str | Path) -> None:
        """Write ``behaviour.npz`` and ``behaviour.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "behaviour.npz", marginals=self.copula.marginals,
                 corr=self.copula.corr)
        doc = {"format": "evflex-behaviour/1", "variables": list(self.copula.names),
               "source": self.source, **self.meta}
        (folder / "behaviour.json").write_text(json.dumps(doc, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> BehaviourModel:
        """Read a model written by :meth:`save` (``run_sim.py calibrate``).

        Raises:
            InputError: Missing or malformed files.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"--behaviour: {folder} is not a folder; give the folder "
                             "'run_sim.py calibrate --out' wrote")
        try:
            doc = json.loads((folder / "behaviour.json").read_text())
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise InputError(f"--behaviour: {folder}/behaviour.json cannot be read ({reason}); "
                             "create the folder with 'run_sim.py calibrate'") from None
        if (not isinstance(doc, dict) or doc.get("format") != "evflex-behaviour/1"
                or "source" not in doc or tuple(doc.get("variables", ())) != VARIABLES):
            raise InputError(f"--behaviour: {folder}/behaviour.json has an unknown format; "
                             "re-run 'run_sim.py calibrate'")
        try:
            with np.load(folder / "behaviour.npz", allow_pickle=False) as arrays:
                marginals, corr = arrays["marginals"], arrays["corr"]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            raise InputError(f"--behaviour: {folder}/behaviour.npz is corrupt or was not "
                             "written by 'run_sim.py calibrate'; re-run 'run_sim.py "
                             "calibrate'") from None
        meta = {k: v for k, v in doc.items() if k not in ("format", "variables", "source")}
        return cls(GaussianCopula(VARIABLES, marginals, corr), doc["source"], meta)


def _check_variation(data: np.ndarray, soc_method: str) -> None:
    """Every behaviour variable must vary (a constant one has no rank correlation).

    Raises:
        InputError: Names the variable, where it comes from and the fix.
    """
    n = data.shape[0]
    origin = {
        "arrival_min": ("arrival (time of day of the arrival column)",
                        "use sessions that arrive at different times of day"),
        "dwell_min": ("dwell (departure - arrival)",
                      "use sessions with different connection durations"),
        "soc_init": (("initial SOC (column soc_init)", "give varied soc_init values")
                     if soc_method == "column" else
                     ("initial SOC (target_soc - eta_ch * energy_kwh / capacity_kwh, clipped "
                      "to [floor_soc, target_soc])",
                      "check capacity_kwh, target_soc and floor_soc against the energies")),
    }
    for k, name in enumerate(VARIABLES):
        col = data[:, k]
        if np.all(col == col[0]):
            what, fix = origin[name]
            unit = " min" if name != "soc_init" else ""
            raise InputError(f"sessions: {what}: all {n} sessions have the same value "
                             f"({col[0]:g}{unit}); the behaviour model needs variation; {fix}")


@dataclass(frozen=True)
class SpearmanRow:
    """One row of the paper's Table 1."""

    pair: tuple[str, str]
    empirical: float
    generated: float
    fitted: bool

    @property
    def gap(self) -> float:
        """Absolute gap between empirical and generated rank correlation."""
        return abs(self.empirical - self.generated)


def _extended_spearman(x: np.ndarray) -> np.ndarray:
    """Spearman matrix over (arrival, dwell, SOC, departure = arrival + dwell)."""
    x = x.reshape(-1, 3)
    return stats.spearmanr(np.column_stack([x, x[:, 0] + x[:, 1]])).statistic


def spearman_table(model: BehaviourModel, generated: np.ndarray) -> list[SpearmanRow]:
    """Empirical vs generated Spearman correlations (the paper's Table 1 form).

    Pairs among the copula's own variables (arrival, dwell, SOC) are ``fitted``; pairs with the
    derived departure time (arrival + dwell) are reported too, flagged as not fitted: a Gaussian
    copula preserves the rank dependence of its variables, not that of their sums.

    Args:
        model: The fitted model (it carries the empirical Spearman matrix).
        generated: Generated sessions, shape ``(..., 3)`` in ``VARIABLES`` order.
    """
    names = (*VARIABLES, "departure_min")
    emp = np.asarray(model.meta["spearman_empirical"])
    gen = _extended_spearman(generated)
    pairs = [(0, 1), (0, 2), (1, 2), (0, 3), (3, 2)]
    return [SpearmanRow((names[i], names[j]), float(emp[i, j]), float(gen[i, j]),
                        fitted=max(i, j) < 3) for i, j in pairs]
