"""Radial feeders: the pandapower reference model and its tree structure in per unit.

A :class:`Feeder` keeps the pandapower network (the reference for AC checks) and the radial
structure every fast model needs: buses ordered from the substation (position 0, the external
grid bus) so that each branch ``b`` feeds position ``b + 1`` from ``parent[b + 1]``, branch
impedances in per unit of ``s_base_kva`` and branch ratings in kVA.

The downstream incidence ``D`` (``n_branch x n_bus``, ``D[b, k] = 1`` when position ``k`` lies
below branch ``b``) carries everything LinDistFlow and the radial sweep need: branch flows are
``F = D s`` and the voltage drop to ``k`` sums ``z_b F_b`` over the branches with ``D[b, k] = 1``.

Bus numbering of the paper's IEEE 33-bus case: paper bus ``k`` (1 = substation) is pandapower
index ``k - 1`` (``bus_numbering = "one_based"``; the k-th row of ``net.bus``). The IEEE
123-node feeder (``ieee123``) keeps the test feeder's bus numbers as pandapower indices
(``bus_numbering = "index"``; substation bus 150).
"""

from __future__ import annotations

import copy
import functools
import json
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import scipy.sparse as sp

from flexibility.common import FloatArray, IntArray, ModelInputError

if TYPE_CHECKING:
    import pandapower as pp

PLACEHOLDER_KA = 9999.0  # case33bw and other test cases mark "no rating" with 99999 kA
#: Largest design-load margin of derived line ratings (100 already leaves lines unlimited).
MAX_LINE_MARGIN = 100.0


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
        branch: ``(element, index)`` of the pandapower branch feeding each position ``1..n-1``
            (the first of its parallel elements).
        members: All pandapower elements of each tree branch (parallel elements merged).
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
        net_buses: pandapower bus index of every row of ``net.bus``, in its order (what
            one-based bus numbers count).

    A feeder from :func:`load_feeder` pickles (and copies) without ``net`` and rebuilds it
    from the same arguments on first use: processes that only run the fast models (e.g. the
    equilibrium workers of the flexibility region) never import pandapower. Hence ``net`` is
    read-only: a change made in place would be lost in a copy (``dataclasses.replace(fe,
    net=other)`` makes a feeder that keeps ``other``).
    """

    name: str
    net: pp.pandapowerNet = field(repr=False, compare=False)
    bus_index: IntArray
    parent: IntArray
    branch: tuple[tuple[str, int], ...]
    members: tuple[tuple[tuple[str, int], ...], ...]
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
    net_buses: IntArray

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        if state.get("_source") is not None:
            state.pop("net", None)  # rebuilt from the source where needed
        return state

    def __getattr__(self, name: str) -> object:
        # only reached when ``name`` is missing: ``net`` of a feeder pickled without it
        source = self.__dict__.get("_source")
        if name != "net" or source is None:
            raise AttributeError(name)
        net = _rated_net(*source)
        object.__setattr__(self, "net", net)
        return net

    @property
    def n_bus(self) -> int:
        """Number of buses (positions)."""
        return int(self.bus_index.size)

    def downstream(self) -> sp.csr_matrix:
        """Downstream incidence ``D`` (``n_bus - 1`` x ``n_bus``), ``D[b, k] = 1`` below ``b``."""
        ks = np.arange(1, self.n_bus)
        cur = ks.copy()
        rows, cols = [], []
        while cur.size:  # one pass per tree level: every position climbs to the root
            rows.append(cur - 1)
            cols.append(ks)
            cur = self.parent[cur]
            keep = cur > 0
            cur, ks = cur[keep], ks[keep]
        rows_a = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        cols_a = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        return sp.csr_matrix((np.ones(rows_a.size), (rows_a, cols_a)),
                             shape=(self.n_bus - 1, self.n_bus))

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
            if not 1 <= bus <= self.net_buses.size:
                raise FeederError(f"{label} {bus} does not exist on {self.name} (buses "
                                  f"1..{self.net_buses.size} in one_based numbering)")
            idx = int(self.net_buses[bus - 1])
        else:
            idx = int(bus)
        pos = self.position(idx)
        if pos == 0:
            raise FeederError(f"{label} {bus} is the substation of {self.name}; use a "
                              "downstream bus")
        return idx


def _branches(net: pp.pandapowerNet) -> tuple[list[tuple[str, int]], IntArray, IntArray]:
    """In-service branches (open line switches removed): ``(element, index)``, bus a, bus b."""
    ln = net.line
    keep = ln.in_service.to_numpy(bool)
    if len(net.switch):
        sw = net.switch
        open_lines = sw.element[(sw.et == "l") & ~sw.closed].astype(int).to_numpy()
        keep &= ~ln.index.isin(open_lines)
    tr = net.trafo[net.trafo.in_service.to_numpy(bool)]
    ln = ln[keep]
    elems = [("line", int(i)) for i in ln.index] + [("trafo", int(i)) for i in tr.index]
    a = np.concatenate([ln.from_bus.to_numpy(np.int64), tr.hv_bus.to_numpy(np.int64)])
    b = np.concatenate([ln.to_bus.to_numpy(np.int64), tr.lv_bus.to_numpy(np.int64)])
    return elems, a, b


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

    Parallel branches (two elements joining the same pair of buses, e.g. twin HV/MV
    transformers) form one tree branch: impedances combine in parallel,
    ``z = 1 / sum_e (1 / z_e)``, and ratings add.

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
    buses = net.bus.index[net.bus.in_service].to_numpy(np.int64)
    elems, ea, eb = _branches(net)
    g = nx.Graph()
    g.add_nodes_from(buses.tolist())
    g.add_edges_from(zip(ea.tolist(), eb.tolist(), strict=True))
    if not nx.is_connected(g):
        raise FeederError(f"{name}: the in-service network is not connected; remove isolated "
                          "buses or close the missing branch")
    if g.number_of_edges() != len(buses) - 1:
        raise FeederError(f"{name}: the feeder is meshed ({g.number_of_edges()} bus-to-bus "
                          f"connections for {len(buses)} buses; a radial feeder has "
                          f"{len(buses) - 1}; parallel elements count once); open a tie line "
                          "(in_service = False or an open line switch) in every loop")
    order = np.asarray([slack, *(v for _, v in nx.bfs_edges(g, slack))], dtype=np.int64)
    n = order.size
    pos = np.full(int(max(order.max(), ea.max(initial=0), eb.max(initial=0))) + 1, -1)
    pos[order] = np.arange(n)
    child = np.where(pos[eb] > pos[ea], eb, ea)
    up = np.where(pos[eb] > pos[ea], ea, eb)
    k = pos[child]  # tree position fed by each element
    parent = np.full(n, -1, dtype=np.int64)
    parent[k] = pos[up]
    s_base_mva = float(net.sn_mva)
    vn_child = net.bus.vn_kv.loc[child].to_numpy(float)
    r_e, x_e, i_max_e, rating_e = _element_params(net, elems, vn_child, s_base_mva)
    y_e = 1.0 / (r_e + 1j * x_e)
    y = np.zeros(n - 1, dtype=complex)
    np.add.at(y, k - 1, y_e)
    i_max = np.zeros(n - 1)
    np.add.at(i_max, k - 1, i_max_e)
    rating = np.zeros(n - 1)
    np.add.at(rating, k - 1, rating_e)
    z = 1.0 / y
    single = np.bincount(k - 1, minlength=n - 1)[k - 1] == 1
    z[k[single] - 1] = r_e[single] + 1j * x_e[single]  # exact where nothing is merged
    members: list[list[tuple[str, int]]] = [[] for _ in range(n - 1)]
    for e, kk in zip(elems, k.tolist(), strict=True):
        members[kk - 1].append(e)
    i_base = np.zeros(n - 1)
    i_base[k - 1] = s_base_mva / (np.sqrt(3.0) * vn_child)
    if np.any(np.isfinite(i_max) & (i_max >= PLACEHOLDER_KA)):
        raise FeederError(f"{name}: some lines carry no thermal rating (max_i_ka >= "
                          f"{PLACEHOLDER_KA:.0f}); set net.line.max_i_ka or use "
                          "grid.feeder.rate_lines_at_design_load")
    p, q, lines_only = _design_loads(net, pos, n)
    return Feeder(name=name, net=net, bus_index=order, parent=parent,
                  branch=tuple(m[0] for m in members),
                  members=tuple(tuple(m) for m in members), r_pu=z.real, x_pu=z.imag,
                  rating_kva=rating, i_max_ka=i_max, i_base_ka=i_base,
                  s_base_kva=s_base_mva * 1e3,
                  v_slack_pu=float(net.ext_grid[net.ext_grid.in_service].vm_pu.iloc[0]),
                  load_p_kw=p, load_q_kvar=q, lines_only=lines_only,
                  net_buses=net.bus.index.to_numpy(np.int64))


def _design_loads(net: pp.pandapowerNet, pos: IntArray, n: int
                  ) -> tuple[FloatArray, FloatArray, bool]:
    """Nominal load per position (kW, kvar; ``p_mw * scaling`` summed per bus) and whether
    the network is lines only without shunt admittance (:attr:`Feeder.lines_only`)."""
    loads = net.load[net.load.in_service.to_numpy(bool)]
    lp = pos[loads.bus.to_numpy(np.int64)]
    p: FloatArray = np.bincount(lp, (loads.p_mw * loads.scaling).to_numpy(float) * 1e3,
                                minlength=n).astype(float)
    q: FloatArray = np.bincount(lp, (loads.q_mvar * loads.scaling).to_numpy(float) * 1e3,
                                minlength=n).astype(float)
    shunt_free = (not len(net.shunt[net.shunt.in_service])
                  and not np.any(net.line.c_nf_per_km.to_numpy(float))
                  and not np.any(net.line.get("g_us_per_km", net.line.c_nf_per_km * 0)
                                 .to_numpy(float)))
    lines_only = (not len(net.trafo)) and shunt_free and not len(net.gen) and not len(net.sgen)
    return p, q, lines_only


def _element_params(net: pp.pandapowerNet, elems: list[tuple[str, int]], vn_child: FloatArray,
                    s_base_mva: float) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Series impedance and ratings of each element.

    Per element: series ``r``, ``x`` (p.u.), current rating (kA, ``inf`` for transformers) and
    thermal rating (kVA).

    Lines: ``z = (r' + j x') l / parallel / Z_base``, ``I_max = max_i_ka parallel df``,
    ``S = sqrt(3) U_n I_max``. Transformers: ``|z| = vk% / 100 S_base / S_n``,
    ``r = vkr% / 100 S_base / S_n`` (tap ratio ignored), ``S = S_n max_loading% / 100``.
    """
    is_line = np.array([e == "line" for e, _ in elems], dtype=bool)
    ln = net.line.loc[[i for e, i in elems if e == "line"]]
    tr = net.trafo.loc[[i for e, i in elems if e == "trafo"]]
    r = np.zeros(len(elems))
    x = np.zeros(len(elems))
    i_max = np.full(len(elems), np.inf)
    rating = np.zeros(len(elems))
    par = ln.parallel.to_numpy(float)
    z_base = vn_child[is_line] ** 2 / s_base_mva
    r[is_line] = (ln.r_ohm_per_km * ln.length_km).to_numpy(float) / par / z_base
    x[is_line] = (ln.x_ohm_per_km * ln.length_km).to_numpy(float) / par / z_base
    i_max[is_line] = (ln.max_i_ka * ln.df).to_numpy(float) * par
    rating[is_line] = np.sqrt(3.0) * vn_child[is_line] * i_max[is_line] * 1e3
    scale = s_base_mva / tr.sn_mva.to_numpy(float)
    zt = tr.vk_percent.to_numpy(float) / 100.0 * scale
    rt = tr.vkr_percent.to_numpy(float) / 100.0 * scale
    r[~is_line] = rt
    x[~is_line] = np.sqrt(np.maximum(zt * zt - rt * rt, 0.0))
    max_load = (tr.max_loading_percent.fillna(100.0).replace(0.0, 100.0).to_numpy(float)
                if "max_loading_percent" in tr else np.full(len(tr), 100.0))
    rating[~is_line] = tr.sn_mva.to_numpy(float) * 1e3 * max_load / 100.0
    return r, x, i_max, rating


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
    import pandapower as pp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, numba=False, init="dc", tolerance_mva=1e-10, max_iteration=50)


def read_feeder_json(path: Path) -> pp.pandapowerNet:
    """A pandapower network saved with ``pandapower.to_json``.

    Raises:
        FeederError: A missing file or a folder, text that is not JSON, JSON that is not a
            pandapower network, or a network pandapower cannot restore (naming ``grid.feeder``).
    """
    fix = "save the network with pandapower.to_json(net, path)"
    if path.is_dir():
        raise FeederError(f"grid.feeder: {path} is a folder; give a file ({fix})")
    if not path.is_file():
        raise FeederError(f"grid.feeder: {path} does not exist; give a pandapower JSON file, "
                          "'case33bw' or 'ieee123'")
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise FeederError(f"grid.feeder: {path} is not valid JSON ({exc}); {fix}") from None
    if not (isinstance(doc, dict) and doc.get("_class") == "pandapowerNet"):
        raise FeederError(f"grid.feeder: {path} is JSON but not a pandapower network (no "
                          f"pandapowerNet object at the top); {fix}")
    import pandapower as pp

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pp.from_json(str(path))
    except Exception as exc:  # pandapower raises plain exceptions (UserWarning, KeyError, ...)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise FeederError(f"grid.feeder: {path} is not a readable pandapower network "
                          f"({reason}); {fix}") from None


@functools.lru_cache(maxsize=1)
def _case33bw() -> pp.pandapowerNet:
    """The parsed IEEE 33-bus case (parsing takes about a second; callers copy it)."""
    import pandapower.networks as pn

    return pn.case33bw()


def ieee123_net() -> pp.pandapowerNet:
    """The IEEE 123-node test feeder as a balanced positive-sequence pandapower network.

    Built from the shipped table ``scenarios/data/ieee123_feeder.json`` (derived from the
    OpenDSS files of the IEEE PES test feeder by ``scenarios.tools.extract_ieee123``, which
    states the reduction): 119 buses at 4.16 kV indexed by their IEEE numbers, the external
    grid at bus 150 (1.0 p.u.), 118 lines with their line codes' positive-sequence impedance
    and no shunt capacitance (closed switches and the four regulators fused as ideal 1:1, open
    switches dropped), the spot loads summed per bus (3,490 kW, 1,920 kvar) and the four
    capacitors as constant-kvar loads of negative reactive power (750 kvar, named ``C<bus>``).
    Lines carry no rating (:data:`PLACEHOLDER_KA`); :func:`load_feeder` rates them.
    """
    table = json.loads((resources.files("scenarios") / "data" / "ieee123_feeder.json")
                       .read_text())
    import pandapower as pp

    lines, codes = table["lines"], table["linecodes"]
    net = pp.create_empty_network(name="ieee123", sn_mva=1.0)
    buses = sorted({*lines["from_bus"], *lines["to_bus"]})
    pp.create_buses(net, len(buses), vn_kv=table["vn_kv"], index=buses,
                    name=[str(b) for b in buses])
    pp.create_ext_grid(net, table["substation_bus"], vm_pu=1.0)
    code = lines["linecode"]
    pp.create_lines_from_parameters(
        net, lines["from_bus"], lines["to_bus"], lines["length_km"],
        [codes[c]["r1_ohm_per_km"] for c in code], [codes[c]["x1_ohm_per_km"] for c in code],
        0.0, 10 * PLACEHOLDER_KA, name=lines["name"])
    ld, cap = table["loads"], table["capacitors"]
    pp.create_loads(net, ld["bus"] + cap["bus"],
                    np.r_[ld["p_kw"], np.zeros(len(cap["bus"]))] / 1e3,
                    np.r_[ld["q_kvar"], -np.asarray(cap["q_kvar"], dtype=float)] / 1e3,
                    name=[f"S{b}" for b in ld["bus"]] + [f"C{b}" for b in cap["bus"]])
    return net


def load_feeder(spec: str, base_dir: str | Path = ".", line_margin: float = 1.0) -> Feeder:
    """Load a feeder by name: ``case33bw``, ``ieee123``, a pandapower JSON file or a SimBench
    code.

    Args:
        spec: ``"case33bw"`` (IEEE 33-bus, Baran & Wu 1989, from ``pandapower.networks``);
            ``"ieee123"`` (IEEE 123-node test feeder, positive-sequence equivalent,
            :func:`ieee123_net`); a path to a pandapower ``.json`` network; or a SimBench
            code such as ``"1-LV-rural1--0-sw"`` (needs ``pip install simbench``; read through the
            pandapower JSON cache of :mod:`grid.simbench_cache`).
        base_dir: Folder that relative JSON paths are resolved against.
        line_margin: Design-load margin of derived line ratings
            (:func:`rate_lines_at_design_load`).

    Raises:
        FeederError: Unknown feeder, missing SimBench, or a feeder that is not radial.
    """
    feeder = from_pandapower(_rated_net(spec, str(base_dir), line_margin),
                             Path(spec).stem if spec.endswith(".json") else spec)
    object.__setattr__(feeder, "_source", (spec, str(Path(base_dir).resolve()), line_margin))
    return feeder


def _rated_net(spec: str, base_dir: str, line_margin: float) -> pp.pandapowerNet:
    """The pandapower network of :func:`load_feeder` (its arguments), lines rated."""
    if not (np.isfinite(line_margin) and 0 < line_margin <= MAX_LINE_MARGIN):
        raise FeederError(f"grid.line_margin: {line_margin:g} is outside (0, "
                          f"{MAX_LINE_MARGIN:g}]; the derived line ratings are line_margin "
                          "times the design-load current, e.g. 1.0")
    if spec.endswith(".json"):
        path = Path(spec) if Path(spec).is_absolute() else Path(base_dir) / spec
        net = read_feeder_json(path)
    elif spec == "case33bw":
        net = copy.deepcopy(_case33bw())
    elif spec == "ieee123":
        net = ieee123_net()
    else:
        try:
            from grid.simbench_cache import simbench_net

            net = simbench_net(spec)
        except ImportError:
            raise FeederError(f"grid.feeder: {spec!r} is not 'case33bw', 'ieee123' or a .json "
                              "file; for a SimBench code install SimBench (pip install "
                              "simbench)") from None
        except Exception as exc:  # SimBench raises plain exceptions for unknown codes
            raise FeederError(f"grid.feeder: {spec!r} is not a SimBench code ({exc})") from None
    rate_lines_at_design_load(net, line_margin)
    return net
