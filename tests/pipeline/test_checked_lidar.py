"""The cube stage's terrain check on the sample's checkpoints (docs/methodology.md §8.8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.lidar.merging import LidarResult
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.cube import checked_lidar
from tests.conftest import SAMPLE_SURVEY

SEDGE = 3


@pytest.fixture(scope="module")
def ctx() -> RunContext:
    return RunContext.build(SAMPLE_SURVEY)


def _lidar(ctx: RunContext, level: float) -> LidarResult:
    """A flat DTM at ``level`` m in 5 m cells over the grid, and flat metrics."""
    xmin, ymin, xmax, ymax = ctx.grid.bounds
    x = np.arange(xmin + 2.5, xmax, 5.0)
    y = np.arange(ymax - 2.5, ymin, -5.0)
    dtm = xr.DataArray(np.full((y.size, x.size), level), coords={"y": y, "x": x}, dims=("y", "x"))
    shape = ctx.grid.shape
    metrics = xr.Dataset(
        {
            "h_p95": (("y", "x"), np.full(shape, 1.0, np.float32), {"units": "m"}),
            "dtm_mean": (("y", "x"), np.full(shape, level, np.float32), {"units": "m"}),
        }
    )
    return LidarResult(metrics=metrics, dtm=dtm, chm=None, qa=pd.DataFrame())


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
    lidar, check = checked_lidar(ctx, moved, _lidar(ctx, 30.0), class_map)
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
    untouched, _ = checked_lidar(ctx, only, _lidar(ctx, 30.0), class_map)
    assert (untouched.metrics["h_p95"].values == 1.0).all()


def test_checkpoints_off_the_terrain_are_refused(ctx: RunContext) -> None:
    epoch = next(e for e in ctx.survey.epochs if e.name == "2025")
    lidar = _lidar(ctx, 30.0)
    assert lidar.dtm is not None
    gap = LidarResult(metrics=lidar.metrics, dtm=lidar.dtm * np.nan, chm=None, qa=pd.DataFrame())
    with pytest.raises(InputError, match="lies on the epoch's LiDAR terrain model") as info:
        checked_lidar(ctx, epoch, gap, np.full(ctx.grid.shape, SEDGE, dtype=np.uint8))
    assert "checkpoints_2025.csv" in str(info.value)
