"""Radial feeders: the pandapower reference model and its tree structure in per unit.

A :class:`Feeder` keeps the pandapower network (the reference for AC checks) and the radial
structure every fast model needs: buses ordered from the substation (position 0, the external
grid bus) so that each branch ``b`` feeds position ``b + 1`` from ``parent[b + 1]``, branch
impedances in per unit of ``s_base_kva`` and branch ratings in kVA.

The downstream incidence ``D`` (``n_branch x n_bus``, ``D[b, k] = 1`` when position ``k`` lies
below branch ``b``) carries everything LinDistFlow and the radial sweep need: branch flows are
``F = D s`` and the voltage drop to ``k`` sums ``z_b F_b`` over the branches with ``D[b, k] = 1``.

Bus numbering of the paper's IEEE 33-bus case: paper bus ``k`` (1 = substation) is pandapower
index ``k - 1`` (``bus_numbering = "one_based"``; the k-th row of ``net.bus``).
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandapower as pp
import scipy.sparse as sp

from flexibility.common import FloatArray, IntArray, ModelInputError

PLACEHOLDER_KA = 9999.0  # case33bw and other test cases mark "no rating" with 99999 kA


class FeederError(ModelInputError):
    """A feeder cannot be used (meshed, unknown bus, missing rating); names the fix."""


@dataclass(frozen=True)
class Feeder:
    """A radial feeder in the form the fast models use.

    Attributes:
        name: Feeder name (``case33bw``, a SimBench code or a file name).
        net: The pandapower network (reference model; treat as read-only).
        bus_index: pandapower bus index per position (position 0: substation).
        parent: Parent position per position (``-1`` at the substation).
        branch: ``(element, index)`` of the pandapower branch feeding each position ``1..n-1``.
        r_pu: Branch resistance in per unit of ``s_base_kva`` (shape ``(n - 1,)``).
        x_pu: Branch reactance in per unit.
        rating_kva: Branch thermal rating at nominal voltage (kVA).
        i_max_ka: Branch current rating (kA), ``inf`` for transformers.
        i_base_ka: Base current of each branch's voltage level (kA).
        s_base_kva: Per-unit power base.
        v_slack_pu: Voltage set-point of the external grid.
        load_p_kw: Nominal (design) active load per position.
        load_q_kvar: Nominal reactive load per position.
        lines_only: Only lines without shunt admittance (the radial sweep reproduces
            pandapower exactly); otherwise AC checks call pandapower.
    """

    name: str
    net: pp.pandapowerNet
    bus_index: IntArray
    parent: IntArray
    branch: tuple[tuple[str, int], ...]
    r_pu: FloatArray
    x_pu: FloatArray
    rating_kva: FloatArray
    i_max_ka: FloatArray
    i_base_ka: FloatArray
    s_base_kva: float
    v_slack_pu: float
    load_p_kw: FloatArray
    load_q_kvar: FloatArray
    lines_only: bool

    @property
    def n_bus(self) -> int:
        """Number of buses (positions)."""
        return int(self.bus_index.size)

    def downstream(self) -> sp.csr_matrix:
        """Downstream incidence ``D`` (``n_bus - 1`` x ``n_bus``), ``D[b, k] = 1`` below ``b``."""
        rows, cols = [], []
        for k in range(1, self.n_bus):
            j = k
            while j > 0:
                rows.append(j - 1)
                cols.append(k)
                j = int(self.parent[j])
        data = np.ones(len(rows))
        return sp.csr_matrix((data, (rows, cols)), shape=(self.n_bus - 1, self.n_bus))

    def position(self, pp_bus: int) -> int:
        """Position of a pandapower bus index."""
        where = np.flatnonzero(self.bus_index == pp_bus)
        if where.size == 0:
            raise FeederError(f"bus {pp_bus} is not an in-service bus of feeder {self.name}")
        return int(where[0])

    def resolve_bus(self, bus: int, numbering: str, label: str = "station bus") -> int:
        """Pandapower index of a station bus given in the scenario's numbering.

        Args:
            bus: The bus number as written in the scenario.
            numbering: ``"one_based"`` (paper style: 1 is the first row of ``net.bus``, the
                substation in case33bw) or ``"index"`` (pandapower bus index).
            label: How the error message names the bus (e.g. with its scenario field).

        Raises:
            FeederError: Unknown bus, or the substation bus itself.
        """
        if numbering == "one_based":
            if not 1 <= bus <= len(self.net.bus):
                raise FeederError(f"{label} {bus} does not exist on {self.name} (buses "
                                  f"1..{len(self.net.bus)} in one_based numbering)")
            idx = int(self.net.bus.index[bus - 1])
        else:
            idx = int(bus)
        pos = self.position(idx)
        if pos == 0:
            raise FeederError(f"{label} {bus} is the substation of {self.name}; use a "
                              "downstream bus")
        return idx


def _branches(net: pp.pandapowerNet) -> list[tuple[str, int, int, int]]:
    """In-service branches as ``(element, index, bus_a, bus_b)`` (open line switches removed)."""
    open_lines = set()
    if len(net.switch):
        sw = net.switch
        open_lines = set(sw.element[(sw.et == "l") & ~sw.closed].astype(int))
    out = [("line", int(i), int(r.from_bus), int(r.to_bus))
           for i, r in net.line.iterrows() if r.in_service and int(i) not in open_lines]
    out += [("trafo", int(i), int(r.hv_bus), int(r.lv_bus))
            for i, r in net.trafo.iterrows() if r.in_service]
    return out


def _fuse_bus_switches(net: pp.pandapowerNet) -> None:
    """Merge buses joined by closed bus-bus switches (in place; the first bus is kept)."""
    sw = net.switch
    closed = sw[(sw.et == "b") & sw.closed] if len(sw) else sw
    if not len(closed):
        return
    from pandapower.toolbox import fuse_buses

    keep: dict[int, int] = {}
    for a, b in zip(closed.bus.astype(int), closed.element.astype(int), strict=True):
        ra, rb = keep.get(a, a), keep.get(b, b)
        if ra != rb:
            fuse_buses(net, ra, rb)
            for k, v in list(keep.items()):
                if v == rb:
                    keep[k] = ra
            keep[rb] = ra
    net.switch.drop(closed.index.intersection(net.switch.index), inplace=True)


def from_pandapower(net: pp.pandapowerNet, name: str) -> Feeder:
    """Build the radial structure of a pandapower network.

    Raises:
        FeederError: Not exactly one external grid, a meshed or disconnected network,
            three-winding transformers, or a branch without a thermal rating.
    """
    if len(net.ext_grid[net.ext_grid.in_service]) != 1:
        raise FeederError(f"{name}: a feeder needs exactly one in-service ext_grid (the "
                          "substation)")
    _fuse_bus_switches(net)
    if len(net.trafo3w):
        raise FeederError(f"{name}: three-winding transformers are not supported")
    slack = int(net.ext_grid[net.ext_grid.in_service].bus.iloc[0])
    buses = [int(b) for b in net.bus.index[net.bus.in_service]]
    branches = _branches(net)
    g = nx.MultiGraph()
    g.add_nodes_from(buses)
    for k, (_, _, a, b) in enumerate(branches):
        g.add_edge(a, b, key=k)
    if not nx.is_connected(g):
        raise FeederError(f"{name}: the in-service network is not connected; remove isolated "
                          "buses or close the missing branch")
    if g.number_of_edges() != len(buses) - 1:
        raise FeederError(f"{name}: the feeder is meshed ({g.number_of_edges()} branches for "
                          f"{len(buses)} buses; a radial feeder has {len(buses) - 1}); open tie "
                          "lines (in_service = False) to make it radial")
    order = [slack, *(v for _, v in nx.bfs_edges(g, slack))]
    pos = {b: i for i, b in enumerate(order)}
    n = len(order)
    parent = np.full(n, -1, dtype=np.int64)
    branch: list[tuple[str, int]] = [("", -1)] * (n - 1)
    s_base_mva = float(net.sn_mva)
    r = np.zeros(n - 1)
    x = np.zeros(n - 1)
    rating = np.zeros(n - 1)
    i_max = np.full(n - 1, np.inf)
    i_base = np.zeros(n - 1)
    vn = net.bus.vn_kv
    for _key, (elem, idx, a, b) in enumerate(branches):
        child, up = (b, a) if pos[b] > pos[a] else (a, b)
        k = pos[child]
        parent[k] = pos[up]
        branch[k - 1] = (elem, idx)
        if elem == "line":
            ln = net.line.loc[idx]
            z_base = float(vn[child]) ** 2 / s_base_mva
            par = float(ln.parallel)
            r[k - 1] = ln.r_ohm_per_km * ln.length_km / par / z_base
            x[k - 1] = ln.x_ohm_per_km * ln.length_km / par / z_base
            i_max[k - 1] = ln.max_i_ka * par * ln.df
            rating[k - 1] = np.sqrt(3.0) * float(vn[child]) * i_max[k - 1] * 1e3
        else:
            tr = net.trafo.loc[idx]
            scale = s_base_mva / float(tr.sn_mva)
            z = tr.vk_percent / 100.0 * scale
            r[k - 1] = tr.vkr_percent / 100.0 * scale
            x[k - 1] = np.sqrt(max(z * z - r[k - 1] ** 2, 0.0))
            rating[k - 1] = float(tr.sn_mva) * 1e3 * float(tr.get("max_loading_percent", 100.0)
                                                          or 100.0) / 100.0
        i_base[k - 1] = s_base_mva / (np.sqrt(3.0) * float(vn[child]))
    if np.any(np.isfinite(i_max) & (i_max >= PLACEHOLDER_KA)):
        raise FeederError(f"{name}: some lines carry no thermal rating (max_i_ka >= "
                          f"{PLACEHOLDER_KA:.0f}); set net.line.max_i_ka or use "
                          "grid.feeder.rate_lines_at_design_load")
    p = np.zeros(n)
    q = np.zeros(n)
    loads = net.load[net.load.in_service]
    for b, pl, ql, sc in zip(loads.bus, loads.p_mw, loads.q_mvar, loads.scaling, strict=True):
        p[pos[int(b)]] += pl * sc * 1e3
        q[pos[int(b)]] += ql * sc * 1e3
    shunt_free = (not len(net.shunt[net.shunt.in_service])
                  and not np.any(net.line.c_nf_per_km.to_numpy(float))
                  and not np.any(net.line.get("g_us_per_km", net.line.c_nf_per_km * 0)
                                 .to_numpy(float)))
    lines_only = (not len(net.trafo)) and shunt_free and not len(net.gen) and not len(net.sgen)
    return Feeder(name=name, net=net, bus_index=np.asarray(order, dtype=np.int64), parent=parent,
                  branch=tuple(branch), r_pu=r, x_pu=x, rating_kva=rating, i_max_ka=i_max,
                  i_base_ka=i_base, s_base_kva=s_base_mva * 1e3,
                  v_slack_pu=float(net.ext_grid[net.ext_grid.in_service].vm_pu.iloc[0]),
                  load_p_kw=p, load_q_kvar=q, lines_only=lines_only)


def rate_lines_at_design_load(net: pp.pandapowerNet, margin: float = 1.0) -> None:
    """Give unrated lines the current they carry at the feeder's design load (in place).

    Test feeders such as ``case33bw`` ship without line ratings (99999 kA). We size each such
    line for the case's own design load: ``I_max = margin * |I_line|`` from an AC power flow at
    the nominal loads of ``net.load``, so that the design load loads every line to
    ``100 / margin`` percent. Rated lines are left as they are.
    """
    unrated = net.line.max_i_ka >= PLACEHOLDER_KA
    if not unrated.any():
        return
    run_ac(net)
    net.line.loc[unrated, "max_i_ka"] = margin * net.res_line.i_ka[unrated].clip(lower=1e-6)


def run_ac(net: pp.pandapowerNet) -> None:
    """``pandapower.runpp`` (Newton–Raphson) with the settings used everywhere here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, numba=False, init="dc", tolerance_mva=1e-10, max_iteration=50)


@functools.lru_cache(maxsize=1)
def _case33bw() -> pp.pandapowerNet:
    """The parsed IEEE 33-bus case (parsing takes about a second; callers copy it)."""
    import pandapower.networks as pn

    return pn.case33bw()


def load_feeder(spec: str, base_dir: str | Path = ".", line_margin: float = 1.0) -> Feeder:
    """Load a feeder by name: ``case33bw``, a pandapower JSON file or a SimBench code.

    Args:
        spec: ``"case33bw"`` (IEEE 33-bus, Baran & Wu 1989, from ``pandapower.networks``);
            a path to a pandapower ``.json`` network; or a SimBench code such as
            ``"1-LV-rural1--0-sw"`` (needs ``pip install simbench``).
        base_dir: Folder that relative JSON paths are resolved against.
        line_margin: Design-load margin of derived line ratings
            (:func:`rate_lines_at_design_load`).

    Raises:
        FeederError: Unknown feeder, missing SimBench, or a feeder that is not radial.
    """
    if spec.endswith(".json"):
        path = Path(spec) if Path(spec).is_absolute() else Path(base_dir) / spec
        if not path.is_file():
            raise FeederError(f"grid.feeder: {path} does not exist")
        net = pp.from_json(str(path))
    elif spec == "case33bw":
        net = copy.deepcopy(_case33bw())
    else:
        try:
            import simbench
        except ImportError:
            raise FeederError(f"grid.feeder: {spec!r} is not 'case33bw' or a .json file; for "
                              "a SimBench code install SimBench (pip install simbench)") from None
        try:
            net = simbench.get_simbench_net(spec)
        except Exception as exc:  # SimBench raises plain exceptions for unknown codes
            raise FeederError(f"grid.feeder: {spec!r} is not a SimBench code ({exc})") from None
    rate_lines_at_design_load(net, line_margin)
    return from_pandapower(net, Path(spec).stem if spec.endswith(".json") else spec)
