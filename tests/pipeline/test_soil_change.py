"""The soil change the ledger counts: equivalent mass net of allochthonous carbon (hand cases).

docs/methodology.md §3.4 (eq. 3.9a–b) and §3.11 (eq. 3.24–3.25).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.config import Survey, load_survey
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.soil import epoch_core_stocks
from carbonsink.pipeline.stages.soil_change import soil_basis
from tests.conftest import SAMPLE_SURVEY

REED, SEDGE = 4, 3
DEPTH = 100.0


def _survey(tmp: Path, accretion: bool, **soil: Any) -> Survey:
    """The sample survey with hand-made soil tables: 12 cores per epoch at the same sites.

    First epoch: one layer 0–120 cm, OC 1 %, BD 1.0 → M(100) = 10,000 Mg/ha, S = 100.
    Second epoch: 2 cm of sediment (OC 1.5 %, BD 1.0) on the same soil, 0–2 and 2–122 cm.
    """
    survey = load_survey(SAMPLE_SURVEY)
    ctx = RunContext.build(survey)
    inside = ctx.inside.values.astype(bool)
    rows = np.linspace(20, ctx.grid.height - 20, 6).astype(int)
    west, east = ctx.grid.width // 4, 3 * ctx.grid.width // 4
    rows = rows[inside[rows, west] & inside[rows, east]]
    x = np.concatenate([np.full(rows.size, ctx.grid.x[west]), np.full(rows.size, ctx.grid.x[east])])
    y = np.concatenate([ctx.grid.y[rows], ctx.grid.y[rows]])
    # Jitter the sites so no two cores coincide (kriging needs distinct sites).
    x = x + np.arange(x.size) * 3.0
    tables = []
    for name, layers in (
        ("2020", [(0, 120, 1.0)]),
        ("2025", [(0, 2, 1.5), (2, 122, 1.0)]),
    ):
        rows_out = []
        for j, (xj, yj) in enumerate(zip(x, y, strict=True)):
            for top, bottom, oc in layers:
                row = {
                    "core_id": f"K{name}-{j:02d}",
                    "x": xj,
                    "y": yj,
                    "depth_top_cm": top,
                    "depth_bottom_cm": bottom,
                    "bulk_density_g_cm3": 1.0,
                    "soc_pct": oc,
                    "method": "CHN",
                }
                if name == "2025" and accretion:
                    row["accretion_cm"] = 2.0
                rows_out.append(row)
        path = tmp / f"soil_{name}.csv"
        pd.DataFrame(rows_out).to_csv(path, index=False)
        tables.append(path)
    epochs = []
    for e, p in zip(survey.epochs, tables, strict=True):
        assert e.soil is not None
        entry = e.soil.model_copy(update={"path": p, "crs": survey.crs})
        epochs.append(e.model_copy(update={"soil": entry}))
    return survey.model_copy(
        update={
            "epochs": epochs,
            "soil": survey.soil.model_copy(update=soil),
        }
    )


def _results(ctx: RunContext) -> list[Any]:
    soc_map = xr.Dataset(
        attrs={
            "variogram_model": "exponential",
            "variogram_nugget": 4.0,
            "variogram_partial_sill": 10.0,
            "variogram_range_m": 150.0,
        }
    )
    return [
        SimpleNamespace(epoch=e, core_stocks=epoch_core_stocks(ctx, e), soc_maps={DEPTH: soc_map})
        for e in ctx.survey.epochs
    ]


def _halves(ctx: RunContext) -> np.ndarray:
    strata = np.full(ctx.grid.shape, SEDGE, dtype=np.int64)
    strata[:, : ctx.grid.width // 2] = REED
    return strata


def _areas(ctx: RunContext, strata: np.ndarray) -> dict[str, float]:
    inside = ctx.inside.values.astype(bool)
    area = ctx.cell_area_ha.values
    return {
        "reed": float(area[inside & (strata == REED)].sum()),
        "sedge": float(area[inside & (strata == SEDGE)].sum()),
    }


def test_sediment_carbon_is_deducted_and_the_change_is_zero(tmp_path: Path) -> None:
    # Every core: M_ref = 10,000; 2025 m_acc = 2 × 1.0 × 100 = 200 → z* = 102 cm,
    # S = 1.5 × 2 + 1.0 × 100 = 103 Mg C/ha; A = 200 × 1.5 / 100 = 3 → 100 net: no change.
    # Fixed depth 0–100: 3 + 98 = 101 → +1 Mg C/ha; ESM before the deduction +3 Mg C/ha.
    # Deduction per stratum: 3 Mg C/ha × area, r = 0.15 / 1.5 = 0.1.
    survey = _survey(tmp_path, True, sediment_oc_pct=1.5, sediment_oc_sd_pct=0.15)
    ctx = RunContext.build(survey)
    strata = _halves(ctx)
    basis = soil_basis(ctx, _results(ctx), strata, depth=DEPTH)
    summary = basis.summary
    assert summary["basis"] == "equivalent-mass"
    assert summary["reference_mass_mg_ha"] == pytest.approx(10_000.0, rel=1e-9)
    assert summary["accretion"]["mean_accreted_mass_mg_ha"] == pytest.approx(200.0, rel=1e-9)
    areas = _areas(ctx, strata)
    for name, a in areas.items():
        assert summary["counted"][name]["change_t_c"] == pytest.approx(0.0, abs=1e-6 * a)
        assert summary["fixed_depth"][name]["change_t_c"] == pytest.approx(1.0 * a, rel=1e-6)
        assert summary["equivalent_mass"][name]["change_t_c"] == pytest.approx(3.0 * a, rel=1e-6)
        assert summary["allochthonous"]["t_c"][name] == pytest.approx(3.0 * a, rel=1e-6)
    assert basis.deduction_relative_sd.tolist() == pytest.approx([0.1], rel=1e-12)
    assert [w.code for w in basis.warnings] == []
    # What the minimum-detectable-difference check sees: the counted core values (100 in
    # both epochs: 103 − 3) and their kriged mean change, 0 Mg C/ha.
    assert basis.stocks is not None
    for table in basis.stocks:
        np.testing.assert_allclose(table["soc_0_100_mg_ha"], 100.0, rtol=1e-6)
    assert basis.mean_change_mg_ha == pytest.approx(0.0, abs=1e-6)


def test_without_sediment_oc_all_carbon_above_the_marker_is_deducted(tmp_path: Path) -> None:
    # Same cores, no [soil] sediment_oc_pct: A = S(2 cm) = 1.5 × 1.0 × 2 = 3 Mg C/ha —
    # here the same number, with no common error and an allochthonous-default warning.
    ctx = RunContext.build(_survey(tmp_path, True, sediment_oc_pct=None))
    basis = soil_basis(ctx, _results(ctx), _halves(ctx), depth=DEPTH)
    assert basis.deduction_relative_sd.tolist() == [0.0]
    assert [w.code for w in basis.warnings] == ["allochthonous-default"]
    assert basis.summary["counted"]["total"]["change_t_c"] == pytest.approx(0.0, abs=1e-3)


def test_without_accretion_nothing_is_deducted_and_the_ledger_says_so(tmp_path: Path) -> None:
    # No accretion column: z* = 100 cm in both epochs; 2025 S = 3 + 98 = 101 (as fixed depth).
    ctx = RunContext.build(_survey(tmp_path, False, sediment_oc_pct=1.5))
    strata = _halves(ctx)
    basis = soil_basis(ctx, _results(ctx), strata, depth=DEPTH)
    assert [w.code for w in basis.warnings] == ["no-accretion-data"]
    assert basis.summary["allochthonous"]["total_t_c"] == 0.0
    assert basis.mean_change_mg_ha == pytest.approx(1.0, rel=1e-6)
    for name, a in _areas(ctx, strata).items():
        assert basis.summary["counted"][name]["change_t_c"] == pytest.approx(1.0 * a, rel=1e-6)


def test_fixed_depth_is_stated(tmp_path: Path) -> None:
    ctx = RunContext.build(_survey(tmp_path, True, change="fixed-depth"))
    strata = _halves(ctx)
    basis = soil_basis(ctx, _results(ctx), strata, depth=DEPTH)
    assert basis.basis == "fixed-depth"
    assert [w.code for w in basis.warnings] == ["fixed-depth-soil"]
    for name, a in _areas(ctx, strata).items():
        assert basis.summary["fixed_depth"][name]["change_t_c"] == pytest.approx(1.0 * a, rel=1e-6)


def test_on_the_sample_fixed_depth_and_equivalent_mass_differ_beyond_their_error() -> None:
    # The sample world lays 1.9 cm of sediment (0.85 g/cm³, ~1.1 % OC) on the 2020 soil and
    # compacts it by ~5 % between the epochs. Per core, the counted value (ESM net of the
    # sediment carbon) and the fixed-depth stock 0–30 cm differ by d_j; the change of the
    # mean difference between the epochs, Δd = mean(d_2025) − mean(d_2020), is the
    # fixed-depth method's error, with SE √(s₁²/n₁ + s₂²/n₂) from the cores themselves
    # (measured: Δd = 1.11 Mg C/ha, SE 0.50; the whole change is ~4 Mg C/ha).
    ctx = RunContext.build(SAMPLE_SURVEY)
    first, last = ctx.survey.epochs[0], ctx.survey.epochs[-1]
    m_ref = float(epoch_core_stocks(ctx, first)["mass_0_30_mg_ha"].mean())
    years = (last.date - first.date).days / 365.25
    oc_sed = ctx.survey.soil.sediment_oc_pct
    assert oc_sed is not None
    diffs = []
    for epoch, since in ((first, None), (last, years)):
        stocks = epoch_core_stocks(
            ctx, epoch, reference_mass_mg_ha={30.0: m_ref}, years_since_first=since
        )
        counted = stocks["esm_0_30_mg_ha"].to_numpy()
        if since is not None:
            counted = counted - stocks["accreted_mass_mg_ha"].to_numpy() * oc_sed / 100.0
        diffs.append(stocks["soc_0_30_mg_ha"].to_numpy() - counted)
    delta = diffs[1].mean() - diffs[0].mean()
    se = float(np.sqrt(sum(d.var(ddof=1) / d.size for d in diffs)))
    assert abs(delta) > 2.0 * se


def test_a_measured_allochthonous_fraction_is_taken_of_each_stratum_gain(tmp_path: Path) -> None:
    # No accretion column; [soil] allochthonous_fraction 0.25 ± 0.05: every stratum gains
    # 1 Mg C/ha at equivalent mass (as at fixed depth here: the 2025 window is 0–100 cm,
    # 3 + 98 = 101), so D_s = 0.25 × 1 × A_s, counted 0.75 × A_s, r = 0.05 / 0.25 = 0.2.
    survey = _survey(tmp_path, False, allochthonous_fraction=0.25, allochthonous_fraction_sd=0.05)
    ctx = RunContext.build(survey)
    strata = _halves(ctx)
    basis = soil_basis(ctx, _results(ctx), strata, depth=DEPTH)
    assert [w.code for w in basis.warnings] == []
    assert basis.deduction_relative_sd.tolist() == pytest.approx([0.2], rel=1e-12)
    assert basis.subtract_t_c is not None
    for name, a in _areas(ctx, strata).items():
        i = basis.blocks.strata.index(name)
        assert basis.subtract_t_c[-1, i] == pytest.approx(0.25 * a, rel=1e-6)
        assert basis.summary["counted"][name]["change_t_c"] == pytest.approx(0.75 * a, rel=1e-6)
    assert "allochthonous_fraction" in basis.summary["allochthonous"]["source"]


def test_three_epochs_each_lose_their_own_sediment_carbon(tmp_path: Path) -> None:
    # A third epoch five years later on the same sites, 4 cm of sediment (OC 1.5 %, BD 1.0)
    # on the same soil: m_acc = 4 × 1.0 × 100 = 400 Mg/ha → z* = 104 cm, S = 1.5 × 4 + 1.0 ×
    # 100 = 106 Mg C/ha, A = 400 × 1.5 / 100 = 6 → 100 net: still no change. Fixed depth
    # 0–100: 6 + 96 = 102 → +2 Mg C/ha against the first epoch. The deductions: 3 Mg C/ha ×
    # area from 2025 and 6 × area from 2030, each with r = 0.15 / 1.5 = 0.1.
    survey = _survey(tmp_path, True, sediment_oc_pct=1.5, sediment_oc_sd_pct=0.15)
    second = survey.epochs[1]
    rows = pd.read_csv(second.soil.path)  # type: ignore[union-attr]
    cores = rows.drop_duplicates("core_id")[["core_id", "x", "y"]]
    later = []
    for _, core in cores.iterrows():
        for top, bottom, oc in ((0, 4, 1.5), (4, 124, 1.0)):
            later.append(
                {
                    "core_id": str(core["core_id"]).replace("2025", "2030"),
                    "x": core["x"],
                    "y": core["y"],
                    "depth_top_cm": top,
                    "depth_bottom_cm": bottom,
                    "bulk_density_g_cm3": 1.0,
                    "soc_pct": oc,
                    "method": "CHN",
                    "accretion_cm": 4.0,
                }
            )
    path = tmp_path / "soil_2030.csv"
    pd.DataFrame(later).to_csv(path, index=False)
    third = second.model_copy(
        update={
            "name": "2030",
            "date": second.date.replace(year=second.date.year + 5),
            "soil": second.soil.model_copy(update={"path": path}),  # type: ignore[union-attr]
        }
    )
    ctx = RunContext.build(survey.model_copy(update={"epochs": [*survey.epochs, third]}))
    strata = _halves(ctx)
    basis = soil_basis(ctx, _results(ctx), strata, depth=DEPTH)
    areas = _areas(ctx, strata)
    assert basis.deduction_t_c.shape == (2, len(basis.blocks.strata))
    assert basis.deduction_relative_sd.tolist() == pytest.approx([0.1, 0.1], rel=1e-12)
    for name, a in areas.items():
        i = basis.blocks.strata.index(name)
        assert basis.deduction_t_c[:, i] == pytest.approx([3.0 * a, 6.0 * a], rel=1e-6)
        # The counted values are 100 Mg C/ha in every epoch: no change to the third either.
        kriged = basis.blocks.total_t_c[:, i]
        assert kriged[2] - kriged[0] == pytest.approx(0.0, abs=1e-6 * a)
    fixed = soil_basis(
        RunContext.build(
            ctx.survey.model_copy(
                update={"soil": ctx.survey.soil.model_copy(update={"change": "fixed-depth"})}
            )
        ),
        _results(ctx),
        strata,
        depth=DEPTH,
    )
    for name, a in areas.items():
        i = fixed.blocks.strata.index(name)
        totals = fixed.blocks.total_t_c[:, i]
        assert totals[2] - totals[0] == pytest.approx(2.0 * a, rel=1e-6)
