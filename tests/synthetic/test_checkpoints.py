"""The synthetic survey's RTK ground checkpoints (``checkpoints_<epoch>.csv``).

Expected values come from the documented sampling design (12 points per land
class, never water; the true class at the point; ``z`` the true ground,
bilinear in the elevation between cell centres, plus N(0, 0.02²) m RTK noise)
and from hand arithmetic beside each assertion, never from the generator's
output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import xarray as xr

from carbonsink.config import load_survey
from carbonsink.io.writers import write_csv
from carbonsink.synthetic import SurveySummary
from carbonsink.synthetic.fieldwork import checkpoints
from carbonsink.synthetic.landscape import build_landscape
from carbonsink.synthetic.parameters import SCALES
from tests.synthetic.conftest import SEED

EPOCHS = ("2020", "2025")
PER_CLASS = 12
RTK_SD_M = 0.02
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "junshan"


def _read(root: Path, epoch: str) -> pd.DataFrame:
    return pd.read_csv(root / f"checkpoints_{epoch}.csv")


def _legend(ds: xr.Dataset) -> dict[int, str]:
    attrs = ds["class"].attrs
    return dict(
        zip(
            (int(v) for v in attrs["flag_values"]),
            str(attrs["flag_meanings"]).split(),
            strict=True,
        )
    )


def _cell(ds: xr.Dataset, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the truth cell containing each point (cell centres ± 5 m)."""
    xc, yc = ds["x"].to_numpy(), ds["y"].to_numpy()
    half = 0.5 * abs(float(xc[1] - xc[0]))
    col = np.floor((x - (xc[0] - half)) / (2 * half)).astype(int)
    row = np.floor(((yc[0] + half) - y) / (2 * half)).astype(int)
    return row, col


def _bilinear(ds: xr.Dataset, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elevation interpolated bilinearly between the cell centres; NaN off the stencil.

    Written out by hand (no scipy): fractional row/column from the first cell
    centre, the four surrounding centres weighted by the opposite areas. A point
    within half a cell of the grid's outer edge needs centres outside the
    analysis grid (the generator's landscape grid has them, the truth file does
    not), so it gets NaN and the second array is False there.
    """
    xc, yc = ds["x"].to_numpy(), ds["y"].to_numpy()
    step = abs(float(xc[1] - xc[0]))
    elevation = ds["elevation_m"].to_numpy().astype(np.float64)
    height, width = elevation.shape
    r = (yc[0] - y) / step
    c = (x - xc[0]) / step
    ok = (r >= 0) & (r <= height - 1) & (c >= 0) & (c <= width - 1)
    r0 = np.clip(np.floor(r).astype(int), 0, height - 2)
    c0 = np.clip(np.floor(c).astype(int), 0, width - 2)
    t, u = r - r0, c - c0
    z = (
        (1 - t) * (1 - u) * elevation[r0, c0]
        + (1 - t) * u * elevation[r0, c0 + 1]
        + t * (1 - u) * elevation[r0 + 1, c0]
        + t * u * elevation[r0 + 1, c0 + 1]
    )
    return np.where(ok, z, np.nan), ok


def test_twelve_checkpoints_per_land_class_and_none_on_water(root: Path) -> None:
    for epoch in EPOCHS:
        table = _read(root, epoch)
        assert list(table.columns) == ["checkpoint_id", "x", "y", "z", "class"]
        # 12 points per land class with at least 12 cells inside the boundary and the
        # epoch's LiDAR block (truth layers inside_boundary and lidar_coverage), all of a class
        # with fewer; ids CP<epoch>-001 … in order, all distinct.
        ds = xr.open_dataset(root / "truth" / f"truth_{epoch}.nc")
        flown = (ds["inside_boundary"].to_numpy() == 1) & (ds["lidar_coverage"].to_numpy() == 1)
        legend = _legend(ds)
        expected = {
            name: min(PER_CLASS, int((flown & (ds["class"].to_numpy() == code)).sum()))
            for code, name in legend.items()
            if name != "water"
        }
        expected = {name: n for name, n in expected.items() if n > 0}
        assert table["class"].value_counts().to_dict() == expected
        n = sum(expected.values())
        assert sorted(table["checkpoint_id"]) == [f"CP{epoch}-{i:03d}" for i in range(1, n + 1)]
        assert "water" not in set(table["class"])
        # Positions rounded to the mm: x·1000 is an integer (up to float noise).
        for column in ("x", "y", "z"):
            scaled = table[column].to_numpy() * 1000.0
            assert np.allclose(scaled, np.round(scaled), rtol=0.0, atol=1e-6), column


def test_checkpoint_class_is_the_true_class_inside_the_boundary(
    root: Path, truth: dict[str, xr.Dataset], boundary_utm: shapely.Geometry
) -> None:
    for epoch in EPOCHS:
        table = _read(root, epoch)
        ds = truth[epoch]
        legend = _legend(ds)
        x, y = table["x"].to_numpy(), table["y"].to_numpy()
        assert shapely.contains_xy(boundary_utm, x, y).all()
        row, col = _cell(ds, x, y)
        height, width = ds["class"].shape
        assert ((row >= 0) & (row < height) & (col >= 0) & (col < width)).all()
        codes = ds["class"].to_numpy()[row, col]
        assert [legend[int(c)] for c in codes] == table["class"].tolist()
        assert (ds["inside_boundary"].to_numpy()[row, col] == 1).all()
        assert (ds["lidar_coverage"].to_numpy()[row, col] == 1).all()
        # One point per cell.
        assert len(set(zip(row.tolist(), col.tolist(), strict=True))) == len(table)


def test_checkpoint_heights_are_the_true_ground_plus_rtk_noise(
    root: Path, truth: dict[str, xr.Dataset]
) -> None:
    for epoch in EPOCHS:
        table = _read(root, epoch)
        ground, ok = _bilinear(truth[epoch], table["x"].to_numpy(), table["y"].to_numpy())
        # Points on the analysis grid's outer half-cell rim are rare: the rim cells'
        # centres must lie inside the boundary, which hugs the grid only at its extremes.
        assert ok.sum() >= len(table) - 5, epoch
        residual = table["z"].to_numpy()[ok] - ground[ok]
        n = residual.size
        # residual = RTK noise N(0, 0.02²) + z rounding to the mm (SD 0.001/√12 ≈ 0.0003,
        # negligible) + float32 storage of the elevation (~2e-6 m at 30 m, negligible).
        # Mean: SE = 0.02/√n ≤ 0.02/√55 ≈ 0.0027 m; 4 SE ≈ 0.011 m.
        assert abs(residual.mean()) < 4 * RTK_SD_M / np.sqrt(n), epoch
        # SD: SE of a normal sample SD ≈ σ/√(2(n − 1)) ≤ 0.02/√108 ≈ 0.0019 m; 4 SE
        # gives 0.0123 … 0.0277 m.
        sd_se = RTK_SD_M / np.sqrt(2 * (n - 1))
        assert abs(residual.std(ddof=1) - RTK_SD_M) < 4 * sd_se, epoch
        # No point strays beyond 5 σ = 0.1 m (P ≈ 120 × 5.7e-7 over both epochs).
        assert np.abs(residual).max() < 5 * RTK_SD_M, epoch


def test_survey_toml_declares_the_checkpoints(root: Path, survey: SurveySummary) -> None:
    loaded = load_survey(survey.survey_path)
    assert [e.name for e in loaded.epochs] == list(EPOCHS)
    for epoch in loaded.epochs:
        entry = epoch.checkpoints
        assert entry is not None
        assert entry.path == root / f"checkpoints_{epoch.name}.csv"
        assert entry.path.is_file()
        assert entry.crs == "EPSG:32649"
        assert entry.vertical_datum == "the point clouds' (synthetic heights)"
        assert entry.correct is True  # left at its default


def test_same_seed_gives_the_same_checkpoints_as_the_committed_sample(
    root: Path, tmp_path: Path
) -> None:
    # A second, independent run of the same seed (a fresh landscape) writes the same
    # bytes as the survey fixture, and both equal the committed sample's files.
    landscape = build_landscape(SEED, SCALES["small"])
    for epoch in landscape.epochs:
        name = f"checkpoints_{epoch.spec.name}.csv"
        again = write_csv(checkpoints(landscape, epoch), tmp_path / name)
        assert again.read_bytes() == (root / name).read_bytes(), name
        assert (SAMPLE / name).read_bytes() == (root / name).read_bytes(), name


def test_checkpoint_heights_are_bilinear_not_the_cell_value(
    root: Path, truth: dict[str, xr.Dataset]
) -> None:
    # The terrain is smooth at 10 m, so the containing cell's elevation differs from
    # the bilinear surface by only ~1 cm: the residual SD alone cannot tell them
    # apart. Regress the residual r = z − bilinear on d = bilinear − cell value: for
    # z = bilinear + noise the slope is 0 ± SE, SE = σ/√Σ(d − d̄)²; for
    # z = cell value + noise, r = −d + noise and the slope is −1. Decide at −0.5,
    # halfway, with SE small enough that both are ≥ 2.5 SE away (P < 0.007 each).
    residuals, offsets = [], []
    for epoch in EPOCHS:
        table = _read(root, epoch)
        ds = truth[epoch]
        x, y = table["x"].to_numpy(), table["y"].to_numpy()
        ground, ok = _bilinear(ds, x, y)
        row, col = _cell(ds, x, y)
        cell = ds["elevation_m"].to_numpy().astype(np.float64)[row, col]
        residuals.append((table["z"].to_numpy() - ground)[ok])
        offsets.append((ground - cell)[ok])
    r, d = np.concatenate(residuals), np.concatenate(offsets)
    spread = np.sum((d - d.mean()) ** 2)
    slope = np.sum((d - d.mean()) * (r - r.mean())) / spread
    se = RTK_SD_M / np.sqrt(spread)
    assert se < 0.2
    assert abs(slope) < 0.5
