"""The cube stage's terrain check on the sample's checkpoints (docs/methodology.md §8.8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.lidar.merging import LidarResult
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.cube import checked_lidar, epoch_checkpoints
from tests.conftest import SAMPLE_SURVEY

SEDGE = 3


@pytest.fixture(scope="module")
def ctx() -> RunContext:
    return RunContext.build(SAMPLE_SURVEY)


def _lidar(ctx: RunContext, level: float, points: pd.DataFrame) -> LidarResult:
    """Flat terrain at ``level`` m: the DTM sampled at the points, and flat metrics."""
    shape = ctx.grid.shape
    metrics = xr.Dataset(
        {
            "h_p95": (("y", "x"), np.full(shape, 1.0, np.float32), {"units": "m"}),
            "dtm_mean": (("y", "x"), np.full(shape, level, np.float32), {"units": "m"}),
        }
    )
    return LidarResult(
        metrics=metrics, dtm=None, chm=None, qa=pd.DataFrame(), dtm_at=np.full(len(points), level)
    )


def test_the_stage_checks_every_point_inside_and_corrects_the_mapped_cells(
    ctx: RunContext, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    epoch = next(e for e in ctx.survey.epochs if e.name == "2025")
    assert epoch.checkpoints is not None
    table = pd.read_csv(epoch.checkpoints.path, dtype={"checkpoint_id": str})
    # Two more rows: one with no class (it takes the map's class, sedge everywhere here),
    # and one far outside the survey boundary (left out).
    first = table.iloc[0]
    extra = pd.DataFrame(
        {
            "checkpoint_id": ["blank", "away"],
            "x": [first["x"] + 3.0, ctx.grid.bounds[0] - 5_000.0],
            "y": [first["y"], first["y"]],
            "z": [29.5, 29.0],
            "class": [None, "reed"],
        }
    )
    path = tmp_path / "checkpoints.csv"
    pd.concat([table, extra]).to_csv(path, index=False)
    entry = epoch.checkpoints.model_copy(update={"path": path})
    moved = epoch.model_copy(update={"checkpoints": entry})
    class_map = np.full(ctx.grid.shape, SEDGE, dtype=np.uint8)
    points = epoch_checkpoints(ctx, moved)
    assert points is not None
    lidar, check = checked_lidar(ctx, moved, _lidar(ctx, 30.0, points), points, class_map)
    # With the terrain flat at 30 m, each error is 30 − z: a class's bias is 30 − its mean z;
    # sedge's has the blank row too (29.5: error 0.5).
    assert len(check.points) == len(table) + 1 and "away" not in set(check.points["checkpoint_id"])
    errors = 30.0 - table["z"]
    expected = errors.groupby(table["class"]).mean()
    sedge = table["class"] == "sedge"
    expected["sedge"] = (errors[sedge].sum() + 0.5) / (sedge.sum() + 1)
    for name, bias in expected.items():
        assert check.classes.loc[name, "bias_m"] == pytest.approx(bias, abs=1e-9), name
    # Every cell is mapped sedge: its terrain drops by sedge's bias, its heights rise by it.
    b = expected["sedge"]
    np.testing.assert_allclose(lidar.metrics["dtm_mean"].values, 30.0 - b, rtol=1e-6)
    np.testing.assert_allclose(lidar.metrics["h_p95"].values, 1.0 + b, rtol=1e-6)
    # Asked for the check only: the same check, the metrics untouched.
    only = moved.model_copy(update={"checkpoints": entry.model_copy(update={"correct": False})})
    untouched, _ = checked_lidar(ctx, only, _lidar(ctx, 30.0, points), points, class_map)
    assert (untouched.metrics["h_p95"].values == 1.0).all()


def test_checkpoints_off_the_terrain_are_refused(ctx: RunContext) -> None:
    epoch = next(e for e in ctx.survey.epochs if e.name == "2025")
    points = epoch_checkpoints(ctx, epoch)
    assert points is not None
    gap = _lidar(ctx, np.nan, points)
    with pytest.raises(InputError, match="lies on the epoch's LiDAR terrain model") as info:
        checked_lidar(ctx, epoch, gap, points, np.full(ctx.grid.shape, SEDGE, dtype=np.uint8))
    assert "checkpoints_2025.csv" in str(info.value)


def test_the_dtm_sampled_in_the_chain_is_the_kept_dtm_at_the_checkpoints(ctx: RunContext) -> None:
    # The run samples its DTM at the checkpoints as the tiles merge (no DTM kept): the check
    # is the one of the whole DTM kept and sampled, point for point, in the table's order.
    from carbonsink.lidar.checkpoints import check_dtm, raster_of
    from carbonsink.lidar.processing import process_lidar
    from carbonsink.pipeline.stages.lidar import epoch_lidar

    epoch = next(e for e in ctx.survey.epochs if e.name == "2025")
    assert epoch.checkpoints is not None
    points = epoch_checkpoints(ctx, epoch)
    assert points is not None and len(points) > 20
    lidar = epoch_lidar(ctx, epoch, checkpoints=points)
    assert lidar is not None and lidar.dtm is None
    class_map = np.full(ctx.grid.shape, SEDGE, dtype=np.uint8)
    _, check = checked_lidar(ctx, epoch, lidar, points, class_map)
    files = [f for entry in epoch.lidar for f in entry.files()]
    assert epoch.water_evidence is None  # so the chain below is epoch_lidar's
    kept = process_lidar(files, ctx.grid, crs=epoch.lidar[0].crs, keep_surfaces=("dtm",))
    assert kept.dtm is not None
    whole = check_dtm(
        raster_of(kept.dtm),
        check.points[["checkpoint_id", "x", "y", "z", "class"]],
        vertical_datum=epoch.checkpoints.vertical_datum,
    )
    np.testing.assert_array_equal(check.points["dtm_m"], whole.points["dtm_m"])
    assert np.isfinite(check.points["dtm_m"]).sum() > 20
