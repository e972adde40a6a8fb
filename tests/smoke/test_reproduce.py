"""``reproduce all --quick``: pages equal their JSON, every row beyond 20 % names a registered
cause, and the numbers stay where the committed snapshot has them."""

import json
import re

import pytest

from environment.cli.main import main
from environment.experiments.reproduce.causes import CAUSE_OF, CAUSES, TOLERANCE
from environment.experiments.reproduce.rows import PaperValue, make_row, paper_values
from tests.reproduce_snapshot import PAPERS, SNAPSHOT, differences, snapshot_of


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "r"
    code = main(["reproduce", "all", "--quick", "--quiet", "--out", str(out)])
    s = json.loads((out / "summary.json").read_text())
    assert code == s["exit_code"] == 0, s["failed_checks"]
    return out


def _table(md: str) -> list[list[str]]:
    """The rows of the page's first table (the quantities; later sections have their own)."""
    block = md.split("| quantity |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in block]


@pytest.mark.parametrize("paper", PAPERS)
def test_page_rows_equal_the_json(quick, paper):
    doc = json.loads((quick / f"{paper}.json").read_text())
    table = _table((quick / f"{paper}.md").read_text())
    assert len(table) == len(doc["rows"]) > 0
    for cells, row in zip(table, doc["rows"], strict=True):
        assert cells[0] == row["quantity"] and cells[1] == row["unit"]
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}"
        assert cells[4] == ratio
        assert cells[5] == (row["cause"] or "")
        if row["ours"] is not None:  # the printed number is the JSON's to 4 significant digits
            printed = float(re.sub(r"[,]", "", cells[3]))
            assert printed == pytest.approx(row["ours"], rel=5e-4, abs=1e-3)
    assert doc["commit"] and doc["command"].startswith("python run_sim.py reproduce all")
    assert all(len(r["scenario_fingerprint"]) == 16 for r in doc["runs"])


@pytest.mark.parametrize("paper", PAPERS)
def test_every_row_beyond_tolerance_names_a_registered_cause(quick, paper):
    values = paper_values(paper)
    for row in json.loads((quick / f"{paper}.json").read_text())["rows"]:
        off = row["ours"] is None or (
            abs(row["ours"] - row["paper"]) > 1e-6 if row["paper"] == 0
            else abs(row["ours"] / row["paper"] - 1.0) > TOLERANCE)
        assert row["off"] == off, row
        assert (row["cause"] in CAUSES) if off else row["cause"] is None, row
        assert row["id"] in values


def test_quick_snapshot_holds(quick):
    snapshot = json.loads(SNAPSHOT.read_text())
    moved = differences(snapshot, snapshot_of(quick))
    assert not moved, ("reproduce --quick moved beyond the snapshot's tolerance; if the change "
                       "is meant, regenerate: python run_sim.py reproduce all --quick --out DIR "
                       "&& python -m tests.reproduce_snapshot DIR (and the docs/results pages):"
                       f" {moved}")


def test_the_snapshot_check_catches_a_move():
    snap = json.loads(SNAPSHOT.read_text())
    moved = json.loads(json.dumps(snap))
    qid, val = next((k, v) for k, v in moved["papers"]["hierarchical"].items() if v)
    moved["papers"]["hierarchical"][qid] = val * 1.01
    assert differences(snap, moved) and not differences(snap, snap)


def test_rows_and_registry():
    v = PaperValue("q", "a quantity", "kW", 100.0)
    assert not make_row("hierarchical", v, 119.0).off
    assert make_row("hierarchical", v, 121.0).off
    assert make_row("hierarchical", v, None).off
    assert make_row("hierarchical", PaperValue("x", "", "", 0.0), 0.0).ratio is None
    assert set(CAUSE_OF.values()) <= set(CAUSES)
    for paper in PAPERS:  # every registered quantity is one the paper reports
        ids = set(paper_values(paper))
        assert {q for p, q in CAUSE_OF if p == paper} <= ids


def test_region_page_gives_the_physical_bounds_of_its_run(quick):
    """One row per model and budget beside the linear-response region of the same run, read
    from the run's summary (the quick run: static model, two budgets)."""
    md = (quick / "region.md").read_text()
    section = md.split("## Physical bounds", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| static |")]
    summary = json.loads((quick / "region" / "region" / "summary.json").read_text())
    model = summary["models"]["static"]
    assert len(rows) == len(model["budgets"]) == 2
    for ln, (b, lin) in zip(rows, model["response"].items(), strict=True):
        cells = [c.strip() for c in ln.strip("|").split("|")]
        assert cells[1] == f"{float(b):,.0f}" and f"{lin['measure']:.3g}" in cells[3]
    assert "needs" in section and "ports" in section
    # the run with no budget limit: its region and the station's reach, from its own summary
    free = json.loads((quick / "region" / "region_unlimited" / "summary.json").read_text())
    (budget, top), = free["models"]["static"]["budgets"].items()
    assert top["max_subsidy_spent"] < float(budget)  # the budget never binds
    line = next(ln for ln in section.splitlines() if "static, no budget limit" in ln)
    assert f"{top['measure']:.3g}" in line
    reach = next(ln for ln in section.splitlines() if "validation, no budget limit" in ln)
    assert f"{top['range_mw']['CS3'][1]:.2f} MW" in reach
