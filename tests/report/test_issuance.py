"""The report's issuance schedule (carbonsink.report.issuance): a table per period and a chart."""

from __future__ import annotations

import dataclasses
from typing import Any

from carbonsink.report import ReportContent, render_report
from carbonsink.report.issuance import issuance_figure, issuance_rows
from tests.report.sample_report import PNG_SIGNATURE, read_page


def _period(k: int, start: str, end: str, **values: Any) -> dict[str, Any]:
    """A ledger ``periods`` record (docs/ledger.md) with the given figures, t CO2e."""
    return {
        "period": k,
        "start_epoch": start,
        "end_epoch": end,
        "years": values["years"],
        "ner": {"mean": values["ner"], "ci90": values["ci90"]},
        "cumulative": {"u": values["u"]},
        "delta_adjusted": values["adjusted"],
        "buffer": values["buffer"],
        "vcu": values["vcu"],
        "issued": values["issued"],
        "buffer_cancelled": values["cancelled"],
        "reversal": values["reversal"],
    }


# Period 1 gains: VCU 88.44 issued. Period 2 loses (ΔNER −96.72, no buffer), cancelling
# the 88.44 (tests/accounting/test_periods.py's three-epoch example).
PERIODS = [
    _period(
        1,
        "2020",
        "2022",
        years=2.0014,
        ner=104.94,
        ci90=[104.94, 104.94],
        u=0.0,
        adjusted=104.94,
        buffer=16.5,
        vcu=88.44,
        issued=88.44,
        cancelled=0.0,
        reversal=False,
    ),
    _period(
        2,
        "2022",
        "2024",
        years=1.9986,
        ner=-96.72,
        ci90=[-120.5, -70.25],
        u=0.312,
        adjusted=-96.72,
        buffer=0.0,
        vcu=-96.72,
        issued=0.0,
        cancelled=88.44,
        reversal=True,
    ),
]


def test_the_rows_carry_the_periods_figures() -> None:
    rows = issuance_rows(PERIODS)
    assert [r["epochs"] for r in rows] == ["2020 → 2022", "2022 → 2024"]
    assert [r["vcu"] for r in rows] == [88.44, -96.72]
    assert [r["cancelled"] for r in rows] == [0.0, 88.44]
    assert [r["reversal"] for r in rows] == [False, True]


def test_the_chart_is_a_png() -> None:
    assert issuance_figure(PERIODS).startswith(PNG_SIGNATURE)


def test_the_report_shows_the_schedule_and_its_chart(content: ReportContent) -> None:
    ledger = {**content.ledger, "periods": PERIODS}
    page = render_report(dataclasses.replace(content, ledger=ledger))
    reader = read_page(page)
    assert not reader.errors
    table = reader.element_text("issuance")
    assert "2020 → 2022" in table and "2022 → 2024" in table
    rows = [cells for _, cells in reader.rows if cells and cells[0].startswith("2")]
    loss = next(cells for cells in rows if "2022 → 2024" in cells)
    assert loss[0] == "2 (reversal)"
    assert loss[3] == "−96.7" or loss[3] == "-96.7"
    assert loss[-1] == "88.4"  # the buffer credits cancelled
    alts = [a.get("alt") for tag, a in reader.starts if tag == "img"]
    assert "Issuance by monitoring period" in alts


def test_one_period_has_a_row_and_no_chart(content: ReportContent) -> None:
    # The sample content's ledger has two epochs: one period, the claim itself.
    assert len(content.ledger["periods"]) == 1
    reader = read_page(render_report(content))
    assert "issuance" in reader.ids
    alts = [a.get("alt") for tag, a in reader.starts if tag == "img"]
    assert "Issuance by monitoring period" not in alts
