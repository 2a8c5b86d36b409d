"""The sampling design (carbonsink.design) on the sample survey's run.

One run of the sample survey is made for the module. The checks: the design's
kriging of the existing epochs is the run's own (the same variogram, scales and
shared parts give the same covariance, whatever the values); the next epoch's
stocks continue the trend by eq. 9.1; cores revisit the first epoch's sites
first; plots only lower U; the written points are inside the boundary, off
water, in the layers and numbers the design says.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from carbonsink.accounting.pools import StratumTotals
from carbonsink.design.allocation import allocate, neyman
from carbonsink.design.expected import (
    DesignBasis,
    current_effort,
    design_basis,
    expected_claim,
)
from carbonsink.design.outputs import write_design
from carbonsink.design.placement import maximin_order, stratum_sites
from carbonsink.pipeline import RunResult, run_survey
from carbonsink.soil.stratum_blocks import CoreSet, stratum_blocks
from tests.conftest import SAMPLE_SURVEY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run() -> RunResult:
    if not SAMPLE_SURVEY.is_file():
        pytest.skip(f"{SAMPLE_SURVEY} is missing")
    return run_survey(SAMPLE_SURVEY)


@pytest.fixture(scope="module")
def basis(run: RunResult) -> DesignBasis:
    return design_basis(run)


# --------------------------------------------------------------- placement, by hand
def test_maximin_takes_the_farthest_site_from_the_fixed_ones() -> None:
    # Candidates on a line at 0, 1, 2, 3, 10 m; a fixed site at 0: first 10 (10 m away), then
    # 3 (3 m from 0, 7 from 10: its nearest is 3 — the largest), then 2 (nearest 1) vs 1
    # (nearest 1): a tie, the first in order (1).
    line = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [10.0, 0.0]])
    assert maximin_order(line, np.array([[0.0, 0.0]]), 4).tolist() == [4, 3, 1, 2]


def test_cores_revisit_the_first_epochs_sites_first() -> None:
    cells = np.array([[x, y] for x in range(0, 100, 10) for y in range(0, 100, 10)], float)
    first = np.array([[5.0, 5.0], [95.0, 95.0]])
    sites = stratum_sites(cells, first_sites=first, n_max=5)
    assert sites.revisit.tolist() == [True, True, False, False, False]
    assert {tuple(p) for p in sites.xy[:2]} == {(5.0, 5.0), (95.0, 95.0)}
    # The first new site is the cell farthest from both: (90, 0) or (0, 90) — √(85² + 5²) from
    # each; the first in row-major order of the candidates is (0, 90).
    assert tuple(sites.xy[2]) == (0.0, 90.0)


def test_neyman_shares_by_weight_above_the_floors() -> None:
    # 20 units, weights 1 : 3 : 0 and floors 2, 2, 0: shares 5 and 15, above the floors.
    assert neyman(20, {"a": 1.0, "b": 3.0, "c": 0.0}, {"a": 2, "b": 2, "c": 0}) == {
        "a": 5,
        "b": 15,
    }
    # Floor 8 on a: a keeps 8, the other 12 go to b.
    assert neyman(20, {"a": 1.0, "b": 3.0}, {"a": 8, "b": 0}) == {"a": 8, "b": 12}


# --------------------------------------------------------------- the run's own terms
def test_the_designs_kriging_of_the_existing_epochs_is_the_runs(
    run: RunResult, basis: DesignBasis
) -> None:
    blocks = basis.arguments.blocks
    legend = run.context.survey.vegetation.by_code()
    sets = [
        CoreSet(
            x=r.core_stocks["x"].to_numpy(),
            y=r.core_stocks["y"].to_numpy(),
            values=np.full(len(r.core_stocks), 100.0),  # values do not enter the variance
            se=r.core_stocks["soc_0_100_se_mg_ha"].to_numpy(),
        )
        for r in run.results
    ]
    v = blocks.variograms[-1]
    shared = v.__class__(
        model=v.model,
        nugget=v.nugget,
        psill=blocks.sharing["shared_partial_sill"],
        range_m=v.range_m,
    )
    again = stratum_blocks(
        sets,
        run.context.grid,
        run.results[-1].cube.cube["landcover"].values,
        {legend[c]: c for c in sorted(legend)},
        variograms=[v] * len(sets),
        mask=run.context.inside.values.astype(bool),
        fit_variograms=False,
        stratum_scales=True,
        given_scales=dict(zip(blocks.strata, blocks.scales, strict=True)),
        shared=(shared, blocks.sharing["shared_nugget"]),
    )
    np.testing.assert_allclose(again.covariance, blocks.covariance, rtol=1e-9, atol=1e-12)


def test_the_next_epoch_continues_the_trend(basis: DesignBasis) -> None:
    cores, plots = current_effort(basis)
    expected = expected_claim(basis, cores, plots)
    first, last = basis.arguments.inputs[0], basis.arguments.inputs[-1]
    new = expected.epoch.quantities["soc_t_c"]
    assert isinstance(new, StratumTotals)
    span = (last.date - first.date).days / 365.25
    soc_first, soc_last = first.quantities["soc_t_c"], last.quantities["soc_t_c"]
    assert isinstance(soc_first, StratumTotals) and isinstance(soc_last, StratumTotals)
    # Eq. 9.1 for sedge's SOC: T_last + (T_last − T_first) × years / span.
    sedge = soc_last.totals["sedge"] + (soc_last.totals["sedge"] - soc_first.totals["sedge"]) * (
        basis.years / span
    )
    assert new.totals["sedge"] == pytest.approx(sedge, rel=1e-12)
    # The next epoch is the last period's length after the last.
    assert expected.ledger.years == pytest.approx(span + basis.years, abs=1 / 365.25)


def test_more_plots_never_raise_u(basis: DesignBasis) -> None:
    cores, plots = current_effort(basis)
    now = expected_claim(basis, cores, plots)
    more = expected_claim(basis, cores, {s: 3 * n for s, n in plots.items()})
    assert more.u <= now.u


def test_the_written_design(run: RunResult, basis: DesignBasis, tmp_path: Path) -> None:
    allocation = allocate(basis, target_u=0.20, max_steps=2)
    written = write_design(basis, allocation, tmp_path)
    assert sorted(p.name for p in written) == ["design.gpkg", "design.html", "design.json"]
    record = json.loads((tmp_path / "design.json").read_text(encoding="utf-8"))
    assert record["schema"] == "carbonsink-design/1"
    assert record["path"][0]["kind"] == "current"
    chosen = allocation.chosen.expected
    cores = gpd.read_file(tmp_path / "design.gpkg", layer="cores")
    plots = gpd.read_file(tmp_path / "design.gpkg", layer="plots")
    assert len(cores) == sum(chosen.cores.values())
    assert len(plots) == sum(n for s, n in chosen.plots.items() if s in basis.plot_sites)
    assert cores.crs.to_epsg() == 32649
    grid, cube = run.context.grid, run.results[-1].cube.cube
    for frame in (cores, plots):
        rows, cols = grid.index(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
        assert run.context.inside.values[rows, cols].all()
        assert not (np.nan_to_num(cube["water"].values[rows, cols]) > 0).any()
        classes = cube["landcover"].values[rows, cols]
        names = run.context.survey.vegetation.by_code()
        assert [names[int(c)] for c in classes] == frame["stratum"].tolist()


def test_a_survey_of_one_epoch_has_no_design(tmp_path: Path) -> None:
    # The sample survey with its first epoch only: the design predicts a change, which needs
    # two epochs — exit 2 with the reason and the fix, nothing written.
    from carbonsink.cli import main

    for item in SAMPLE_SURVEY.parent.iterdir():
        if item.name != "survey.toml":
            (tmp_path / item.name).symlink_to(item)
    text = SAMPLE_SURVEY.read_text(encoding="utf-8")
    second = text.index("[[epochs]]", text.index("[[epochs]]") + 1)
    rest = text.index("\n[", text.index("checkpoints", second))
    (tmp_path / "survey.toml").write_text(text[:second] + text[rest + 1 :], encoding="utf-8")
    out = tmp_path / "design_out"
    with pytest.raises(SystemExit) as exit_info:
        main(["design", str(tmp_path / "survey.toml"), "-o", str(out), "-q"])
    assert exit_info.value.code == 2
    assert not out.exists()
