"""Bulk densities from organic matter (ideal mixing) and gap-filled core stocks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import InputError
from carbonsink.io.soil_sheets import usable_layers
from carbonsink.soil.core_stocks import core_stocks
from carbonsink.soil.layer_gaps import (
    MORRIS_K_MINERAL,
    MORRIS_K_ORGANIC,
    fill_bulk_densities,
    ideal_mixing_model,
)
from tests.soil.layers import core_layers


def _mixing(f: np.ndarray, k1: float, k2: float) -> np.ndarray:
    return 1.0 / (f / k1 + (1.0 - f) / k2)


def test_the_model_is_fitted_when_the_layers_identify_it() -> None:
    rng = np.random.default_rng(7)
    f = rng.uniform(0.02, 0.9, 400)
    # k1 = 0.10, k2 = 1.50 g/cm³ with lognormal scatter of SD 0.10.
    bd = _mixing(f, 0.10, 1.50) * np.exp(rng.normal(0.0, 0.10, f.size))
    model = ideal_mixing_model(f, bd)
    assert model.fitted == "both"
    assert model.k_organic_g_cm3 == pytest.approx(0.10, rel=0.05)
    assert model.k_mineral_g_cm3 == pytest.approx(1.50, rel=0.05)
    assert model.residual_sd_log == pytest.approx(0.10, rel=0.1)
    # New layers of the same soil at f = 0.5: the prediction is their mean and
    # its SE their spread (the truth: median 1 / (0.5/0.1 + 0.5/1.5) = 0.1875,
    # mean 0.1875 × exp(0.1²/2) = 0.18844, SD 0.18844 × √(exp(0.01) − 1) = 0.018892).
    bd_half, se_half = model.predict([0.5])
    fresh = _mixing(np.full(20_000, 0.5), 0.10, 1.50) * np.exp(rng.normal(0.0, 0.10, 20_000))
    assert fresh.mean() == pytest.approx(0.18844, rel=0.005)
    assert bd_half[0] == pytest.approx(fresh.mean(), rel=0.02)
    assert se_half[0] == pytest.approx(fresh.std(), rel=0.15)


def test_few_layers_take_the_published_self_packing_densities() -> None:
    f = np.linspace(0.1, 0.6, 12)
    bd = _mixing(f, MORRIS_K_ORGANIC, MORRIS_K_MINERAL) * np.exp(0.2 * (-1.0) ** np.arange(12))
    model = ideal_mixing_model(f, bd)
    assert model.fitted == "none"
    assert (model.k_organic_g_cm3, model.k_mineral_g_cm3) == pytest.approx((0.085, 1.99))
    # Residuals ±0.2 exactly: their root mean square is 0.2.
    assert model.residual_sd_log == pytest.approx(0.2, rel=1e-9)
    # f = 0.5: the median 1 / (0.5/0.085 + 0.5/1.99) = 1 / (5.882353 + 0.251256) = 0.163036.
    # g = (f/k1, (1-f)/k2) × median = (0.959036, 0.040964);
    # Σ = diag((0.0008/0.085)², (0.028/1.99)²) = diag(8.8581e-5, 1.9797e-4);
    # g'Σg = 0.919750 × 8.8581e-5 + 0.001678 × 1.9797e-4 = 8.1805e-5; v = 0.04 + g'Σg.
    # Mean = median × exp(v/2) = 0.163036 × exp(0.0200409) = 0.166336 g/cm³.
    # Residual SE = mean × √(exp(0.04) − 1) = 0.166336 × 0.202017 = 0.033603;
    # shared part: (mean × g)'Σ(mean × g) = 0.159524² × 8.8581e-5 + 0.006814² × 1.9797e-4
    # = 2.2634e-6; SE = √(0.033603² + 2.2634e-6) = 0.033637 g/cm³.
    bd_half, se_half = model.predict([0.5])
    assert bd_half[0] == pytest.approx(0.166336, abs=2e-6)
    assert se_half[0] == pytest.approx(0.033637, abs=2e-6)
    _, residual_se, gradient = model.predict_parts([0.5])
    assert residual_se[0] == pytest.approx(0.033603, abs=2e-6)
    assert gradient[0] == pytest.approx([0.159524, 0.006814], abs=2e-6)
    assert "Morris et al. (2016)" in model.describe()


def test_too_few_layers_cannot_measure_the_error() -> None:
    with pytest.raises(InputError, match="at least 10"):
        ideal_mixing_model([0.1, 0.2, 0.3], [1.0, 0.8, 0.6], path="soil.csv")


def _with_blank_bulk_density() -> pd.DataFrame:
    """Twelve complete layers on the published curve (±10 %) and one layer without BD."""
    om = np.linspace(2.0, 40.0, 12)
    bd = _mixing(om / 100.0, MORRIS_K_ORGANIC, MORRIS_K_MINERAL) * np.exp(
        0.1 * (-1.0) ** np.arange(12)
    )
    rows = [("K", 10.0 * i, 10.0 * i + 10.0, om[i] * 0.5, bd[i]) for i in range(12)]
    rows.append(("F", 0.0, 10.0, 8.0, np.nan))
    return core_layers(rows, om_pct=[*om, 20.0])


def test_a_filled_bulk_density_carries_its_error_into_the_stock() -> None:
    layers = _with_blank_bulk_density()
    gaps = fill_bulk_densities(usable_layers(layers, bulk_density_gaps="pedotransfer"))
    assert gaps.filled_lines == (14,)
    assert gaps.model is not None and gaps.model.fitted == "none"
    bd, se = gaps.model.predict([0.20])
    assert gaps.layers.loc[14, "bulk_density_g_cm3"] == pytest.approx(bd[0], rel=1e-12)
    assert gaps.layers.loc[14, "bulk_density_se_g_cm3"] == pytest.approx(se[0], rel=1e-12)
    # Median 1 / (0.2/0.085 + 0.8/1.99) = 1 / (2.352941 + 0.402010) = 0.362982 g/cm³,
    # the mean larger by exp(v/2), v = s² + g'Σg (the model's s and Σ).
    model = gaps.model
    g = np.array([0.2 / 0.085, 0.8 / 1.99]) * 0.362982
    v = model.residual_sd_log**2 + g @ model.covariance_log @ g
    assert bd[0] == pytest.approx(0.362982 * math.exp(v / 2.0), rel=1e-5)

    stocks = core_stocks(layers, depths_cm=(10,), bulk_density_gaps="pedotransfer")
    # Core F: 8 % × BD × 10 cm; measured OC has no error, and with one filled
    # layer its within-core residual and shared k1/k2 parts add up to
    # SE = 8 × SE(BD) × 10.
    assert stocks.loc["F", "soc_0_10_mg_ha"] == pytest.approx(80.0 * bd[0], rel=1e-12)
    assert stocks.loc["F", "soc_0_10_se_mg_ha"] == pytest.approx(80.0 * se[0], rel=1e-12)
    assert stocks.loc["F", "bd_filled_layers"] == 1
    assert stocks.loc["K", "bd_filled_layers"] == 0
    assert stocks.attrs["layer_gaps"]["bd_filled_layers"] == 1
    assert "ideal mixing" in stocks.attrs["layer_gaps"]["bulk_density_model"]
    # With the default the blank is a problem of the table, named by line.
    with pytest.raises(InputError, match="bulk_density_g_cm3 is empty") as caught:
        core_stocks(layers, depths_cm=(10,))
    assert "line 14" in str(caught.value)


def test_replicates_enter_the_stock_with_their_error() -> None:
    layers = core_layers([("R", 0, 10, 2.0, 1.0), ("R", 0, 10, 3.0, 1.2)])
    stocks = core_stocks(layers, depths_cm=(10,))
    # Means 2.5 % and 1.1 g/cm³ (SEs 0.5 and 0.1): 2.5 × 1.1 × 10 = 27.5 Mg C/ha;
    # SE = 10 × √(1.1² × 0.5² + 2.5² × 0.1²) = 10 × √(0.3025 + 0.0625) = 6.041523.
    assert stocks.loc["R", "soc_0_10_mg_ha"] == pytest.approx(27.5, rel=1e-12)
    assert stocks.loc["R", "soc_0_10_se_mg_ha"] == pytest.approx(6.041523, rel=1e-6)
    assert stocks.loc["R", "replicate_layers"] == 1
    assert stocks.loc["R", "n_layers"] == 1


def test_excluded_cores_are_recorded_not_counted() -> None:
    layers = core_layers(
        [
            ("A", 0, 10, 2.0, 1.0),  # line 2
            ("A", 10, 20, np.nan, 1.0),  # line 3: no carbon value
            ("B", 0, 10, 2.0, 1.0),  # line 4
            ("B", 5, 15, 1.0, 1.0),  # line 5: overlaps line 4
        ],
    )
    stocks = core_stocks(layers, depths_cm=(20,), incomplete_cores="exclude")
    assert list(stocks.index) == ["A"]
    # A keeps 0–10; the spline fills 10–20 with its value at the bottom of the
    # last layer (constant for one layer): 2 % × 1.0 g/cm³ × 20 cm = 40 Mg C/ha.
    assert stocks.loc["A", "soc_0_20_mg_ha"] == pytest.approx(40.0, rel=1e-9)
    assert stocks.loc["A", "dropped_layers"] == 1
    assert stocks.attrs["excluded_cores"] == [
        {
            "core_id": "B",
            "lines": "lines 4, 5",
            "reason": "intervals overlap and are not replicates (lines 4, 5)",
        }
    ]
    assert stocks.attrs["layer_gaps"]["dropped"] == [
        {"core_id": "A", "line": 3, "reason": "no carbon value"}
    ]
    assert math.isfinite(stocks.loc["A", "soc_0_20_se_mg_ha"])


def test_filled_layers_of_one_core_share_their_errors() -> None:
    # Two filled layers of one core: the residual error is taken as the same in
    # both (fully correlated) and the k1/k2 error is shared, so the 0–20 cm SE is
    # 8 × 10 × (SE₁ + SE₂) when the parts add linearly — here exactly, because
    # both parts are perfectly correlated between the two layers of equal f.
    layers = _with_blank_bulk_density()
    extra = core_layers([("F", 10.0, 20.0, 8.0, np.nan)], om_pct=[20.0])
    extra.index = pd.Index([15], name="line")
    both = pd.concat([layers, extra])
    stocks = core_stocks(both, depths_cm=(20,), bulk_density_gaps="pedotransfer")
    gaps = fill_bulk_densities(usable_layers(both, bulk_density_gaps="pedotransfer"))
    assert gaps.model is not None
    bd, se = gaps.model.predict([0.20])
    assert stocks.loc["F", "soc_0_20_mg_ha"] == pytest.approx(2 * 80.0 * bd[0], rel=1e-9)
    # Independent layers would give √2 × 80 × SE; shared errors give 2 × 80 × SE.
    assert stocks.loc["F", "soc_0_20_se_mg_ha"] == pytest.approx(2 * 80.0 * se[0], rel=1e-9)
