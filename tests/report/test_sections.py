"""The report's sections: embedded figures, land cover, model skill, soil, one epoch."""

from __future__ import annotations

import base64
import dataclasses

from carbonsink.accounting.non_co2 import ClassFlux, ch4_sensitivity
from carbonsink.report import ReportContent, render_report
from tests.report.sample_report import PNG_SIGNATURE, read_page


def test_page_is_self_contained(page: str) -> None:
    reader = read_page(page)
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
    # cores over SOC each = 2, the SOC variogram and leave-one-out cores each = 4, the Monte
    # Carlo histogram = 1: 25 images.
    assert len(images) == 25
    for src in images:
        assert src is not None and src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert "http://" not in page and "https://" not in page


def test_cv_table_highlights_the_pooled_row(page: str) -> None:
    reader = read_page(page)
    pooled = [row for row in reader.rows if row[1] and row[1][0] == "pooled"]
    # Two epochs × two models.
    assert len(pooled) == 4
    assert all(cls == "pooled" for cls, _ in pooled)
    # pooled R² 0.62, RMSE 2.2 → "2.20", relative RMSE 0.18 → "18.0", coverage 0.87 → "87.0".
    assert pooled[0][1][1:] == ["30", "8", "0.62", "2.20", "18.0", "0.07", "87.0"]


def test_land_cover_and_soil_sections(content: ReportContent, page: str) -> None:
    reader = read_page(page)
    text = reader.element_text("landcover")
    accuracy = content.epochs[0].accuracy
    assert f"{100 * accuracy['overall_accuracy']:.1f} %" in text
    assert f"{accuracy['kappa']:.3f}" in text
    areas = content.epochs[0].areas
    assert f"{areas.loc['sedge', 'adjusted_area_ha']:,.1f}" in text
    soil = reader.element_text("soil")
    # Cores C2 and C4 of four are extrapolated.
    assert "4 cores, of which 2 are extrapolated to 100 cm" in soil
    # The SOC map's model and its leave-one-out CV (sample_report's numbers).
    soil = " ".join(soil.split())
    assert (
        "spherical variogram of the core values: nugget 20.000 (Mg C/ha)², partial sill 80.000 "
        "(Mg C/ha)²" in soil
    )
    assert "range 150 m" in soil
    assert "Leave-one-out cross-validation (4 cores" in soil and "RMSE 9.25 Mg C/ha" in soil
    assert "75 % of the cores inside their 90 % prediction interval" in soil
    alts = [a.get("alt") for tag, a in reader.starts if tag == "img"]
    for epoch in ("2020", "2025"):
        assert f"SOC variogram, 0–100 cm — {epoch}" in alts
        assert f"SOC, leave-one-out cores, 0–100 cm — {epoch}" in alts


def test_single_epoch_states_why_there_is_no_claim(
    single_content: ReportContent, single_page: str
) -> None:
    reader = read_page(single_page)
    statement = single_content.ledger["claim"]["statement"]
    assert reader.element_text("single-epoch-statement") == statement
    for credit_table in ("credit-chain", "strata", "vintages", "tradable-total"):
        assert credit_table not in reader.ids
    images = [a for tag, a in reader.starts if tag == "img"]
    # One epoch: 5 stock maps, 1 class map, 2 predicted-vs-observed, 1 cores map, the SOC
    # variogram and the cores' leave-one-out plot.
    assert len(images) == 11
    # Stocks are shown: the total row of the stock table.
    total = single_content.ledger["strata"][-1]
    assert f"{total['stock_2020_p5_t_c']:,.1f}" in reader.element_text("stocks")


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


def test_the_uncertainty_budget_table_when_the_ledger_has_one(content: ReportContent) -> None:
    budget = {
        "output": "project net removals (t CO2e/yr)",
        "half_width90": 422.1,
        "groups": [
            {"group": "soc_total", "streams": 18, "variance_share": 0.851, "half_width90": 162.0},
            {"group": "root_shoot", "streams": 5, "variance_share": 0.011, "half_width90": 420.5},
        ],
    }
    page = render_report(
        dataclasses.replace(content, ledger={**content.ledger, "u_budget": budget})
    )
    assert 'id="u-budget"' in page
    assert "The net's 90 % half-width is 422.1 t CO2e/yr" in page
    assert "85.1" in page and "162.0" in page
    assert 'id="u-budget"' not in render_report(content)


def test_the_terrain_check_is_shown_or_said_to_be_unverified(content: ReportContent) -> None:
    # 2020: six sedge checkpoints, the DTM 0.20 m above them (± 0.02), corrected; 2025: no
    # checkpoints. The table gives n, the bias, its SE, the RMSE before and after.
    import numpy as np
    import pandas as pd

    from carbonsink.lidar.checkpoints import check_dtm
    from carbonsink.lidar.surfaces import Raster

    dtm = Raster(values=np.full((10, 10), 5.0), x0=0.0, y1=10.0, cell=1.0)
    error = np.array([0.22, 0.18, 0.22, 0.18, 0.22, 0.18])
    points = pd.DataFrame(
        {"x": np.arange(6.0) + 2, "y": np.full(6, 5.0), "z": 5.0 - error, "class": "sedge"}
    )
    check = check_dtm(dtm, points, vertical_datum="EGM2008").to_dict()
    unverified = {"status": "unverified", "why": "no checkpoints"}
    ledger = {
        **content.ledger,
        "lidar": {"2020": {"dtm_check": check}, "2025": {"dtm_check": unverified}},
    }
    text = read_page(render_report(dataclasses.replace(content, ledger=ledger))).all_text()
    assert "LiDAR terrain against 6 surveyed ground points (EGM2008)" in text
    # bias 0.200, SE √(6 × 0.02² / 5) / √6 = 0.009, RMSE 0.201 → 0.020 after.
    assert "0.200" in text and "0.009" in text and "0.201" in text and "0.020" in text
    assert "has its mean error removed" in text
    assert "Terrain unverified:" in text and "no checkpoints" in text


def test_the_lidar_water_and_its_evidence_are_shown(content: ReportContent) -> None:
    # 2020: water detected against polygons (1.20 ha by both, 0.30 evidence only, 0.10
    # LiDAR only: agreement 1.2 / 1.6 = 0.75); 2025: no evidence, only the detection.
    evidence = {
        "sources": ["polygons water_2020.gpkg"],
        "evidence_ha": 1.5,
        "lidar_water_ha": 1.3,
        "both_ha": 1.2,
        "evidence_only_ha": 0.3,
        "lidar_only_ha": 0.1,
        "agreement": 0.75,
    }
    ledger = {
        **content.ledger,
        "lidar": {
            "2020": {"detection": "level and dark, or sparse", "evidence": evidence},
            "2025": {"detection": "sparse only (no intensities)"},
        },
    }
    text = read_page(render_report(dataclasses.replace(content, ledger=ledger))).all_text()
    assert (
        "LiDAR water: level and dark, or sparse; against the survey's water evidence "
        "(polygons water_2020.gpkg): 1.20 ha water by both, 0.30 ha by the evidence only, "
        "0.10 ha by the LiDAR only — agreement 0.75" in " ".join(text.split())
    )
    assert "LiDAR water: sparse only (no intensities) (methodology §8.1)." in " ".join(text.split())
