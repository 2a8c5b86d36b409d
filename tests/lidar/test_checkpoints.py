"""The DTM against surveyed ground points, and the per-class bias removed (methodology §8.8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.lidar.checkpoints import (
    MIN_CLASS_POINTS,
    check_dtm,
    correct_metrics,
    height_metrics,
    raster_of,
)
from carbonsink.lidar.surfaces import Raster


def _plane() -> Raster:
    # A 20 × 30 DTM of 1 m cells, west edge x = 500, north edge y = 1000, rising 0.1 m per
    # column eastwards: DTM(x, y) = 10 + 0.1 × (x − 500.5), exact under bilinear interpolation.
    cols = np.arange(30, dtype=np.float64)
    return Raster(values=np.tile(10.0 + 0.1 * cols, (20, 1)), x0=500.0, y1=1000.0, cell=1.0)


def _points() -> pd.DataFrame:
    x = np.array([503.2, 507.5, 511.0, 515.7, 519.9, 524.4, 505.0, 510.0, 520.0, 700.0])
    y = np.array([990.5, 985.0, 995.2, 982.3, 988.8, 991.1, 984.0, 986.0, 993.0, 990.0])
    dtm = 10.0 + 0.1 * (x - 500.5)
    # Sedge: the DTM 0.20 m above the ground, ± 0.02 of RTK noise in turn; reed: 0.05 above;
    # the last point lies 170 m east of the DTM.
    error = np.array([0.22, 0.18, 0.22, 0.18, 0.22, 0.18, 0.05, 0.05, 0.05, 0.0])
    classes = ["sedge"] * 6 + ["reed"] * 3 + ["sedge"]
    ids = [f"CP{i:02d}" for i in range(1, 11)]
    return pd.DataFrame({"checkpoint_id": ids, "x": x, "y": y, "z": dtm - error, "class": classes})


def test_the_dtm_error_per_point_and_per_class() -> None:
    check = check_dtm(_plane(), _points(), vertical_datum="EGM2008", correct=True)
    errors = check.points["error_m"].to_numpy()
    np.testing.assert_allclose(errors[:9], [0.22, 0.18, 0.22, 0.18, 0.22, 0.18, 0.05, 0.05, 0.05])
    assert np.isnan(errors[9]) and np.isnan(check.points["dtm_m"].iloc[9])
    sedge = check.classes.loc["sedge"]
    # Six sedge points on the DTM: bias (3 × 0.22 + 3 × 0.18) / 6 = 0.20 m; RMSE
    # √((3 × 0.0484 + 3 × 0.0324) / 6) = √0.0404 = 0.200998; SD (n − 1) √(6 × 0.02² / 5)
    # = 0.0219089, SE 0.0219089 / √6 = 0.0089443; after removing 0.20 every error is ±0.02.
    assert sedge["n"] == 6
    assert sedge["bias_m"] == pytest.approx(0.20, abs=1e-12)
    assert sedge["rmse_m"] == pytest.approx(0.200998, abs=1e-6)
    assert sedge["sd_m"] == pytest.approx(0.0219089, abs=1e-7)
    assert sedge["se_bias_m"] == pytest.approx(0.0089443, abs=1e-7)
    assert bool(sedge["corrected"])
    assert sedge["rmse_after_m"] == pytest.approx(0.02, abs=1e-12)
    # Reed has 3 points, fewer than MIN_CLASS_POINTS = 5: checked (bias 0.05, RMSE 0.05), not
    # corrected, its RMSE after is the RMSE.
    assert MIN_CLASS_POINTS == 5
    reed = check.classes.loc["reed"]
    assert reed["n"] == 3 and not bool(reed["corrected"])
    assert reed["bias_m"] == pytest.approx(0.05) and reed["rmse_after_m"] == pytest.approx(0.05)
    assert check.bias() == pytest.approx({"sedge": 0.20})
    summary = check.to_dict()
    assert summary["status"] == "checked" and summary["vertical_datum"] == "EGM2008"
    assert summary["points"] == 10 and summary["points_on_dtm"] == 9
    assert summary["classes"]["reed"]["corrected"] is False
    # Asked for the check only: nothing to remove, and the RMSE "after" is the RMSE.
    only = check_dtm(_plane(), _points(), vertical_datum="EGM2008", correct=False)
    assert only.bias() == {}
    assert only.to_dict()["classes"]["sedge"]["rmse_after_m"] == pytest.approx(0.200998, abs=1e-6)


def test_a_dataarray_dtm_is_read_at_its_cell_centres() -> None:
    # A plane rising 0.1 m per column eastwards and 0.01 m per row southwards.
    values = 10.0 + 0.1 * np.arange(30.0)[None, :] + 0.01 * np.arange(20.0)[:, None]
    x = 500.5 + np.arange(30.0)
    y = 999.5 - np.arange(20.0)
    north_up = xr.DataArray(values, coords={"y": y, "x": x}, dims=("y", "x"))
    # The same surface stored south-up (y ascending) must read the same.
    south_up = north_up.isel(y=slice(None, None, -1))
    for surface in (north_up, south_up):
        again = raster_of(surface)
        assert (again.x0, again.y1, again.cell) == (500.0, 1000.0, 1.0)
        # Half-way between the centres of columns 3 and 4, on the centre of row 9 (y 990.5):
        # 10 + 0.1 × 3.5 + 0.01 × 9 = 10.44.
        assert again.sample(np.array([504.0]), np.array([990.5]))[0] == pytest.approx(10.44)
    with pytest.raises(ValueError, match="2 × 2"):
        raster_of(north_up.isel(y=[0]))
    # The chain's float32 DTM is read in place, not copied to float64, and reads the same
    # as its float64 copy (bilinear weights in float64; a float32 value widens exactly).
    single = north_up.astype(np.float32)
    kept = raster_of(single)
    assert kept.values.dtype == np.float32 and np.shares_memory(kept.values, single.values)
    px, py = np.array([504.0, 512.3, 521.7]), np.array([990.5, 985.2, 981.9])
    widened = raster_of(single.astype(np.float64))
    np.testing.assert_array_equal(kept.sample(px, py), widened.sample(px, py))


def test_points_without_a_class_count_together_and_too_few_are_not_corrected() -> None:
    # No class column: the nine points on the DTM form one group "all" (bias the mean of the
    # nine errors, (3 × 0.22 + 3 × 0.18 + 3 × 0.05) / 9 = 0.15), corrected (9 ≥ 5).
    points = _points().drop(columns=["class"])
    check = check_dtm(_plane(), points, vertical_datum="EGM2008")
    assert list(check.classes.index) == ["all"]
    assert check.classes.loc["all", "bias_m"] == pytest.approx(0.15)
    assert check.to_dict()["corrected"] is True
    # Only the three reed points: checked, nothing corrected although it was asked.
    reed = check_dtm(_plane(), _points().iloc[6:9], vertical_datum="EGM2008", correct=True)
    summary = reed.to_dict()
    assert summary["correction_asked"] is True and summary["corrected"] is False
    assert reed.bias() == {}


def test_the_correction_shifts_heights_and_terrain_by_each_class_bias() -> None:
    # Cells: sedge, reed / sedge, water. Sedge's DTM is 0.20 m too high: its terrain drops by
    # 0.20 and every height percentile, the maximum and the mean rise by 0.20. h_sd and the
    # cover fractions stay; reed and water have no bias.
    sedge, reed, water = 3, 4, 1
    legend = {water: "water", sedge: "sedge", reed: "reed"}
    classes = np.array([[sedge, reed], [sedge, water]])
    values = np.array([[1.0, 2.0], [3.0, np.nan]])

    def layer(v: np.ndarray, units: str) -> xr.DataArray:
        return xr.DataArray(v.astype(np.float32), dims=("y", "x"), attrs={"units": units})

    metrics = xr.Dataset(
        {
            "h_p95": layer(values, "m"),
            "h_max": layer(values + 1, "m"),
            "h_sd": layer(values / 10, "m"),
            "cover_2m": layer(values / 4, "1"),
            "dtm_mean": layer(values + 20, "m"),
        }
    )
    assert height_metrics(list(metrics.data_vars)) == ["h_p95", "h_max"]
    out = correct_metrics(metrics, classes, legend, {"sedge": 0.20})
    np.testing.assert_allclose(out["h_p95"].values, [[1.2, 2.0], [3.2, np.nan]], rtol=1e-6)
    np.testing.assert_allclose(out["h_max"].values, [[2.2, 3.0], [4.2, np.nan]], rtol=1e-6)
    np.testing.assert_allclose(out["dtm_mean"].values, [[20.8, 22.0], [22.8, np.nan]], rtol=1e-6)
    for name in ("h_sd", "cover_2m"):
        np.testing.assert_array_equal(out[name].values, metrics[name].values)
    assert out["h_p95"].dtype == np.float32 and out["h_p95"].attrs["units"] == "m"
    # The shifted layers say by how much; the others are as they were.
    for name in ("h_p95", "h_max", "dtm_mean"):
        assert out[name].attrs["dtm_bias_removed"].startswith("sedge +0.200 m"), name
    assert out["h_sd"].attrs == {"units": "m"} and out["cover_2m"].attrs == {"units": "1"}


def test_a_checkpoint_table_with_problems_names_every_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from carbonsink.errors import InputTableError
    from carbonsink.lidar.checkpoints import read_checkpoints

    path = tmp_path / "cp.csv"
    path.write_text(
        "checkpoint_id,x,y,z,class\n"
        "a,700100,3254100,25.10,sedge\n"
        "b,700110,3254100,,sedge\n"
        "c,700120,3254100,25.30,sedg\n",
        encoding="utf-8",
    )
    with pytest.raises(InputTableError) as info:
        read_checkpoints(
            path, target_crs="EPSG:32649", crs="EPSG:32649", known_classes=["sedge", "reed"]
        )
    text = str(info.value)
    # Line 3 (the header is line 1) has no z; line 4 names a class the survey lacks.
    assert "cp.csv" in text and "line 3" in text and "line 4" in text
    assert 'did you mean "sedge"' in text


def test_checkpoints_in_lon_lat_come_back_in_the_dtm_crs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pyproj import Transformer

    from carbonsink.lidar.checkpoints import read_checkpoints

    path = tmp_path / "cp.csv"
    path.write_text("lon,lat,z\n113.07,29.41,25.0\n113.08,29.42,26.5\n", encoding="utf-8")
    out = read_checkpoints(path, target_crs="EPSG:32649", crs="EPSG:4326")
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True).transform(
        [113.07, 113.08], [29.41, 29.42]
    )
    np.testing.assert_allclose(out["x"], x, atol=1e-6)
    np.testing.assert_allclose(out["y"], y, atol=1e-6)
    assert out["z"].tolist() == [25.0, 26.5] and "lon" not in out
