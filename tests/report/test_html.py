"""The HTML report: self-contained, escaped, complete, and written atomically."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import sys
import types
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.accounting.distributions import Fixed, LogNormal
from carbonsink.accounting.ledger import LedgerWarning, build_ledger
from carbonsink.accounting.non_co2 import ClassFlux, ch4_sensitivity
from carbonsink.accounting.parameters import ClassParameters
from carbonsink.accounting.pools import KeyedTotals, StratumTotals
from carbonsink.accounting.profiles import load_profile
from carbonsink.accounting.simulation import EpochInputs
from carbonsink.errors import ConfigError
from carbonsink.grid import Grid
from carbonsink.imagery.accuracy import accuracy_report, confusion_matrix, olofsson_area_estimate
from carbonsink.report import (
    EpochReport,
    MethodologyRow,
    ReportContent,
    render_report,
    write_report,
)
from carbonsink.report.html import PDF_FIX, _format_bytes, format_number, format_percent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>"
EVIL_PATH = 'data/<img src=x onerror="alert(1)">.tif'
FULL_SHA = "ab12" * 16
STAGE_WARNING = "3 cores are shallower than 100 cm & were extrapolated (<30 cm deep)"
LEGEND = {"water": 1, "mudflat": 2, "sedge": 3, "reed": 4}

# ----------------------------------------------------------------- fixtures


def _ledger_epoch(name: str, date: dt.date, agb: float, soc: float) -> EpochInputs:
    # As in tests/accounting/test_ledger_schema.py: two strata, 10 and 5 ha.
    rng = np.random.default_rng(len(name) + date.year)
    return EpochInputs(
        name=name,
        date=date,
        strata=("sedge", "reed"),
        stratum_area_ha={"sedge": 10.0, "reed": 5.0},
        quantities={
            "agb_t_dm": KeyedTotals(
                keys=(("sedge", "sedge"), ("reed", "reed")),
                totals=np.array([agb, agb / 2]),
                replicates=np.array([agb, agb / 2]) + rng.normal(0, 5, size=(50, 2)),
            ),
            "soc_t_c": StratumTotals(totals={"sedge": soc, "reed": soc / 2}, se=20.0),
        },
        class_area_ha={"sedge": (10.0, 1.0), "reed": (5.0, 0.5)},
    )


def _ledger(*, two_epochs: bool) -> dict[str, Any]:
    classes = {
        c: ClassParameters(
            carbon_fraction=LogNormal(0.47, 0.01),
            root_shoot=Fixed(1.0),
            ch4_flux_mg_m2_d=LogNormal(2.0, 1.0),
            n2o_flux_mg_m2_d=Fixed(0.0),
            ch4_source="configured",
            n2o_source="configured",
        )
        for c in ("sedge", "reed")
    }
    epochs = [_ledger_epoch("2020", dt.date(2020, 9, 15), 100.0, 1000.0)]
    if two_epochs:
        epochs.append(_ledger_epoch("2025", dt.date(2025, 9, 18), 100.5, 1100.0))
    ledger = build_ledger(
        epochs,
        classes,
        profile=load_profile("vm0033"),
        seed=3,
        n_draws=2000,
        price_per_t=50.0,
        warnings=[LedgerWarning("extrapolated-cores", STAGE_WARNING, where="epoch 2020")],
        polygon={
            "sha256": FULL_SHA,
            "method": "test",
            "bounds_lonlat": [112.9, 29.3, 113.0, 29.4],
            "area_ha": 15.0,
        },
    )
    # The report reads the ledger as written to ledger.json.
    return dict(json.loads(json.dumps(ledger.to_dict(), allow_nan=False)))


GRID = Grid.from_bounds((500_000, 3_250_000, 500_300, 3_250_200), crs=32649, resolution=10.0)


def _layers(offset: float) -> xr.Dataset:
    """20 × 30 layers of plausible wetland values, NaN outside an elliptic boundary."""
    rng = np.random.default_rng(int(offset))
    rows, cols = np.mgrid[0:20, 0:30]
    inside = ((rows - 9.5) / 9) ** 2 + ((cols - 14.5) / 14) ** 2 <= 1
    codes = np.select([cols < 5, cols < 10, cols < 20], [1, 2, 3], 4).astype(np.uint8)
    agb = np.select([codes == 1, codes == 2], [0.0, 0.5], 12 + 4 * rng.random((20, 30)))
    soc = 60 + offset + 30 * cols / 29 + rng.normal(0, 3, (20, 30))

    def inner(values: np.ndarray) -> np.ndarray:
        return np.where(inside, values, np.nan)

    ds = GRID.dataset()
    ds["landcover"] = GRID.dataarray(
        np.where(inside, codes, 255).astype(np.uint8),
        name="landcover",
        units="1",
        long_name="land-cover class",
        attrs={"flag_values": list(LEGEND.values()), "flag_meanings": " ".join(LEGEND)},
    )
    for name, values, units, long_name in (
        ("agb_mg_ha", agb, "Mg DM/ha", "above-ground biomass"),
        ("agb_lower_mg_ha", agb * 0.7, "Mg DM/ha", "AGB lower bound"),
        ("agb_upper_mg_ha", agb * 1.4, "Mg DM/ha", "AGB upper bound"),
        ("soc_mg_ha", soc, "Mg C/ha", "SOC stock"),
        ("soc_sd_mg_ha", 4 + rng.random((20, 30)), "Mg C/ha", "SOC kriging SD"),
        ("carbon_mg_ha", soc + 0.47 * 2 * agb, "Mg C/ha", "total carbon"),
    ):
        ds[name] = GRID.dataarray(inner(values), name=name, units=units, long_name=long_name)
    for name, values in (
        ("agb_outside_aoa", np.zeros((20, 30), bool)),
        ("inside_boundary", inside),
    ):
        ds[name] = GRID.dataarray(values, name=name, units="1", long_name=name)
    return ds


def _epoch_report(name: str, date: str, offset: float) -> EpochReport:
    classes = list(LEGEND)
    rng = np.random.default_rng(7)
    reference = np.repeat(classes, 25)
    mapped = reference.copy()
    mapped[rng.choice(reference.size, 12, replace=False)] = "sedge"
    accuracy = accuracy_report(mapped, reference, classes=classes)
    areas = olofsson_area_estimate(
        confusion_matrix(mapped, reference, classes=classes),
        pd.Series({"water": 3.0, "mudflat": 2.5, "sedge": 10.0, "reed": 5.0}),
    ).table
    cv = {}
    predictions = {}
    for model in ("imagery", "lidar"):
        cv[model] = pd.DataFrame(
            {
                "fold": ["0", "1", "2", "pooled"],
                "n": [10, 11, 9, 30],
                "n_blocks": [3, 3, 2, 8],
                "r2": [0.61, 0.55, 0.70, 0.62],
                "rmse_mg_ha": [2.1, 2.5, 1.9, 2.2],
                "relative_rmse": [0.17, 0.2, 0.15, 0.18],
                "bias_mg_ha": [0.3, -0.2, 0.1, 0.07],
                "coverage": [0.9, 0.82, 0.89, 0.87],
            }
        )
        observed = np.linspace(2, 25, 30)
        predicted = observed * 0.9 + rng.normal(0, 2, 30)
        predictions[model] = pd.DataFrame(
            {
                "observed": observed,
                "predicted": predicted,
                "lower": predicted - 3,
                "upper": predicted + 4,
            }
        )
    cores = pd.DataFrame(
        {
            "x": [500_060.0, 500_150.0, 500_240.0, 500_100.0],
            "y": [3_250_100.0, 3_250_060.0, 3_250_120.0, 3_250_150.0],
            "soc_mg_ha": [70.0, 80.0, 95.0, 85.0],
            "extrapolated": [False, True, False, True],
        },
        index=pd.Index(["C1", "C2", "C3", "C4"], name="core_id"),
    )
    return EpochReport(
        name=name,
        date=date,
        layers=_layers(offset),
        soil_depth_cm=100.0,
        accuracy=accuracy.to_dict(),
        areas=areas,
        biomass_cv=cv,
        biomass_predictions=predictions,
        biomass_models_used=("lidar", "imagery"),
        lidar_decision="the LiDAR model's pooled R² 0.62 is not below the imagery model's",
        cores=cores,
    )


def _manifest() -> dict[str, Any]:
    return {
        "inputs": [
            {"path": "imagery/2020/S2.tif", "size": 12_345_678, "sha256": FULL_SHA},
            {"path": EVIL_PATH, "size": 512, "sha256": "cd34" * 16},
        ],
        # The layout carbonsink.pipeline.run writes.
        "carbonsink": "9.8.7",
        "survey": "survey.toml",
        "survey_sha256": "ef56" * 16,
        "versions": {"carbonsink": "9.8.7", "numpy": "2.1.0"},
        "seed": 3,
        "stages": [
            {"name": "epoch-2020", "seconds": 12.5, "cached": False},
            {"name": "accounting", "seconds": 0.4, "cached": True},
        ],
        "wall_seconds": 61.04,
    }


def _content(*, two_epochs: bool, title: str = EVIL) -> ReportContent:
    ledger = _ledger(two_epochs=two_epochs)
    epochs = [_epoch_report("2020", "2020-09-15", 0.0)]
    change = None
    draws = None
    if two_epochs:
        epochs.append(_epoch_report("2025", "2025-09-18", 5.0))
        first, last = epochs[0].layers, epochs[1].layers
        removals = (last["carbon_mg_ha"] - first["carbon_mg_ha"]) * 44 / 12 / 5
        sd = np.hypot(first["soc_sd_mg_ha"], last["soc_sd_mg_ha"]) * 44 / 12 / 5
        change = GRID.dataset()
        change["removals_t_co2e_ha_yr"] = removals.assign_attrs(units="t CO2e/ha/yr")
        change["removals_sd_t_co2e_ha_yr"] = sd.assign_attrs(units="t CO2e/ha/yr")
        net = ledger["project"]["net"]
        draws = np.random.default_rng(5).normal(net["mean"], net["sd"], 4000)
    return ReportContent(
        title=title,
        ledger=ledger,
        manifest=_manifest(),
        epochs=epochs,
        change=change,
        net_draws=draws,
        methodology=[
            MethodologyRow("carbon fraction", "0.47", "IPCC 2006 Vol. 4 Table 4.3"),
            MethodologyRow("root:shoot <sedge>", "1.5", "Mokany et al. 2006"),
        ],
    )


@pytest.fixture(scope="module")
def content() -> ReportContent:
    return _content(two_epochs=True)


@pytest.fixture(scope="module")
def page(content: ReportContent) -> str:
    return render_report(content)


@pytest.fixture(scope="module")
def single_content() -> ReportContent:
    return _content(two_epochs=False, title="Junshan 2020")


@pytest.fixture(scope="module")
def single_page(single_content: ReportContent) -> str:
    return render_report(single_content)


# ----------------------------------------------------------------- a small HTML reader

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Reader(HTMLParser):
    """Collects tags, attributes, text, elements by id and checks that tags are balanced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.ids: dict[str, list[str]] = {}
        self._open_ids: list[tuple[int, str]] = []
        self.rows: list[tuple[str | None, list[str]]] = []  # (class, cell texts)
        self._row: tuple[str | None, list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.starts.append((tag, attributes))
        if tag in VOID:
            return
        self.stack.append(tag)
        if attributes.get("id"):
            self._open_ids.append((len(self.stack), str(attributes["id"])))
            self.ids[str(attributes["id"])] = []
        if tag == "tr":
            self._row = (attributes.get("class"), [])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        if self._open_ids and self._open_ids[-1][0] == len(self.stack):
            self._open_ids.pop()
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for _, name in self._open_ids:
            self.ids[name].append(data)
        if self._cell is not None:
            self._cell.append(data)

    def element_text(self, element_id: str) -> str:
        return " ".join("".join(self.ids[element_id]).split())

    def all_text(self) -> str:
        return " ".join("".join(self.text).split())


def _read(page: str) -> _Reader:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader


# ----------------------------------------------------------------- tests


def test_page_is_well_formed(page: str, single_page: str) -> None:
    for html in (page, single_page):
        reader = _read(html)
        assert reader.errors == []
        assert reader.stack == []
        tags = [tag for tag, _ in reader.starts]
        for tag in ("html", "head", "body", "main", "header", "style"):
            assert tags.count(tag) == 1
        # The header, then nine sections: claim, maps, land cover, model skill, soil,
        # accounting, warnings, methodology, provenance.
        assert tags.count("section") == 9


def test_page_is_self_contained(page: str) -> None:
    reader = _read(page)
    tags = [tag for tag, _ in reader.starts]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for _, attributes in reader.starts:
        for name in ("src", "href"):
            value = attributes.get(name)
            if value is not None:
                assert not value.startswith(("http:", "https:", "//")), value
    images = [attributes["src"] for tag, attributes in reader.starts if tag == "img"]
    # Two epochs: 5 stock maps each (carbon, AGB, AGB width, SOC, SOC SD) = 10, the sink map
    # and its SD = 2, a class map each = 2, predicted-vs-observed for 2 models each = 4,
    # cores over SOC each = 2, the Monte Carlo histogram = 1: 21 images.
    assert len(images) == 21
    for src in images:
        assert src is not None and src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert "http://" not in page and "https://" not in page


def test_claim_shows_the_tradable_total_and_the_rule(content: ReportContent, page: str) -> None:
    reader = _read(page)
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
    reader = _read(page)
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


def test_all_three_rules_are_in_the_chain(content: ReportContent, page: str) -> None:
    reader = _read(page)
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


def test_inputs_are_escaped(page: str) -> None:
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    reader = _read(page)
    # Parsed back, the strings are the inputs themselves.
    assert EVIL in reader.element_text("claim") or EVIL in reader.all_text()
    assert EVIL_PATH in reader.element_text("inputs")
    assert "root:shoot <sedge>" in reader.element_text("parameters")


def test_tables_of_strata_and_vintages(content: ReportContent, page: str) -> None:
    reader = _read(page)
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


def test_cv_table_highlights_the_pooled_row(page: str) -> None:
    reader = _read(page)
    pooled = [row for row in reader.rows if row[1] and row[1][0] == "pooled"]
    # Two epochs × two models.
    assert len(pooled) == 4
    assert all(cls == "pooled" for cls, _ in pooled)
    # pooled R² 0.62, RMSE 2.2 → "2.20", relative RMSE 0.18 → "18.0", coverage 0.87 → "87.0".
    assert pooled[0][1][1:] == ["30", "8", "0.62", "2.20", "18.0", "0.07", "87.0"]


def test_land_cover_and_soil_sections(content: ReportContent, page: str) -> None:
    reader = _read(page)
    text = reader.element_text("landcover")
    accuracy = content.epochs[0].accuracy
    assert f"{100 * accuracy['overall_accuracy']:.1f} %" in text
    assert f"{accuracy['kappa']:.3f}" in text
    areas = content.epochs[0].areas
    assert f"{areas.loc['sedge', 'adjusted_area_ha']:,.1f}" in text
    soil = reader.element_text("soil")
    # Cores C2 and C4 of four are extrapolated.
    assert "4 cores, of which 2 are extrapolated to 100 cm" in soil


def test_provenance(content: ReportContent, page: str) -> None:
    reader = _read(page)
    text = reader.element_text("provenance")
    # The SHA-256 is shortened to 12 characters with the full hash in the title.
    assert any(
        tag == "td" and attributes.get("title") == FULL_SHA for tag, attributes in reader.starts
    )
    assert FULL_SHA[:12] + "…" in text
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
    assert "carbonsink 9.8.7" in _read(page).all_text()


def test_profile_settings(content: ReportContent, page: str) -> None:
    text = _read(page).element_text("profile")
    profile = content.ledger["profile"]
    assert profile["leakage_note"] in text
    assert "AR5" in text
    assert "15.0 %" in text  # buffer
    assert "100 cm" in text  # soil depth


def test_single_epoch_states_why_there_is_no_claim(
    single_content: ReportContent, single_page: str
) -> None:
    reader = _read(single_page)
    statement = single_content.ledger["claim"]["statement"]
    assert reader.element_text("single-epoch-statement") == statement
    for credit_table in ("credit-chain", "strata", "vintages", "tradable-total"):
        assert credit_table not in reader.ids
    images = [a for tag, a in reader.starts if tag == "img"]
    # One epoch: 5 stock maps, 1 class map, 2 predicted-vs-observed, 1 cores map.
    assert len(images) == 9
    # Stocks are shown: the total row of the stock table.
    total = single_content.ledger["strata"][-1]
    assert f"{total['stock_2020_p5_t_c']:,.1f}" in reader.element_text("stocks")


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


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (12345.67, 1, "12,345.7"),
        (1234567.0, 0, "1,234,567"),
        (-0.04, 1, "0.0"),  # rounds to zero: no minus sign
        (-2.5, 1, "-2.5"),
        (None, 1, "—"),
        (float("nan"), 1, "—"),
        ("text", 1, "—"),
    ],
)
def test_format_number(value: Any, digits: int, expected: str) -> None:
    assert format_number(value, digits) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    # 999 B; 19,832 B = 19.832 kB; 12,345,678 B = 12.3 MB; 5.4e9 B = 5.4 GB (no TB step).
    [(999, "999 B"), (19_832, "19.8 kB"), (12_345_678, "12.3 MB"), (5_400_000_000, "5.4 GB")],
)
def test_format_bytes(size: int, expected: str) -> None:
    assert _format_bytes(size) == expected


def test_format_percent() -> None:
    # 0.3264 → 32.64 % → one decimal 32.6 %.
    assert format_percent(0.3264) == "32.6 %"
    assert format_percent(None) == "—"


def test_ch4_sensitivity_table_when_the_ledger_has_one(content: ReportContent) -> None:
    # 10 ha of sedge at 6 mg CH4/m²/d: 10 × 6 × 365e-5 = 0.219 t CH4/yr × 28 (AR5)
    # = 6.132 t CO2e/yr. With removals 61.32 the net is 0 at 61.32 / 6.132 = 10 × the flux.
    sensitivity = ch4_sensitivity(
        61.32, {"sedge": 10.0}, {"sedge": ClassFlux(ch4_mg_m2_d=6.0, n2o_mg_m2_d=0.0)}
    )
    ledger = {**content.ledger, "ch4_sensitivity": sensitivity.to_dict()}
    page = render_report(dataclasses.replace(content, ledger=ledger))
    assert 'id="ch4-sensitivity"' in page
    assert "at 10.0 × the configured fluxes" in page
    assert 'id="ch4-sensitivity"' not in render_report(content)
