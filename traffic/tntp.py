"""Reader for the TNTP files of "Transportation Networks for Research" (Stabler, Bar-Gera, Sall).

Two files describe a network (https://github.com/bstabler/TransportationNetworks, README
"TNTP Data format"):

* ``<name>_net.tntp`` — a metadata header (``<NUMBER OF NODES> 24`` ... ``<END OF METADATA>``),
  then comment lines starting with ``~`` and one row per directed link::

      init_node term_node capacity length free_flow_time b power speed toll link_type ;

  with the link time ``free_flow_time * (1 + b (flow / capacity)^power)``;
* ``<name>_trips.tntp`` — a metadata header, then ``Origin k`` lines each followed by
  ``destination : flow;`` pairs (several per line).

Units. TNTP files do not share units; the reader converts with ``min_per_time_unit`` and
``km_per_length_unit`` (defaults 1: times read as minutes, lengths as km). Capacities and OD
flows are read as veh/h, the units the project's BPR and demand use. For the shipped Sioux
Falls files (LeBlanc et al. 1975) the repository's README says: free-flow times are in units of
0.01 h "but they are often viewed as if they were minutes" — the default reads them as minutes,
the convention of the published equilibria (``SiouxFalls_flow.tntp``); OD flows are 0.1 of the
original daily flows, "approximate hourly flows" — read as veh/h; lengths equal the free-flow
times (arbitrary unit). ``speed``, ``toll`` and ``link_type`` are not used.

The project's link model is the BPR function with ``b = 0.15`` and ``power = 4``
(``traffic.static``, ``traffic.dynamic``); a file with other values is refused unless
``check_bpr=False``. TNTP nodes below ``<FIRST THRU NODE>`` are zones that traffic may not pass
through; the project routes through every node, so such files are refused unless
``allow_through_zones=True``.

Every problem raises :class:`~traffic.network.NetworkError` with one line naming the file, the
line number and the fix.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from traffic.network import Link, NetworkError, RoadNetwork

PROJECT_BPR_B = 0.15
PROJECT_BPR_POWER = 4.0
TOTAL_FLOW_RTOL = 1e-5  # <TOTAL OD FLOW> against the entries (headers round to 6 digits)

_META = re.compile(r"^\s*<([^>]+)>(.*)$")
_PAIR = re.compile(r"^\s*(\d+)\s*:\s*(\S+)\s*$")


@dataclass(frozen=True)
class TntpHeader:
    """The metadata of a TNTP file.

    Attributes:
        source: The file (for messages).
        fields: Metadata values by upper-case key (``"NUMBER OF NODES"`` → ``"24"``).
        line_of: Line number (1-based) of each metadata key.
        body_line: Line number of the first line after ``<END OF METADATA>``.
    """

    source: str
    fields: dict[str, str]
    line_of: dict[str, int]
    body_line: int

    def integer(self, key: str) -> int | None:
        """A positive whole metadata value, ``None`` if absent."""
        if key not in self.fields:
            return None
        return _integer(self.fields[key], self.source, self.line_of[key], f"<{key}>")

    def number(self, key: str) -> float | None:
        """A numeric metadata value, ``None`` if absent."""
        if key not in self.fields:
            return None
        return _number(self.fields[key], self.source, self.line_of[key], f"<{key}>")


@dataclass(frozen=True)
class TntpTrips:
    """An OD table read from a ``*_trips.tntp`` file.

    Attributes:
        od_veh_h: Demand per OD pair (veh/h); zero and intra-zonal entries are left out.
        line_of: Line number of each OD pair's entry (for messages).
        intrazonal_veh_h: Sum of the left-out intra-zonal (origin = destination) entries.
        total_veh_h: Sum of all entries of the file, intra-zonal ones included.
    """

    od_veh_h: dict[tuple[int, int], float]
    line_of: dict[tuple[int, int], int]
    intrazonal_veh_h: float
    total_veh_h: float


def _number(text: str, source: str, line: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise NetworkError(f"{source}, line {line}: {what} {text!r} is not a number; write a "
                           "plain decimal number") from None
    if not math.isfinite(value):
        raise NetworkError(f"{source}, line {line}: {what} is {text!r}; give a finite number")
    return value


def _integer(text: str, source: str, line: int, what: str) -> int:
    value = _number(text, source, line, what)
    if value != int(value) or value < 1:
        raise NetworkError(f"{source}, line {line}: {what} {text!r} is not a positive whole "
                           "number; TNTP nodes and counts are 1, 2, ...")
    return int(value)


def read_header(lines: list[str], source: str) -> TntpHeader:
    """The metadata block at the top of a TNTP file.

    Args:
        lines: The file's lines.
        source: File name for messages.

    Raises:
        NetworkError: No ``<END OF METADATA>`` line, or a non-metadata line before it.
    """
    if not any(raw.strip() for raw in lines):
        raise NetworkError(f"{source}: the file is empty (a failed download or a Git LFS "
                           "pointer?); fetch the complete TNTP file")
    fields: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        m = _META.match(raw)
        if m is None:
            raise NetworkError(f"{source}, line {i}: {raw.strip()[:40]!r} inside the metadata "
                               "header; every header line reads '<KEY> value' and the header "
                               "ends with '<END OF METADATA>'")
        key = m.group(1).strip().upper()
        if key == "END OF METADATA":
            return TntpHeader(source, fields, line_of, i + 1)
        fields[key] = m.group(2).strip()
        line_of[key] = i
    raise NetworkError(f"{source}: no '<END OF METADATA>' line; a TNTP file starts with its "
                       "metadata header (e.g. '<NUMBER OF NODES> 24') closed by that line")


def _read_text(path: str | Path) -> tuple[list[str], str]:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8", errors="replace").splitlines(), str(p)
    except OSError as exc:
        raise NetworkError(f"{p}: cannot be read ({exc.strerror or exc}); check the path "
                           "(relative paths are resolved against the scenario file's folder)"
                           ) from None


def parse_net(lines: list[str], source: str, *, min_per_time_unit: float = 1.0,
              km_per_length_unit: float = 1.0, min_free_flow_min: float | None = None,
              check_bpr: bool = True, allow_through_zones: bool = False) -> tuple[Link, ...]:
    """Road links of a ``*_net.tntp`` text (see module docstring for the units).

    Args:
        lines: The file's lines.
        source: File name for messages.
        min_per_time_unit: Minutes per unit of the file's ``free_flow_time``.
        km_per_length_unit: Kilometres per unit of the file's ``length``.
        min_free_flow_min: Floor for free-flow times (min); ``None`` refuses zero times
            (the project's road links need a positive free-flow time).
        check_bpr: Refuse links whose ``b``/``power`` differ from the project's 0.15 / 4.
        allow_through_zones: Accept ``<FIRST THRU NODE>`` above 1 (paths may then pass
            through zones, which the TNTP convention forbids).

    Returns:
        Links numbered 1, 2, ... in file order, kind ``road``.

    Raises:
        NetworkError: Naming the file, line and fix.
    """
    head = read_header(lines, source)
    first_thru = head.integer("FIRST THRU NODE")
    if first_thru is not None and first_thru > 1 and not allow_through_zones:
        raise NetworkError(f"{source}: <FIRST THRU NODE> is {first_thru}, so zones 1-"
                           f"{first_thru - 1} must not be passed through, which this model "
                           "cannot express; pass allow_through_zones=True to accept it")
    n_nodes = head.integer("NUMBER OF NODES")
    links: list[Link] = []
    nodes: set[int] = set()
    for i in range(head.body_line, len(lines) + 1):
        text = lines[i - 1].split(";", 1)[0].strip()
        if not text or text.startswith("~"):
            continue
        cells = text.split()
        if len(cells) < 5:
            raise NetworkError(f"{source}, line {i}: {len(cells)} fields; a link row needs at "
                               "least 'init_node term_node capacity length free_flow_time'")
        a = _integer(cells[0], source, i, "init_node")
        b = _integer(cells[1], source, i, "term_node")
        nodes.update((a, b))
        if n_nodes is not None and len(nodes) > n_nodes:
            raise NetworkError(f"{source}, line {i}: link {a}->{b} brings the distinct nodes "
                               f"above <NUMBER OF NODES> {n_nodes}; fix the row or the header")
        cap = _number(cells[2], source, i, "capacity")
        length = _number(cells[3], source, i, "length")
        fft = _number(cells[4], source, i, "free_flow_time") * min_per_time_unit
        bpr = [_number(c, source, i, w) for c, w in zip(cells[5:7], ("b", "power"), strict=False)]
        if check_bpr and bpr and (abs(bpr[0] - PROJECT_BPR_B) > 1e-12
                                  or (len(bpr) > 1 and bpr[1] != PROJECT_BPR_POWER)):
            raise NetworkError(f"{source}, line {i}: BPR b = {cells[5]}, power = "
                               f"{cells[6] if len(cells) > 6 else '?'}; the project's link "
                               "model uses b = 0.15, power = 4 — pass check_bpr=False to use "
                               "those instead")
        if not cap > 0:
            raise NetworkError(f"{source}, line {i}: capacity {cells[2]} of link {a}->{b} is not"
                               " positive; give the link a capacity in veh/h")
        if not fft > 0:
            if min_free_flow_min is None or not min_free_flow_min > 0:
                raise NetworkError(f"{source}, line {i}: free_flow_time {cells[4]} of link {a}->"
                                   f"{b} is not positive; pass min_free_flow_min (e.g. 0.01) to "
                                   "floor zero times")
        if min_free_flow_min is not None:
            fft = max(fft, min_free_flow_min)
        links.append(Link(len(links) + 1, a, b, fft, cap, length * km_per_length_unit))
    n_links = head.integer("NUMBER OF LINKS")
    if n_links is not None and n_links != len(links):
        raise NetworkError(f"{source}: <NUMBER OF LINKS> says {n_links} but {len(links)} link "
                           "rows follow; fix the header or restore the missing rows")
    if not links:
        raise NetworkError(f"{source}: no link rows after <END OF METADATA>; is this a "
                           "*_net.tntp file?")
    return tuple(links)


def parse_trips(lines: list[str], source: str) -> TntpTrips:
    """The OD table of a ``*_trips.tntp`` text (flows read as veh/h).

    Args:
        lines: The file's lines.
        source: File name for messages.

    Raises:
        NetworkError: Naming the file, line and fix (pairs before any ``Origin``, malformed or
            repeated pairs, more origins than ``<NUMBER OF ZONES>``, a ``<TOTAL OD FLOW>`` that
            differs from the sum of the entries).
    """
    head = read_header(lines, source)
    zones = head.integer("NUMBER OF ZONES")
    od: dict[tuple[int, int], float] = {}
    line_of: dict[tuple[int, int], int] = {}
    seen: set[tuple[int, int]] = set()
    origin: int | None = None
    origins: set[int] = set()
    intrazonal = total = 0.0
    for i in range(head.body_line, len(lines) + 1):
        text = lines[i - 1].strip()
        if not text or text.startswith("~"):
            continue
        if text.lower().startswith("origin"):
            origin = _integer(text[6:].strip().rstrip(";").strip(), source, i, "origin")
            origins.add(origin)
            if zones is not None and len(origins) > zones:
                raise NetworkError(f"{source}, line {i}: origin {origin} is one more than the "
                                   f"<NUMBER OF ZONES> {zones}; fix the header or the block")
            continue
        if origin is None:
            raise NetworkError(f"{source}, line {i}: OD entries before any 'Origin k' line; "
                               "start each block with 'Origin <node>'")
        for piece in text.split(";"):
            if not piece.strip():
                continue
            m = _PAIR.match(piece)
            if m is None:
                raise NetworkError(f"{source}, line {i}: {piece.strip()!r} is not "
                                   "'destination : flow'; write pairs like '2 : 100.0;'")
            dest = _integer(m.group(1), source, i, "destination")
            flow = _number(m.group(2), source, i, f"flow to {dest}")
            if flow < 0:
                raise NetworkError(f"{source}, line {i}: flow {origin}->{dest} is negative "
                                   f"({flow:g}); OD flows must be >= 0")
            if (origin, dest) in seen:
                raise NetworkError(f"{source}, line {i}: OD pair {origin}->{dest} given twice; "
                                   "keep one entry (the sum if both are meant)")
            seen.add((origin, dest))
            total += flow
            if dest == origin:
                intrazonal += flow
            elif flow > 0:
                od[(origin, dest)] = flow
                line_of[(origin, dest)] = i
    if not seen:
        raise NetworkError(f"{source}: no OD entries after <END OF METADATA>; is this a "
                           "*_trips.tntp file?")
    want = head.number("TOTAL OD FLOW")
    if want is not None:
        if abs(want - total) > TOTAL_FLOW_RTOL * max(abs(want), 1.0):
            raise NetworkError(f"{source}: <TOTAL OD FLOW> says {want:g} but the entries sum "
                               f"to {total:g}; fix the header or the missing entries")
    return TntpTrips(od, line_of, intrazonal, total)


def read_net(path: str | Path, **options: object) -> tuple[Link, ...]:
    """Road links of a ``*_net.tntp`` file (keyword options as in :func:`parse_net`)."""
    lines, source = _read_text(path)
    return parse_net(lines, source, **options)  # type: ignore[arg-type]


def read_trips(path: str | Path) -> TntpTrips:
    """The OD table of a ``*_trips.tntp`` file (see :func:`parse_trips`)."""
    lines, source = _read_text(path)
    return parse_trips(lines, source)


def load_tntp(net_file: str | Path, trips_file: str | Path, *, demand_scale: float = 1.0,
              name: str | None = None, min_per_time_unit: float = 1.0,
              km_per_length_unit: float = 1.0, min_free_flow_min: float | None = None,
              check_bpr: bool = True, allow_through_zones: bool = False) -> RoadNetwork:
    """A :class:`RoadNetwork` with the OD demand of a TNTP network/trips file pair.

    Args:
        net_file: The ``*_net.tntp`` file.
        trips_file: The ``*_trips.tntp`` file.
        demand_scale: Factor on every OD flow (1: the file's table as veh/h).
        name: Network name (default: the net file's name without ``_net.tntp``).
        min_per_time_unit: Minutes per unit of the file's free-flow times.
        km_per_length_unit: Kilometres per unit of the file's lengths.
        min_free_flow_min: Floor for free-flow times (``None``: zero times are an error).
        check_bpr: Refuse BPR parameters other than the project's 0.15 / 4.
        allow_through_zones: Accept ``<FIRST THRU NODE>`` above 1.

    Raises:
        NetworkError: A malformed file, or an OD pair whose nodes are not in the network or
            not connected (naming the trips file and line).
    """
    if not (demand_scale >= 0 and math.isfinite(demand_scale)):
        raise NetworkError(f"demand_scale must be a finite number >= 0, got {demand_scale}")
    links = read_net(net_file, min_per_time_unit=min_per_time_unit,
                     km_per_length_unit=km_per_length_unit,
                     min_free_flow_min=min_free_flow_min, check_bpr=check_bpr,
                     allow_through_zones=allow_through_zones)
    trips = read_trips(trips_file)
    nodes = {ln.from_node for ln in links} | {ln.to_node for ln in links}
    for (o, d), line in trips.line_of.items():
        for node in (o, d):
            if node not in nodes:
                raise NetworkError(f"{trips_file}, line {line}: OD pair {o}->{d} uses node "
                                   f"{node}, which no link of {net_file} touches; use the trips "
                                   "file that belongs to this network")
    if name is None:
        stem = Path(net_file).name
        name = stem[:-len("_net.tntp")] if stem.endswith("_net.tntp") else Path(net_file).stem
    od = {pair: q * demand_scale for pair, q in trips.od_veh_h.items()}
    try:
        return RoadNetwork(name, links, od)
    except NetworkError as exc:
        raise NetworkError(f"{trips_file}: {exc}") from None
