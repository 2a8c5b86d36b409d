"""Fixtures of the synthetic-survey tests: one small survey of the sample's seed, its files."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
import shapely
import xarray as xr
from pyproj import Transformer
from shapely.geometry import shape

from carbonsink.synthetic import SurveySummary, generate_survey

SEED = 20240830


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def survey(tmp_path_factory: pytest.TempPathFactory) -> SurveySummary:
    return generate_survey(tmp_path_factory.mktemp("junshan"), seed=SEED)


@pytest.fixture(scope="session")
def root(survey: SurveySummary) -> Path:
    return survey.out_dir


@pytest.fixture(scope="session")
def toml(root: Path) -> dict:
    return tomllib.loads((root / "survey.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def truth(root: Path) -> dict[str, xr.Dataset]:
    out = {}
    for epoch in ("2020", "2025"):
        with xr.open_dataset(root / "truth" / f"truth_{epoch}.nc") as ds:
            out[epoch] = ds.load()
    return out


@pytest.fixture(scope="session")
def boundary_utm(root: Path) -> shapely.Geometry:
    gj = json.loads((root / "boundary.geojson").read_text(encoding="utf-8"))
    lonlat = shape(gj["features"][0]["geometry"])
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    return shapely.transform(lonlat, to_utm.transform, interleaved=False)
