"""Tests of carbonsink.pipeline.outputs: the output registry and the safe path builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonsink.biomass.persistence import card_path
from carbonsink.errors import ConfigError
from carbonsink.pipeline.outputs import OUTPUTS, OutputFolder


def test_paths_are_filled_from_the_registry(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    assert folder.path("cube", epoch="2020") == tmp_path / "cube_2020.nc"
    assert folder.path("map_agb", epoch="2025") == tmp_path / "maps" / "agb_mg_ha_2025.tif"
    assert (
        folder.path("table_biomass_cv", epoch="2025", model="lidar")
        == tmp_path / "tables" / "biomass_cv_2025_lidar.csv"
    )
    assert folder.path("ledger") == tmp_path / "ledger.json"


@pytest.mark.parametrize("name", ["../../x", "2025/26", "a b", ".hidden", "x\\y", "a..b", ""])
def test_a_name_that_would_leave_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="cannot be part of a file name") as info:
        OutputFolder(tmp_path).path("cube", epoch=name)
    assert "rename it in the survey file" in str(info.value)


def test_fields_must_match_the_pattern(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    with pytest.raises(ConfigError, match="takes the fields"):
        folder.path("cube")
    with pytest.raises(ConfigError, match="takes the fields"):
        folder.path("ledger", epoch="2020")


def test_every_entry_is_consistent() -> None:
    for output_id, output in OUTPUTS.items():
        assert output.id == output_id
        assert not output.pattern.startswith("/") and ".." not in output.pattern
        # Every map has units and a style, but the stage commands' generic layer, whose
        # units and long name travel in the file's own tags.
        if output.format == "cog" and output_id != "layer":
            assert output.units is not None, output_id
            assert output.style is not None, output_id
    # The published run outputs of docs/design.md §5 are all declared.
    patterns = {o.pattern for o in OUTPUTS.values()}
    for expected in (
        "manifest.json",
        "cube_{epoch}.nc",
        "change.nc",
        "ledger.json",
        "report.html",
        "run.log",
    ):
        assert expected in patterns


def test_the_model_card_entry_is_where_persistence_puts_the_card(tmp_path: Path) -> None:
    # save_model writes the card beside the model (persistence.card_path); the registry
    # declares both, so they must agree.
    folder = OutputFolder(tmp_path)
    model = folder.path("model", epoch="2020", model="imagery")
    assert card_path(model) == folder.path("model_card", epoch="2020", model="imagery")


def test_describe_names_the_most_specific_output(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    # "landcover.tif" also matches the index pattern "{index}.tif": the literal one wins.
    assert folder.describe(tmp_path / "landcover.tif")["id"] == "landcover"
    assert folder.describe(tmp_path / "ndvi.tif")["id"] == "layer"
    assert folder.describe(tmp_path / "soc_0_30_mg_ha.tif")["id"] == "layer"
    entry = folder.describe(tmp_path / "maps" / "soc_sd_mg_ha_2020.tif")
    assert entry == {
        "path": "maps/soc_sd_mg_ha_2020.tif",
        "id": "map_soc_sd",
        "format": "cog",
        "long_name": "kriging SD of SOC",
        "units": "Mg C/ha",
    }
    with pytest.raises(ConfigError, match="not a declared output"):
        folder.describe(tmp_path / "notes.txt")
    with pytest.raises(ConfigError, match="outside the output folder"):
        folder.describe(tmp_path.parent / "elsewhere.json")


@pytest.mark.parametrize("epoch", ["春季_2025", "2025.a-spring", "Été2025"])
def test_a_path_made_from_any_allowed_name_is_a_declared_output(tmp_path: Path, epoch: str) -> None:
    # The survey file allows letters of any script in an epoch's name (FILE_NAME_RULE):
    # the files named after it are outputs the manifest can describe.
    folder = OutputFolder(tmp_path)
    for output_id in ("map_agb", "map_landcover_categories", "cube"):
        path = folder.path(output_id, epoch=epoch)
        assert folder.describe(path)["id"] == output_id


def test_no_two_outputs_share_a_pattern() -> None:
    # describe() resolves a file to one output: two entries with one pattern would make
    # the manifest's id a guess.
    patterns = [o.pattern for o in OUTPUTS.values()]
    assert len(patterns) == len(set(patterns))
