"""Which constraint family makes a chance-constrained day-ahead dispatch infeasible.

The variant is re-solved with the families added one at a time — the deterministic device
rows alone (capacities, reserves, aggregator boxes, energy, ramps), then the substation,
thermal and voltage rows with the variant's margins; the first addition that makes the program
infeasible is named. If none does, the reserve-adequacy rows are tried on the device rows
alone: infeasible names ``reserve``, else the joint risk budget of the families together is
named (``all``). The full variant (the caller's infeasible solve) is not solved again.
"""

from __future__ import annotations

from dispatch.da_model import solve_da
from dispatch.da_rows import DaInstance
from grid.lindistflow import LinDistFlow

ORDER = ("substation", "thermal", "voltage", "reserve")


def infeasible_family(inst: DaInstance, ldf: LinDistFlow, method: str, eps: float,
                      **kwargs) -> str:
    """The first family whose rows make ``method`` infeasible (module docstring).

    One of ``devices``, ``substation``, ``thermal``, ``voltage``, ``reserve``, or ``all``.
    """
    on: tuple[str, ...] = ()
    if not solve_da(inst, ldf, method, eps, families=on, **kwargs).feasible:
        return "devices"
    for fam in ORDER[:-1]:
        on = (*on, fam)
        if not solve_da(inst, ldf, method, eps, families=on, **kwargs).feasible:
            return fam
    if not solve_da(inst, ldf, method, eps, families=(ORDER[-1],), **kwargs).feasible:
        return ORDER[-1]
    return "all"
