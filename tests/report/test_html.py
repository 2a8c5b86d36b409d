"""The HTML report: self-contained, escaped, complete, and written atomically."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest

from carbonsink.errors import ConfigError
from carbonsink.report import ReportContent, render_report, write_report
from carbonsink.report.html import PDF_FIX
from tests.report.sample_report import EVIL, EVIL_PATH, read_page


def test_page_is_well_formed(page: str, single_page: str) -> None:
    for html in (page, single_page):
        reader = read_page(html)
        assert reader.errors == []
        assert reader.stack == []
        tags = [tag for tag, _ in reader.starts]
        for tag in ("html", "head", "body", "main", "header", "style"):
            assert tags.count(tag) == 1
        # The header, then nine sections: claim, maps, land cover, model skill, soil,
        # accounting, warnings, methodology, provenance.
        assert tags.count("section") == 9


def test_claim_shows_the_tradable_total_and_the_rule(content: ReportContent, page: str) -> None:
    reader = read_page(page)
    claim = content.ledger["claim"]
    # The template prints t CO2e with one decimal and thousands separators.
    assert reader.element_text("tradable-total") == f"{claim['tradable_t_co2e']:,.1f}"
    assert reader.element_text("rule-applied") == "vm0033"
    text = reader.element_text("claim")
    assert f"{claim['tradable_t_co2e_yr']:,.1f}" in text
    low, high = claim["net_ci90_t_co2e_yr"]
    assert f"{low:,.1f} – {high:,.1f}" in text
    # U as a percentage with one decimal.
    assert f"U = {100 * claim['relative_half_width']:.1f} %" in text
    assert f"{claim['value']:,.0f}" in text


def test_every_warning_and_note_is_shown(content: ReportContent, page: str) -> None:
    reader = read_page(page)
    text = reader.element_text("warnings")
    assert content.ledger["warnings"]
    for warning in content.ledger["warnings"]:
        assert warning["message"] in text
        assert warning["code"] in text
        assert warning["where"] in text
    for note in content.ledger["notes"]:
        assert note in text
    # The raw "<30 cm" of the stage warning is escaped in the markup.
    assert "(&lt;30 cm deep)" in page
    # A prominent notice in the claim section points to them.
    assert f"{len(content.ledger['warnings'])} warnings" in reader.element_text("claim")


def test_inputs_are_escaped(page: str) -> None:
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    reader = read_page(page)
    # Parsed back, the strings are the inputs themselves.
    assert EVIL in reader.element_text("claim") or EVIL in reader.all_text()
    assert EVIL_PATH in reader.element_text("inputs")
    assert "root:shoot <sedge>" in reader.element_text("parameters")


def test_missing_layer_is_refused(content: ReportContent) -> None:
    epoch = content.epochs[0]
    broken = replace(epoch, layers=epoch.layers.drop_vars("soc_sd_mg_ha"))
    with pytest.raises(ValueError, match="soc_sd_mg_ha"):
        render_report(replace(content, epochs=[broken, content.epochs[1]]))


def test_other_ledger_layout_is_refused(content: ReportContent) -> None:
    ledger = {**content.ledger, "schema": "carbonsink-ledger/0"}
    with pytest.raises(ValueError, match="carbonsink-ledger/0"):
        render_report(replace(content, ledger=ledger))


# The writing tests use the one-epoch content: fewer figures, the same writer.


def test_write_report(single_content: ReportContent, single_page: str, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    assert write_report(single_content, target) == [target]
    assert target.read_text(encoding="utf-8") == single_page
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary left


def test_write_report_leaves_the_old_report_on_failure(
    content: ReportContent, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    broken = replace(content, net_draws=None)
    with pytest.raises(ValueError, match="net_draws"):
        write_report(broken, target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_pdf_without_weasyprint_writes_nothing(
    single_content: ReportContent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # makes `import weasyprint` fail
    with pytest.raises(ConfigError) as error:
        write_report(single_content, tmp_path / "report.html", pdf_path=tmp_path / "report.pdf")
    assert error.value.problem.fix == 'pip install "carbonsink[pdf]"' == PDF_FIX
    assert list(tmp_path.iterdir()) == []


def test_pdf_with_weasyprint(
    single_content: ReportContent,
    single_page: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[str] = []

    class FakeHTML:  # WeasyPrint's API: HTML(string=...).write_pdf() → bytes
        def __init__(self, *, string: str) -> None:
            rendered.append(string)

        def write_pdf(self) -> bytes:
            return b"%PDF-1.7 fake"

    fake = types.ModuleType("weasyprint")
    fake.HTML = FakeHTML  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "weasyprint", fake)
    written = write_report(
        single_content, tmp_path / "report.html", pdf_path=tmp_path / "report.pdf"
    )
    assert written == [tmp_path / "report.html", tmp_path / "report.pdf"]
    assert rendered == [single_page]
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.7 fake"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.pdf"]
