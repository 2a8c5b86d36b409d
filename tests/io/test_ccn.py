"""Coastal Carbon Network studies read as carbonsink soil tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import InputError, InputNotFoundError
from carbonsink.io.ccn import read_ccn_cores

_SERIES = (
    "study_id,site_id,core_id,depth_min,depth_max,dry_bulk_density,"
    "fraction_organic_matter,fraction_carbon\n"
)
_CORES = "study_id,site_id,core_id,year,month,day,latitude,longitude\n"


def _study(tmp_path: Path, series: str, cores: str, *, methods: str | None = None) -> Path:
    (tmp_path / "Demo_2020_depthseries.csv").write_text(_SERIES + series, encoding="utf-8")
    (tmp_path / "Demo_2020_cores.csv").write_text(_CORES + cores, encoding="utf-8")
    if methods is not None:
        (tmp_path / "Demo_2020_methods.csv").write_text(methods, encoding="utf-8")
    return tmp_path


def test_snedden_study(shared_data: Path) -> None:
    folder = shared_data / "soil" / "ccn_snedden_2018"
    table = read_ccn_cores(folder)
    assert len(table) == 539
    assert table["core_id"].nunique() == 25
    assert table.attrs["crs"] == "EPSG:4326"
    # First interval of core 171_1 (line 2 of the file): 0–2 cm, BD 0.32,
    # fraction_carbon 0.04631 -> 4.631 %; core 171_1 lies at 29.3237667 N, −89.79605 E.
    first = table.loc[2]
    assert first["core_id"] == "171_1"
    assert (first["depth_top_cm"], first["depth_bottom_cm"]) == (0.0, 2.0)
    assert first["bulk_density_g_cm3"] == 0.32
    assert first["soc_pct"] == pytest.approx(4.631, rel=1e-12)
    assert (first["x"], first["y"]) == (-89.79605, 29.3237667)
    assert first["date"] == "2016-06-28"
    # Every interval has carbon, so no organic-matter fallback and no LOI rows.
    assert table["om_pct"].isna().all()
    assert table["method"].isna().all()  # the methods file says "not specified"
    # Passing the depthseries file gives the same table.
    same = read_ccn_cores(folder / "Snedden_2018_depthseries.csv")
    pd.testing.assert_frame_equal(table, same)


def test_organic_matter_fills_missing_carbon(tmp_path: Path) -> None:
    folder = _study(
        tmp_path,
        "Demo,1,c1,0,5,0.5,0.20,0.08\nDemo,1,c1,5,10,0.6,0.15,NA\n",
        "Demo,1,c1,2020,5,1,29.5,-90.1\n",
        methods="study_id,fraction_carbon_method\nDemo,EA\n",
    )
    table = read_ccn_cores(folder)
    # Line 2: 0.08 × 100 = 8 % carbon (elemental analyser -> CHN);
    # line 3: no carbon -> om_pct 0.15 × 100 = 15 %, method loi.
    assert table.loc[2, "soc_pct"] == pytest.approx(8.0, rel=1e-12)
    assert np.isnan(table.loc[2, "om_pct"])
    assert table.loc[2, "method"] == "CHN"
    assert np.isnan(table.loc[3, "soc_pct"])
    assert table.loc[3, "om_pct"] == pytest.approx(15.0, rel=1e-12)
    assert table.loc[3, "method"] == "loi"
    assert list(table.columns[:9]) == [
        "core_id",
        "x",
        "y",
        "depth_top_cm",
        "depth_bottom_cm",
        "bulk_density_g_cm3",
        "soc_pct",
        "om_pct",
        "method",
    ]


def test_missing_bulk_density_is_kept_for_the_soil_stage(tmp_path: Path) -> None:
    folder = _study(tmp_path, "Demo,1,c1,0,5,NA,0.2,0.08\n", "Demo,1,c1,2020,5,1,29.5,-90.1\n")
    assert np.isnan(read_ccn_cores(folder).loc[2, "bulk_density_g_cm3"])


def test_missing_files_and_columns(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist"):
        read_ccn_cores(tmp_path / "nowhere")
    with pytest.raises(InputNotFoundError, match=r"no \*_depthseries\.csv"):
        read_ccn_cores(tmp_path)
    (tmp_path / "Demo_2020_depthseries.csv").write_text(
        _SERIES + "Demo,1,c1,0,5,0.5,0.2,0.08\n", encoding="utf-8"
    )
    with pytest.raises(InputNotFoundError, match="cores file"):
        read_ccn_cores(tmp_path)
    (tmp_path / "Demo_2020_cores.csv").write_text("core_id,latitude\nc1,29.5\n", encoding="utf-8")
    with pytest.raises(InputError, match="'longitude' missing"):
        read_ccn_cores(tmp_path)


def test_carbon_columns_required(tmp_path: Path) -> None:
    (tmp_path / "Demo_2020_depthseries.csv").write_text(
        "core_id,depth_min,depth_max,dry_bulk_density\nc1,0,5,0.5\n", encoding="utf-8"
    )
    (tmp_path / "Demo_2020_cores.csv").write_text(_CORES + "Demo,1,c1,2020,5,1,29.5,-90.1\n")
    with pytest.raises(InputError, match="neither fraction_carbon nor fraction_organic_matter"):
        read_ccn_cores(tmp_path)


def test_cores_without_coordinates_are_named(tmp_path: Path) -> None:
    folder = _study(
        tmp_path,
        "Demo,1,c1,0,5,0.5,0.2,0.08\nDemo,2,c2,0,5,0.5,0.2,0.08\nDemo,3,c3,0,5,0.5,0.2,0.08\n",
        "Demo,1,c1,2020,5,1,29.5,-90.1\nDemo,3,c3,2020,5,1,NA,-90.1\n",
    )
    with pytest.raises(InputError, match=r"not in Demo_2020_cores.csv: c2; without .*: c3"):
        read_ccn_cores(folder)


def test_repeated_core_and_non_numeric_values(tmp_path: Path) -> None:
    folder = _study(
        tmp_path,
        "Demo,1,c1,0,5,0.5,0.2,0.08\n",
        "Demo,1,c1,2020,5,1,29.5,-90.1\nDemo,1,c1,2020,5,1,29.5,-90.1\n",
    )
    with pytest.raises(InputError, match="c1 appear more than once"):
        read_ccn_cores(folder)
    folder = _study(tmp_path, "Demo,1,c1,0,five,0.5,0.2,0.08\n", "Demo,1,c1,2020,5,1,29.5,-90.1\n")
    with pytest.raises(InputError, match=r"depth_max is not a number \('five'\)"):
        read_ccn_cores(folder)


def test_the_carbon_method_per_study_of_a_download(tmp_path: Path) -> None:
    # Two studies in one download; the methods file names each one's method,
    # one in words carbonsink does not know (its rows get no method).
    folder = _study(
        tmp_path,
        "Alpha,1,a1,0,5,0.5,NA,0.08\nBeta,2,b1,0,5,0.6,NA,0.05\nGamma,3,g1,0,5,0.7,NA,0.04\n",
        "Alpha,1,a1,2020,5,1,29.5,-90.1\nBeta,2,b1,2020,5,1,29.6,-90.2\n"
        "Gamma,3,g1,2020,5,1,29.7,-90.3\n",
        methods="study_id,fraction_carbon_method\nAlpha,EA\nBeta,wet oxidation\nGamma,guess\n",
    )
    table = read_ccn_cores(folder)
    assert table["method"].tolist()[:2] == ["CHN", "dichromate"]
    assert pd.isna(table.loc[4, "method"])


def test_a_study_with_only_representative_depths_reads_them(tmp_path: Path) -> None:
    # The CCN variant for non-contiguous samples: a 2 cm slice at 8–10 cm stands
    # for 0–18 cm, and the file has no depth_min/depth_max at all.
    (tmp_path / "Rep_2021_depthseries.csv").write_text(
        "study_id,core_id,representative_depth_min,representative_depth_max,"
        "dry_bulk_density,fraction_carbon\nRep,r1,0,18,0.5,0.03\nRep,r1,18,40,0.7,0.02\n",
        encoding="utf-8",
    )
    (tmp_path / "Rep_2021_cores.csv").write_text(
        "study_id,core_id,latitude,longitude\nRep,r1,29.5,-90.1\n", encoding="utf-8"
    )
    table = read_ccn_cores(tmp_path)
    assert table[["depth_top_cm", "depth_bottom_cm"]].to_numpy().tolist() == [
        [0.0, 18.0],
        [18.0, 40.0],
    ]


def test_method_ids_repeat_between_studies(tmp_path: Path) -> None:
    # Both studies call their methods "single set of methods": rows are matched
    # on (study_id, method_id), not on the id alone.
    (tmp_path / "Two_2022_depthseries.csv").write_text(
        "study_id,core_id,method_id,depth_min,depth_max,dry_bulk_density,fraction_carbon\n"
        "Alpha,a1,single set of methods,0,5,0.5,0.08\n"
        "Beta,b1,single set of methods,0,5,0.6,0.05\n",
        encoding="utf-8",
    )
    (tmp_path / "Two_2022_cores.csv").write_text(
        "study_id,core_id,latitude,longitude\nAlpha,a1,29.5,-90.1\nBeta,b1,29.6,-90.2\n",
        encoding="utf-8",
    )
    (tmp_path / "Two_2022_methods.csv").write_text(
        "study_id,method_id,fraction_carbon_method\n"
        "Alpha,single set of methods,EA\nBeta,single set of methods,wet oxidation\n",
        encoding="utf-8",
    )
    table = read_ccn_cores(tmp_path)
    assert table["method"].tolist() == ["CHN", "dichromate"]


def test_blank_representative_depths_fall_back_to_the_sampled_ones(tmp_path: Path) -> None:
    (tmp_path / "Mix_2023_depthseries.csv").write_text(
        "study_id,core_id,depth_min,depth_max,representative_depth_min,"
        "representative_depth_max,dry_bulk_density,fraction_carbon\n"
        "Mix,m1,8,10,0,18,0.5,0.03\nMix,m1,18,20,NA,NA,0.7,0.02\n",
        encoding="utf-8",
    )
    (tmp_path / "Mix_2023_cores.csv").write_text(
        "study_id,core_id,latitude,longitude\nMix,m1,29.5,-90.1\n", encoding="utf-8"
    )
    table = read_ccn_cores(tmp_path, depths="representative")
    assert table[["depth_top_cm", "depth_bottom_cm"]].to_numpy().tolist() == [
        [0.0, 18.0],
        [18.0, 20.0],
    ]
