"""The report's tables: the credit chain, strata and vintages, stocks, profile and provenance."""

from __future__ import annotations

import pytest

from carbonsink.report import ReportContent
from tests.report.sample_report import FULL_SHA, read_page


def test_all_three_rules_are_in_the_chain(content: ReportContent, page: str) -> None:
    reader = read_page(page)
    text = reader.element_text("credit-chain")
    for rule in content.ledger["project"]["uncertainty_rules"]:
        applied = "(applied)" if rule["applied"] else "(not applied)"
        assert f"rule {rule['rule']} {applied}" in text
        assert rule["explanation"] in text
        assert f"{rule['deduction']:,.1f}" in text
    assert {r["rule"] for r in content.ledger["project"]["uncertainty_rules"]} == {
        "vm0033",
        "ar-tool14",
        "lower-bound",
    }
    assert f"{content.ledger['project']['tradable']:,.1f}" in text


def test_tables_of_strata_and_vintages(content: ReportContent, page: str) -> None:
    reader = read_page(page)
    texts = {row[1][0]: row for row in reader.rows if row[1]}
    total = next(r for r in content.ledger["strata"] if r["stratum"] == "total")
    assert texts["total"][0] == "total"  # the total row is highlighted
    strata_text = reader.element_text("strata")
    assert f"{total['tradable_t_co2e_yr']:,.1f}" in strata_text
    assert "sedge" in strata_text and "reed" in strata_text
    vintages = reader.element_text("vintages")
    # 2020-09-15 to 2025-09-18 spans the calendar years 2020 to 2025: six vintage rows.
    for year in range(2020, 2026):
        assert str(year) in vintages
    totals = [v for v in content.ledger["vintages"] if v["stratum"] == "total"]
    assert len(totals) == 6
    for vintage in totals:
        assert f"{vintage['tradable_t_co2e']:,.1f}" in vintages


def test_provenance(content: ReportContent, page: str) -> None:
    reader = read_page(page)
    text = reader.element_text("provenance")
    # Every input's SHA-256 in full (a verifier compares it with sha256sum's), in its row.
    assert ["imagery/2020/S2.tif", "12.3 MB", FULL_SHA] in [row[1] for row in reader.rows]
    assert FULL_SHA[:12] + "…" not in text
    assert "ef56" * 16 in text  # survey hash in full
    assert "12.3 MB" in text  # 12,345,678 bytes
    assert "9.8.7" in text and "numpy" in text
    cells = [row[1] for row in reader.rows]
    assert ["epoch-2020", "12.5", "no"] in cells and ["accounting", "0.4", "yes"] in cells
    assert "Run time61.0 s" in text  # 61.04 s with one decimal (dt and dd run together)
    draws = content.ledger["monte_carlo"]["n_draws"]
    assert f"{draws:,} draws" in text
    assert "converged" in text
    assert FULL_SHA in text  # polygon hash
    # The version in the header comes from the manifest.
    assert "carbonsink 9.8.7" in read_page(page).all_text()


def test_profile_settings(content: ReportContent, page: str) -> None:
    text = read_page(page).element_text("profile")
    profile = content.ledger["profile"]
    assert profile["leakage_note"] in text
    assert "AR5" in text
    assert "15.0 %" in text  # buffer
    assert "100 cm" in text  # soil depth
    # vm0033: herbaceous change credited, buffer of the stock change, the larger U.
    assert "credited" in text and "stock-change" in text and "conservative" in text


def test_soil_change_table(page: str, single_page: str) -> None:
    # tests/report/sample_report.py SOIL_CHANGE: sedge 12.5 ± 3.25 fixed depth, 20.0 ± 2.75
    # at equivalent mass, 4.0 deducted, 16.0 ± 2.85 counted; reed held (—).
    reader = read_page(page)
    text = reader.element_text("soil-change")
    for value in ("12.5", "3.2", "20.0", "2.8", "4.0", "16.0"):
        assert value in text
    assert "—" in text
    caption = " ".join(page.split())
    assert "12,345 Mg ha⁻¹" in caption and "(8 of 9 cores measured its accretion)" in caption
    assert "accreted mass × sediment OC 1.2 % ± 0.1" in caption
    assert "soil-change" not in single_page


def test_agb_corrections_table(page: str, single_page: str) -> None:
    # tests/report/sample_report.py AGB_CORRECTIONS: sedge +12.5 ± 30.0 (20.0 outside the
    # AOA) in 2020, −7.5 ± 40.0 (25.0) in 2025, φ 0.4; one epoch: no φ column.
    text = read_page(page).element_text("agb-corrections")
    for value in ("12.5", "30.0", "20.0", "-7.5", "40.0", "25.0", "0.40"):
        assert value in text
    assert "Outside-AOA area shared" in text
    # Reed is corrected in 2025 only: its 2020 cells and its φ show —.
    assert "reed———" in text and text.endswith("6.50.0—")
    single = read_page(single_page).element_text("agb-corrections")
    assert "12.5" in single and "-7.5" not in single
    assert "Outside-AOA area shared" not in single


def _chain_ledger(net: float, adjusted: float, buffer: float) -> dict[str, object]:
    """The parts of a ledger ``chain_rows`` reads, with a net, an adjusted net and a buffer."""

    def term(mean: float) -> dict[str, object]:
        return {"mean": mean, "ci90": [mean - 1.0, mean + 1.0]}

    return {
        "project": {
            "removals": term(net + 10.0),
            "non_co2_emissions": term(10.0),
            "gross": term(net),
            "net": term(net),
            "baseline_removals": 0.0,
            "leakage": 0.0,
            "adjusted": adjusted,
            "buffer": buffer,
            "buffer_pct": 15.0,
            "buffer_base": "stock-change",
            "buffer_base_value": net + 10.0,
            "tradable": max(adjusted - buffer, 0.0),
            "uncertainty_rules": [],
        },
        "profile": {"gwp": "AR5", "leakage_pct": 0.0},
        "claim": {"rule_applied": "vm0033"},
    }


@pytest.mark.parametrize(
    ("net", "adjusted", "buffer", "why"),
    [
        (-5.0, -5.0, 0.0, "zero: the net is not a sink"),
        # The chain sets no buffer aside when nothing is left after the deduction.
        (100.0, 0.0, 0.0, "zero: the uncertainty deduction of rule vm0033 takes the whole net"),
        (100.0, 10.0, 16.5, "zero: the buffer takes the whole adjusted net"),
        (100.0, 80.0, 16.5, ""),  # 80 − 16.5 = 63.5 tradable: nothing to explain
    ],
)
def test_a_zero_tradable_says_why(net: float, adjusted: float, buffer: float, why: str) -> None:
    from carbonsink.report.tables import chain_rows

    (last,) = [r for r in chain_rows(_chain_ledger(net, adjusted, buffer)) if r["kind"] == "result"]
    assert last["note"].startswith(why) if why else last["note"] == ""
