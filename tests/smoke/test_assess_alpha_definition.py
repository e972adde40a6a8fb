"""``assess --alpha-definition``: the summary names the definition, the headline says when it is
per interval, and only the transmission layer's coverage stays a target under it."""

import json

import numpy as np

from environment.cli.assess import assess_checks
from environment.cli.main import main
from environment.summaries import AssessSummary


def _run(tmp_path, capsys, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "o"
    code = main(["assess", "--scenarios", "20", "--layer", "station", "--no-plots", "--quiet",
                 "--out", str(out), *extra])
    s = json.loads((out / "summary.json").read_text())
    assert code == s["exit_code"] == 0, s["failed_checks"]
    return s, capsys.readouterr().out.splitlines()[0]


def test_per_interval_run_names_its_definition(tmp_path, capsys):
    s, head = _run(tmp_path, capsys, "--alpha-definition", "per-interval")
    assert s["alpha_definition"] == "per-interval"
    assert "(α = 0.90 per interval, M = 20)" in head
    # under the paper's definition the α sensitivity is the per-interval diagnostic itself
    for ours, diag in zip(s["alpha_sensitivity"], s["alpha_sensitivity_per_interval"],
                          strict=True):
        assert ours["alpha"] == diag["alpha"]
        assert np.isclose(ours["peak_ch_kw"], diag["peak_ch_kw"])


def test_default_run_is_whole_day(tmp_path, capsys):
    s, head = _run(tmp_path, capsys)
    assert s["alpha_definition"] == "whole-day"
    assert "per interval" not in head and "(α = 0.90, M = 20)" in head


def test_per_interval_claims_no_whole_day_coverage_of_its_rows():
    def kinds(definition: str) -> dict[str, str]:
        cov = {layer: {"0.90": {"whole_day": 0.0}}
               for layer in ("station", "distribution", "transmission")}
        s = AssessSummary(scenario="x", seed=0, alpha=0.9, n_ev=1, n_scenarios=1,
                          da_statistic="quantile", aggregation="total", policy=None,
                          rt_times=(), layers={}, stations={}, alpha_sensitivity=(),
                          alpha_sensitivity_per_interval=(), behaviour={},
                          unreachable_requirements_capped=0, n_sessions_sampled=0,
                          coverage=cov, coverage_days=200, grid=None,
                          exclusivity_benchmark=None, runtime_s=0.0,
                          alpha_definition=definition)
        return {c.name: c.kind for c in assess_checks(s, 100)}

    assert set(kinds("whole-day").values()) == {"target"}
    assert kinds("per-interval") == {"coverage_station_0.90": "report",
                                     "coverage_distribution_0.90": "report",
                                     "coverage_transmission_0.90": "target"}
