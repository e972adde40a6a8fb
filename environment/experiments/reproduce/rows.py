"""Rows of a reproduction page, the paper values they compare against, the page and its JSON.

A row is one quantity: the paper's value (``scenarios/data/papers/<paper>.toml``, read for the
page only), ours (from a run's typed summary), ``ratio = ours / paper`` and, when the row is
more than ``causes.TOLERANCE`` off (or ours is missing), its registered cause. The page
(``<paper>.md``) and ``<paper>.json`` hold the same rows, with the git commit, the scenario
fingerprints and the command lines that made them.
"""

from __future__ import annotations

import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from environment.experiments.reproduce.causes import CAUSES, TOLERANCE, cause_of
from environment.outputs import write_json, write_text

PAPERS_DIR = Path(__file__).resolve().parents[3] / "scenarios" / "data" / "papers"


@dataclass(frozen=True)
class PaperValue:
    """A quantity the paper reports."""

    id: str
    quantity: str
    unit: str
    paper: float


def paper_values(paper: str) -> dict[str, PaperValue]:
    """The paper's reported values, by quantity id."""
    doc = tomllib.loads((PAPERS_DIR / f"{paper}.toml").read_text(encoding="utf-8"))
    return {v["id"]: PaperValue(v["id"], v["quantity"], v["unit"], float(v["paper"]))
            for v in doc["values"]}


@dataclass(frozen=True)
class Row:
    """One quantity of a page.

    Attributes:
        id: Quantity id; ``quantity`` its description, ``unit`` its unit.
        paper: The paper's value; ``ours`` the run's (``None``: not produced).
        ratio: ``ours / paper`` (``None`` when either is missing or the paper's is 0).
        cause: The registered cause's key when the row is off (``None``: within tolerance, or
            off without a registered cause, which ``unexplained`` reports).
        off: More than the tolerance away from the paper (or ours missing).
    """

    id: str
    quantity: str
    unit: str
    paper: float
    ours: float | None
    ratio: float | None
    cause: str | None
    off: bool

    @property
    def unexplained(self) -> bool:
        """Off without a registered cause."""
        return self.off and self.cause is None


def make_row(paper: str, value: PaperValue, ours: float | None, quick: bool = False,
             ran: bool = True) -> Row:
    """The row of ``value`` with our number and, when off, its registered cause.

    ``ran`` False: the runs did not produce the quantity at all (``ours`` is ``None``); in a
    reduced case (``quick``) its cause is then ``not_in_quick`` unless a missing-data cause is
    registered for it. ``ours`` ``None`` with ``ran``: produced, without a value (e.g. no tier
    suffices).
    """
    if ours is None:
        ratio, off = None, True
    elif value.paper == 0.0:
        ratio, off = None, abs(ours) > 1e-6
    else:
        ratio = ours / value.paper
        off = abs(ratio - 1.0) > TOLERANCE
    cause = cause_of(paper, value.id) if off else None
    if off and quick and not ran and (cause is None or cause.kind != "missing-data"):
        cause = CAUSES["not_in_quick"]
    return Row(value.id, value.quantity, value.unit, value.paper,
               None if ours is None else float(ours), ratio,
               None if cause is None else cause.key, off)


@dataclass(frozen=True)
class RunNote:
    """A command run for a page: its command line, verdict and scenario fingerprint."""

    command: str
    verdict: str
    exit_code: int
    scenario_fingerprint: str


@dataclass(frozen=True)
class PaperPage:
    """One paper's reproduction."""

    paper: str
    title: str
    quick: bool
    rows: tuple[Row, ...]
    runs: tuple[RunNote, ...]
    figures: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    details: tuple[str, ...] = ()

    @property
    def unexplained(self) -> tuple[Row, ...]:
        """Rows off by more than the tolerance with no registered cause."""
        return tuple(r for r in self.rows if r.unexplained)


def git_commit(root: Path) -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes; ``unknown`` outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def page_json(page: PaperPage, commit: str, command: str) -> dict[str, Any]:
    """The page's JSON: rows (``quantity, unit, paper, ours, ratio, cause``), runs, commit."""
    return {"paper": page.paper, "title": page.title, "quick": page.quick, "commit": commit,
            "command": command, "tolerance": TOLERANCE,
            "rows": [{"id": r.id, "quantity": r.quantity, "unit": r.unit, "paper": r.paper,
                      "ours": r.ours, "ratio": r.ratio, "off": r.off, "cause": r.cause}
                     for r in page.rows],
            "runs": [vars(n) for n in page.runs],
            "figures": [{"paper_figure": name, "file": f} for name, f in page.figures],
            "notes": list(page.notes), "details": list(page.details)}


def page_markdown(page: PaperPage, commit: str, command: str) -> str:
    """The page: how it was made, the table, the causes it names, runs and figures."""
    lines = [f"# {page.title}", "",
             f"Generated by `{command}` at commit `{commit}`"
             + (" (reduced case: `--quick`)." if page.quick else "."), "",
             f"Each quantity beside the paper's value. A row more than "
             f"{TOLERANCE:.0%} off names its cause from the registry "
             "(`environment/experiments/reproduce/causes.py`).", "",
             "| quantity | unit | paper | ours | ratio | cause |",
             "|---|---|---|---|---|---|"]
    for r in page.rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        cause = r.cause or ("**no registered cause**" if r.off else "")
        lines.append(f"| {r.quantity} | {r.unit} | {_fmt(r.paper)} | {_fmt(r.ours)} | "
                     f"{ratio} | {cause} |")
    named = sorted({r.cause for r in page.rows if r.cause})
    if named:
        lines += ["", "## Causes", ""]
        lines += [f"* **{k}** ({CAUSES[k].kind}): {CAUSES[k].text}." for k in named]
    if page.details:
        lines += ["", *page.details]
    if page.notes:
        lines += ["", "## Notes", ""] + [f"* {n}" for n in page.notes]
    lines += ["", "## Runs", ""]
    lines += [f"* `{n.command}` — {n.verdict} (exit {n.exit_code}; scenario "
              f"`{n.scenario_fingerprint}`)" for n in page.runs]
    if page.figures:
        lines += ["", "## Figures", ""]
        lines += [f"### {name}\n\n![{name}]({f})\n" for name, f in page.figures]
    return "\n".join(lines).rstrip() + "\n"


def write_page(page: PaperPage, out: Path, commit: str, command: str) -> None:
    """``<paper>.md`` and ``<paper>.json`` in ``out`` (atomic writes)."""
    write_text(out / f"{page.paper}.md", page_markdown(page, commit, command))
    write_json(out / f"{page.paper}.json", page_json(page, commit, command))
