"""Tests for carbonsink.lidar.water: water as a level, dark surface, open or under reed.

Constructed scenes have their answer by construction (each scene's docstring);
the real clouds are PDAL's test data (../shared/data/SOURCES.md), none of which
holds open water.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from carbonsink.io.pointclouds import read_points
from carbonsink.lidar.ground import smrf
from carbonsink.lidar.water import (
    WaterEvidence,
    WaterParameters,
    WaterReference,
    detect_water,
    land_reference_density,
    land_reference_intensity,
)

LIDAR = Path("lidar")
LEVEL = 10.0


def _lake(
    *,
    water_factor: float,
    water_intensity: tuple[float, float] = (5.0, 20.0),
    reed_width: float = 0.0,
    with_intensity: bool = True,
    seed: int = 2,
) -> dict[str, np.ndarray]:
    """A lake (x < 100 m) beside a shore that rises 2 % inland; 200 m × 120 m.

    Land: 8 returns/m², z = 10.3 + 0.02 (x − x_shore) plus vegetation 0.2–1.5 m
    high on half the returns, intensity U(80, 160). Water: ``water_factor`` ×
    8 returns/m² at z = 10 m ± 8 mm (normal), intensity U(``water_intensity``).
    Optional flooded reed bed between x = 100 and 100 + ``reed_width``: 8 pulses/m²,
    each returning from the canopy (z = 10 + U(1, 3) m, intensity U(60, 120)) and,
    for 40 % of them, from the water beneath (10 m ± 8 mm, dark). ``kind``: 0 land
    ground, 1 vegetation, 2 water.
    """
    rng = np.random.default_rng(seed)
    shore = 100.0 + reed_width
    n_land = int((200.0 - shore) * 120 * 8)
    lx, ly = rng.uniform(shore, 200.0, n_land), rng.uniform(0, 120, n_land)
    lveg = rng.random(n_land) < 0.5
    lz = 10.3 + 0.02 * (lx - shore) + np.where(lveg, rng.uniform(0.2, 1.5, n_land), 0.0)
    n_water = int(100 * 120 * 8 * water_factor)
    wx, wy = rng.uniform(0, 100, n_water), rng.uniform(0, 120, n_water)
    wz = LEVEL + rng.normal(0.0, 0.008, n_water)
    parts = [
        (lx, ly, lz, np.where(lveg, 1, 0), rng.uniform(80, 160, n_land)),
        (wx, wy, wz, np.full(n_water, 2), rng.uniform(*water_intensity, n_water)),
    ]
    if reed_width > 0:
        n_reed = int(reed_width * 120 * 8)
        rx, ry = rng.uniform(100, shore, n_reed), rng.uniform(0, 120, n_reed)
        parts.append((rx, ry, LEVEL + rng.uniform(1, 3, n_reed), np.ones(n_reed, int),
                      rng.uniform(60, 120, n_reed)))  # fmt: skip
        under = rng.random(n_reed) < 0.4
        m = int(under.sum())
        parts.append((rx[under], ry[under], LEVEL + rng.normal(0.0, 0.008, m),
                      np.full(m, 2), rng.uniform(*water_intensity, m)))  # fmt: skip
    x, y, z, kind, intensity = (np.concatenate(column) for column in zip(*parts, strict=True))
    if not with_intensity:
        intensity = np.zeros_like(intensity)
    return {"x": x, "y": y, "z": z, "kind": kind, "intensity": intensity.astype(np.uint16)}


def _detect(s: dict[str, np.ndarray], **kwargs: object) -> np.ndarray:
    return detect_water(s["x"], s["y"], s["z"], intensity=s["intensity"], **kwargs)  # type: ignore[arg-type]


def test_land_reference_intensity_by_hand() -> None:
    # 90 returns of intensity 10 and 10 of 200: the 90th percentile is the first
    # intensity whose cumulative count reaches 0.9 × 100 = 90, i.e. 10.
    histogram = np.zeros(256, dtype=np.int64)
    histogram[10], histogram[200] = 90, 10
    assert land_reference_intensity(histogram) == 10.0
    histogram[10] = 89  # now 89 of 99: 0.9 × 99 = 89.1 is first reached at 200
    assert land_reference_intensity(histogram) == 200.0
    assert land_reference_intensity(np.array([5, 0, 0])) is None  # no intensities


def test_reach_covers_every_step() -> None:
    # Window 20 m of 2 m cells → 11 cells (odd), half 5; k = ⌈6 m / 2 m⌉ = 3; band
    # ⌈10 m / 2 m⌉ = 5. Shore band's level lookup ⌈(5 + 3)√2⌉ = 12 cells, growth near
    # shores ⌈5√2⌉ = 8, opening k − 1 = 2, closing 2, window 5, smooth 1: 30 cells = 60 m.
    params = WaterParameters()
    assert params.window_cells() == 11
    assert params.reach_m() == pytest.approx(60.0)
    # A 9 m band is 5 cells too (whole cells, rounded up): the same reach.
    assert replace(params, shore_band=9.0).reach_m() == pytest.approx(60.0)


@pytest.mark.parametrize("factor", [0.1, 0.8])
def test_a_level_dark_lake_is_water_sparse_or_dense(factor: float) -> None:
    s = _lake(water_factor=factor)
    found = _detect(s)
    water = s["kind"] == 2
    recall = found[water].mean()
    print(f"lake at {factor} × the land density: water recall {recall:.4f}")
    # Every water return lies within 4 cm (5 SD of its 8 mm noise) of the level and
    # within 10 m (shore_band) of a water cell, or in a level dark cell itself.
    assert recall >= 0.999
    assert not found[~water].any()


def test_a_level_bright_surface_is_not_water() -> None:
    # A dense level surface with land's intensity: a sports field or a car park.
    s = _lake(water_factor=0.8, water_intensity=(90.0, 150.0))
    assert not _detect(s).any()


def test_without_intensities_only_sparse_water_is_found() -> None:
    dense = _lake(water_factor=0.8, with_intensity=False)
    assert not _detect(dense).any()
    sparse = _lake(water_factor=0.1, with_intensity=False)
    found = _detect(sparse)
    assert found[sparse["kind"] == 2].mean() >= 0.95
    assert not found[sparse["kind"] != 2].any()


def test_an_intensity_of_zero_is_not_dark() -> None:
    # A survey whose other files record intensities (land P90 150) and a tile of a file
    # that records none: its dense level lake is not dark (0 = not recorded), so only
    # the sparse cue could find it — and it is dense.
    s = _lake(water_factor=0.8, with_intensity=False)
    reference = WaterReference(density=8.0, intensity=150.0)
    assert not _detect(s, reference=reference).any()


def _mud(slope: float, relief_sd: float, seed: int = 4) -> dict[str, np.ndarray]:
    """A dark, dense mudflat (120 m × 120 m, 8 returns/m², intensity U(5, 20)).

    z = 10 + ``slope`` × x + microrelief: a Gaussian field of SD ``relief_sd``
    and correlation ~2 m (white noise on 0.5 m cells smoothed by a Gaussian of
    σ = 4 cells, rescaled), plus 1 cm of return noise.
    """
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(240, 240)), 4.0)
    field *= relief_sd / field.std()
    n = 120 * 120 * 8
    x, y = rng.uniform(0, 120, n), rng.uniform(0, 120, n)
    relief = field[(y / 0.5).astype(int), (x / 0.5).astype(int)]
    z = LEVEL + slope * x + relief + rng.normal(0, 0.01, n)
    return {"x": x, "y": y, "z": z, "intensity": rng.uniform(5, 20, n).astype(np.uint16)}


@pytest.mark.parametrize(
    ("slope", "relief_sd"),
    [(0.0, 0.03), (0.003, 0.0)],
    ids=["ripples-3cm", "slope-3-per-mille"],
)
def test_a_dark_mudflat_that_is_not_level_is_not_water(slope: float, relief_sd: float) -> None:
    # The land reference comes from a survey whose land is brighter (P90 150): the
    # mud is dark enough; it fails on geometry alone — a plane's RMS of 3 cm is
    # twice the 1.5 cm bound, a 3 ‰ slope three times the 1 ‰ bound.
    s = _mud(slope, relief_sd)
    reference = WaterReference(density=8.0, intensity=150.0)
    found = detect_water(s["x"], s["y"], s["z"], intensity=s["intensity"], reference=reference)
    print(f"mudflat slope {slope}, relief {relief_sd}: {found.mean():.4f} flagged")
    assert found.mean() < 0.01


def test_a_dark_flat_roof_is_not_water() -> None:
    # A 16 m × 16 m dark flat roof 3 m above bright sloping land: level and dark, but
    # its 20 m windows reach the lower ground around it ("nothing lies below").
    rng = np.random.default_rng(5)
    n = 80 * 80 * 8
    x, y = rng.uniform(0, 80, n), rng.uniform(0, 80, n)
    roof = (np.abs(x - 40) < 8) & (np.abs(y - 40) < 8)
    z = np.where(roof, 13.0 + rng.normal(0, 0.005, n), 10.0 + 0.01 * x + rng.normal(0, 0.02, n))
    intensity = np.where(roof, rng.uniform(5, 20, n), rng.uniform(80, 160, n)).astype(np.uint16)
    assert not detect_water(x, y, z, intensity=intensity).any()


@pytest.fixture(scope="module")
def flooded_reed() -> dict[str, np.ndarray]:
    return _lake(water_factor=0.8, reed_width=60.0)


def test_water_under_flooded_reed_is_water_and_never_ground(flooded_reed: dict) -> None:
    s = flooded_reed
    found = _detect(s)
    under = (s["kind"] == 2) & (s["x"] >= 100)
    canopy = (s["kind"] == 1) & (s["x"] < 160)
    print(f"flooded reed: water under the canopy {found[under].mean():.4f} found")
    # The reed's lowest returns are dark and form a level floor over the whole 60 m
    # bed: every one of them is water — except in the corners where the bed meets the
    # land at the cloud's edge, whose 22 m windows hold too few cells (< 60 %).
    assert found[under].mean() >= 0.998
    inner = under & (s["y"] >= 10) & (s["y"] < 110)
    assert found[inner].all()
    assert not found[canopy].any()
    assert not found[s["kind"] == 0].any()
    ground = smrf(s["x"], s["y"], s["z"], eligible=~found).ground
    assert not ground[s["kind"] == 2].any()


def _flooded_shore(seed: int = 6) -> dict[str, np.ndarray]:
    """Reed flooded to 10.21 m on land rising 2 % through the water level; 160 m × 80 m.

    Terrain z = 10 + 0.02 (x − 100): under water (level 10.21 m) for x < 110.5 m.
    Reed over the whole scene: 8 pulses/m², each a canopy return (z = terrain or
    level + U(1, 3) m, intensity U(60, 120)) and, for 40 % of them, a return from
    beneath — water at the level ± 8 mm, intensity U(5, 20), where the terrain
    is below it; else ground, bright U(80, 160). A 2 m cell across the waterline
    holds water and ground on the same level within 4 cm: its floor is mostly
    bright (the cell of x 110-112 m: a quarter water), so only its dark returns
    say which is which.
    """
    rng = np.random.default_rng(seed)
    level = LEVEL + 0.21
    n = 160 * 80 * 8
    x, y = rng.uniform(40, 200, n), rng.uniform(0, 80, n)
    terrain = LEVEL + 0.02 * (x - 100.0)
    wet = terrain < level
    surface = np.where(wet, level, terrain)
    canopy = (surface + rng.uniform(1, 3, n), np.ones(n, int), rng.uniform(60, 120, n))
    under = rng.random(n) < 0.4
    m = int(under.sum())
    bottom_z = np.where(wet[under], level + rng.normal(0, 0.008, m), terrain[under])
    bottom_kind = np.where(wet[under], 2, 0)
    bottom_i = np.where(wet[under], rng.uniform(5, 20, m), rng.uniform(80, 160, m))
    return {
        "x": np.concatenate([x, x[under]]),
        "y": np.concatenate([y, y[under]]),
        "z": np.concatenate([canopy[0], bottom_z]),
        "kind": np.concatenate([canopy[1], bottom_kind]),
        "intensity": np.concatenate([canopy[2], bottom_i]).astype(np.uint16),
    }


def test_the_waterline_of_a_flooded_bed_is_water_up_to_the_shore() -> None:
    s = _flooded_shore()
    found = _detect(s)
    water, land = s["kind"] == 2, s["kind"] == 0
    # The 2 m cells across the waterline (x 110-112 m) hold both; without step 5's
    # return-level waterline their water became ground.
    edge = water & (s["x"] >= 110)
    assert edge.sum() > 50
    assert found[water].all()
    assert not found[land].any()
    # Dark returns added in the waterline's cells (x 110-112 m) above the water: 5 cm
    # above it they are the surface (the window reaches 2 × 4 cm above the plane of the
    # lowest returns, which lies ~1 cm under the surface), 12 cm above it they are not.
    rng = np.random.default_rng(7)
    n = 400
    extra_x, extra_y = rng.uniform(110, 112, n), rng.uniform(10, 70, n)
    for above, water_expected in ((0.05, True), (0.12, False)):
        mixed = {
            "x": np.concatenate([s["x"], extra_x]),
            "y": np.concatenate([s["y"], extra_y]),
            "z": np.concatenate([s["z"], np.full(n, LEVEL + 0.21 + above)]),
            "intensity": np.concatenate([s["intensity"], np.full(n, 10, dtype=np.uint16)]),
        }
        assert (_detect(mixed)[-n:] == water_expected).all(), above
    assert not found[s["kind"] == 1].any()
    ground = smrf(s["x"], s["y"], s["z"], eligible=~found).ground
    assert not ground[water].any()


def _core_labels(
    s: dict[str, np.ndarray], core: tuple[float, float, float, float], halo: float
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of the points in ``core`` (x0, y0, x1, y1) from a tile with ``halo``, and whole."""
    x, y = s["x"], s["y"]
    x0, y0, x1, y1 = core
    inside = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
    window = (x >= x0 - halo) & (x < x1 + halo) & (y >= y0 - halo) & (y < y1 + halo)
    reference = WaterReference(
        density=land_reference_density(np.array([[64]]), 4.0),  # 16 returns/m²
        intensity=land_reference_intensity(np.bincount(s["intensity"])),
    )
    whole = _detect(s, reference=reference)
    part = _detect({k: v[window] for k, v in s.items()}, reference=reference)
    return part[inside[window]], whole[inside]


def test_a_tile_with_the_reach_as_halo_labels_its_core_as_the_whole_run(
    flooded_reed: dict,
) -> None:
    # A core cut on all four sides, through the lake, its edge and the flooded reed.
    reach = WaterParameters().reach_m()
    tiled, whole = _core_labels(flooded_reed, (80, 40, 140, 80), reach)
    np.testing.assert_array_equal(tiled, whole)
    # A core holding a 4 m sliver of a sparse lake (x 96-100 m) seen without
    # intensities: with the reach as halo the sliver is the lake's edge (water); with
    # no halo it is narrower than min_width (6 m) and opened away — the comparison
    # can fail.
    pond = _lake(water_factor=0.1, with_intensity=False)
    core = (96.0, 40.0, 130.0, 80.0)  # the lake ends at x = 100 m: a 4 m sliver
    tiled, whole = _core_labels(pond, core, reach)
    np.testing.assert_array_equal(tiled, whole)
    assert whole.any()
    tiled, whole = _core_labels(pond, core, 0.0)
    assert not np.array_equal(tiled, whole)


def test_the_land_intensity_ignores_returns_without_one() -> None:
    # 95 % of the returns record no intensity (0), 5 % record 10 (dark) or 200: the
    # reference is the 90th percentile of the recorded ones — 200 when 10 % of them are
    # bright and 90 % dark would make it 10, so give 20 % bright: P90 = 200.
    histogram = np.zeros(256, dtype=np.int64)
    histogram[0], histogram[10], histogram[200] = 9500, 400, 100
    assert land_reference_intensity(histogram) == 200.0


def test_narrow_level_bodies_are_dropped() -> None:
    s = _lake(water_factor=0.8)
    # The lake is 100 m wide; opened with a 150 m square nothing of it survives.
    assert not _detect(s, params=replace(WaterParameters(), min_width=150.0)).any()


# ------------------------------------------------ the sparse cue, as before
def _pond_scene(
    *, water_density_factor: float, land_width: float = 320.0, seed: int = 2
) -> dict[str, np.ndarray]:
    """A 240 m × 240 m flat pond (z = 10 ± 5 mm) beside rough land, no intensities.

    The scene is (240 + ``land_width``) m × 280 m: the pond spans x, y = 20 … 260
    (edges on the 2 m analysis cells), land is everywhere else. Land: 16 points/m²,
    z = 10.5 + 0.01·x plus vegetation 0.2–1.5 m high on half the returns. Pond:
    ``water_density_factor`` × 16 points/m².
    """
    rng = np.random.default_rng(seed)
    width = 240.0 + land_width
    n_land = int(width * 280 * 16)
    x = rng.uniform(0, width, n_land)
    y = rng.uniform(0, 280, n_land)
    pond = (x >= 20) & (x < 260) & (y >= 20) & (y < 260)
    x, y = x[~pond], y[~pond]
    z = 10.5 + 0.01 * x + np.where(rng.random(x.size) < 0.5, rng.uniform(0.2, 1.5, x.size), 0.0)
    n_water = int(240 * 240 * 16 * water_density_factor)
    wx = rng.uniform(20, 260, n_water)
    wy = rng.uniform(20, 260, n_water)
    wz = 10.0 + rng.uniform(-0.005, 0.005, n_water)
    return {
        "x": np.concatenate([x, wx]),
        "y": np.concatenate([y, wy]),
        "z": np.concatenate([z, wz]),
        "water": np.concatenate([np.zeros(x.size, bool), np.ones(n_water, bool)]),
    }


@pytest.fixture(scope="module")
def sparse_pond() -> dict[str, np.ndarray]:
    return _pond_scene(water_density_factor=0.1)


def test_detect_water_finds_a_flat_sparse_pond_and_no_land(sparse_pond: dict) -> None:
    s = sparse_pond
    found = detect_water(s["x"], s["y"], s["z"])
    recall = found[s["water"]].mean()
    print(f"pond: water recall {recall:.4f}, land points flagged {found[~s['water']].sum()}")
    # Land covers 560 × 280 − 240² = 99,200 m² (24,800 cells of 2 m) and the pond
    # 57,600 m² (14,400 cells); the land reference is the 90th percentile of the
    # occupied cells' counts, a land cell's Poisson(64) (16 /m² × 4 m²) upper
    # quantile ≈ 74, and "sparse" means ≤ 0.25 × 74 ≈ 18 returns. Expected misses,
    # by construction: the 2 m cells on the shore see the rough land in their 3×3
    # neighbourhood: (240² − 236²)/240² = 3.3 % of the pond, of which the returns
    # within blind_shore_band (4 m) and 4 cm of the level are taken back; a water
    # cell holds Poisson(6.4) returns (1.6 /m² × 4 m²): P(N > 18) ≈ 0. So recall is
    # ≥ 0.967; the target is ≥ 0.95.
    assert recall >= 0.95
    inner = s["water"] & (s["x"] >= 22) & (s["x"] < 258) & (s["y"] >= 22) & (s["y"] < 258)
    assert found[inner].mean() >= 0.985
    assert not found[~s["water"]].any()


def test_detect_water_when_water_covers_most_of_the_cloud() -> None:
    # A tile of a lake-side wetland can be mostly water. Here the pond (57,600 m²)
    # covers 70 % of the scene (land_width 40 m: 280 × 280 − 240² = 20,800 m² land).
    # Water returns are still sparse (0.1 × the land density) and flat, so they are
    # water by the physical criterion (Höfle et al. 2009); the density reference
    # must come from the land, not from the median of all occupied cells.
    s = _pond_scene(water_density_factor=0.1, land_width=40.0)
    found = detect_water(s["x"], s["y"], s["z"])
    recall = found[s["water"]].mean()
    print(f"lake-dominated scene: water recall {recall:.4f}")
    assert recall >= 0.9


def test_detect_water_small_inputs() -> None:
    assert detect_water(np.zeros(0), np.zeros(0), np.zeros(0)).shape == (0,)
    x = np.array([0.0, 1.0, 2.0])
    assert not detect_water(x, x, x).any()


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "target", "override", "kappa"),
    [
        ("PDAL_4_6_crop.las", "EPSG:26913", None, 0.952),
        ("PDAL_warsaw_small.las", "EPSG:2180", "EPSG:2180", 0.806),
        ("PDAL_hexbin-crop.las", "EPSG:32642", None, 0.610),
    ],
)
def test_real_clouds_without_water_keep_their_ground_kappa(
    shared_data: Path, name: str, target: str, override: str | None, kappa: float
) -> None:
    """Water detection before SMRF flags none of these clouds and leaves kappa as it was.

    The kappas are SMRF's alone against the files' class 2 (tests/lidar/test_ground.py),
    rounded down to three decimals: urban and mountain terrain without open water.
    """
    points = read_points(shared_data / LIDAR / name, target_crs=target, crs=override)
    water = detect_water(points.x, points.y, points.z, intensity=points.intensity)
    ground = smrf(points.x, points.y, points.z, eligible=~water).ground
    reference = points.classification == 2
    agree = float(np.mean(ground == reference))
    chance = ground.mean() * reference.mean() + (1 - ground.mean()) * (1 - reference.mean())
    measured = (agree - chance) / (1 - chance)
    print(f"{name}: water {water.sum()} of {water.size}, kappa {measured:.3f}")
    assert water.mean() <= 0.001
    assert measured >= kappa


# Evidence the survey gives: water polygons, the imagery's water mask -------------------


def _evidence(x_max: float, y_max: float = 120.0, cell: float = 10.0) -> WaterEvidence:
    """Known water over x < ``x_max``, y < ``y_max`` (of a grid from (0, 0) to (200, 120))."""
    rows, cols = round(120 / cell), round(200 / cell)
    ys = 120 - (np.arange(rows) + 0.5) * cell
    xs = (np.arange(cols) + 0.5) * cell
    mask = (xs[None, :] < x_max) & (ys[:, None] < y_max)
    return WaterEvidence(mask=mask, x0=0.0, y1=120.0, cell=cell, sources=("polygons",))


def test_evidence_at_by_hand() -> None:
    # A 2 × 3 mask of 10 m cells from x 100 (west) and y 50 (north): (105, 45) is row 0,
    # col 0; (125, 35) row 1, col 2; (95, 45) west of it and (130, 45) east: off the grid.
    mask = np.array([[True, False, False], [False, False, True]])
    evidence = WaterEvidence(mask=mask, x0=100.0, y1=50.0, cell=10.0)
    x = np.array([105.0, 125.0, 115.0, 95.0, 130.0, 105.0])
    y = np.array([45.0, 35.0, 45.0, 45.0, 45.0, 25.0])
    np.testing.assert_array_equal(evidence.at(x, y), [True, True, False, False, False, False])


def test_a_bright_level_lake_inside_the_evidence_is_water() -> None:
    # Turbid water as bright as land: not dark, so not water on its own (as in
    # test_a_level_bright_surface_is_not_water); inside the water polygons it is.
    s = _lake(water_factor=0.8, water_intensity=(90.0, 150.0))
    reference = WaterReference(density=8.0, intensity=150.0)
    assert not _detect(s, reference=reference).any()
    found = _detect(s, reference=replace(reference, evidence=_evidence(100.0)))
    water = s["kind"] == 2
    assert found[water].mean() >= 0.999
    assert not found[~water].any()


def test_evidence_replaces_darkness_not_the_level_test() -> None:
    # A cloud without intensities: its dense lake is found only where the evidence
    # knows water (y < 60 m), and up to the blind shore band (4 m = 2 cells) beyond
    # the last water cell; land (the sloping shore) is never water.
    s = _lake(water_factor=0.8, with_intensity=False)
    reference = WaterReference(density=8.0, intensity=None, evidence=_evidence(100.0, 60.0))
    found = _detect(s, reference=reference)
    water = s["kind"] == 2
    assert found[water & (s["y"] < 58)].mean() >= 0.999
    assert not found[s["y"] >= 66].any()
    assert not found[~water].any()
    # A dark mudflat with 3 cm ripples inside the evidence: not level, not water.
    mud = _mud(0.0, 0.03)
    everywhere = WaterEvidence(mask=np.ones((12, 12), bool), x0=0.0, y1=120.0, cell=10.0)
    known = WaterReference(density=8.0, intensity=150.0, evidence=everywhere)
    found = detect_water(mud["x"], mud["y"], mud["z"], intensity=mud["intensity"], reference=known)
    assert found.mean() < 0.01


def test_water_under_reed_inside_the_evidence_without_intensities() -> None:
    # The flooded reed bed (x 100–160 m) of a cloud that records no intensity: its
    # lowest returns form a level floor inside the evidence (x < 160 m), so they are
    # water — never the canopy above them nor the land beyond.
    s = _lake(water_factor=0.8, reed_width=60.0, with_intensity=False)
    reference = WaterReference(density=8.0, intensity=None, evidence=_evidence(160.0))
    found = _detect(s, reference=reference)
    under = (s["kind"] == 2) & (s["x"] >= 100)
    inner = under & (s["y"] >= 10) & (s["y"] < 110)
    assert found[inner].all()
    assert not found[s["kind"] == 1].any()
    assert not found[s["kind"] == 0].any()


def test_a_tile_labels_its_core_as_the_whole_run_with_evidence() -> None:
    # The evidence is sampled at each return's coordinates: a tile with the reach as
    # halo labels its core as the whole run, here a core across the evidence's edge.
    s = _lake(water_factor=0.8, reed_width=60.0, with_intensity=False)
    reference = WaterReference(density=8.0, intensity=None, evidence=_evidence(130.0, 80.0))
    reach = WaterParameters().reach_m()
    x0, y0, x1, y1 = 80.0, 40.0, 140.0, 100.0
    inside = (s["x"] >= x0) & (s["x"] < x1) & (s["y"] >= y0) & (s["y"] < y1)
    window = (
        (s["x"] >= x0 - reach)
        & (s["x"] < x1 + reach)
        & (s["y"] >= y0 - reach)
        & (s["y"] < y1 + reach)
    )
    whole = _detect(s, reference=reference)
    part = _detect({k: v[window] for k, v in s.items()}, reference=reference)
    np.testing.assert_array_equal(part[inside[window]], whole[inside])
    assert whole[inside].any() and not whole[inside].all()
