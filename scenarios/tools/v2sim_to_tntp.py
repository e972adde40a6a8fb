"""Convert a V2Sim UXsim case (e.g. ``ux_37nodes``) into TNTP network and trips files.

V2Sim (https://github.com/hesl-seu/v2sim, BSD-3-Clause, Copyright (c) 2024, fmy-xfk) describes
a UXsim case by a road network ``<case>.net.xml`` (``<node id x y>``, ``<edge id from to length
lanes speed>``), charging stations ``<case>.fcs.xml`` / ``<case>.scs.xml`` (``bind`` = road node,
``slots``, ``bus``) and the vehicles with their trips ``<case>.veh.xml.gz`` (made by
``v2sim-gen-trip``; ``<ev>``/``<gv>`` elements with ``<trip depart O D>`` children, depart in
seconds from the start of day 0). Nothing here imports v2sim.

Written:

* ``<name>_net.tntp``: one row per directed edge. Capacity (veh/h) is the outflow capacity that
  UXsim gives the edge in V2Sim (Newell's triangular diagram with jam density 0.2 veh/m per link
  and reaction time 1 s shared by the lanes: ``w = lanes / (1 s * 0.2)``, ``q = u w k / (u + w)``;
  9,600 veh/h at 40 m/s, 5,901 veh/h at 13.89 m/s with 4 lanes); length in km; free-flow time
  ``length / speed`` in minutes; BPR b = 0.15, power = 4 (this project's link model); speed in
  km/h. Nodes are renumbered 1, 2, ...: ``N<k>`` keeps ``k``, other nodes (the fast-charging
  nodes ``CS<k>``) follow in file order.
* ``<name>_trips.tntp``: the trips of one day (``--day``, 0 = the first) as a daily mean rate
  per OD pair (veh/h = trips of the day / 24); intra-zonal trips are kept in the file (the
  project's reader leaves them out).
* ``<name>_meta.json``: node numbering, vehicles (EVs, other vehicles), trips of the day, the
  hourly departure profile (multipliers with mean 1: ``rate x 60 min x profile[h]`` is the
  hour's trips), stations (name, kind, road node, slots, V2Sim bus).

Usage:
    python scenarios/tools/v2sim_to_tntp.py CASE_DIR VEH_FILE OUT_DIR [--name ux37] [--day 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

JAM_DENSITY_VEH_M = 0.2  # UXsim default jam density (per link)
REACTION_TIME_S = 1.0  # V2Sim's UXsim reaction time (internal step 1 s)
DAY_S = 86400


def uxsim_capacity_veh_h(speed_m_s: float, lanes: int) -> float:
    """Outflow capacity UXsim gives a link (veh/h)."""
    kappa = JAM_DENSITY_VEH_M
    w = 1.0 / (REACTION_TIME_S / lanes) / kappa
    return speed_m_s * w * kappa / (speed_m_s + w) * 3600.0


def _find(case: Path, suffix: str) -> Path:
    hits = sorted(case.glob(f"*{suffix}"))
    if len(hits) != 1:
        raise SystemExit(f"{case}: expected one *{suffix} file, found {len(hits)}")
    return hits[0]


def node_numbers(net_xml: Path) -> dict[str, int]:
    """V2Sim node id -> TNTP node number (N<k> -> k, the others after the largest k)."""
    ids = [n.get("id") for n in ET.parse(net_xml).getroot().iter("node")]
    num: dict[str, int] = {}
    for i in ids:
        m = re.fullmatch(r"N(\d+)", i)
        if m:
            num[i] = int(m.group(1))
    nxt = max(num.values(), default=0)
    for i in ids:
        if i not in num:
            nxt += 1
            num[i] = nxt
    return num


def write_net(net_xml: Path, num: dict[str, int], out: Path, name: str) -> int:
    """Write ``<name>_net.tntp``; returns the number of links."""
    edges = list(ET.parse(net_xml).getroot().iter("edge"))
    rows = []
    for e in edges:
        length_m, speed, lanes = float(e.get("length")), float(e.get("speed")), int(e.get("lanes"))
        cap = uxsim_capacity_veh_h(speed, lanes)
        fft_min = length_m / speed / 60.0
        rows.append(f"\t{num[e.get('from')]}\t{num[e.get('to')]}\t{cap:.1f}\t"
                    f"{length_m / 1000.0:.5f}\t{fft_min:.5f}\t0.15\t4\t{speed * 3.6:.2f}\t0\t1\t;"
                    f"  ~ {e.get('id')}")
    head = [f"<NUMBER OF ZONES> {len(num)}", f"<NUMBER OF NODES> {len(num)}",
            "<FIRST THRU NODE> 1", f"<NUMBER OF LINKS> {len(rows)}", "<ORIGINAL HEADER>~",
            "<END OF METADATA>", "",
            f"~ {name}: converted from V2Sim (BSD-3-Clause, Copyright (c) 2024, fmy-xfk) by "
            "scenarios/tools/v2sim_to_tntp.py",
            "~ capacity veh/h (UXsim outflow capacity), length km, free-flow time min, "
            "speed km/h", "",
            "~\tinit_node\tterm_node\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed\ttoll"
            "\tlink_type\t;"]
    (out / f"{name}_net.tntp").write_text("\n".join(head + rows) + "\n", encoding="utf-8")
    return len(rows)


def read_trips(veh_file: Path, day: int) -> tuple[dict, Counter, Counter, list[int]]:
    """Vehicles by kind, trips of the day by OD, and departures per hour."""
    opener = gzip.open if veh_file.suffix == ".gz" else open
    with opener(veh_file, "rb") as f:
        root = ET.parse(f).getroot()
    vehicles = Counter()
    od: Counter = Counter()
    od_kind: Counter = Counter()
    hours = [0] * 24
    lo, hi = day * DAY_S, (day + 1) * DAY_S
    for v in root:
        vehicles[v.tag] += 1
        for t in v.iter("trip"):
            dep = float(t.get("depart"))
            if lo <= dep < hi:
                od[(t.get("O"), t.get("D"))] += 1
                od_kind[v.tag] += 1
                hours[int((dep - lo) // 3600)] += 1
    return dict(vehicles), od, od_kind, hours


def write_trips(od: Counter, num: dict[str, int], out: Path, name: str, day: int) -> float:
    """Write ``<name>_trips.tntp``; returns the total OD flow (veh/h)."""
    by_origin: dict[int, dict[int, float]] = {}
    for (o, d), n in od.items():
        by_origin.setdefault(num[o], {})[num[d]] = n / 24.0
    total = sum(sum(r.values()) for r in by_origin.values())
    lines = [f"<NUMBER OF ZONES> {len(num)}", f"<TOTAL OD FLOW> {total:.6f}",
             "<END OF METADATA>", "",
             f"~ {name}: the trips of V2Sim day {day} as daily mean rates (veh/h = trips / 24)",
             ""]
    for o in sorted(by_origin):
        lines.append(f"Origin \t{o}")
        pairs = [f"{d:5d} : {q:.6f};" for d, q in sorted(by_origin[o].items())]
        for i in range(0, len(pairs), 5):
            lines.append("    ".join(pairs[i:i + 5]))
        lines.append("")
    (out / f"{name}_trips.tntp").write_text("\n".join(lines), encoding="utf-8")
    return total


def stations(case: Path, num: dict[str, int]) -> list[dict]:
    """Fast (``fcs``) and slow (``scs``) charging stations of the case."""
    out = []
    for suffix, kind in ((".fcs.xml", "fcs"), (".scs.xml", "scs")):
        for cs in ET.parse(_find(case, suffix)).getroot():
            out.append({"name": cs.get("name"), "kind": kind, "v2sim_node": cs.get("bind"),
                        "node": num[cs.get("bind")], "slots": int(cs.get("slots")),
                        "v2sim_bus": cs.get("bus")})
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case_dir", type=Path)
    ap.add_argument("veh_file", type=Path, help="<case>.veh.xml.gz from v2sim-gen-trip")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--name", default="ux37")
    ap.add_argument("--day", type=int, default=0)
    a = ap.parse_args(argv)
    a.out_dir.mkdir(parents=True, exist_ok=True)
    net_xml = _find(a.case_dir, ".net.xml")
    num = node_numbers(net_xml)
    n_links = write_net(net_xml, num, a.out_dir, a.name)
    vehicles, od, od_kind, hours = read_trips(a.veh_file, a.day)
    total = write_trips(od, num, a.out_dir, a.name, a.day)
    n_trips = sum(hours)
    mean = n_trips / 24.0
    meta = {
        "source": "V2Sim case " + a.case_dir.name + " (https://github.com/hesl-seu/v2sim), "
                  "BSD-3-Clause, Copyright (c) 2024, fmy-xfk",
        "vehicle_file": a.veh_file.name, "day": a.day, "nodes": num, "links": n_links,
        "vehicles": vehicles, "trips_of_day": n_trips, "trips_of_day_by_kind": dict(od_kind),
        "intrazonal_trips": sum(n for (o, d), n in od.items() if o == d),
        "total_od_flow_veh_h": total,
        "departures_per_hour": hours,
        "profile": [round(h / mean, 6) if mean else 0.0 for h in hours],
        "stations": stations(a.case_dir, num),
    }
    (a.out_dir / f"{a.name}_meta.json").write_text(json.dumps(meta, indent=1) + "\n",
                                                    encoding="utf-8")
    print(f"{a.name}: {len(num)} nodes, {n_links} links, {n_trips} trips on day {a.day} "
          f"({dict(od_kind)}), vehicles {vehicles}, {len(meta['stations'])} stations; "
          f"mean rate {total:.1f} veh/h, max profile {max(meta['profile']):.2f}")
    assert math.isclose(total * 24.0, n_trips, rel_tol=1e-9)


if __name__ == "__main__":
    main()
