"""The area whose LiDAR terrain was a closed canopy's floor: ledger key and warning."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from carbonsink.pipeline.stages.lidar import terrain_warnings, unsupported_ha


def _lidar(shares: list[list[float]]) -> SimpleNamespace:
    metrics = xr.Dataset({"terrain_unsupported": (("y", "x"), np.array(shares))})
    return SimpleNamespace(metrics=metrics)


CTX = SimpleNamespace(cell_area_ha=xr.DataArray(np.array([[1.0, 1.0], [2.0, 1.0]])))


def test_unsupported_area_by_hand() -> None:
    # Shares 0.5, NaN (neither ground nor floor: water), 1, 0 over cells of 1, 1, 2, 1 ha:
    # 0.5 × 1 + 0 + 1 × 2 + 0 × 1 = 2.5 ha.
    assert unsupported_ha(_lidar([[0.5, np.nan], [1.0, 0.0]]), CTX) == pytest.approx(2.5)
    assert unsupported_ha(SimpleNamespace(metrics=xr.Dataset()), CTX) == 0.0


def test_a_warning_names_each_epoch_with_unsupported_terrain() -> None:
    def result(name: str, lidar: SimpleNamespace | None) -> SimpleNamespace:
        return SimpleNamespace(epoch=SimpleNamespace(name=name), cube=SimpleNamespace(lidar=lidar))

    results = [
        result("2020", _lidar([[0.0, 0.0], [0.0, np.nan]])),
        result("2025", _lidar([[0.25, 0.0], [0.0, 0.0]])),
        result("2030", None),
    ]
    warnings = terrain_warnings(CTX, results)  # type: ignore[arg-type]
    assert [(w.code, w.where) for w in warnings] == [
        ("lidar-terrain-unsupported", "epoch 2025 lidar")
    ]
    assert "0.25 ha" in warnings[0].message
