"""The synthetic survey's optional third epoch (2028) and its planted loss, in memory.

The truth is built with :func:`~carbonsink.synthetic.landscape.build_landscape`
and summed with :func:`~carbonsink.synthetic.truth.write_truth` (no imagery or
LiDAR, ≈ 2 s per landscape); the written survey is tested in
``test_three_epoch_survey.py``. Expected values come from the documented model
(carbonsink.synthetic.parameters, .vegetation, .sediment and the module
docstring of .landscape, item 8) and hand arithmetic beside each assertion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from carbonsink.errors import ConfigError
from carbonsink.synthetic import generate_survey
from carbonsink.synthetic.landscape import Landscape, build_landscape
from carbonsink.synthetic.parameters import SCALES
from carbonsink.synthetic.truth import write_truth
from tests.synthetic.conftest import SEED

WATER, MUDFLAT, SEDGE, REED, MISCANTHUS, POPLAR = 1, 2, 3, 4, 5, 6
#: Years of the second period: 2025-09-18 → 2028-09-20 is 1098 days.
YEARS_2 = 1098 / 365.25


def _truth(landscape: Landscape, folder: Path) -> dict[str, Any]:
    return write_truth(landscape, folder)[1]


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[Landscape, dict[str, Any]]:
    """Three epochs without the planted loss."""
    landscape = build_landscape(SEED, SCALES["small"], epochs=3)
    return landscape, _truth(landscape, tmp_path_factory.mktemp("grown"))


@pytest.fixture(scope="module")
def lost(tmp_path_factory: pytest.TempPathFactory) -> tuple[Landscape, dict[str, Any]]:
    """Three epochs with the planted loss."""
    landscape = build_landscape(SEED, SCALES["small"], epochs=3, planted_loss=True)
    return landscape, _truth(landscape, tmp_path_factory.mktemp("lost"))


# ------------------------------------------------------------------ options
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"epochs": 4}, "2 or 3 epochs"),
        ({"epochs": 1}, "2 or 3 epochs"),
        ({"epochs": True}, "2 or 3 epochs"),
        ({"planted_loss": True}, "planted loss"),
        ({"epochs": 2, "planted_loss": True}, "planted loss"),
    ],
)
def test_bad_epoch_options_are_config_errors(
    tmp_path: Path, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        generate_survey(tmp_path / "s", **options)
    assert info.value.problem.fix  # says what to pass instead
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_bad_epoch_options_exit_2_with_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from carbonsink.cli import main

    for args, where, fix in (
        (["--epochs", "4"], "--epochs", "use --epochs 2 (2020, 2025) or --epochs 3"),
        (["--planted-loss"], "--planted-loss", "add --epochs 3, or leave out --planted-loss"),
        (["--epochs", "2", "--planted-loss"], "--planted-loss", "add --epochs 3"),
    ):
        with pytest.raises(SystemExit) as info:
            main(["sample-data", str(tmp_path / "s"), *args])
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert info.value.code == 2, text
        errors = [line for line in text.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, text
        assert errors[0].startswith(f"error: {where}: ") and f"fix: {fix}" in errors[0], text
        assert "Traceback" not in text
        assert not (tmp_path / "s").exists()


# -------------------------------------------------------- the third epoch
def test_first_two_epochs_do_not_depend_on_the_third(
    grown: tuple[Landscape, dict[str, Any]], lost: tuple[Landscape, dict[str, Any]]
) -> None:
    two = build_landscape(SEED, SCALES["small"])
    assert [e.spec.name for e in grown[0].epochs] == ["2020", "2025", "2028"]
    for landscape, _ in (grown, lost):
        for a, b in zip(two.epochs, landscape.epochs[:2], strict=True):
            for name in ("elevation_m", "class_code", "agb_mg_ha", "dom_mg_ha", "soc_0_100_mg_ha"):
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
            assert a.lidar_block.equals(b.lidar_block)
        assert two.soil_world == landscape.soil_world


def test_third_epoch_continues_the_second(grown: tuple[Landscape, dict[str, Any]]) -> None:
    landscape, _ = grown
    e20, e25, e28 = landscape.epochs
    assert e28.spec.date.isoformat() == "2028-09-20"
    assert e28.spec.water_level_m == 24.95
    assert landscape.planted_loss is False
    # Terrain: 3 more years of 8 mm/yr × exp(−(z_2025 − 24)/2.5), on the 2025 terrain.
    rise = 3 * 0.008 * np.exp(-(e25.elevation_m - 24.0) / 2.5)
    np.testing.assert_allclose(e28.elevation_m - e25.elevation_m, rise, rtol=1e-9, atol=1e-12)
    # Poplar standing in all three epochs grows 3 Mg/ha/yr × sqrt(stand/85) from its
    # 2020 stand: 3 × 3 yr = 9 × sqrt(AGB_2020 / 85) between 2025 and 2028.
    trees = (e20.class_code == POPLAR) & (e25.class_code == POPLAR) & (e28.class_code == POPLAR)
    assert trees.sum() > 100
    growth = e28.agb_mg_ha[trees] - e25.agb_mg_ha[trees]
    np.testing.assert_allclose(growth, 9.0 * np.sqrt(e20.agb_mg_ha[trees] / 85.0), rtol=1e-9)
    # DOM keeps the 2025 dead:live ratio (and the persistent multiplier m): in a cell of
    # the same class in 2025 and 2028 the ratio DOM/AGB is the same.
    for code in (SEDGE, REED, MISCANTHUS, POPLAR):
        same = (e25.class_code == code) & (e28.class_code == code) & (e25.agb_mg_ha > 0)
        np.testing.assert_allclose(
            e28.dom_mg_ha[same] / e28.agb_mg_ha[same],
            e25.dom_mg_ha[same] / e25.agb_mg_ha[same],
            rtol=1e-9,
        )


def test_third_epoch_soil_keeps_depositing_and_gaining(
    grown: tuple[Landscape, dict[str, Any]],
) -> None:
    landscape, _ = grown
    _, e25, e28 = landscape.epochs
    # d stays the deposit since 2020 (the marker horizon's): 2025's plus 3.006 years at
    # the same field's rate on the 2025 terrain. The rate, 0.6 exp(−(z − 26)/1.2) M,
    # falls by exp(−Δz/1.2) ≥ exp(−0.04/1.2) = 0.967 on the ≤ 4 cm higher terrain, so
    # d_2028 / d_2025 lies in [1 + 0.967 × 3.006/5.0075, 1 + 3.006/5.0075].
    d25, d28 = e25.deposit_cm, e28.deposit_cm
    thick = d25 > 0.01
    ratio = d28[thick] / d25[thick]
    share = YEARS_2 / (1829 / 365.25)
    assert ratio.min() >= 1 + 0.966 * share and ratio.max() <= 1 + share + 1e-9
    # The autochthonous gain of the reference material grows by years × r, r the mean
    # of the two epochs' class rates × a mean-one lognormal field: none under water,
    # sedge 1.6 Mg C/ha/yr (0.5–2 for a class mean, as for 2020→2025), mudflat less.
    gain = (e28.soc_gain_0_30_mg_ha - e25.soc_gain_0_30_mg_ha) / YEARS_2
    cls = e28.class_code
    same = cls == e25.class_code
    np.testing.assert_allclose(gain[same & (cls == WATER)], 0.0, atol=1e-6)
    assert 0.5 <= gain[same & (cls == SEDGE)].mean() <= 2.0
    assert gain[same & (cls == MUDFLAT)].mean() < gain[same & (cls == SEDGE)].mean()
    assert np.all(gain >= -1e-6)
    # The sediment's carbon grows with the deposit: d × BD_sed × OC_sed.
    np.testing.assert_allclose(
        e28.soc_allochthonous_mg_ha[thick] / e25.soc_allochthonous_mg_ha[thick],
        ratio,
        rtol=1e-9,
    )
    # The 2028 samples go to the biased 2025 lab.
    assert landscape.soil_world.biased_epochs(["2020", "2025", "2028"]) == ("2025", "2028")


def test_periods_add_up_to_the_cumulative_change(
    grown: tuple[Landscape, dict[str, Any]], lost: tuple[Landscape, dict[str, Any]]
) -> None:
    for _, totals in (grown, lost):
        periods = totals["periods"]
        assert [(p["from_epoch"], p["to_epoch"]) for p in periods] == [
            ("2020", "2025"),
            ("2025", "2028"),
        ]
        assert periods[1]["years"] == pytest.approx(YEARS_2)
        sink = totals["sink"]
        assert (sink["from_epoch"], sink["to_epoch"]) == ("2020", "2028")
        assert sink["years"] == pytest.approx(2927 / 365.25)  # 2020-09-15 → 2028-09-20
        stocks = {e: v["stocks_t_c"] for e, v in totals["epochs"].items()}
        for key, change in periods[0]["stock_change_t_c"].items():
            cumulative = change + periods[1]["stock_change_t_c"][key]
            assert cumulative == pytest.approx(sink["delta_c_t_c_yr"][key] * sink["years"]), key
        # Total = AGB + BGB + DOM + the autochthonous soil 0–100 cm change, in t C.
        for period in periods:
            before, after = stocks[period["from_epoch"]], stocks[period["to_epoch"]]
            total = sum(after[p] - before[p] for p in ("agb_c", "bgb_c", "dom_c", "soc_gain_0_100"))
            assert period["total_stock_change_t_c"] == pytest.approx(total, rel=1e-12)
            assert period["removals_t_co2e_yr"] == pytest.approx(
                44 / 12 * total / period["years"], rel=1e-9
            )
        assert totals["soil_world"]["lab_method_bias_epochs"] == ["2025", "2028"]


def test_without_the_loss_the_second_period_gains(
    grown: tuple[Landscape, dict[str, Any]],
) -> None:
    _, totals = grown
    period = totals["periods"][1]
    change = period["stock_change_t_c"]
    # Soil gains ≈ 0.3–1.6 Mg C/ha/yr over ~200 ha for 3 years (hundreds of t C) and
    # poplar keeps growing: the period's total stock change is a gain.
    assert change["soc_0_100"] > 300.0
    assert period["total_stock_change_t_c"] > 0.0
    assert totals["epochs"]["2028"]["area_ha"]["poplar"] > 0.0
    assert "planted_loss" not in totals


# ------------------------------------------------------------ planted loss
def test_planted_loss_fells_the_poplar_and_burns_the_reed(
    grown: tuple[Landscape, dict[str, Any]], lost: tuple[Landscape, dict[str, Any]]
) -> None:
    before, after = grown[0].epochs[2], lost[0].epochs[2]
    felled, burnt = lost[0].disturbed["felled"], lost[0].disturbed["burnt"]
    # Every poplar cell of the unharmed 2028 is felled: sedge (wetter part) or mudflat.
    np.testing.assert_array_equal(felled, before.class_code == POPLAR)
    assert not np.any(after.class_code == POPLAR)
    assert set(np.unique(after.class_code[felled]).tolist()) == {MUDFLAT, SEDGE}
    # ... carrying 25 % of its new class's biomass: at most 0.25 × 2 Mg/ha on mudflat
    # (the cap) and a quarter of a sedge sward (12.8 Mg/ha on average) — a few Mg/ha
    # where 55–125 Mg/ha of trees stood.
    assert after.agb_mg_ha[felled & (after.class_code == MUDFLAT)].max() <= 0.5 + 1e-9
    assert after.agb_mg_ha[felled].mean() < 0.25 * 12.8 * 1.3
    assert before.agb_mg_ha[felled].min() >= 55.0
    # The reed cells are the same with and without the loss (felled cells never turn
    # reed), and burn to 10 % of their AGB, canopy height and dead matter.
    np.testing.assert_array_equal(burnt, before.class_code == REED)
    np.testing.assert_array_equal(burnt, after.class_code == REED)
    for name in ("agb_mg_ha", "canopy_height_m", "dom_mg_ha"):
        np.testing.assert_allclose(
            getattr(after, name)[burnt], 0.1 * getattr(before, name)[burnt], rtol=1e-9
        )


def test_planted_loss_makes_the_second_period_a_loss(
    lost: tuple[Landscape, dict[str, Any]],
) -> None:
    landscape, totals = lost
    areas = {e: v["area_ha"] for e, v in totals["epochs"].items()}
    assert areas["2025"]["poplar"] > 10.0 and areas["2028"]["poplar"] == 0.0
    loss = totals["planted_loss"]
    assert (loss["from_epoch"], loss["to_epoch"]) == ("2025", "2028")
    assert loss["burnt_ha"] == pytest.approx(areas["2028"]["reed"], rel=1e-12)
    # The felled stands are the 2025 stands (the same plantations; the zone edges move
    # by a few cm), to a few per cent.
    assert loss["felled_ha"] == pytest.approx(areas["2025"]["poplar"], rel=0.05)
    period = totals["periods"][1]
    change = period["stock_change_t_c"]
    # The poplar's 2025 AGB carbon (Σ A × AGB × 0.47 over its cells) is felled, the
    # reed's burns to 10 %: the AGB carbon falls by more than the poplar's alone.
    e25 = landscape.epochs[1]
    inside = landscape.grid.boundary_mask(landscape.boundary)
    area = np.where(inside, landscape.grid.cell_area_ha, 0.0)
    poplar = landscape.crop(e25.class_code) == POPLAR
    poplar_c = float(np.sum(area[poplar] * landscape.crop(e25.agb_mg_ha)[poplar])) * 0.47
    assert poplar_c > 500.0
    assert change["agb_c"] < -poplar_c
    assert change["dom_c"] < 0.0 and change["bgb_c"] < 0.0
    # The soil still gains, but the live and dead biomass lost outweigh it.
    assert change["soc_0_100"] > 0.0
    assert period["total_stock_change_t_c"] < 0.0
    assert period["net_t_co2e_yr"] < 0.0
    # The first period is untouched: a gain.
    assert totals["periods"][0]["total_stock_change_t_c"] > 0.0
