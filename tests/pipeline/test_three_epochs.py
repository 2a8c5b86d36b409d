"""A three-epoch synthetic survey with a planted loss, through the whole pipeline (issue 21).

``generate_survey(epochs=3, planted_loss=True)`` fells every poplar stand and burns the
reed beds between 2025 and 2028 (carbonsink.synthetic.parameters): the world's true
carbon stock falls over the second period (``truth/totals.json`` → ``periods``). The
run's ledger must have two monitoring periods whose net adds up to the cumulative net,
call the second a reversal (with its warning and the report's issuance schedule), and
agree with the truth on the sign of each period's stock change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carbonsink.pipeline import RunResult, run_survey
from carbonsink.synthetic import generate_survey
from tests.report.sample_report import read_page
from tests.survey_edits import quick_bootstrap, without_lidar

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("three_epochs")
    generate_survey(root / "survey", seed=20240830, scale="small", epochs=3, planted_loss=True)
    # The tests read means and records of the accounting: 20 bootstrap replicates, and the
    # imagery model maps the biomass alone.
    quick_bootstrap(root / "survey" / "survey.toml")
    without_lidar(root / "survey" / "survey.toml")
    return root / "survey"


@pytest.fixture(scope="module")
def run(survey: Path) -> RunResult:
    return run_survey(survey / "survey.toml", survey.parent / "out")


@pytest.fixture(scope="module")
def truth(survey: Path) -> dict[str, Any]:
    return dict(json.loads((survey / "truth" / "totals.json").read_text(encoding="utf-8")))


def test_two_periods_that_add_up(run: RunResult) -> None:
    ledger = run.ledger
    assert [name for name, _ in ledger.epochs] == ["2020", "2025", "2028"]
    first, second = ledger.periods["total"]
    assert (first.start_epoch, first.end_epoch, second.end_epoch) == ("2020", "2025", "2028")
    # ΔNER of the periods add up to the cumulative NER at 2028 (draw by draw, so their means
    # too), which is the claim's net × the years 2020 → 2028.
    cumulative = second.cumulative["ner"].mean
    assert first.ner.mean + second.ner.mean == pytest.approx(cumulative, rel=1e-9, abs=1e-6)
    assert first.cumulative["ner"].mean == pytest.approx(first.ner.mean, rel=1e-12)
    claim = ledger.to_dict()["claim"]
    assert cumulative == pytest.approx(claim["net_t_co2e_yr"] * claim["years"], rel=1e-9)
    # Each stratum's periods add up too.
    for stratum, periods in ledger.periods.items():
        total = periods[-1].cumulative["ner"].mean
        assert sum(p.ner.mean for p in periods) == pytest.approx(total, rel=1e-9, abs=1e-6), stratum


def test_the_planted_loss_is_a_reversal(run: RunResult, truth: dict[str, Any]) -> None:
    true_first, true_second = (p["total_stock_change_t_c"] for p in truth["periods"])
    assert true_first > 0 > true_second  # the world's: gains to 2025, the loss to 2028
    first, second = run.ledger.periods["total"]
    assert first.ner_stock > 0 > second.ner_stock
    assert second.reversal and not first.reversal
    assert second.buffer == 0.0 and second.issued == 0.0
    claim = run.ledger.to_dict()["claim"]
    assert claim["reversals"] == [2]
    assert [w.where for w in run.ledger.warnings if w.code == "reversal"] == ["monitoring period 2"]


def test_the_report_shows_the_issuance_schedule(run: RunResult) -> None:
    assert run.out_dir is not None
    reader = read_page((run.out_dir / "report.html").read_text(encoding="utf-8"))
    table = reader.element_text("issuance")
    assert "2020 → 2025" in table and "2025 → 2028" in table and "(reversal)" in table
    alts = [a.get("alt") for tag, a in reader.starts if tag == "img"]
    assert "Issuance by monitoring period" in alts
    vintages = json.loads((run.out_dir / "ledger.json").read_text(encoding="utf-8"))["vintages"]
    assert {v["period"] for v in vintages} == {1, 2}


def test_every_pair_of_epochs_shares_its_cells_outside_the_aoa(run: RunResult) -> None:
    # Eq. 6.8d for each pair of epochs: φ a share in [0, 1], the covariance φ × the two
    # epochs' outside-AOA SEs of the stratum's correction (the ledger's inputs); the first
    # and last epochs' pair is the ledger's outside_aoa_shared.
    extra = run.ledger.extra
    pairs = extra["outside_aoa_shared_pairs"]
    assert [p["epochs"] for p in pairs] == [["2020", "2025"], ["2020", "2028"], ["2025", "2028"]]
    assert pairs[1]["quantities"] == extra["outside_aoa_shared"]
    corrections = {
        epoch: record["agb_residual_correction_t_dm"] for epoch, record in extra["inputs"].items()
    }
    seen = 0
    for pair in pairs:
        a, b = pair["epochs"]
        for stratum, entry in pair["quantities"]["agb_t_dm"].items():
            assert 0.0 <= entry["shared"] <= 1.0 + 1e-12
            se = [corrections[e].get(stratum, {}).get("outside_aoa_se", 0.0) for e in (a, b)]
            assert entry["covariance_t_dm2"] == pytest.approx(entry["shared"] * se[0] * se[1])
            seen += entry["covariance_t_dm2"] > 0
    assert seen > 0  # some stratum's outside-AOA cells persist between two epochs
