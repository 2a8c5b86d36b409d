"""A written three-epoch survey with the planted loss (``sample-data --epochs 3 --planted-loss``).

One survey of the sample's seed at the small scale, written once for the module
through the command line (≈ 15 s). Expected values come from the documented
epochs (carbonsink.synthetic.parameters: 2028-09-20, images 2028-09-15 and
2028-09-25, lake 24.95 m), the sampling design of carbonsink.synthetic.fieldwork
and the committed two-epoch sample, whose files the first two epochs must
reproduce byte for byte (the third epoch draws only from streams of its own).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import laspy
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer

from carbonsink.cli import main
from carbonsink.grid import Grid
from tests.conftest import PROJECT_ROOT
from tests.synthetic.conftest import SEED, digests

SAMPLE = PROJECT_ROOT / "sample_data" / "junshan"
EPOCHS = {
    "2020": ("2020-09-15", ("2020-09-10", "2020-09-20")),
    "2025": ("2025-09-18", ("2025-09-13", "2025-09-23")),
    "2028": ("2028-09-20", ("2028-09-15", "2028-09-25")),
}
#: The files that describe the whole survey (so they name the third epoch too).
WHOLE_SURVEY = {"README.md", "survey.toml", "truth/totals.json"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("three") / "junshan3"
    with pytest.raises(SystemExit) as info:
        main(["-q", "sample-data", str(out), "--epochs", "3", "--planted-loss"])
    assert info.value.code == 0
    return out


@pytest.fixture(scope="module")
def toml(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "survey.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def totals(root: Path) -> dict[str, Any]:
    return json.loads((root / "truth" / "totals.json").read_text(encoding="utf-8"))


def test_every_epoch_has_its_files_and_survey_entry(root: Path, toml: dict[str, Any]) -> None:
    assert toml["survey"]["seed"] == SEED
    assert [(e["name"], e["date"]) for e in toml["epochs"]] == [
        (name, date) for name, (date, _) in EPOCHS.items()
    ]
    for entry in toml["epochs"]:
        name = entry["name"]
        _, image_dates = EPOCHS[name]
        assert [scene["date"] for scene in entry["imagery"]] == list(image_dates)
        for scene in entry["imagery"]:
            assert scene["path"] == f"imagery/s2_{scene['date']}.tif"
            assert (root / scene["path"]).is_file()
        assert entry["lidar"][0]["path"] == f"lidar/{name}/*.laz"
        assert 2 <= len(sorted(root.glob(entry["lidar"][0]["path"]))) <= 4
        for key, stem in (
            ("plots", "plots"),
            ("soil", "soil"),
            ("landcover_samples", "landcover"),
            ("checkpoints", "checkpoints"),
        ):
            assert entry[key]["path"] == f"{stem}_{name}.csv"
            assert (root / entry[key]["path"]).is_file()
        assert (root / "truth" / f"truth_{name}.nc").is_file()
    # Only the 2020 headers lack a CRS (LAS 1.2); 2025 and 2028 are LAS 1.4 with one.
    assert [e["lidar"][0].get("crs") for e in toml["epochs"]] == ["EPSG:4547", None, None]


def test_the_2028_inputs(root: Path) -> None:
    for path in sorted((root / "imagery").glob("s2_2028-*.tif")):
        with rasterio.open(path) as src:
            assert src.count == 11 and src.crs.to_epsg() == 32649
            assert src.tags()["SENSING_DATE"] in path.name
            assert src.tags()["SPACECRAFT_NAME"] in {"Sentinel-2C", "Sentinel-2D"}
    for path in sorted((root / "lidar" / "2028").glob("*.laz")):
        with laspy.open(path) as reader:
            header = reader.header
            assert str(header.version) == "1.4" and header.point_format.id == 6
            assert header.parse_crs() is not None and header.parse_crs().to_epsg() == 4547
            assert str(header.creation_date) == "2028-09-20"
    # The strip starts at the lake edge: its water returns lie flat at the 2028 lake
    # level (8 mm noise).
    water = []
    for path in sorted((root / "lidar" / "2028").glob("*.laz")):
        points = laspy.read(path)
        water.append(np.asarray(points.z)[np.asarray(points.user_data) == 2])
    assert sum(w.size for w in water) > 100
    assert abs(np.median(np.concatenate(water)) - 24.95) < 0.01

    plots = pd.read_csv(root / "plots_2028.csv")
    # No poplar is left to clip: the other classes' shares of the 80 plots remain,
    # round(0.10 × 80) + round(0.30 × 80) + 2 × round(0.22 × 80) = 8 + 24 + 36 = 68.
    assert "poplar" not in set(plots["veg_class"]) and len(plots) == 68
    assert plots["plot_id"].str.startswith("P2028-").all()
    assert set(plots["date"].str[:7]) == {"2028-09"}
    samples = pd.read_csv(root / "landcover_2028.csv")
    assert set(samples["class"]) == {"water", "mudflat", "sedge", "reed", "miscanthus"}
    checkpoints = pd.read_csv(root / "checkpoints_2028.csv")
    assert "poplar" not in set(checkpoints["class"])
    assert checkpoints["checkpoint_id"].str.startswith("CP2028-").all()


def test_the_2028_cores_revisit_2025_and_record_the_accretion_since_2020(root: Path) -> None:
    soil = pd.read_csv(root / "soil_2028.csv")
    assert (soil["method"] == "dichromate").all() and "om_g_kg" in soil.columns
    assert 35 <= soil["core_id"].nunique() <= 45
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)

    def sites(table: pd.DataFrame) -> np.ndarray:
        first = table.groupby("core_id", sort=True).first()
        return np.column_stack(to_utm.transform(first["lon"].to_numpy(), first["lat"].to_numpy()))

    now, before = sites(soil), sites(pd.read_csv(root / "soil_2025.csv"))
    # 60 % of the 40 cores (24) go back to 2025 sites, within 1 m per axis: all but a
    # few (those landing in water or outside) lie within 5 m (≈ 3.5 SDs) of one.
    nearest = np.min(np.hypot(*(now[:, None, :] - before[None, :, :]).transpose(2, 0, 1)), axis=1)
    assert 20 <= (nearest < 5.0).sum() <= 24
    # accretion_cm = the deposit since the 2020 marker horizon × (1 + 0.1 Z), to 0.1 cm:
    # the cores' total is within 5 % of the truth's (SE ≈ 0.1 / sqrt(40) ≈ 1.6 %).
    with xr.open_dataset(root / "truth" / "truth_2028.nc") as ds:
        deposit = ds["deposit_cm"].values.astype(float)
        grid = Grid.from_xarray(ds)
    row, col = grid.index(now[:, 0], now[:, 1])
    accretion = soil.groupby("core_id", sort=True)["accretion_cm"].first().to_numpy()
    assert accretion.sum() / deposit[row, col].sum() == pytest.approx(1.0, abs=0.05)


def test_the_first_two_epochs_are_the_committed_sample(
    root: Path, toml: dict[str, Any], totals: dict[str, Any]
) -> None:
    three, two = digests(root), digests(SAMPLE)
    shared = {name: digest for name, digest in two.items() if name not in WHOLE_SURVEY}
    assert {name: three[name] for name in shared} == shared
    extra = sorted(set(three) - set(two))
    assert extra == sorted(
        [
            "checkpoints_2028.csv",
            "imagery/s2_2028-09-15.tif",
            "imagery/s2_2028-09-25.tif",
            "landcover_2028.csv",
            "plots_2028.csv",
            "soil_2028.csv",
            "truth/truth_2028.nc",
            *(n for n in three if n.startswith("lidar/2028/")),
        ]
    )
    committed = tomllib.loads((SAMPLE / "survey.toml").read_text(encoding="utf-8"))
    assert toml["epochs"][:2] == committed["epochs"]
    assert {k: v for k, v in toml.items() if k != "epochs"} == {
        k: v for k, v in committed.items() if k != "epochs"
    }
    sample_totals = json.loads((SAMPLE / "truth" / "totals.json").read_text(encoding="utf-8"))
    for epoch in ("2020", "2025"):
        assert totals["epochs"][epoch] == sample_totals["epochs"][epoch]
    assert totals["periods"][0] == {
        **sample_totals["sink"],
        "stock_change_t_c": totals["periods"][0]["stock_change_t_c"],
        "total_stock_change_t_c": totals["periods"][0]["total_stock_change_t_c"],
    }


def test_the_written_truth_shows_the_loss(root: Path, totals: dict[str, Any]) -> None:
    with (
        xr.open_dataset(root / "truth" / "truth_2025.nc") as before,
        xr.open_dataset(root / "truth" / "truth_2028.nc") as after,
    ):
        poplar_2025 = int((before["class"].values == 6).sum())
        poplar_2028 = int((after["class"].values == 6).sum())
        assert after.attrs["water_level_m"] == 24.95
    assert poplar_2025 > 1000 and poplar_2028 == 0  # ~21 ha of 0.01 ha cells
    area = {e: v["area_ha"]["poplar"] for e, v in totals["epochs"].items()}
    assert area["2025"] > 0.0 and area["2028"] == 0.0
    period = totals["periods"][1]
    assert (period["from_epoch"], period["to_epoch"]) == ("2025", "2028")
    assert period["total_stock_change_t_c"] < 0.0 < totals["periods"][0]["total_stock_change_t_c"]
    assert "periods" in totals["method"] and "planted_loss" in totals["method"]

    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "with a third epoch (`--epochs 3`) and the planted loss (`--planted-loss`)" in readme
    assert "| 2028 | 2028-09-20 | 2028-09-15, 2028-09-25 | 24.95 m |" in readme
    assert "**Third epoch (2028).**" in readme and "**Planted loss**" in readme
    assert f"| 2025→2028 | {period['years']:.4f} |" in readme
    assert f"changes by {period['total_stock_change_t_c']:+.1f} t C" in readme
    assert "a reversal" in readme
