"""Dead organic matter: the plots that carry it, the route, dead:live ratios, the model route.

The toy epoch used below: a 40 × 40 grid of 10 m cells (x 0–400 m, y 0–400 m)
with two classes, ``sedge`` (code 3, left half) and ``reed`` (code 4, right
half), a feature ``ndvi`` and AGB maps given directly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.biomass.dom import (
    DEAD_COLUMN,
    MIN_DOM_MODEL_PLOTS,
    POOLED,
    choose_dom_method,
    dead_to_live_ratios,
    dom_plots,
    estimate_dom,
    ratio_layers,
)
from carbonsink.errors import ConfigError, InputError

N = 40
RES = 10.0
XS = RES / 2 + RES * np.arange(N)
YS = N * RES - RES / 2 - RES * np.arange(N)
LEGEND = {3: "sedge", 4: "reed"}
CF = {3: 0.47, 4: 0.45}


def _cube(rng: np.random.Generator) -> xr.Dataset:
    ndvi = rng.integers(0, 11, size=(N, N)) / 10.0
    classes = np.where(np.arange(N) < N // 2, 3, 4)[None, :].repeat(N, axis=0)
    return xr.Dataset(
        {
            "ndvi": (("y", "x"), ndvi),
            "landcover": (("y", "x"), classes.astype(np.uint8)),
            "inside_boundary": (("y", "x"), np.ones((N, N), dtype=bool)),
        },
        coords={"x": XS, "y": YS},
    )


def _agb(cube: xr.Dataset) -> xr.Dataset:
    agb = 10.0 + 20.0 * cube["ndvi"].values
    layers = {
        "agb_mg_ha": agb,
        "agb_lower_mg_ha": 0.8 * agb,
        "agb_upper_mg_ha": 1.2 * agb,
    }
    return xr.Dataset(
        {k: (("y", "x"), v.astype(np.float32)) for k, v in layers.items()},
        coords={"x": XS, "y": YS},
    )


def _plots(rows: list[tuple[str, float, float, float, float | None]]) -> pd.DataFrame:
    """Plots from (id, x, y, live AGB Mg/ha, dead Mg/ha or None)."""
    return pd.DataFrame(
        {
            "plot_id": [r[0] for r in rows],
            "x": [r[1] for r in rows],
            "y": [r[2] for r in rows],
            "agb_g_m2": [r[3] * 100.0 for r in rows],
            "agb_mg_ha": [r[3] for r in rows],
            DEAD_COLUMN: [np.nan if r[4] is None else r[4] * 100.0 for r in rows],
            "size_m2": 1.0,
        }
    )


def test_dom_plots_keep_the_plots_with_a_value_in_mg_per_ha() -> None:
    plots = _plots([("A", 5.0, 5.0, 9.364, 3.057), ("B", 15.0, 5.0, 3.436, None)])
    carried = dom_plots(plots)
    assert list(carried["plot_id"]) == ["A"]
    # 305.7 g/m² × 0.01 = 3.057 Mg/ha
    assert carried["dom_mg_ha"].iloc[0] == pytest.approx(3.057)
    assert dom_plots(plots.drop(columns=DEAD_COLUMN)).empty


def test_the_route_follows_the_number_of_plots() -> None:
    assert choose_dom_method(MIN_DOM_MODEL_PLOTS, "auto")[0] == "model"
    route, reason = choose_dom_method(MIN_DOM_MODEL_PLOTS - 1, "auto")
    assert route == "ratio" and f"{MIN_DOM_MODEL_PLOTS - 1} plots" in str(reason)
    assert choose_dom_method(100, "ratio")[0] == "ratio"
    assert choose_dom_method(12, "model")[0] == "model"
    with pytest.raises(ConfigError, match="too few for a DOM model"):
        choose_dom_method(3, "model")


def test_ratio_of_means_and_its_standard_error() -> None:
    # reed: live 1..5, dead 1, 1, 2, 2, 4 → R = 10/15 = 2/3; residuals d − R l =
    # 1/3, −1/3, 0, −2/3, 2/3, Σ² = 10/9; v = (10/9) / ((5 − 1) · 5 · 3²) = 10/1620,
    # SE = 0.0785674. sedge: dead = 0.25 × live exactly → R = 0.25, SE = 0.
    live = [1.0, 2.0, 3.0, 4.0, 5.0]
    dead = [1.0, 1.0, 2.0, 2.0, 4.0]
    rows = [(f"R{i}", 0.0, 0.0, lv, dv) for i, (lv, dv) in enumerate(zip(live, dead, strict=True))]
    rows += [(f"S{i}", 0.0, 0.0, 4.0 * i, 1.0 * i) for i in range(1, 6)]
    plots = dom_plots(_plots(rows))
    ratios = dead_to_live_ratios(plots, ["reed"] * 5 + ["sedge"] * 5, legend=["sedge", "reed"])
    assert ratios.for_class("reed") == pytest.approx((2 / 3, math.sqrt(10 / 1620)))
    assert ratios.for_class("sedge") == pytest.approx((0.25, 0.0), abs=1e-12)
    assert POOLED not in ratios.ratios
    assert ratios.to_dict()["plots"] == {"reed": 5, "sedge": 5}


def test_a_class_with_few_plots_takes_the_pooled_ratio_widened() -> None:
    # sedge: 5 plots, dead = 0.25 × live (live 4, 8, 12, 16, 20: Σ 60, dead Σ 15).
    # reed: 2 plots (< 5), live 10, 10, dead 6, 4 → pooled over all 7:
    # R = (15 + 10) / (60 + 20) = 0.3125; residuals: sedge d − 0.3125 l = −0.0625 l
    # (l = 4..20: Σ l² = 16 + 64 + 144 + 256 + 400 = 880 → Σ = 0.00390625 × 880 = 3.4375),
    # reed 6 − 3.125 = 2.875, 4 − 3.125 = 0.875 → 8.265625 + 0.765625 = 9.03125;
    # Σ² = 12.46875; v = 12.46875 / (6 · 7 · (80/7)²) = 0.0022727; SE_pooled = 0.047673.
    # Fewer than 3 classes with their own ratio: the class spread is 50 % of R,
    # 0.15625; SE = √(0.047673² + 0.15625²) = 0.163361.
    rows = [(f"S{i}", 0.0, 0.0, 4.0 * i, 1.0 * i) for i in range(1, 6)]
    rows += [("R1", 0.0, 0.0, 10.0, 6.0), ("R2", 0.0, 0.0, 10.0, 4.0)]
    ratios = dead_to_live_ratios(
        dom_plots(_plots(rows)), ["sedge"] * 5 + ["reed"] * 2, legend=["water", "sedge", "reed"]
    )
    assert ratios.group_of == {"water": POOLED, "sedge": "sedge", "reed": POOLED}
    ratio, se = ratios.for_class("reed")
    assert ratio == pytest.approx(0.3125)
    pooled_se = math.sqrt(12.46875 / (6 * 7 * (80 / 7) ** 2))
    assert se == pytest.approx(math.sqrt(pooled_se**2 + 0.15625**2))
    assert ratios.between_class_sd == pytest.approx(0.15625)


def test_no_plot_with_both_values_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no plot carries"):
        dead_to_live_ratios(dom_plots(_plots([])), [], legend=["sedge"])


def test_ratio_layers_scale_agb_by_the_class_ratio() -> None:
    cube = _cube(np.random.default_rng(1))
    agb = _agb(cube)
    rows = [(f"S{i}", 0.0, 0.0, 10.0 * i, 2.0 * i) for i in range(1, 6)]
    rows += [(f"R{i}", 0.0, 0.0, 10.0 * i, 5.0 * i) for i in range(1, 6)]
    ratios = dead_to_live_ratios(
        dom_plots(_plots(rows)), ["sedge"] * 5 + ["reed"] * 5, legend=list(LEGEND.values())
    )
    layers = ratio_layers(agb, cube["landcover"], ratios, legend=LEGEND, carbon_fraction=CF)
    left, right = (slice(None), slice(0, N // 2)), (slice(None), slice(N // 2, None))
    # sedge ratio 0.2, reed 0.5; DOM C = DOM × CF (0.47 sedge, 0.45 reed)
    expected = agb["agb_mg_ha"].values.astype(np.float64)
    np.testing.assert_allclose(layers["dom_mg_ha"].values[left], 0.2 * expected[left], rtol=1e-6)
    np.testing.assert_allclose(layers["dom_mg_ha"].values[right], 0.5 * expected[right], rtol=1e-6)
    np.testing.assert_allclose(
        layers["dom_c_mg_ha"].values[right], 0.45 * 0.5 * expected[right], rtol=1e-6
    )
    np.testing.assert_allclose(
        layers["dom_upper_mg_ha"].values[left], 0.2 * 1.2 * expected[left], rtol=1e-6
    )
    assert layers["dom_mg_ha"].attrs["units"] == "Mg DM/ha"
    assert layers["dom_c_mg_ha"].attrs["units"] == "Mg C/ha"


def _located_plots(cube: xr.Dataset, n: int, *, dead_every: int) -> pd.DataFrame:
    """n plots at random cells; live = the cell's AGB, dead = (1 + 4 ndvi) on every k-th."""
    rng = np.random.default_rng(7)
    cells = rng.choice(N * N, size=n, replace=False)
    rows, cols = np.divmod(cells, N)
    ndvi = cube["ndvi"].values[rows, cols]
    live = 10.0 + 20.0 * ndvi
    dead = 1.0 + 4.0 * ndvi
    return _plots(
        [
            (f"P{i:02d}", XS[c], YS[r], float(lv), float(dv) if i % dead_every == 0 else None)
            for i, (r, c, lv, dv) in enumerate(zip(rows, cols, live, dead, strict=True))
        ]
    )


def test_estimate_dom_without_the_column_is_none() -> None:
    cube = _cube(np.random.default_rng(2))
    plots = _located_plots(cube, 20, dead_every=1).drop(columns=DEAD_COLUMN)
    assert (
        estimate_dom(cube, plots, _agb(cube), legend=LEGEND, carbon_fraction=CF, features=["ndvi"])
        is None
    )


def test_estimate_dom_by_ratio_places_plots_in_their_mapped_class() -> None:
    cube = _cube(np.random.default_rng(3))
    # Dead = 1 + 4 ndvi and live = 10 + 20 ndvi on every plot: the class's ratio of means
    # is Σ dead / Σ live over the plots in cells of that class on the map (sedge: the
    # left half, reed: the right half), recomputed here from the plot table.
    plots = _located_plots(cube, 30, dead_every=1)
    estimate = estimate_dom(
        cube, plots, _agb(cube), legend=LEGEND, carbon_fraction=CF, features=["ndvi"]
    )
    assert estimate is not None and estimate.method == "ratio" and estimate.ratios is not None
    cols = ((plots["x"].to_numpy() - RES / 2) / RES).astype(int)
    for code, name in LEGEND.items():
        mine = plots[(cols < N // 2) == (code == 3)]
        expected = mine[DEAD_COLUMN].sum() / mine["agb_g_m2"].sum()
        assert estimate.ratios.for_class(name)[0] == pytest.approx(expected)
    assert "fewer than the 40 a model needs" in str(estimate.reason)


@pytest.mark.slow
def test_estimate_dom_by_model_recovers_the_dead_matter_map() -> None:
    # 60 plots, each carrying DOM = 1 + 4 ndvi (no noise): the forest learns the step
    # function of the 11 ndvi levels, so the mapped total is the true Σ (1 + 4 ndvi) × 0.01
    # ha within a few per cent, and DOM C uses the class CF.
    cube = _cube(np.random.default_rng(4))
    plots = _located_plots(cube, 60, dead_every=1)
    estimate = estimate_dom(
        cube,
        plots,
        _agb(cube),
        legend=LEGEND,
        carbon_fraction=CF,
        features=["ndvi"],
        n_estimators=50,
        cv_block_m=50.0,
        seed=3,
    )
    assert estimate is not None and estimate.method == "model" and estimate.model is not None
    assert estimate.model.name == "dom"
    truth = 1.0 + 4.0 * cube["ndvi"].values
    mapped = estimate.layers["dom_mg_ha"].values.astype(np.float64)
    assert mapped.sum() == pytest.approx(truth.sum(), rel=0.03)
    cf = np.where(cube["landcover"].values == 3, 0.47, 0.45)
    np.testing.assert_allclose(
        estimate.layers["dom_c_mg_ha"].values, (mapped * cf).astype(np.float32), rtol=1e-6
    )
    assert set(estimate.layers.data_vars) >= {
        "dom_mg_ha",
        "dom_lower_mg_ha",
        "dom_upper_mg_ha",
        "dom_model",
        "dom_outside_aoa",
        "dom_c_mg_ha",
    }
