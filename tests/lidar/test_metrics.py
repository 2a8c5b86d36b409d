"""Tests for carbonsink.lidar.metrics: per-cell metrics against numpy, by cell."""

from __future__ import annotations

import math

import numpy as np
import pytest

import carbonsink.lidar
from carbonsink.lidar.metrics import (
    BIOMASS_FEATURES,
    HEIGHT_QUANTUM,
    METRICS,
    MetricsSpec,
    MetricWindow,
    area_metrics,
    metrics_for,
)
from carbonsink.lidar.surfaces import Raster

X0, Y1, CELL, SHAPE = 500.0, 800.0, 10.0, (3, 4)


def _flat_dtm(value: float = 0.0) -> Raster:
    return Raster(np.full((30, 40), value), X0, Y1, 1.0)


@pytest.fixture(scope="module")
def cloud() -> dict[str, np.ndarray]:
    """Returns over 3 × 4 cells of 10 m; cell (2, 3) is empty, cell (0, 0) has 3 returns."""
    rng = np.random.default_rng(0)
    counts = rng.integers(20, 200, SHAPE)
    counts[2, 3] = 0
    counts[0, 0] = 3
    xs, ys = [], []
    for (r, c), n in np.ndenumerate(counts):
        xs.append(X0 + CELL * (c + rng.uniform(0, 1, n)))
        ys.append(Y1 - CELL * (r + rng.uniform(0, 1, n)))
    x, y = np.concatenate(xs), np.concatenate(ys)
    n = x.size
    height = np.where(rng.random(n) < 0.3, rng.normal(0, 0.03, n), rng.gamma(2.0, 3.0, n))
    ground = np.abs(height) < 0.1
    water = rng.random(n) < 0.05
    # Points outside the window are ignored.
    x = np.concatenate([x, [X0 - 1.0, X0 + 41.0]])
    y = np.concatenate([y, [Y1 - 5.0, Y1 - 5.0]])
    height = np.concatenate([height, [50.0, 50.0]])
    ground = np.concatenate([ground, [False, False]])
    water = np.concatenate([water, [False, False]])
    return {"x": x, "y": y, "h": height, "ground": ground, "water": water, "counts": counts}


def _cell_of(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.floor((Y1 - y) / CELL).astype(int), np.floor((x - X0) / CELL).astype(int)


def test_metrics_against_numpy_per_cell(cloud: dict) -> None:
    spec = MetricsSpec()
    out = area_metrics(
        cloud["x"],
        cloud["y"],
        cloud["h"],
        ground=cloud["ground"],
        water=cloud["water"],
        dtm=_flat_dtm(),
        x0=X0,
        y1=Y1,
        cell=CELL,
        shape=SHAPE,
        spec=spec,
    )
    rows, cols = _cell_of(cloud["x"], cloud["y"])
    for r in range(SHAPE[0]):
        for c in range(SHAPE[1]):
            here = (rows == r) & (cols == c)
            h = cloud["h"][here & ~cloud["water"]]
            all_returns = here.sum()
            # Densities per m² of the 100 m² cell; water excluded from returns.
            assert out["return_density"][r, c] == pytest.approx(h.size / 100.0)
            n_ground = (here & cloud["ground"] & ~cloud["water"]).sum()
            assert out["ground_density"][r, c] == pytest.approx(n_ground / 100.0)
            if all_returns:
                wf = (here & cloud["water"]).sum() / all_returns
                assert out["water_fraction"][r, c] == pytest.approx(wf)
            else:
                assert np.isnan(out["water_fraction"][r, c])
            assert out["lidar_coverage"][r, c] == float(all_returns >= spec.min_returns)
            if h.size < spec.min_returns:
                for name in ("h_max", "h_mean", "h_sd", "h_p50", "cover_2m"):
                    assert np.isnan(out[name][r, c]), (name, r, c)
                continue
            assert out["h_max"][r, c] == h.max()
            assert out["h_mean"][r, c] == pytest.approx(h.mean(), rel=1e-9)
            assert out["h_sd"][r, c] == pytest.approx(h.std(ddof=1), rel=1e-6)
            for p in spec.percentiles:
                # Heights are quantised to 1 mm before sorting: each order statistic
                # moves by ≤ 0.5 mm, so a linear interpolation of two moves ≤ 0.5 mm.
                expected = np.percentile(h, p)
                assert abs(out[f"h_p{p}"][r, c] - expected) <= HEIGHT_QUANTUM / 2 + 1e-9
            assert out["cover_0p3m"][r, c] == pytest.approx((h > 0.3).mean())
            assert out["cover_2m"][r, c] == pytest.approx((h > 2.0).mean())


def test_min_returns_masks_height_metrics_but_not_densities(cloud: dict) -> None:
    # Cell (0, 0) has 3 returns (fewer if some are water): with min_returns 3 → its
    # height metrics exist only if none of the 3 is water; with 1 they always exist.
    args = {
        "ground": cloud["ground"],
        "water": np.zeros_like(cloud["water"]),
        "dtm": _flat_dtm(),
        "x0": X0,
        "y1": Y1,
        "cell": CELL,
        "shape": SHAPE,
    }
    strict = area_metrics(cloud["x"], cloud["y"], cloud["h"], **args)  # default 4
    loose = area_metrics(
        cloud["x"], cloud["y"], cloud["h"], spec=MetricsSpec(min_returns=3), **args
    )
    assert np.isnan(strict["h_max"][0, 0]) and strict["lidar_coverage"][0, 0] == 0.0
    assert np.isfinite(loose["h_max"][0, 0]) and loose["lidar_coverage"][0, 0] == 1.0
    assert strict["return_density"][0, 0] == pytest.approx(0.03)  # 3 returns / 100 m²
    assert strict["lidar_coverage"][2, 3] == 0.0 and strict["return_density"][2, 3] == 0.0
    assert np.isnan(strict["dtm_mean"][2, 3])


def test_water_excluded_from_heights_but_counted_in_water_fraction() -> None:
    # One 10 m cell: 4 vegetation returns (1, 2, 3, 4 m) and 6 water returns at 50 m
    # (if they counted, the max would be 50). water_fraction = 6/10.
    x = np.full(10, X0 + 5.0)
    y = np.full(10, Y1 - 5.0)
    h = np.array([1.0, 2.0, 3.0, 4.0] + [50.0] * 6)
    water = np.array([False] * 4 + [True] * 6)
    out = area_metrics(
        x,
        y,
        h,
        ground=np.zeros(10, bool),
        water=water,
        dtm=_flat_dtm(),
        x0=X0,
        y1=Y1,
        cell=CELL,
        shape=(1, 1),
    )
    assert out["h_max"][0, 0] == 4.0
    assert out["h_mean"][0, 0] == 2.5
    # sd (ddof 1) of 1..4 = sqrt(((1.5² + 0.5²)·2)/3) = sqrt(5/3)
    assert out["h_sd"][0, 0] == pytest.approx(math.sqrt(5 / 3))
    # p50 of 1..4 (linear): 2.5; p90: position 0.9·3 = 2.7 → 3 + 0.7 = 3.7
    assert out["h_p50"][0, 0] == pytest.approx(2.5, abs=5e-4)
    assert out["h_p90"][0, 0] == pytest.approx(3.7, abs=5e-4)
    assert out["water_fraction"][0, 0] == pytest.approx(0.6)
    assert out["return_density"][0, 0] == pytest.approx(0.04)
    assert out["cover_2m"][0, 0] == pytest.approx(0.5)  # 3 and 4 m of 4 returns


def test_dtm_mean_and_slope_on_a_plane() -> None:
    # DTM z = 100 + 0.05·(x − X0) on 1 m cells: the mean over a 10 m cell is the plane
    # at the cell centre; the slope is atan(0.05) = 2.862°.
    cx = X0 + np.arange(40) + 0.5
    dtm = Raster(np.tile(100.0 + 0.05 * (cx - X0), (30, 1)), X0, Y1, 1.0)
    x = np.repeat(X0 + 5.0 + CELL * np.arange(4), 5)
    y = np.full(x.size, Y1 - 15.0)
    out = area_metrics(
        x,
        y,
        np.ones(x.size),
        ground=np.zeros(x.size, bool),
        water=np.zeros(x.size, bool),
        dtm=dtm,
        x0=X0,
        y1=Y1,
        cell=CELL,
        shape=SHAPE,
    )
    assert math.degrees(math.atan(0.05)) == pytest.approx(2.862, abs=1e-3)
    np.testing.assert_allclose(out["dtm_slope"][1], math.degrees(math.atan(0.05)), rtol=1e-9)
    np.testing.assert_allclose(out["dtm_mean"][1], 100.0 + 0.05 * (5.0 + CELL * np.arange(4)))
    assert np.isnan(out["dtm_mean"][0]).all()  # no returns: not covered


def test_dtm_not_covering_the_window_is_an_error() -> None:
    small = Raster(np.zeros((5, 5)), X0, Y1, 1.0)
    with pytest.raises(ValueError, match="does not cover"):
        area_metrics(
            np.array([X0 + 1]),
            np.array([Y1 - 1]),
            np.array([1.0]),
            ground=np.zeros(1, bool),
            water=np.zeros(1, bool),
            dtm=small,
            x0=X0,
            y1=Y1,
            cell=CELL,
            shape=SHAPE,
        )


def test_registry_units_and_long_names() -> None:
    for name, metric in METRICS.items():
        assert metric.name == name and metric.units and metric.long_name, name
    assert (METRICS["h_p95"].units, METRICS["h_p95"].long_name) == (
        "m",
        "95th percentile of return heights above ground",
    )
    assert (METRICS["h_max"].units, METRICS["h_max"].long_name) == (
        "m",
        "maximum return height above ground",
    )
    assert METRICS["cover_0p3m"].units == "1"
    assert "0.3m" in METRICS["cover_0p3m"].long_name
    assert METRICS["return_density"].units == "m-2"
    assert METRICS["dtm_slope"].units == "degree"
    assert METRICS["lidar_coverage"].units == "1"
    with pytest.raises(KeyError):
        METRICS["nonsense"]
    with pytest.raises(TypeError):  # read-only
        METRICS["h_new"] = METRICS["h_max"]  # type: ignore[index]


def test_metrics_for_a_custom_spec_follows_its_percentiles_and_thresholds() -> None:
    spec = MetricsSpec(percentiles=(5, 42, 80), cover_thresholds=(0.5, 10.0))
    registry = metrics_for(spec)
    assert list(registry) == [
        "h_max",
        "h_mean",
        "h_sd",
        "h_p5",
        "h_p42",
        "h_p80",
        "cover_0p5m",
        "cover_10m",
        "return_density",
        "ground_density",
        "water_fraction",
        "terrain_unsupported",
        "lidar_coverage",
        "dtm_mean",
        "dtm_slope",
    ]
    assert registry["h_p42"].long_name == "42nd percentile of return heights above ground"
    assert registry["cover_0p5m"].units == "1" and "0.5m" in registry["cover_0p5m"].long_name
    assert registry["cover_10m"].long_name == "fraction of returns higher than 10m"


def test_biomass_features_are_the_eight_lidar_features() -> None:
    assert BIOMASS_FEATURES == (
        "h_max",
        "h_mean",
        "h_sd",
        "h_p50",
        "h_p90",
        "h_p95",
        "cover_0p3m",
        "cover_2m",
    )
    assert carbonsink.lidar.BIOMASS_FEATURES is BIOMASS_FEATURES
    assert "BIOMASS_FEATURES" in carbonsink.lidar.__all__
    assert all(METRICS[name].biomass_feature for name in BIOMASS_FEATURES)


@pytest.mark.parametrize(
    "spec", [MetricsSpec(), MetricsSpec(percentiles=(1, 33), cover_thresholds=(1.5,))]
)
def test_area_metrics_returns_exactly_the_registry(cloud: dict, spec: MetricsSpec) -> None:
    out = area_metrics(
        cloud["x"],
        cloud["y"],
        cloud["h"],
        ground=cloud["ground"],
        water=cloud["water"],
        dtm=_flat_dtm(),
        x0=X0,
        y1=Y1,
        cell=CELL,
        shape=SHAPE,
        spec=spec,
    )
    assert list(out) == list(metrics_for(spec))


def test_registry_functions_on_a_tiny_window() -> None:
    # Two 10 m cells in a row. Cell 0: heights 0, 1, 3, 6 m (0 m is a ground return)
    # and one water return at 20 m; cell 1: 2 returns at 5 m (< min_returns 4).
    x = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 15.0, 15.0]) + X0
    y = np.full(7, Y1 - 5.0)
    h = np.array([0.0, 1.0, 3.0, 6.0, 20.0, 5.0, 5.0])
    ground = np.array([True, False, False, False, False, False, False])
    water = np.array([False, False, False, False, True, False, False])
    window = MetricWindow.from_returns(
        x,
        y,
        h,
        ground=ground,
        water=water,
        dtm=_flat_dtm(),
        x0=X0,
        y1=Y1,
        cell=CELL,
        shape=(1, 2),
        spec=MetricsSpec(),
    )
    # h_p25 of 0, 1, 3, 6: rank r = 0.25·(4 − 1) = 0.75 → 0 + 0.75·(1 − 0) = 0.75 m
    p25 = METRICS["h_p25"].compute(window)
    assert p25.shape == (1, 2)
    assert p25[0, 0] == pytest.approx(0.75, abs=HEIGHT_QUANTUM)
    assert np.isnan(p25[0, 1])  # 2 returns < 4
    # mean 10/4 = 2.5; squared deviations 6.25 + 2.25 + 0.25 + 12.25 = 21; 21/3 = 7
    assert METRICS["h_sd"].compute(window)[0, 0] == pytest.approx(math.sqrt(7.0))
    # heights > 2 m: 3 and 6 of 4 non-water returns (the 20 m water return is out)
    assert METRICS["cover_2m"].compute(window)[0, 0] == pytest.approx(0.5)
    # water_fraction: 1 of 5 returns, then 0 of 2; ground density 1 / 100 m², then 0
    np.testing.assert_allclose(METRICS["water_fraction"].compute(window), [[0.2, 0.0]])
    np.testing.assert_allclose(METRICS["ground_density"].compute(window), [[0.01, 0.0]])
    # No canopy floor given: 0 of 1 ground-or-floor returns in cell 0; none in cell 1.
    np.testing.assert_array_equal(METRICS["terrain_unsupported"].compute(window), [[0.0, np.nan]])


def test_terrain_unsupported_by_hand() -> None:
    # Three 10 m cells. Cell 0: 1 ground and 3 floor returns → 3 / 4 = 0.75; cell 1:
    # 2 floor returns, no ground (the middle of a closed bed) → 1; cell 2: 2 ground → 0.
    x = X0 + np.array([5.0, 5.0, 5.0, 5.0, 15.0, 15.0, 25.0, 25.0])
    y = np.full(8, Y1 - 5.0)
    ground = np.array([True, False, False, False, False, False, True, True])
    floor = np.array([False, True, True, True, True, True, False, False])
    window = MetricWindow.from_returns(
        x, y, np.zeros(8), ground=ground, water=np.zeros(8, bool), dtm=_flat_dtm(),
        x0=X0, y1=Y1, cell=CELL, shape=(1, 3), spec=MetricsSpec(), floor=floor,
    )  # fmt: skip
    np.testing.assert_allclose(METRICS["terrain_unsupported"].compute(window), [[0.75, 1.0, 0.0]])


def test_heights_are_sorted_once_per_window(cloud: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_sort = np.sort

    def counting_sort(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return real_sort(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(np, "sort", counting_sort)
    out = area_metrics(
        cloud["x"],
        cloud["y"],
        cloud["h"],
        ground=cloud["ground"],
        water=cloud["water"],
        dtm=_flat_dtm(),
        x0=X0,
        y1=Y1,
        cell=CELL,
        shape=SHAPE,
    )
    assert sum(name.startswith("h_p") for name in out) == 7
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("span_m", "key_dtype"),
    [
        # 1,000,000 cells need 20 bits. A 1 m span of heights is 1,000 quanta of 1 mm
        # (10 bits): 30 bits, one 32-bit key. A 6 m span is 6,000 quanta (13 bits): 33
        # bits, so the key is 64 bits wide.
        (1.0, np.uint32),
        (6.0, np.int64),
    ],
)
def test_sorted_heights_are_each_cells_quantised_heights_in_order(
    span_m: float, key_dtype: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    shape = (1000, 1000)
    cells = np.array([0, 1, 999, 500_500, 999_999])  # first, second, row end, middle, last
    n = 40
    cell = np.repeat(cells, n)
    x = X0 + CELL * (cell % shape[1] + rng.uniform(0.1, 0.9, cell.size))
    y = Y1 - CELL * (cell // shape[1] + rng.uniform(0.1, 0.9, cell.size))
    h = rng.uniform(-0.5, -0.5 + span_m, cell.size)
    h[0], h[1] = -0.5, -0.5 + span_m  # the span's ends are in the data
    dtypes = []
    real_sort = np.sort

    def recording_sort(a: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        dtypes.append(a.dtype)
        return real_sort(a, *args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(np, "sort", recording_sort)
    none = np.zeros(cell.size, dtype=bool)
    window = MetricWindow.from_returns(
        x, y, h, ground=none, water=none, dtm=_flat_dtm(),
        x0=X0, y1=Y1, cell=CELL, shape=shape, spec=MetricsSpec(),
    )  # fmt: skip
    got = window.sorted_heights
    assert dtypes == [np.dtype(key_dtype)]
    # Each cell's heights on the 1 mm lattice of −100 m + k mm, ascending, cell by cell.
    quanta = np.rint((h + 100.0) / HEIGHT_QUANTUM)
    expected = np.concatenate([np.sort(quanta[cell == c]) * HEIGHT_QUANTUM - 100.0 for c in cells])
    np.testing.assert_array_equal(got, expected)
    starts = window.first_of_cell[cells]
    np.testing.assert_array_equal(starts, np.arange(len(cells)) * n)
