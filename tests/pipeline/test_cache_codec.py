"""The stage cache's format round-trips results exactly, and refuses what it must not build."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.base import BaseEstimator
from sklearn.ensemble import ExtraTreesClassifier

from carbonsink.accounting.simulation import KeyedTotals
from carbonsink.config import Epoch
from carbonsink.pipeline.cache_codec import (
    CacheFormatError,
    UnsupportedValueError,
    decode,
    encode,
)
from carbonsink.soil.block_variance import BlockEstimate


def _round_trip(value: Any) -> Any:
    tree, arrays, blobs = encode(value)
    text = json.dumps(tree)  # the tree is plain JSON
    return decode(json.loads(text), arrays, blobs)


def test_plain_values_keep_their_types() -> None:
    value = {
        "none": None,
        1.5: ("tuple", [1, 2.0, True]),  # a float key, a tuple and a list stay apart
        "floats": [math.inf, -math.inf],
        "scalar": np.float32(2.5),
        "dtype": np.dtype("<f4"),
        "date": dt.date(2025, 9, 18),
        "when": dt.datetime(2025, 9, 18, 10, 30),
        "path": Path("sample_data/junshan/survey.toml"),
        "grid": np.arange(6, dtype=np.int16).reshape(2, 3),
        "flags": np.array([True, False]),
        "zero_d": np.array(3.0),
        "objects": np.array(["a", None], dtype=object),
    }
    back = _round_trip(value)
    assert back[1.5] == ("tuple", [1, 2.0, True])
    assert back["floats"] == [math.inf, -math.inf]
    assert type(back["scalar"]) is np.float32 and back["scalar"] == 2.5
    assert back["dtype"] == np.dtype("<f4")
    assert back["date"] == dt.date(2025, 9, 18) and back["when"].minute == 30
    assert back["path"] == Path("sample_data/junshan/survey.toml")
    assert back["grid"].dtype == np.int16 and back["grid"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["flags"].dtype == bool
    assert back["zero_d"].shape == ()
    assert back["objects"].tolist() == ["a", None]
    nan = _round_trip(math.nan)
    assert math.isnan(nan)


def test_tables_with_every_kind_of_column() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0],
            "core": ["C1", "C2", None],
            "kind": pd.Categorical(["reed", "sedge", "reed"], categories=["sedge", "reed"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "label": pd.array(["a", "b", None], dtype="string"),
            "date": pd.to_datetime(["2020-09-01", "2025-09-18", None]),
        },
        index=pd.Index(["p1", "p2", "p3"], name="plot_id"),
    )
    frame.attrs["units"] = {"x": "Mg C/ha"}
    back = _round_trip(frame)
    pd.testing.assert_frame_equal(back, frame)
    assert back.attrs == {"units": {"x": "Mg C/ha"}}
    multi = pd.Series(
        [1.0, 2.0], index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["s", "k"])
    )
    pd.testing.assert_series_equal(_round_trip(multi), multi)
    ranged = pd.DataFrame({"v": [1, 2]})
    assert isinstance(_round_trip(ranged).index, pd.RangeIndex)


def test_grids_keep_values_coordinates_and_attributes() -> None:
    grid = xr.Dataset(
        {
            "agb_mg_ha": (("y", "x"), np.ones((2, 3), np.float32), {"units": "Mg DM/ha"}),
            "inside": (("y", "x"), np.ones((2, 3), bool)),
        },
        coords={"y": [1.5, 0.5], "x": [0.5, 1.5, 2.5], "spatial_ref": ((), 0, {"crs_wkt": "X"})},
        attrs={"epoch": "2025", "scenes": ["a.tif", "b.tif"], "flagged": {"n": 1}},
    )
    xr.testing.assert_identical(_round_trip(grid), grid)
    layer = grid["agb_mg_ha"]
    xr.testing.assert_identical(_round_trip(layer), layer)


def test_carbonsink_results_estimators_and_trees() -> None:
    # A frozen dataclass, a pydantic model and a fitted classifier (skops).
    block = BlockEstimate(
        mean_mg_ha=117.1,
        variance=3.8,
        se=1.95,
        total_t_c=25541.5,
        total_se_t_c=425.2,
        n_points=40,
        block_area_ha=218.13,
        n_block_points=486,
    )
    epoch = Epoch(name="2025", date=dt.date(2025, 9, 18))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    model = ExtraTreesClassifier(n_estimators=5, random_state=0).fit(x, x[:, 0] > 0)
    back = _round_trip({"block": block, "epoch": epoch, "model": model})
    assert back["block"] == block
    assert back["epoch"] == epoch
    assert (back["model"].predict(x) == model.predict(x)).all()
    totals = KeyedTotals(
        keys=(("reed", "reed"),),
        totals=np.array([12.0]),
        replicates=np.ones((3, 1)),
        corrections={"reed": (1.0, 0.5)},
        correction_covariance=np.array([[0.25]]),
    )
    again = _round_trip(totals)
    assert again.keys == totals.keys and again.corrections == totals.corrections
    assert again.replicates.shape == (3, 1)


class _Foreign(BaseEstimator):
    """An estimator from outside the allowlist."""

    def __init__(self, a: int = 1) -> None:
        self.a = a


def test_what_the_format_does_not_hold_is_named() -> None:
    with pytest.raises(UnsupportedValueError, match=r"result\['f'\]"):
        encode({"f": lambda: None})
    with pytest.raises(UnsupportedValueError, match="decimal"):
        import decimal

        encode([decimal.Decimal("1.0")])


def test_decode_refuses_classes_outside_carbonsink_and_untrusted_estimators() -> None:
    with pytest.raises(CacheFormatError, match="outside carbonsink"):
        decode({"$dataclass": {"module": "os", "name": "system"}, "state": {}}, {}, {})
    with pytest.raises(CacheFormatError, match="not a dataclass"):
        decode(
            {"$dataclass": {"module": "carbonsink.pipeline.cache", "name": "StageCache"}},
            {},
            {},
        )
    tree, arrays, blobs = encode(_Foreign())
    with pytest.raises(CacheFormatError, match="allowlist"):
        decode(tree, arrays, blobs)
    with pytest.raises(CacheFormatError, match="not readable"):
        decode({"$skops": "b0"}, {}, {"b0": b"not a zip"})
    with pytest.raises(CacheFormatError):
        decode({"$ndarray": "a9"}, {}, {})
