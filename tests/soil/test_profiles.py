"""Layer stocks, the equal-area spline and core stocks to standard depths."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from carbonsink.errors import ConfigError, InputError
from carbonsink.io.ccn import read_ccn_cores
from carbonsink.io.tables import read_table
from carbonsink.soil.conversion import SiteRegression
from carbonsink.soil.core_stocks import core_stocks, depth_label
from carbonsink.soil.profiles import fit_equal_area_spline, layer_stocks
from tests.conftest import PROJECT_ROOT
from tests.soil.layers import core_layers

SAMPLE = PROJECT_ROOT / "sample_data" / "junshan"


# ------------------------------------------------------------ hand-computed
def test_layer_stock_check_value_of_the_methodology() -> None:
    # 1.5 % × 1.2 g/cm³ × 30 cm = 54 Mg C/ha (docs/methodology.md §3).
    assert layer_stocks(1.5, 1.2, 30.0) == pytest.approx(54.0, rel=1e-12)
    # With 25 % coarse fragments: 54 × 0.75 = 40.5.
    assert layer_stocks(1.5, 1.2, 30.0, coarse_frac=0.25) == pytest.approx(40.5, rel=1e-12)


@pytest.mark.parametrize("interpolation", ["spline", "linear"])
def test_single_layer_core_gives_54(interpolation: str) -> None:
    stocks = core_stocks(
        core_layers([("A", 0, 30, 1.5, 1.2)]), depths_cm=(30,), interpolation=interpolation
    )
    assert stocks.loc["A", "soc_0_30_mg_ha"] == pytest.approx(54.0, rel=1e-12)
    assert not stocks.loc["A", "extrapolated_0_30"]
    assert not stocks.loc["A", "has_gap"]
    assert stocks.loc["A", "soc_0_30_se_mg_ha"] == 0.0


@pytest.mark.parametrize("interpolation", ["spline", "linear"])
def test_two_layer_core_with_a_straddling_layer(interpolation: str) -> None:
    # 0–10 cm: 2.0 % × 1.0 × 10 = 20; 10–40 cm: 1.0 % × 1.3 × 30 = 39.
    # 0–30 = 20 + 1.0 × 1.3 × 20 (two thirds of the second layer) = 46; 0–40 = 59.
    layers = core_layers([("B", 0, 10, 2.0, 1.0), ("B", 10, 40, 1.0, 1.3)])
    stocks = core_stocks(layers, depths_cm=(30, 40), interpolation=interpolation)
    assert stocks.loc["B", "soc_0_30_mg_ha"] == pytest.approx(46.0, rel=1e-12)
    assert stocks.loc["B", "soc_0_40_mg_ha"] == pytest.approx(59.0, rel=1e-12)
    assert stocks.loc["B", "n_layers"] == 2
    assert stocks.loc["B", "max_depth_cm"] == 40.0


def test_coarse_fragments_and_dichromate_organic_matter() -> None:
    # Core C: 2.0 % × 1.0 × 30 × (1 − 0.25) = 45.
    # Core D: om_g_kg 34.48 -> OM 3.448 % -> OC 3.448 / 1.724 = 2.0 %; × 1.1 × 20 = 44.
    layers = pd.DataFrame(
        {
            "core_id": ["C", "D"],
            "lon": [113.07, 113.08],
            "lat": [29.40, 29.41],
            "depth_top_cm": [0, 0],
            "depth_bottom_cm": [30, 20],
            "bulk_density_g_cm3": [1.0, 1.1],
            "soc_pct": [2.0, np.nan],
            "om_g_kg": [np.nan, 34.48],
            "coarse_frac": [0.25, np.nan],
            "method": ["CHN", "dichromate"],
        },
        index=pd.Index([2, 3], name="line"),
    )
    stocks = core_stocks(layers, depths_cm=(30, 20))
    assert stocks.loc["C", "soc_0_30_mg_ha"] == pytest.approx(45.0, rel=1e-12)
    assert stocks.loc["D", "soc_0_20_mg_ha"] == pytest.approx(44.0, rel=1e-12)
    assert stocks.loc["D", "extrapolated_0_30"]
    assert stocks.loc["D", "x"] == 113.08


def test_linear_extrapolation_repeats_the_last_layer() -> None:
    # 0–20 cm at 2 % × 1.0: 40; 20–30 extended at 2 Mg C/ha per cm: +20 = 60.
    stocks = core_stocks(
        core_layers([("E", 0, 10, 2.0, 1.0), ("E", 10, 20, 2.0, 1.0)]),
        depths_cm=(30,),
        interpolation="linear",
    )
    assert stocks.loc["E", "soc_0_30_mg_ha"] == pytest.approx(60.0, rel=1e-12)
    assert stocks.loc["E", "extrapolated_0_30"]


def test_spline_extrapolation_uses_the_spline_value_at_the_bottom() -> None:
    # Densities ρ = 3 (0–10) and 1 (10–20) Mg C/ha per cm, λ = 0.1, n = 2.
    # R = 2(10 + 10) = 40, Q = [−1, 1]; QᵀR⁻¹Q = [[1, −1], [−1, 1]]/40;
    # Z = I + 6·2·0.1/40 [[1, −1], [−1, 1]]: on the difference (1, −1) Z = 1.06,
    # so s̄ = (2, 2) + (1, −1)/1.06, s̄₂ = 2 − d with d = 1/1.06;
    # b = 6 (s̄₂ − s̄₁)/40 = −0.3 d; f(20) = s̄₂ + b·10/6 = 2 − 1.5 d.
    # 0–30 = 30 + 10 + 10 × (2 − 1.5/1.06) = 45.849056...
    layers = core_layers([("F", 0, 10, 3.0, 1.0), ("F", 10, 20, 1.0, 1.0)])
    stocks = core_stocks(layers, depths_cm=(30,), spline_lambda=0.1)
    assert stocks.loc["F", "soc_0_30_mg_ha"] == pytest.approx(40 + 10 * (2 - 1.5 / 1.06), 1e-12)
    # λ -> 0: d -> 1, f(20) = 0.5, 0–30 = 45.
    tiny = core_stocks(layers, depths_cm=(30,), spline_lambda=1e-12)
    assert tiny.loc["F", "soc_0_30_mg_ha"] == pytest.approx(45.0, rel=1e-9)


@pytest.mark.parametrize("interpolation", ["spline", "linear"])
def test_gap_is_bridged(interpolation: str) -> None:
    # ρ = 3 on 0–10 and 1 on 20–30, gap 10–20. Linear: the gap mean is (3 + 1)/2 = 2.
    # Spline: the problem is symmetric under z -> 30 − z, ρ -> 4 − ρ, so the linear
    # bridge runs through 2 at 15 cm and its mean is 2 as well. 0–30 = 30 + 20 + 10 = 60.
    layers = core_layers([("G", 0, 10, 3.0, 1.0), ("G", 20, 30, 1.0, 1.0)])
    stocks = core_stocks(layers, depths_cm=(30,), interpolation=interpolation)
    assert stocks.loc["G", "soc_0_30_mg_ha"] == pytest.approx(60.0, rel=1e-12)
    assert stocks.loc["G", "has_gap"]
    assert not stocks.loc["G", "extrapolated_0_30"]


def test_missing_surface_layer_is_a_gap_filled_with_the_first_layer() -> None:
    # First layer 5–30 at ρ = 2: linear fills 0–5 with 2 -> 10 + 50 = 60.
    stocks = core_stocks(
        core_layers([("H", 5, 30, 2.0, 1.0)]), depths_cm=(30,), interpolation="linear"
    )
    assert stocks.loc["H", "has_gap"]
    assert stocks.loc["H", "soc_0_30_mg_ha"] == pytest.approx(60.0, rel=1e-12)


def test_standard_errors_propagate() -> None:
    # One layer 0–30, OC 2 ± 0.1 %, BD 1.0 ± 0.05: Var = (1·30·0.1)² + (2·30·0.05)² = 18.
    one = core_stocks(
        core_layers([("I", 0, 30, 2.0, 1.0)], soc_se_pct=[0.1], bulk_density_se_g_cm3=[0.05]),
        depths_cm=(30,),
    )
    assert one.loc["I", "soc_0_30_se_mg_ha"] == pytest.approx(math.sqrt(18.0), rel=1e-12)
    # Two layers 0–10, 10–20 (BD 1), OM 4 and 2 % through OC = 0 + 0.5 OM, residual SE
    # 0.2, Var(a) = 0.01, Var(b) = 0.0001. Independent: 2 × (10² × 0.2²) = 8; shared:
    # g = 10·[1, 4] + 10·[1, 2] = [20, 60], gᵀΣg = 400·0.01 + 3600·0.0001 = 4.36.
    regression = SiteRegression(
        intercept=0.0,
        slope=0.5,
        intercept_se=0.1,
        slope_se=0.01,
        covariance=((0.01, 0.0), (0.0, 0.0001)),
        residual_se=0.2,
        n=40,
        om_range_pct=(0.0, 50.0),
    )
    layers = core_layers([("J", 0, 10, np.nan, 1.0), ("J", 10, 20, np.nan, 1.0)], om_pct=[4.0, 2.0])
    two = core_stocks(
        layers, depths_cm=(20,), om_to_oc="site-regression", site_regression=regression
    )
    assert two.loc["J", "soc_0_20_mg_ha"] == pytest.approx(30.0, rel=1e-12)
    assert two.loc["J", "soc_0_20_se_mg_ha"] == pytest.approx(math.sqrt(12.36), rel=1e-12)


def test_depth_labels_and_input_untouched() -> None:
    assert [depth_label(d) for d in (30, 100.0, 22.5)] == ["30", "100", "22.5"]
    layers = core_layers([("K", 0, 10, 2.0, 1.0), ("K", 10, 30, 1.0, 1.2)])
    before = layers.copy()
    stocks = core_stocks(layers, depths_cm=(22.5, 30))
    # 0–22.5 = 20 + 1.0 × 1.2 × 12.5 = 35.
    assert stocks.loc["K", "soc_0_22.5_mg_ha"] == pytest.approx(35.0, rel=1e-12)
    assert list(stocks.columns) == [
        "x",
        "y",
        "max_depth_cm",
        "n_layers",
        "has_gap",
        "replicate_layers",
        "bd_filled_layers",
        "dropped_layers",
        "soc_0_22.5_mg_ha",
        "soc_0_22.5_se_mg_ha",
        "extrapolated_0_22.5",
        "mass_0_22.5_mg_ha",
        "soc_0_30_mg_ha",
        "soc_0_30_se_mg_ha",
        "extrapolated_0_30",
        "mass_0_30_mg_ha",
    ]
    # Soil mass: 10 cm × 1.0 × 100 + 12.5 cm × 1.2 × 100 = 2,500 Mg/ha; to 30 cm 3,400.
    assert stocks.loc["K", "mass_0_22.5_mg_ha"] == pytest.approx(2_500.0, rel=1e-12)
    assert stocks.loc["K", "mass_0_30_mg_ha"] == pytest.approx(3_400.0, rel=1e-12)
    pd.testing.assert_frame_equal(layers, before)


# ------------------------------------------------------------------ spline
@st.composite
def _profiles(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 8))
    thickness = np.array(draw(st.lists(st.floats(1.0, 40.0), min_size=n, max_size=n)))
    gaps = np.array(
        draw(st.lists(st.one_of(st.just(0.0), st.floats(0.5, 20.0)), min_size=n, max_size=n))
    )
    tops = np.empty(n)
    depth = 0.0
    for i in range(n):  # sequentially, so a zero gap is exactly zero
        tops[i] = depth + gaps[i]
        depth = tops[i] + thickness[i]
    values = np.array(draw(st.lists(st.floats(0.0, 10.0), min_size=n, max_size=n)))
    return tops, tops + thickness, values


@settings(max_examples=150, deadline=None)
@given(_profiles(), st.sampled_from([0.1, 1.0, 1e-10]))
def test_spline_preserves_each_layer_mean(
    profile: tuple[np.ndarray, np.ndarray, np.ndarray], lam: float
) -> None:
    tops, bottoms, values = profile
    spline = fit_equal_area_spline(tops, bottoms, values, lam=lam)
    means = spline.fitted_means()
    n = values.size
    # ‖s̄ − y‖₂ ≤ 6 n λ ‖Δy‖₂ / d_min (fit_equal_area_spline, Notes): Z ⪰ I,
    # ‖R⁻¹‖ ≤ 1/(2 d_min), ‖Q‖ ≤ 2. Plus round-off.
    bound = 6 * n * lam * np.linalg.norm(np.diff(values)) / (bottoms - tops).min()
    assert np.linalg.norm(means - values) <= bound + 1e-9 * (1 + np.abs(values).max())
    if n == 1 or lam == 1e-10:
        np.testing.assert_allclose(means, values, rtol=1e-6, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(_profiles())
def test_spline_is_continuous_and_its_integral_matches_quadrature(
    profile: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    tops, bottoms, values = profile
    spline = fit_equal_area_spline(tops, bottoms, values, lam=0.1)
    knots = np.concatenate([tops, bottoms])
    eps = 1e-7
    scale = 1 + np.abs(values).max()
    np.testing.assert_allclose(spline(knots - eps), spline(knots + eps), atol=1e-4 * scale)
    # Simpson's rule is exact for quadratics: integrate piece by piece between knots.
    edges = np.unique(np.concatenate([[0.0], knots, [bottoms[-1] + 15.0]]))
    total = 0.0
    for a, c in itertools.pairwise(edges):
        mid = spline(np.array([a + 1e-12, (a + c) / 2, c - 1e-12]))
        total += (c - a) / 6 * (mid[0] + 4 * mid[1] + mid[2])
    assert spline.integral(0.0, float(edges[-1])) == pytest.approx(total, rel=1e-6, abs=1e-6)


def test_constant_profile_gives_a_constant_spline() -> None:
    spline = fit_equal_area_spline([0, 10, 25], [10, 20, 40], [2.0, 2.0, 2.0], lam=0.1)
    np.testing.assert_allclose(spline([0, 5, 15, 22, 30, 60]), 2.0, rtol=1e-12)


# --------------------------------------------------------------- bad input
def _write(tmp_path: Path, text: str) -> pd.DataFrame:
    file = tmp_path / "soil.csv"
    file.write_text(text, encoding="utf-8")
    return read_table(file, text_columns=["core_id"])


_HEADER = "core_id,x,y,depth_top_cm,depth_bottom_cm,bulk_density_g_cm3,soc_pct,method\n"


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        (
            "A,1,2,0,10,1.1,2.0,CHN\nA,1,2,10,30,,1.5,CHN\n",
            r"line 3: core 'A': bulk_density_g_cm3 is empty",
        ),
        (
            "A,1,2,0,10,1.1,2.0,CHN\nB,5,6,30,30,1.0,1.5,CHN\n",
            r"line 3: core 'B': depth_top_cm is not above depth_bottom_cm",
        ),
        (
            "A,1,2,0,10,1.1,2.0,CHN\nA,1,2,5,30,1.0,1.5,CHN\n",
            r"core 'A' has overlapping layers \(lines 2/3\)",
        ),
        (
            "A,1,2,0,10,1.1,2.0,CHN\nC,1,2,0,10,0.2,75,CHN\n",
            r"line 3: core 'C': soc_pct is outside 0–60 %",
        ),
        (
            "A,1,2,0,10,1.1,2.0,XRF\n",
            r"line 2: core 'A': unknown method 'XRF'",
        ),
    ],
    ids=["missing-bd-cell", "top-not-above-bottom", "overlap", "oc-above-60", "unknown-method"],
)
def test_bad_layers_name_core_and_line(tmp_path: Path, rows: str, pattern: str) -> None:
    layers = _write(tmp_path, _HEADER + rows)
    with pytest.raises(InputError, match=pattern) as info:
        core_stocks(layers, path="soil.csv")
    assert "soil.csv" in str(info.value)


def test_missing_bulk_density_column(tmp_path: Path) -> None:
    layers = _write(tmp_path, "core_id,x,y,depth_top_cm,depth_bottom_cm,soc_pct\nA,1,2,0,10,2\n")
    with pytest.raises(InputError, match=r"header \(line 1\): required column 'bulk_density"):
        core_stocks(layers, path="soil.csv")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    layers = _write(tmp_path, _HEADER + "A,1,2,0,10,,2.0,CHN\nB,1,2,10,5,1.0,2.0,CHN\n")
    with pytest.raises(InputError, match="2 problem") as info:
        core_stocks(layers)
    assert "core 'A'" in str(info.value) and "core 'B'" in str(info.value)


def test_bad_options_are_config_errors() -> None:
    layers = core_layers([("A", 0, 30, 1.5, 1.2)])
    with pytest.raises(ConfigError, match="use one of dichromate, van-bemmelen"):
        core_stocks(layers, om_to_oc="loi")
    with pytest.raises(ConfigError, match="spline, linear"):
        core_stocks(layers, interpolation="cubic")
    with pytest.raises(ConfigError, match="positive"):
        core_stocks(layers, depths_cm=(0, 30))
    with pytest.raises(ConfigError, match="repeats"):
        core_stocks(layers, depths_cm=(30, 30.0))
    with pytest.raises(ConfigError, match="spline_lambda"):
        core_stocks(layers, spline_lambda=0.0)


# --------------------------------------------------------------- real data
def test_ccn_snedden_cores(shared_data: Path) -> None:
    layers = read_ccn_cores(shared_data / "soil" / "ccn_snedden_2018")
    stocks = core_stocks(layers, depths_cm=(30, 100))
    assert len(stocks) == 25

    # Independent direct layer sum: OC% × BD × (overlap of the layer with 0–D).
    raw = pd.read_csv(shared_data / "soil/ccn_snedden_2018/Snedden_2018_depthseries.csv")
    raw["core_id"] = raw["core_id"].astype(str)
    for depth in (30, 100):
        overlap = (raw["depth_max"].clip(upper=depth) - raw["depth_min"]).clip(lower=0)
        raw["part"] = raw["fraction_carbon"] * 100 * raw["dry_bulk_density"] * overlap
        direct = raw.groupby("core_id")["part"].sum()
        deepest = raw.groupby("core_id")["depth_max"].max()
        covered = deepest.index[deepest >= depth]
        column = f"soc_0_{depth}_mg_ha"
        np.testing.assert_allclose(stocks.loc[covered, column], direct[covered], rtol=1e-9, atol=0)
        short = deepest.index[deepest < depth]
        assert stocks.loc[short, f"extrapolated_0_{depth}"].all()
        assert not stocks.loc[covered, f"extrapolated_0_{depth}"].any()
        # Extrapolation adds carbon below the deepest layer, never removes it.
        assert (stocks.loc[short, column] > direct[short]).all()
    # The shortest core (287_1) stops at 16 cm; none reaches 100 cm.
    assert list(stocks.index[stocks["extrapolated_0_30"]]) == ["287_1"]
    assert stocks["extrapolated_0_100"].all()


# ---------------------------------------------------------- synthetic survey
@pytest.mark.parametrize("epoch", ["2020", "2025"])
def test_synthetic_cores_match_the_truth(epoch: str) -> None:
    layers = read_table(SAMPLE / f"soil_{epoch}.csv", text_columns=["core_id"])
    stocks = core_stocks(layers, depths_cm=(30, 100), path=f"soil_{epoch}.csv")
    assert np.isfinite(stocks.filter(like="soc_0_").to_numpy()).all()
    assert not stocks["extrapolated_0_30"].any()  # every synthetic core reaches 50 cm

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    x, y = to_utm.transform(stocks["x"].to_numpy(), stocks["y"].to_numpy())
    with xr.open_dataset(SAMPLE / "truth" / f"truth_{epoch}.nc") as truth:
        true = (
            truth["soc_0_30_mg_ha"]
            .sel(x=xr.DataArray(x), y=xr.DataArray(y), method="nearest")
            .to_numpy()
            .astype(np.float64)
        )
    log_ratio = np.log(stocks["soc_0_30_mg_ha"].to_numpy() / true)
    # fieldwork.soil_cores: core = truth × micro-site factors exp(0.08 Z) (OC) and
    # exp(0.04 Z) (BD), times lab errors averaged over three layers (BD 5 %; CHN 3 %,
    # dichromate 6 %): SD of the log ratio ≈ sqrt(0.08² + 0.04² + (0.05² + 0.06²)/3)
    # ≈ 0.10. Every core within 5 SD; the mean within 4 standard errors of 0.
    sd = math.sqrt(0.08**2 + 0.04**2 + (0.05**2 + 0.06**2) / 3)
    assert np.abs(log_ratio).max() < 5 * sd
    assert abs(log_ratio.mean()) < 4 * sd / math.sqrt(log_ratio.size)
