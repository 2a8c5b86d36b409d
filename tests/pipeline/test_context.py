"""Tests of carbonsink.pipeline.context: one context per run, the boundary read once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carbonsink.errors import ConfigError, InputError, Problem
from carbonsink.pipeline import RunContext, find_epoch
from carbonsink.preflight import preflight
from tests.pipeline.file_reads import spy_on_reads


@pytest.fixture
def boundary_reads(monkeypatch: pytest.MonkeyPatch, sample_survey: Path) -> list[str]:
    """Every pyogrio call that opens the sample survey's boundary file, by function name."""
    return spy_on_reads(monkeypatch, sample_survey.parent / "boundary.geojson")


def test_build_reads_the_boundary_once(sample_survey: Path, boundary_reads: list[str]) -> None:
    ctx = RunContext.build(sample_survey)
    # The inside mask, the cell areas and the polygon fingerprint use the geometry read once.
    assert int(ctx.inside.values.sum()) > 0
    assert ctx.boundary.fingerprint()["sha256"]
    assert boundary_reads.count("read_dataframe") == 1


def test_build_reuses_the_preflight_grid_and_boundary(
    sample_survey: Path, boundary_reads: list[str]
) -> None:
    report = preflight(sample_survey)
    ctx = RunContext.build(report.survey, preflight=report)  # type: ignore[arg-type]
    assert ctx.grid is report.grid
    assert ctx.boundary is report.boundary
    # The preflight read the boundary; the context read nothing more.
    assert boundary_reads.count("read_dataframe") == 1


def test_inside_mask_matches_the_truth(sample_survey: Path) -> None:
    import xarray as xr

    ctx = RunContext.build(sample_survey)
    with xr.open_dataset(sample_survey.parent / "truth" / "truth_2020.nc") as truth:
        expected = truth["inside_boundary"].values.astype(bool)
    assert np.array_equal(ctx.inside.values.astype(bool), expected)
    # True cell areas, not the nominal 0.01 ha of a 10 m cell (UTM scale factor).
    area = ctx.cell_area_ha.values
    assert area.shape == ctx.grid.shape
    assert abs(float(area.mean()) / 0.01 - 1.0) < 0.002


def test_one_seed_everywhere(sample_survey: Path) -> None:
    default = RunContext.build(sample_survey)
    assert default.seed == default.survey.survey.seed == 20240830
    override = RunContext.build(sample_survey, seed=7)
    assert override.seed == 7
    # The survey itself is not patched: the seed travels as a parameter.
    assert override.survey.survey.seed == 20240830


def test_profile_carries_the_survey_overrides(sample_survey: Path) -> None:
    ctx = RunContext.build(sample_survey)
    accounting = ctx.survey.accounting.model_copy(update={"buffer_pct": 20.0})
    survey = ctx.survey.model_copy(update={"accounting": accounting})
    profile = RunContext.build(survey).profile
    assert profile.name == "vm0033"
    assert profile.buffer_pct == 20.0
    assert [(o.key, o.profile_value, o.survey_value) for o in profile.overrides] == [
        ("buffer_pct", 15.0, 20.0)
    ]


def test_a_preflight_with_errors_is_refused(sample_survey: Path) -> None:
    report = preflight(sample_survey)
    report.problems.append(Problem("a broken table"))
    with pytest.raises(InputError, match="a broken table"):
        RunContext.build(sample_survey, preflight=report)


def test_find_epoch(sample_survey: Path) -> None:
    survey = RunContext.build(sample_survey).survey
    assert find_epoch(survey, "2025").name == "2025"
    with pytest.raises(ConfigError, match="choose one with --epoch"):
        find_epoch(survey, None)
    with pytest.raises(ConfigError, match="use one of 2020, 2025"):
        find_epoch(survey, "2030")


def test_one_dead_organic_matter_route_for_every_epoch(sample_survey: Path) -> None:
    # The committed sample: 30 plots of each epoch carry agb_dead_g_m2, fewer than the 40
    # a model needs, so `auto` takes the dead:live ratios for both epochs.
    ctx = RunContext.build(sample_survey)
    route, reason = ctx.dom_choice
    assert route == "ratio"
    assert str(reason) == (
        "dead:live ratios per class: 30 plots carry agb_dead_g_m2, fewer than the 40 a model needs"
    )
    # Forced by the survey: the same route for every epoch, whatever the counts.
    biomass = ctx.survey.biomass.model_copy(update={"dom_method": "model"})
    forced = RunContext.build(ctx.survey.model_copy(update={"biomass": biomass}))
    assert forced.dom_choice[0] == "model"
    # Each plot table is read once per context (points are cached), copies are handed out.
    epoch = ctx.survey.epochs[0]
    assert epoch.plots is not None
    first = ctx.points(epoch.plots)
    first["x"] = 0.0
    assert (ctx.points(epoch.plots)["x"] != 0.0).all()
