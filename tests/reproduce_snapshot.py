"""The committed quick snapshot of ``reproduce all --quick`` and its comparison.

``python -m tests.reproduce_snapshot DIR`` rewrites ``tests/data/reproduce_quick_snapshot.json``
from the JSON pages a ``reproduce all --quick --out DIR`` wrote (after a deliberate behaviour
change; regenerate the results pages in docs/results too). Tolerances are stated per paper
(``TOLERANCE``): relative, with an absolute floor for quantities near zero.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "data" / "reproduce_quick_snapshot.json"
PAPERS = ("hierarchical", "drjcc", "zonal", "region")
TOLERANCE = {  # (relative, absolute)
    "hierarchical": (1e-6, 1e-9),  # closed forms and LPs of the assessment, deterministic
    "drjcc": (1e-4, 1e-6),  # HiGHS LP costs; replay shares are counts over fixed days
    "zonal": (1e-3, 1e-3),  # a MIP solved to a 0.1 % gap
    "region": (1e-4, 1e-6),  # equilibria to a 1e-8 gap, convex hulls
}


def snapshot_of(folder: Path) -> dict:
    """The snapshot document of the pages in ``folder``."""
    papers = {}
    for p in PAPERS:
        doc = json.loads((folder / f"{p}.json").read_text())
        # wall times are the machine's, not the code's: not snapshotted
        papers[p] = {r["id"]: r["ours"] for r in doc["rows"] if "solve_s" not in r["id"]}
    return {"tolerance": {p: {"rel": t[0], "abs": t[1]} for p, t in TOLERANCE.items()},
            "papers": papers}


def differences(snapshot: dict, current: dict) -> list[str]:
    """Quantities that moved beyond their paper's tolerance (or appeared / disappeared)."""
    out = []
    for paper, rows in snapshot["papers"].items():
        tol = snapshot["tolerance"][paper]
        now = current["papers"].get(paper, {})
        for qid, was in rows.items():
            cur = now.get(qid)
            if was is None or cur is None:
                if (was is None) != (cur is None):
                    out.append(f"{paper}.{qid}: {was} -> {cur}")
                continue
            if not math.isclose(cur, was, rel_tol=tol["rel"], abs_tol=tol["abs"]):
                out.append(f"{paper}.{qid}: {was} -> {cur} (tolerance rel {tol['rel']:g})")
        out += [f"{paper}.{q}: new quantity" for q in set(now) - set(rows)
                if "solve_s" not in q]
    return out


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(snapshot_of(Path(sys.argv[1])), indent=2) + "\n")
    print(f"wrote {SNAPSHOT}")
