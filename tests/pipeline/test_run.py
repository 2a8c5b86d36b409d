"""run_survey is both `carbonsink run` and the library API: one seed, one boundary reading.

Two runs of the sample survey with seed 7 are made once for the module: the
library's ``run_survey(survey, seed=7)`` in this process, without an output
folder, with a spy on every pyogrio call that opens the boundary file; and
``carbonsink run --seed 7`` in a subprocess. Their ledgers must be
byte-identical when written the same way, which shows that a seed means the
same thing on the command line and in a notebook. Both ask 20 AGB bootstrap
replicates of every stratum (a copy of the sample survey, ``bootstrap_comparison``):
the tests check what the runs record, and a mapped stratum's AGB error is its
residual correction, not the bootstrap's spread (docs/methodology.md §6.4).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.spatial import cKDTree

from carbonsink.accounting.pools import StratumTotals
from carbonsink.design.allocation import allocate, neyman
from carbonsink.design.expected import (
    DesignBasis,
    _soc_joint,
    calibrated_sd,
    current_effort,
    design_basis,
    expected_claim,
    u_range,
)
from carbonsink.design.outputs import write_design
from carbonsink.design.placement import edge_distance, maximin_order, stratum_sites
from carbonsink.errors import InputError
from carbonsink.io.writers import write_json
from carbonsink.pipeline import RunResult, run_survey
from carbonsink.pipeline.stages.ledger_arguments import ledger_arguments
from carbonsink.soil.stratum_blocks import CoreSet, stratum_blocks
from tests.conftest import PROJECT_ROOT, SAMPLE_SURVEY
from tests.pipeline.file_reads import spy_on_reads
from tests.survey_edits import quick_sample

SEED = 7


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample survey asking 20 AGB bootstrap replicates of every stratum (a copy without
    the truth; the comparison bootstrap's coarse-blocks warning is a logged line)."""
    return quick_sample(tmp_path_factory.mktemp("quick") / "junshan", compare=True)


@pytest.fixture(scope="module")
def library_run(survey: Path) -> tuple[RunResult, list[str]]:
    with pytest.MonkeyPatch.context() as patch:
        calls = spy_on_reads(patch, survey.parent / "boundary.geojson")
        result = run_survey(survey, seed=SEED)
    return result, calls


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, survey: Path) -> tuple[bytes, str, str]:
    """The ledger, stdout and stderr of ``carbonsink run SURVEY -q`` (the flag after it)."""
    out = tmp_path_factory.mktemp("seed_7")
    command = [
        sys.executable,
        "-m",
        "carbonsink",
        "run",
        str(survey),
        "-q",
        "--out",
        str(out),
        "--seed",
        str(SEED),
        "--workers",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return (out / "ledger.json").read_bytes(), result.stdout, result.stderr


@pytest.mark.slow
def test_quiet_run_prints_the_claim_line_only(cli_run: tuple[bytes, str, str]) -> None:
    # -q after the subcommand is the global flag: no warnings, notes, table or progress;
    # the one line is the ledger's claim.
    ledger, stdout, stderr = cli_run
    claim = json.loads(ledger)["claim"]
    assert stderr == ""
    (line,) = stdout.splitlines()
    assert line.startswith(f"claim: {claim['tradable_t_co2e']:,.1f} t CO2e tradable over ")
    assert f"rule {claim['rule_applied']}" in line


@pytest.mark.slow
def test_seed_7_gives_the_same_ledger_from_the_cli_and_the_library(
    library_run: tuple[RunResult, list[str]], cli_run: tuple[bytes, str, str], tmp_path: Path
) -> None:
    result, _ = library_run
    path = write_json(result.ledger.to_dict(), tmp_path / "ledger.json")
    assert path.read_bytes() == cli_run[0]
    assert result.ledger.monte_carlo["seed"] == SEED
    assert result.context.seed == SEED


@pytest.mark.slow
def test_the_boundary_is_read_once_per_run(library_run: tuple[RunResult, list[str]]) -> None:
    # The preflight reads the boundary (layers, info, geometries) once; the grid, the
    # inside mask, every stage and the ledger's polygon hash use that reading.
    _, calls = library_run
    assert calls.count("read_dataframe") == 1
    assert calls.count("read_info") == 1


@pytest.mark.slow
def test_without_an_output_folder_nothing_is_written(
    library_run: tuple[RunResult, list[str]],
) -> None:
    result, _ = library_run
    assert result.out_dir is None and result.manifest is None and result.written == []
    # The per-pixel results are still returned: carbon of both epochs and the change.
    assert set(result.carbon) == {"2020", "2025"}
    assert result.change is not None
    assert result.change["removals_t_co2e_ha_yr"].attrs["units"] == "t CO2e/ha/yr"


@pytest.mark.slow
def test_the_terminal_credit_table_adds_up_and_never_wraps(
    library_run: tuple[RunResult, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 20: the table shows the net beside its own interval, and the buffer, so that
    # tradable = net − deduction − buffer can be read off every row (to the printed 0.1
    # t CO2e/yr, rounding of three numbers: ≤ 0.15); a pipe (80 columns) never wraps a row.
    from carbonsink.cli._console import stdout
    from carbonsink.cli.run import _print_claim

    result, _ = library_run
    stdout.quiet = False
    _print_claim(result.ledger)
    text = capsys.readouterr().out
    lines = text.splitlines()
    (header,) = [line for line in lines if line.lstrip().startswith("stratum")]
    assert header.split() == [
        "stratum", "removals", "non-CO2", "net", "net", "90", "%", "CI",
        "deduction", "buffer", "tradable",
    ]  # fmt: skip
    strata = result.ledger.strata
    for name, row in strata.iterrows():
        (line,) = [ln for ln in lines if ln.split()[:1] == [str(name)]]
        cells = line.split()
        numbers = [float(c.replace(",", "")) for c in (cells[1:4] + cells[7:])]
        removals, non_co2, net, deduction, buffer, tradable = numbers
        assert removals == pytest.approx(row["removals_t_co2e_yr"], abs=0.05)
        assert non_co2 == pytest.approx(row["non_co2_t_co2e_yr"], abs=0.05)
        assert cells[5] == "to"
        assert float(cells[4].replace(",", "")) == pytest.approx(row["net_p5_t_co2e_yr"], abs=0.5)
        assert float(cells[6].replace(",", "")) == pytest.approx(row["net_p95_t_co2e_yr"], abs=0.5)
        assert net == pytest.approx(row["net_t_co2e_yr"], abs=0.05)
        assert tradable == pytest.approx(max(net - deduction - buffer, 0.0), abs=0.15)
    assert "claim:" in text


@pytest.mark.slow
def test_the_terminal_summary_speaks_the_reports_language(
    library_run: tuple[RunResult, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 20: --lang zh-CN prints the credit table and the claim line in Chinese: the
    # catalog's translation of every column and of "claim", with the ledger's numbers.
    from carbonsink import i18n
    from carbonsink.cli._console import stdout
    from carbonsink.cli.run import _print_claim

    result, _ = library_run
    stdout.quiet = False
    with i18n.language("zh-CN"):
        _print_claim(result.ledger)
    text = capsys.readouterr().out
    catalog = i18n.translations("zh-CN")
    columns = ("stratum", "removals", "non-CO2", "net 90 % CI", "deduction", "buffer", "tradable")
    for column in columns:
        assert catalog.gettext(column) != column
        assert catalog.gettext(column) in text
    claim = result.ledger.to_dict()["claim"]
    last = text.splitlines()[-1]
    assert last.startswith(catalog.gettext("claim"))
    assert f"{claim['tradable_t_co2e']:,.1f} t CO2e" in last
    assert i18n.active_language() == "en"


@pytest.mark.slow
def test_the_reports_maps_name_the_grids_crs(library_run: tuple[RunResult, list[str]]) -> None:
    # Issue 20: every map caption names the CRS and the cell size, also for layers the run
    # merged (which drops rioxarray's spatial_ref): the sample's grid is UTM 49N, 10 m.
    from carbonsink.pipeline.stages.report import report_content
    from carbonsink.report.cartography import map_caption

    result, _ = library_run
    content = report_content(
        result.context, result.results, result.ledger, result.carbon, result.change, {}
    )
    expected = "WGS 84 / UTM zone 49N (EPSG:32649), cells 10 m"
    for epoch in content.epochs:
        for name in ("landcover", "soc_mg_ha", "carbon_mg_ha", "agb_mg_ha"):
            assert map_caption(epoch.layers[name]) == expected, (epoch.name, name)
    assert content.change is not None
    assert map_caption(content.change["removals_t_co2e_ha_yr"]) == expected


#: Ledger texts that are not the ledger's own words: the profile's citations, the random
#: generator's recipe (code), the survey's own settings, units, codes.
_NOT_OURS = (
    re.compile(r"^\.profile\.(source|origin)$"),  # citations; the profile file's path
    re.compile(r"^\.profile\.default_factors\.[^.]+\.source$"),
    re.compile(r"^\.monte_carlo\.rng$"),
    re.compile(r"^\.units\."),
    re.compile(r"^\.lidar\.[^.]+\.dtm_check\.vertical_datum$"),
    re.compile(r"\.code$"),  # warning codes: the same in every language
)


def _english_sentences(tree: object, path: str = "") -> list[str]:
    """Paths and texts of the ledger that read as English prose (three words or more)."""
    if isinstance(tree, dict):
        return [s for k, v in tree.items() for s in _english_sentences(v, f"{path}.{k}")]
    if isinstance(tree, list):
        return [s for i, v in enumerate(tree) for s in _english_sentences(v, f"{path}[{i}]")]
    if not isinstance(tree, str) or any(p.search(path) for p in _NOT_OURS):
        return []
    english = len(re.findall(r"\b[a-z]{2,}\b", tree)) >= 3 and not _CJK.search(tree)
    return [f"{path}: {tree}"] if english else []


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _numbers(tree: object) -> object:
    """The tree without its texts: what must not change with the language."""
    if isinstance(tree, dict):
        return {k: _numbers(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_numbers(v) for v in tree]
    return None if isinstance(tree, str) else tree


@pytest.mark.slow
def test_the_ledger_speaks_the_runs_language(library_run: tuple[RunResult, list[str]]) -> None:
    # Issue 20: every sentence of a Chinese run's ledger is Chinese — its warnings (those the
    # stages logged and cached in English too), where they apply, notes, the strata's
    # notes, the uncertainty rules' explanations, the LiDAR's water and terrain texts — and
    # every number is the English ledger's, from the same stage results.
    from carbonsink import i18n
    from carbonsink.pipeline.stages.ledger import survey_ledger

    result, _ = library_run
    english = result.ledger.to_dict()
    del english["run"]  # the run's record, added after the ledger
    with i18n.language("zh-CN"):
        chinese = survey_ledger(
            result.context, result.results, inputs=result.ledger_inputs, logged=result.logged
        ).to_dict()
    assert json.dumps(_numbers(chinese), sort_keys=True) == json.dumps(
        _numbers(english), sort_keys=True
    )
    left = _english_sentences(chinese)
    assert left == [], "\n".join(left)
    # Short texts too: where each warning applies has no English word left ("epoch 2020",
    # "project"), unless it is a file's name; "SOC 0–100 cm" has none to translate.
    places = [w["where"] for w in chinese["warnings"]]
    assert [
        p
        for p in places
        if re.search(r"\b[a-z]{3,}\b", p) and not _CJK.search(p) and not re.search(r"\.\w+$", p)
    ] == []
    assert any(re.search(r"\b[a-z]{3,}\b", w["where"]) for w in english["warnings"])
    # The English ledger has such sentences in those places (the check can fail).
    found = _english_sentences(english)
    assert len(found) > 20
    assert {w["code"] for w in chinese["warnings"]} == {w["code"] for w in english["warnings"]}
    assert any(w["code"] == "bootstrap-coarse" for w in chinese["warnings"])  # a logged line
    # The report's table of the methodology as applied: every parameter named in Chinese.
    from carbonsink.pipeline.stages.report import report_content

    rows = report_content(
        result.context, result.results, result.ledger, result.carbon, result.change, {}
    ).methodology
    with i18n.language("zh-CN"):
        names = [str(i18n.shown(row.parameter)) for row in rows]
        values = [str(i18n.shown(row.value)) for row in rows]
    assert [n for n in names if not _CJK.search(n)] == []
    assert any("样地" in v for v in values)  # "30 plots; dead:live ratio per class …"


# --------------------------------------------------------------- the sampling design
# carbonsink.design on this module's run (docs/methodology.md §9): the design's kriging of
# the existing epochs is the run's own; the next epoch's stocks continue the trend (eq.
# 9.1); cores revisit the first epoch's sites first; plots only lower U; the written
# points are inside the boundary, off water, in the layers and numbers the design says.
@pytest.fixture(scope="module")
def basis(library_run: tuple[RunResult, list[str]]) -> DesignBasis:
    return design_basis(library_run[0])


def test_the_design_starts_from_the_runs_ledger_arguments(
    library_run: tuple[RunResult, list[str]], basis: DesignBasis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run keeps what its ledger was built from; the design takes it instead of kriging
    # the cores again, and it is what kriging them again gives.
    run = library_run[0]
    assert run.ledger_arguments is not None and basis.arguments is run.ledger_arguments
    again = ledger_arguments(run.context, run.results, run.ledger_inputs, depth=100.0)
    kept = run.ledger_arguments.blocks
    assert again.blocks.strata == kept.strata
    np.testing.assert_array_equal(again.blocks.total_covariance_t_c, kept.total_covariance_t_c)
    # A profile counting soil to a depth the run mapped no SOC at (the sample maps 30 and
    # 100 cm; its 30 cm maps taken away): an error naming the profile, the depth and the
    # epochs, with the setting to change.
    shallow = run.context.profile.model_copy(update={"soil_depth_cm": 30})
    monkeypatch.setattr(type(run.context), "profile", property(lambda _: shallow))
    deep_only = [
        dataclasses.replace(r, soc_maps={d: m for d, m in r.soc_maps.items() if d != 30})
        for r in run.results
    ]
    with pytest.raises(InputError) as error:
        ledger_arguments(run.context, deep_only, run.ledger_inputs, depth=30.0)
    assert "vm0033 profile counts soil to 30 cm but epochs 2020, 2025 have no" in str(error.value)
    assert error.value.problem.where == "[soil].depths_cm"


# --------------------------------------------------------------- placement, by hand
def test_maximin_takes_the_farthest_site_from_the_fixed_ones() -> None:
    # Candidates on a line at 0, 1, 2, 3, 10 m; a fixed site at 0: first 10 (10 m away), then
    # 3 (3 m from 0, 7 from 10: its nearest is 3 — the largest), then 2 (nearest 1) vs 1
    # (nearest 1): a tie, the first in order (1).
    line = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [10.0, 0.0]])
    assert maximin_order(line, np.array([[0.0, 0.0]]), 4).tolist() == [4, 3, 1, 2]


def test_the_edge_counts_twice_so_sites_pack_the_stratum_like_discs() -> None:
    # A 100 × 50 m stratum of 10 m cells (centres x 5…95, y 5…45). A cell of row i, column
    # j is min(i + 1, 5 − i, j + 1, 10 − j) cells from the nearest cell outside: less half a
    # cell, the centre row's columns 2–7 are 30 − 5 = 25 m from the edge, the rim's 5 m.
    region = np.ones((5, 10), dtype=bool)
    edge = edge_distance(region, 10.0)
    assert edge[2, 2:8].tolist() == [25.0] * 6 and edge[0, 4] == edge[2, 0] == 5.0
    columns, rows = np.meshgrid(np.arange(10), np.arange(5))
    cells = np.column_stack([5.0 + 10.0 * columns.ravel(), 45.0 - 10.0 * rows.ravel()])
    nothing = np.empty((0, 2))
    # Eq. 9.7: the first site scores 2 × 25 = 50 (columns 2–7 of the centre row tie: the
    # first, (25, 25)); the second then scores min(2 × 25, distance to (25, 25)) = 50 only at
    # (75, 25). Plain farthest-point sampling starts at the rim: (5, 45), 49.2 m from the
    # centroid (50, 25), then (95, 45).
    with_edge = maximin_order(cells, nothing, 2, edge_m=edge.ravel())
    assert cells[with_edge].tolist() == [[25.0, 25.0], [75.0, 25.0]]
    assert cells[maximin_order(cells, nothing, 2)].tolist() == [[5.0, 45.0], [95.0, 45.0]]
    # Each site then covers a 50 × 50 m half: the mean squared distance of the cells to their
    # nearest site (spatial coverage, Walvoort et al. 2010) is mean(dx²) + mean(dy²) =
    # (400 + 100 + 0 + 100 + 400) / 5 × 2 = 400 m², against the rim pair's 1,200 m². The
    # discs cover the stratum better for a few sites (here up to 8 in 50 cells; from 9 on
    # the two orders come close, and plain farthest-point sampling can win).
    for n in (2, 4, 6, 8):
        mssd = []
        for order in (
            maximin_order(cells, nothing, n, edge_m=edge.ravel()),
            maximin_order(cells, nothing, n),
        ):
            distance, _ = cKDTree(cells[order]).query(cells)
            mssd.append(float(np.mean(distance**2)))
        assert mssd[0] < mssd[1], n
        if n == 2:
            assert mssd == [400.0, 1200.0]


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


def test_the_u_range_spans_what_the_next_net_may_be() -> None:
    # Draws of the current cumulative net's error ε_last ∈ {−10, +10} and the next
    # estimate's own ε_new ∈ {−20, +20}, every pair 250 times; forecast 100 t CO2e, the
    # trend stretched s = 2. N_new = 100 + ε_new − 2 ε_last ∈ {60, 100, 100, 140}: its 5 %
    # and 95 % quantiles are 60 and 140, so U = 30 % ranges over 0.3 × 100/140 = 21.43 %
    # to 0.3 × 100/60 = 50 %.
    last = np.repeat([-10.0, -10.0, 10.0, 10.0], 250) + 40.0
    new = np.repeat([-20.0, 20.0, -20.0, 20.0], 250) + 100.0
    low, high = u_range(0.30, np.column_stack([last, new]), 2.0)
    assert (low, high) == (pytest.approx(0.3 * 100 / 140), pytest.approx(0.5))
    # An error both share in proportion (ε_new = 2 ε_last, like a root:shoot ratio's)
    # cancels: the range closes on U.
    low, high = u_range(0.30, np.column_stack([last, 100.0 + 2 * (last - 40.0)]), 2.0)
    assert (low, high) == (pytest.approx(0.30), pytest.approx(0.30))
    # A net that may be 0 or less: no upper bound. A forecast below 0, −30 t CO2e: the net
    # found is {−70, −30, −30, 10}, so U = 30 % of |−30| = 9 t CO2e is at least 9/10 = 90 %.
    assert u_range(0.30, np.column_stack([last, new - 70.0]), 2.0)[1] == math.inf
    low, high = u_range(0.30, np.column_stack([last, new - 130.0]), 2.0)
    assert (low, high) == (pytest.approx(0.9), math.inf)
    # A forecast of 0 has no U at all.
    assert u_range(0.30, np.column_stack([last, new - 100.0]), 2.0) == (math.inf, math.inf)


# --------------------------------------------------------------- the run's own terms
def test_the_designs_kriging_of_the_existing_epochs_is_the_runs(
    library_run: tuple[RunResult, list[str]], basis: DesignBasis
) -> None:
    run = library_run[0]
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


def test_a_calibrated_method_bias_by_hand() -> None:
    # eq. 9.8: 1/σ² = 1/σ_m² + N/s_d². σ_m 2 %, s_d 10 %, 25 pairs: 2,500 + 2,500 = 5,000,
    # σ = 1/√5,000 = 0.0141421; 10,000 pairs: 2,500 + 1,000,000, σ = 0.000998752 (→ s_d/√N).
    assert calibrated_sd(0.02, 0.10, 25) == pytest.approx(0.0141421, abs=1e-7)
    assert calibrated_sd(0.02, 0.10, 10_000) == pytest.approx(0.000998752, abs=1e-9)
    assert calibrated_sd(0.02, 0.10, 0) == 0.02
    assert calibrated_sd(0.0, 0.10, 25) == 0.0


def test_samples_by_both_methods_shrink_only_the_next_epochs_method_term(
    basis: DesignBasis,
) -> None:
    # The sample survey's 2025 lab uses another OC method than 2020's (eq. 3.3a, σ_m 2 %):
    # the term the last epoch carries on is σ_m² T̂ T̂ᵀ; 25 pairs make it σ_25² T̂ T̂ᵀ,
    # σ_25 = 0.0141421 (above), and change nothing else.
    assert basis.method_sd == pytest.approx(0.02)
    cores, _ = current_effort(basis)
    before, _ = _soc_joint(basis, cores)
    after, _ = _soc_joint(basis, cores, pairs=25, pair_sd=0.10)
    n = len(basis.arguments.blocks.strata)
    e = len(basis.arguments.inputs)
    t = basis.method_totals
    expected = before.copy()
    expected[e * n :, e * n :] += (1.0 / 5000.0 - 0.02**2) * np.outer(t, t)  # σ_25² = 1/5,000
    np.testing.assert_allclose(after, expected, rtol=1e-9, atol=1e-6)
    assert (after[e * n :, e * n :].sum()) < before[e * n :, e * n :].sum()


def test_more_plots_never_raise_u(basis: DesignBasis) -> None:
    cores, plots = current_effort(basis)
    now = expected_claim(basis, cores, plots)
    more = expected_claim(basis, cores, {s: 3 * n for s, n in plots.items()})
    assert more.u <= now.u


def test_the_written_design(
    library_run: tuple[RunResult, list[str]], basis: DesignBasis, tmp_path: Path
) -> None:
    run = library_run[0]
    allocation = allocate(basis, target_u=0.20, max_steps=2)
    written = write_design(basis, allocation, tmp_path)
    assert sorted(p.name for p in written) == ["design.gpkg", "design.html", "design.json"]
    record = json.loads((tmp_path / "design.json").read_text(encoding="utf-8"))
    assert record["schema"] == "carbonsink-design/1"
    assert record["path"][0]["kind"] == "current"
    # The lab method changed (σ_m 2 %): the path also tries samples by both methods, which
    # lower U where cores no longer do (docs/methodology.md §9.4).
    pairs = [step for step in record["path"] if step["kind"] == "pairs"]
    assert pairs and pairs[0]["pairs"] == 10
    assert pairs[0]["u"] < record["path"][0]["u"]
    calibration = record["method_calibration"]
    assert calibration["method_bias_sd_pct"] == pytest.approx(2.0)
    assert calibration["pairs"] == allocation.chosen.expected.pairs
    chosen = allocation.chosen.expected
    cores = gpd.read_file(tmp_path / "design.gpkg", layer="cores")
    plots = gpd.read_file(tmp_path / "design.gpkg", layer="plots")
    assert len(cores) == sum(chosen.cores.values())
    assert len(plots) == sum(n for s, n in chosen.plots.items() if s in basis.plot_sites)
    assert cores.crs.to_epsg() == 32649
    # Every new site at least 10 m inside the boundary (5 SDs of a handheld GNSS fix).
    edge = run.context.boundary.to_crs(run.context.survey.crs).boundary
    for frame in (cores[~cores["revisit"]], plots):
        assert min(edge.distance(point) for point in frame.geometry) >= 10.0
    # The forecast net's spread brackets the predicted U (eq. 9.6).
    low, high = record["chosen"]["u_range90"]
    assert low < record["chosen"]["u"] < (math.inf if high is None else high)
    grid, cube = run.context.grid, run.results[-1].cube.cube
    for frame in (cores, plots):
        rows, cols = grid.index(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
        assert run.context.inside.values[rows, cols].all()
        assert not (np.nan_to_num(cube["water"].values[rows, cols]) > 0).any()
        classes = cube["landcover"].values[rows, cols]
        names = run.context.survey.vegetation.by_code()
        assert [names[int(c)] for c in classes] == frame["stratum"].tolist()


def test_the_design_command(
    library_run: tuple[RunResult, list[str]],
    basis: DesignBasis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `carbonsink design` on this module's run (its run_survey answered with it): budgets of
    # the last epoch's effort and no calibration leave the path one step long, the current
    # effort, which the record, the files and the answer line say; a budget below it is
    # exit 2, nothing written.
    from carbonsink.cli import main

    monkeypatch.setattr("carbonsink.pipeline.run.run_survey", lambda *a, **k: library_run[0])
    cores, plots = current_effort(basis)
    out = tmp_path / "design_out"
    argv = ["design", str(SAMPLE_SURVEY), "-o", str(out), "--years", "4"]
    # No samples by both OC methods either (the lab method changed; they would lower U).
    budgets = ["--budget-pairs", "0", "--budget-cores", str(sum(cores.values())), "--budget-plots"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, *budgets, str(sum(plots.values()))])
    assert exit_info.value.code == 0
    assert sorted(p.name for p in out.iterdir()) == ["design.gpkg", "design.html", "design.json"]
    record = json.loads((out / "design.json").read_text(encoding="utf-8"))
    assert record["next_epoch"]["years_after_last"] == 4.0
    assert [step["kind"] for step in record["path"]] == ["current"]
    assert record["chosen"]["cores"] == cores
    # What holds the chosen design's U (eq. 6.14): every group of varying streams, largest
    # share first, the SOC totals among them; each share a fraction of the variance.
    budget = record["u_budget"]
    shares = [g["variance_share"] for g in budget["groups"]]
    assert shares == sorted(shares, reverse=True)
    assert all(-0.05 < share <= 1.0 for share in shares)
    assert "soc_total" in {g["group"] for g in budget["groups"]}
    assert all(g["half_width90"] < budget["half_width90"] for g in budget["groups"][:1])
    assert "What holds U" in (out / "design.html").read_text(encoding="utf-8")
    said = capsys.readouterr().out
    assert f"target U 20 % not reached (lowest U found): {sum(cores.values())} cores" in said
    below = tmp_path / "below"
    with pytest.raises(SystemExit) as exit_info:
        main(["design", str(SAMPLE_SURVEY), "-o", str(below), *budgets, "3"])
    assert exit_info.value.code == 2
    assert f"a budget of 3 plots is below the last epoch's {sum(plots.values())}" in (
        capsys.readouterr().err.replace("\n", " ")
    )
    assert not below.exists()


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


def test_a_unit_at_no_cost_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A free unit would win every step while it lowers U at all: exit 2 before any stage
    # runs, naming the option, nothing written.
    from carbonsink.cli import main

    out = tmp_path / "design_out"
    with pytest.raises(SystemExit) as exit_info:
        main(["design", str(SAMPLE_SURVEY), "-o", str(out), "--cost-pair", "0"])
    assert exit_info.value.code == 2
    said = capsys.readouterr()
    assert "--cost-pair is 0" in (said.out + said.err).replace("\n", " ")
    assert not out.exists()
