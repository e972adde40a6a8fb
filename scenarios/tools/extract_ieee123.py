"""Regenerate ``scenarios/data/ieee123_feeder.json`` from the OpenDSS files of the IEEE 123-node
test feeder.

The IEEE PES 123-node test feeder (Kersting, "Radial distribution test feeders", IEEE PES
Distribution System Analysis Subcommittee) as modelled in the OpenDSS sample files
``IEEE123Master.dss``, ``IEEE123Loads.DSS``, ``IEEE123Regulators.DSS`` (folder
``Distrib/IEEETestCases/123Bus``) and ``IEEELineCodes.DSS`` (folder ``Distrib/IEEETestCases``),
reduced to a balanced positive-sequence equivalent:

* **Lines**: every ``New Line.L*`` with its length (kft -> km) and the positive-sequence
  impedance of its line code, ``z1 = zs - zm`` with ``zs`` the mean of the diagonal and ``zm``
  the mean of the off-diagonal terms of the Kron-reduced phase matrix (ohm/kft -> ohm/km). A
  one-phase code has no mutual term: ``z1 = zs`` (its self impedance, neutral return
  included). Shunt capacitance (``cmatrix``) is dropped.
* **Switches**: the normally closed ones (``Sw1``-``Sw6``) are fused (their two buses become
  one), the normally open ones (``Sw7`` 151-300, ``Sw8`` 54-94) are dropped, so the feeder is
  radial.
* **Regulators**: ideal 1:1 (the two buses of each of ``reg1``-``reg4`` fused; no impedance,
  no tap). The substation voltage set-point is the scenario's.
* **Transformer** ``XFM1`` (61s-610, 150 kVA to 480 V) and bus 610 are dropped: no load is
  connected to 610.
* **Loads**: the spot loads summed over phases per bus (constant power at their kW/kvar,
  whatever the OpenDSS load model).
* **Capacitors**: listed with their rated kvar per bus (summed over phases); the feeder model
  uses them as constant-kvar negative reactive loads.

Fused buses take the name of the upstream bus (``150r`` and ``149`` -> ``150``, ``9r`` -> ``9``,
``25r`` -> ``25``, ``152`` -> ``13``, ``135`` -> ``18``, ``160``/``160r`` -> ``60``, ``197`` ->
``97``, ``61s`` -> ``61``); every remaining bus name is an integer (the pandapower bus index).
Run with the four files in one folder::

    python -m scenarios.tools.extract_ieee123 FOLDER
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

KFT_KM = 0.3048
OUT = Path(__file__).resolve().parents[1] / "data" / "ieee123_feeder.json"
#: Fused buses (closed switches and ideal regulators) -> the bus that keeps the name.
FUSED = {"150r": "150", "149": "150", "9r": "9", "25r": "25", "152": "13", "135": "18",
         "160": "60", "160r": "60", "197": "97", "61s": "61"}
OPEN_SWITCHES = ("sw7", "sw8")
SOURCE = ("OpenDSS sample files of the IEEE 123-node test feeder (IEEE PES Distribution System "
          "Analysis Subcommittee; Kersting 1991/2001), as in github.com/dss-extensions/"
          "electricdss-tst (BSD 3-clause, EPRI and DSS-Extensions contributors), commit "
          "3b208397160213cae4a9e2d0a7d1aa3528ce26e1: Version8/Distrib/IEEETestCases/123Bus/"
          "IEEE123Master.dss, IEEE123Loads.DSS and Version8/Distrib/IEEETestCases/"
          "IEEELineCodes.DSS")


def _statements(text: str) -> list[str]:
    """DSS statements: comments removed, ``~`` continuation lines joined."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split("!")[0].strip()
        if not line:
            continue
        if line.startswith("~") and out:
            out[-1] += " " + line[1:]
        else:
            out.append(line)
    return out


def _props(stmt: str) -> dict[str, str]:
    """``key=value`` pairs of a statement (keys lower case; bracketed values kept whole)."""
    pat = r"(\w+)\s*=\s*(\[[^\]]*\]|\([^)]*\)|\"[^\"]*\"|\S+)"
    return {k.lower(): v for k, v in re.findall(pat, stmt)}


def _matrix(value: str) -> np.ndarray:
    """A lower-triangular DSS matrix ``[a | b c | d e f]`` as a full symmetric array."""
    rows = [[float(v) for v in r.split()] for r in value.strip("[]()").split("|")]
    n = len(rows)
    m = np.zeros((n, n))
    for i, r in enumerate(rows):
        m[i, : len(r)] = r
    return np.tril(m) + np.tril(m, -1).T


def _bus(spec: str) -> str:
    """Bus name without its phase suffix, fused buses mapped to the kept one."""
    name = spec.split(".")[0].lower()
    return FUSED.get(name, name)


def linecodes(text: str) -> dict[str, dict[str, float]]:
    """Positive-sequence impedance (ohm/km) and phase count of every line code."""
    out = {}
    for s in _statements(text):
        if not s.lower().startswith("new linecode."):
            continue
        name = s.split()[1].split(".", 1)[1]
        p = _props(s)
        if "rmatrix" not in p or p.get("units", "kft").lower() != "kft":
            continue  # only the kft codes (the 123-node and 34-node ones) are needed
        z = _matrix(p["rmatrix"]) + 1j * _matrix(p["xmatrix"])
        n = z.shape[0]
        zs = np.mean(np.diag(z))
        zm = (z.sum() - np.trace(z)) / (n * n - n) if n > 1 else 0.0
        z1 = (zs - zm) / KFT_KM
        out[name] = {"phases": n, "r1_ohm_per_km": round(float(z1.real), 9),
                     "x1_ohm_per_km": round(float(z1.imag), 9)}
    return out


def extract(folder: Path) -> dict:
    """The positive-sequence table (module docstring) from the four OpenDSS files."""
    codes_all = linecodes((folder / "IEEELineCodes.DSS").read_text())
    master = _statements((folder / "IEEE123Master.dss").read_text())
    lines = []
    for s in master:
        low = s.lower()
        if not low.startswith("new line."):
            continue
        name = s.split()[1].split(".", 1)[1]
        p = _props(s)
        if name.lower().startswith("sw"):
            if name.lower() in OPEN_SWITCHES:
                continue
            a, b = _bus(p["bus1"]), _bus(p["bus2"])
            if a != b:
                raise ValueError(f"closed switch {name} joins {a} and {b}: add it to FUSED")
            continue
        assert p.get("units", "kft").lower() == "kft", name
        lines.append((name, _bus(p["bus1"]), _bus(p["bus2"]), float(p["length"]) * KFT_KM,
                      p["linecode"]))
    loads: dict[str, list[float]] = {}
    for s in _statements((folder / "IEEE123Loads.DSS").read_text()):
        if s.lower().startswith("new load."):
            p = _props(s)
            acc = loads.setdefault(_bus(p["bus1"]), [0.0, 0.0])
            acc[0] += float(p["kw"])
            acc[1] += float(p["kvar"])
    caps: dict[str, float] = {}
    for s in master:
        if s.lower().startswith("new capacitor."):
            p = _props(s)
            b = _bus(p["bus1"])
            caps[b] = caps.get(b, 0.0) + float(p["kvar"])
    used = sorted({c for *_, c in lines}, key=int)
    buses = sorted({b for _, a, c, *_ in lines for b in (a, c)}, key=int)
    return {
        "name": "ieee123",
        "description": "IEEE 123-node test feeder, balanced positive-sequence equivalent "
                       "(tools/extract_ieee123.py states the reduction)",
        "source": SOURCE,
        "vn_kv": 4.16,
        "substation_bus": 150,
        "fused_buses": FUSED,
        "dropped": ["switch Sw7 (151-300, normally open)", "switch Sw8 (54-94, normally open)",
                    "transformer XFM1 and bus 610 (no load)", "line shunt capacitance",
                    "regulator taps (reg1-reg4 as ideal 1:1)"],
        "linecodes": {c: codes_all[c] for c in used},
        "lines": {"name": [n for n, *_ in lines], "from_bus": [int(a) for _, a, *_ in lines],
                  "to_bus": [int(b) for _, _, b, *_ in lines],
                  "length_km": [round(x, 6) for *_, x, _ in lines],
                  "linecode": [c for *_, c in lines]},
        "loads": {"bus": [int(b) for b in sorted(loads, key=int)],
                  "p_kw": [loads[b][0] for b in sorted(loads, key=int)],
                  "q_kvar": [loads[b][1] for b in sorted(loads, key=int)]},
        "capacitors": {"bus": [int(b) for b in sorted(caps, key=int)],
                       "q_kvar": [caps[b] for b in sorted(caps, key=int)]},
        "n_bus": len(buses),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the shipped JSON from a folder holding the four OpenDSS files."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.split("Run with")[0].strip().splitlines()[0], file=sys.stderr)
        print("usage: python -m scenarios.tools.extract_ieee123 FOLDER", file=sys.stderr)
        return 2
    table = extract(Path(args[0]))
    OUT.write_text(json.dumps(table, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({table['n_bus']} buses, {len(table['lines']['name'])} lines, "
          f"{sum(table['loads']['p_kw']):.0f} kW, {sum(table['loads']['q_kvar']):.0f} kvar)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
