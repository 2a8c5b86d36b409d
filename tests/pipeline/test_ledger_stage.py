"""The accounting stage's model-assisted corrections of the biomass totals (hand cases)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from carbonsink.accounting.pools import KeyedTotals
from carbonsink.config import TableEntry
from carbonsink.errors import InputError
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.ledger import imagery_warnings
from carbonsink.pipeline.stages.ledger_biomass import (
    outside_aoa_errors,
    outside_joint_covariance,
    residual_corrections,
    shared_outside,
)
from carbonsink.pipeline.stages.ledger_soil import hold, method_change
from carbonsink.pipeline.stages.soil import epoch_core_stocks
from tests.conftest import SAMPLE_SURVEY

REED, SEDGE, MISCANTHUS = 4, 3, 5


@pytest.fixture(scope="module")
def ctx() -> RunContext:
    return RunContext.build(SAMPLE_SURVEY)


def _model(
    x: np.ndarray,
    y: np.ndarray,
    observed: np.ndarray,
    residual: np.ndarray,
    random_residual: np.ndarray | None = None,
) -> Any:
    """A fitted model's CV predictions: spatial block CV, and a random CV when given."""

    def predictions(r: np.ndarray) -> Any:
        frame = pd.DataFrame({"x": x, "y": y, "observed": observed, "predicted": observed - r})
        return SimpleNamespace(predictions=frame)

    random_cv = None if random_residual is None else predictions(random_residual)
    return SimpleNamespace(name="imagery", cv=predictions(residual), random_cv=random_cv)


def _halves(ctx: RunContext) -> np.ndarray:
    """Reed in the west half of the grid, sedge in the east, miscanthus in the last 5 columns."""
    strata = np.full(ctx.grid.shape, SEDGE, dtype=np.int64)
    strata[:, : ctx.grid.width // 2] = REED
    strata[:, -5:] = MISCANTHUS
    return strata


def test_constant_residuals_correct_each_stratum_by_its_own(ctx: RunContext) -> None:
    # Ten plots in each half: the map is 2 Mg/ha too low in reed (residual +2) and 1 Mg/ha
    # too high in sedge (−1). Whatever the kriging weights (they sum to 1 over the stratum's
    # own plots and to 0 over the others'), the block means are exactly +2 and −1, so the
    # corrections are +2 × A_reed and −1 × A_sedge (t DM). Miscanthus has one plot: no
    # correction, variance (T × RRMSE)² with T its map total (1 Mg/ha × area) and RRMSE =
    # √(mean r²) / mean observed of the block CV (the conservative one) = √25 / 10 = 0.5.
    strata = _halves(ctx)
    inside = ctx.inside.values.astype(bool)
    area = ctx.cell_area_ha.values.astype(np.float64)
    rows = np.linspace(20, ctx.grid.height - 20, 10).astype(int)
    west, east = ctx.grid.width // 4, 3 * ctx.grid.width // 4
    rows = rows[inside[rows, west] & inside[rows, east]]
    n = rows.size
    x = np.concatenate([np.full(n, ctx.grid.x[west]), np.full(n, ctx.grid.x[east])])
    y = np.concatenate([ctx.grid.y[rows], ctx.grid.y[rows]])
    last = int(np.flatnonzero(inside[:, -3])[0])
    x = np.append(x, ctx.grid.x[-3])
    y = np.append(y, ctx.grid.y[last])
    residual = np.concatenate([np.full(n, 2.0), np.full(n, -1.0), [2.0]])
    # The block CV's residuals (+5 everywhere) are not the ones used: the random CV's are.
    model = _model(x, y, np.full(x.size, 10.0), np.full(x.size, 5.0), residual)
    predicted_by = np.full(ctx.grid.shape, 2)
    mapped = area * 1.0
    means, cov = residual_corrections(ctx, strata, predicted_by, mapped, inside, [model])
    a_reed = float(area[inside & (strata == REED)].sum())
    a_sedge = float(area[inside & (strata == SEDGE)].sum())
    assert means["reed"] == pytest.approx(2.0 * a_reed, rel=1e-6)
    assert means["sedge"] == pytest.approx(-1.0 * a_sedge, rel=1e-6)
    assert means["miscanthus"] == 0.0
    order = list(means)
    rrmse = 0.5
    total = float(mapped[inside & (strata == MISCANTHUS)].sum())
    k = order.index("miscanthus")
    assert cov[k, k] == pytest.approx((total * rrmse) ** 2, rel=1e-9)
    assert cov[k, order.index("reed")] == 0.0
    # Sedge's plots 3 Mg/ha too high where the map holds 1 Mg/ha: the correction takes off
    # the map's own total (−1 × A_sedge), not −3 × A_sedge.
    steep = np.concatenate([np.full(n, 2.0), np.full(n, -3.0), [2.0]])
    model = _model(x, y, np.full(x.size, 10.0), np.full(x.size, 5.0), steep)
    bounded, _ = residual_corrections(ctx, strata, predicted_by, mapped, inside, [model])
    assert bounded["sedge"] == pytest.approx(-1.0 * a_sedge, rel=1e-6)
    assert bounded["reed"] == pytest.approx(2.0 * a_reed, rel=1e-6)


def _outside_rows(ctx: RunContext) -> np.ndarray:
    """The first 10 rows of the grid with cells inside the survey: outside the AOA."""
    inside = ctx.inside.values.astype(bool)
    first = int(np.flatnonzero(inside.any(axis=1))[0])
    outside = np.zeros(ctx.grid.shape, dtype=bool)
    outside[first : first + 10] = True
    return outside & inside


def test_cells_outside_the_area_of_applicability(ctx: RunContext) -> None:
    # 3 Mg/ha mapped on the cells outside the AOA; the model's 4 plots lie off the grid, so
    # no stratum has plots of its own: each stratum's SE is RMSE × its area outside the AOA,
    # RMSE = √(mean r²) = √((4 + 4 + 4 + 4) / 4) = 2 Mg DM/ha, whatever is mapped there.
    strata = _halves(ctx)
    area = ctx.cell_area_ha.values.astype(np.float64)
    outside = _outside_rows(ctx)
    model = _model(np.zeros(4), np.arange(4.0), np.full(4, 10.0), np.array([2.0, -2.0, 2.0, -2.0]))
    predicted_by = np.full(ctx.grid.shape, 2)
    variances = outside_aoa_errors(ctx, strata, predicted_by, 3.0 * area, area, outside, [model])
    assert set(variances) == {"reed", "sedge"}
    for name, code in (("reed", REED), ("sedge", SEDGE)):
        hectares = float(area[outside & (strata == code)].sum())
        assert variances[name] == pytest.approx((2.0 * hectares) ** 2, rel=1e-12)
    # Nothing mapped outside the AOA in sedge: no error term for it.
    mapped = np.where(strata == SEDGE, 0.0, 3.0 * area)
    assert set(outside_aoa_errors(ctx, strata, predicted_by, mapped, area, outside, [model])) == {
        "reed"
    }


def test_outside_the_aoa_a_stratum_with_enough_plots_takes_their_own_error(
    ctx: RunContext,
) -> None:
    # Five plots in reed, residuals ±1 Mg DM/ha: reed's own RMSE is 1, their mean observation
    # 10 Mg DM/ha. Mapped at 3 Mg/ha, the cells' mean departs from it by 7: the error per
    # hectare is max(1, 7 / z_0.95) = 7 / 1.644854 = 4.25570 Mg DM/ha; mapped at 10.5, by 0.5:
    # max(1, 0.5 / 1.644854 = 0.304) = 1 (the RMSE). Four plots in sedge,
    # residuals ±4: fewer than MIN_STRATUM_PLOTS = 5. Half the outside cells of each stratum
    # are predicted by a second model (LiDAR, code 1) with no plot on the grid: residuals ±5,
    # RMSE 5. The LiDAR cells of reed take the imagery model's reed plots (no LiDAR plot is
    # there, the imagery model has 5). The imagery model's RMSE over its nine plots is
    # √((5·1 + 4·16) / 9) = 2.77, so the largest of the models' is 5: the cells of sedge,
    # where no model has 5 plots, take it. The two models' errors in a stratum add up (one
    # sign): SE = e_reed × ha(reed cells); SE = 5 × ha(sedge cells).
    strata = _halves(ctx)
    area = ctx.cell_area_ha.values.astype(np.float64)
    inside = ctx.inside.values.astype(bool)
    outside = _outside_rows(ctx)
    rows = np.flatnonzero(inside[:, ctx.grid.width // 4] & inside[:, 3 * ctx.grid.width // 4])
    west, east = ctx.grid.x[ctx.grid.width // 4], ctx.grid.x[3 * ctx.grid.width // 4]
    x = np.array([west] * 5 + [east] * 4)
    y = ctx.grid.y[rows[:9]]
    residual = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 4.0, -4.0, 4.0, -4.0])
    imagery = _model(x, y, np.full(9, 10.0), residual)
    lidar = _model(np.zeros(2), np.arange(2.0), np.full(2, 10.0), np.array([5.0, -5.0]))
    lidar.name = "lidar"
    predicted_by = np.full(ctx.grid.shape, 2)
    predicted_by[:, ::2] = 1
    for density, reed_error in ((3.0, 7.0 / 1.644854), (10.5, 1.0)):
        variances = outside_aoa_errors(
            ctx, strata, predicted_by, density * area, area, outside, [imagery, lidar]
        )
        for name, code, own in (("reed", REED, reed_error), ("sedge", SEDGE, 5.0)):
            here = outside & (strata == code)
            by_imagery = float(area[here & (predicted_by == 2)].sum())
            by_lidar = float(area[here & (predicted_by == 1)].sum())
            assert by_imagery > 0 and by_lidar > 0
            expected = (own * (by_imagery + by_lidar)) ** 2
            assert variances[name] == pytest.approx(expected, rel=1e-6)


def test_outside_the_aoa_cells_on_both_sides_of_the_plots_mean_do_not_add_up(
    ctx: RunContext,
) -> None:
    # Five reed plots, residuals ±1 (RMSE 1), mean observation 10 Mg DM/ha. The reed cells
    # outside the AOA are mapped at 16 and 4 Mg/ha in alternate columns: each departs from
    # the plots' mean by 6, but their mean departs by (16 + 4) / 2 − 10 = 0 (up to the cells'
    # areas). That is the stratum's natural spread, not an error of its total: SE = RMSE × A
    # = 1 × A, where a sum of the cells' own departures would give 6 / 1.644854 × A = 3.65 A.
    # Mapped at 16 and 10 instead, the mean departs by 3: SE = |T − 10 A| / z, with
    # T − 10 A = 6 × A(16-cells), which is ≈ 3 A / 1.644854 = 1.82 A > A.
    strata = _halves(ctx)
    area = ctx.cell_area_ha.values.astype(np.float64)
    inside = ctx.inside.values.astype(bool)
    outside = _outside_rows(ctx)
    rows = np.flatnonzero(inside[:, ctx.grid.width // 4])
    x = np.full(5, ctx.grid.x[ctx.grid.width // 4])
    y = ctx.grid.y[rows[:5]]
    model = _model(x, y, np.full(5, 10.0), np.array([1.0, -1.0, 1.0, -1.0, 1.0]))
    predicted_by = np.full(ctx.grid.shape, 2)
    here = outside & (strata == REED)
    hectares = float(area[here].sum())
    high = np.zeros(ctx.grid.shape, dtype=bool)
    high[:, ::2] = True
    for low_density in (4.0, 10.0):
        mapped = np.where(high, 16.0, low_density) * area
        variances = outside_aoa_errors(ctx, strata, predicted_by, mapped, area, outside, [model])
        departure = abs(float(mapped[here].sum()) - 10.0 * hectares) / 1.644854
        assert variances["reed"] == pytest.approx(max(hectares, departure) ** 2, rel=1e-6)
        if low_density == 4.0:
            assert departure < 0.1 * hectares  # the alternating columns nearly cancel
            assert variances["reed"] == pytest.approx(hectares**2, rel=1e-6)
        else:
            assert departure == pytest.approx(
                6.0 * float(area[here & high].sum()) / 1.644854, rel=1e-6
            )
            assert departure > 1.7 * hectares


def test_a_change_of_lab_method_between_the_epochs(ctx: RunContext) -> None:
    # The sample's 2020 cores are CHN (soc_pct), its 2025 cores dichromate 有机质 (om_g_kg).
    # Its survey file sets method_bias_sd_pct = 2 (the synthetic dichromate lab's bias is
    # drawn from N(0, 2 %)): SD 0.02, and the warning names both methods. With the default,
    # 5 %, the SD is 0.05.
    first, last = (SimpleNamespace(epoch=e) for e in ctx.survey.epochs)
    found = method_change(ctx, [first, last])  # type: ignore[list-item]
    assert found is not None
    sd, message, changed = found
    assert sd == pytest.approx(0.02)
    assert changed == [1]
    assert "CHN" in message and "dichromate" in message and "method_bias_sd_pct" in message
    # A third epoch measured like the first is not hit; one measured like the last is.
    assert method_change(ctx, [first, last, first])[2] == [1]  # type: ignore[index,list-item]
    assert method_change(ctx, [first, first, last])[2] == [2]  # type: ignore[index,list-item]
    assert method_change(ctx, [first, last, last])[2] == [1, 2]  # type: ignore[index,list-item]
    soil = ctx.survey.soil.model_copy(update={"method_bias_sd_pct": 5.0})
    default = RunContext.build(ctx.survey.model_copy(update={"soil": soil}))
    found = method_change(default, [first, last])  # type: ignore[list-item]
    assert found is not None and found[0] == pytest.approx(0.05)
    # One method in both epochs: nothing to add.
    assert method_change(ctx, [first, first]) is None  # type: ignore[list-item]


def _with_pairs(ctx: RunContext, folder: Path, later: str = "dichromate") -> RunContext:
    """The sample survey with ten samples by CHN and ``later``: 2.00 % OC by CHN, later
    readings 0, 2 or 4 % higher (d̄ = 2 %, as tests/soil/test_method_calibration.py)."""
    differences = (0.00, 0.02, 0.04, 0.00, 0.02, 0.04, 0.00, 0.02, 0.04, 0.02)
    rows = [
        row
        for i, d in enumerate(differences, start=1)
        for row in (f"S{i},CHN,2.00", f"S{i},{later},{2.0 * (1 + d):.2f}")
    ]
    path = folder / "pairs.csv"
    path.write_text("sample_id,method,soc_pct\n" + "\n".join(rows) + "\n", encoding="utf-8")
    soil = ctx.survey.soil.model_copy(update={"method_pairs": TableEntry(path=path)})
    return RunContext.build(ctx.survey.model_copy(update={"soil": soil}))


def _respelled(ctx: RunContext, folder: Path) -> Any:
    """The first epoch with its soil table's methods written "chn " instead of "CHN"."""
    first = ctx.survey.epochs[0]
    assert first.soil is not None
    text = first.soil.path.read_text(encoding="utf-8").replace(",CHN,", ",chn ,")
    path = folder / "soil_respelled.csv"
    path.write_text(text, encoding="utf-8")
    return first.model_copy(update={"soil": first.soil.model_copy(update={"path": path})})


def test_samples_by_both_methods_correct_the_later_soil(ctx: RunContext, tmp_path: Path) -> None:
    # Prior 2 % (the sample's method_bias_sd_pct), d̄ = 2 %, v = 3.4286e-5 (eq. 3.3b by hand
    # in tests/soil/test_method_calibration.py): b̂ = 0.02 × 35/38 = 0.0184211 and
    # σ_N = 1/√31,666.67 = 0.0056195 replaces the 2 % of eq. 3.3a.
    calibrated = _with_pairs(ctx, tmp_path)
    first, last = (SimpleNamespace(epoch=e) for e in calibrated.survey.epochs)
    found = method_change(calibrated, [first, last])  # type: ignore[list-item]
    assert found is not None
    sd, message, changed = found
    assert sd == pytest.approx(1 / np.sqrt(31_666.666_667), rel=1e-9)
    assert changed == [1]
    assert "10 samples measured by both methods (pairs.csv)" in message
    assert "+1.84%" in message and "1.0184" in message and "eq. 3.3b" in message
    # The 2025 (dichromate) cores' stocks are the uncorrected ones / (1 + b̂); 2020's (CHN)
    # are untouched.
    bias = 0.02 * 35 / 38
    for epoch, divisor in zip(ctx.survey.epochs, (1.0, 1.0 + bias), strict=True):
        plain = epoch_core_stocks(ctx, epoch)["soc_0_100_mg_ha"]
        corrected = epoch_core_stocks(calibrated, epoch)["soc_0_100_mg_ha"]
        assert np.allclose(corrected, plain / divisor, rtol=1e-12)
    # A method spelled another way in a later epoch ("chn " for "CHN") is the same method:
    # no change, no term — as core_stocks, which corrects no layer then.
    spelled = SimpleNamespace(epoch=_respelled(ctx, tmp_path))
    assert method_change(calibrated, [first, spelled]) is None  # type: ignore[list-item]
    # Samples that calibrate another method than the later epoch's are refused.
    other = _with_pairs(ctx, tmp_path, later="LOI")
    with pytest.raises(InputError, match=r"calibrate loi against chn.*dichromate"):
        method_change(other, [first, last])  # type: ignore[list-item]


def test_a_held_stratum_is_the_same_in_every_epoch() -> None:
    # Two epochs × two strata; stratum 1 is held. Whatever was added to its entries (here a
    # later-epoch term, 9 → 13, and cross terms with stratum 0), afterwards its two epochs
    # share one variance, 9, perfectly correlated, and nothing with stratum 0.
    joint = np.array(
        [
            [4.0, 1.0, 2.0, 0.5],
            [1.0, 9.0, 0.3, 7.0],
            [2.0, 0.3, 5.0, 1.5],
            [0.5, 7.0, 1.5, 13.0],
        ]
    )
    held = hold(joint, [1], n_epochs=2)
    expected = np.array(
        [
            [4.0, 0.0, 2.0, 0.0],
            [0.0, 9.0, 0.0, 9.0],
            [2.0, 0.0, 5.0, 0.0],
            [0.0, 9.0, 0.0, 9.0],
        ]
    )
    np.testing.assert_array_equal(held, expected)
    assert joint[3, 3] == 13.0  # the input is not changed


def test_scenes_dropped_or_unmasked_are_ledger_warnings() -> None:
    # The epoch cube records the composite's left-out and unmasked scenes as "; "-joined
    # strings; each epoch with any gives one warning naming them, an epoch with none none.
    def result(name: str, left_out: str, unmasked: str) -> Any:
        attrs = {"scenes_left_out": left_out, "scenes_unmasked": unmasked}
        return SimpleNamespace(
            epoch=SimpleNamespace(name=name),
            cube=SimpleNamespace(cube=SimpleNamespace(attrs=attrs)),
        )

    warnings = imagery_warnings(
        [
            result("2020", "a.tif: no usable pixel inside the survey; b.tif: only 3.0% usable", ""),
            result("2025", "", "c.tif"),
            result("2030", "", ""),
        ]
    )
    assert [(w.code, w.where) for w in warnings] == [
        ("scene-dropped", "epoch 2020 imagery"),
        ("clouds-unmasked", "epoch 2025 imagery"),
    ]
    assert warnings[0].message.startswith("2 scene(s) left out of the 2020 composite — a.tif")
    assert "(c.tif)" in warnings[1].message


def test_a_default_flux_in_place_of_a_measurement_is_a_warning(ctx: RunContext) -> None:
    # The local-voluntary profile gives VM0033's freshwater N2O default, 0.000864 t N2O
    # ha⁻¹ yr⁻¹ = 0.000864 × 10⁹ mg / 10⁴ m² / 365 d = 0.236712 mg N2O m⁻² d⁻¹. Reed has no
    # N2O flux of its own and covers 12 ha: named. Sedge takes the default too but covers
    # no land in the last epoch: not named. CH4 is configured for both: no CH4 warning.
    from carbonsink.pipeline.stages.ledger import default_flux_warnings

    classes = dict(ctx.survey.vegetation.classes)
    classes["reed"] = classes["reed"].model_copy(update={"n2o_flux_mg_m2_d": None})
    vegetation = ctx.survey.vegetation.model_copy(update={"classes": classes})
    accounting = ctx.survey.accounting.model_copy(update={"profile": "local-voluntary"})
    survey = ctx.survey.model_copy(update={"vegetation": vegetation, "accounting": accounting})
    local = RunContext.build(survey)
    parameters = {
        "reed": SimpleNamespace(ch4_source="configured", n2o_source="default factor"),
        "sedge": SimpleNamespace(ch4_source="configured", n2o_source="default factor"),
    }
    last = SimpleNamespace(name="2025", class_area_ha={"reed": (12.0, 1.0), "sedge": (0.0, 0.0)})
    warnings = default_flux_warnings(local, parameters, last)  # type: ignore[arg-type]
    assert [w.code for w in warnings] == ["default-flux"]
    message = warnings[0].message
    assert "N2O flux of class(es) reed (12.0 ha, 0.236712 mg N2O m⁻² d⁻¹)" in message
    assert "sedge" not in message and "local-voluntary" in message
    assert warnings[0].where == "N2O, epoch 2025"


def _epoch_layers(outside: np.ndarray, source: np.ndarray) -> Any:
    """An epoch's results as shared_outside reads them: boundary, AOA flag, model source."""
    layers = {
        "agb_outside_aoa": SimpleNamespace(values=outside),
        "agb_model": SimpleNamespace(values=source),
    }
    cube = {"inside_boundary": SimpleNamespace(values=np.ones(outside.shape, dtype=bool))}
    return SimpleNamespace(
        cube=SimpleNamespace(cube=cube), biomass=SimpleNamespace(layers=layers, dom=None)
    )


def test_the_share_of_outside_aoa_cells_both_epochs_hold() -> None:
    # A 4 × 6 grid of 0.01 ha cells: reed in columns 0-2, sedge in 3-5. Outside the AOA:
    # epoch 1 rows 0-1 (6 cells of each stratum); epoch 2 rows 1-2 of reed (6 cells, 3
    # shared) and rows 2-3 of sedge (none shared), plus reed's cell (3, 0), which no model
    # predicts (source 0: not counted). φ_reed = 3 × 0.01² / √(6 × 0.01² × 6 × 0.01²) =
    # 0.5, φ_sedge = 0 (eq. 6.8d); miscanthus has no cells: left out.
    legend = {REED: "reed", SEDGE: "sedge", MISCANTHUS: "miscanthus"}
    ctx = SimpleNamespace(
        survey=SimpleNamespace(vegetation=SimpleNamespace(by_code=lambda: legend)),
        cell_area_ha=SimpleNamespace(values=np.full((4, 6), 0.01)),
    )
    strata = np.where(np.arange(6)[None, :] < 3, REED, SEDGE) * np.ones((4, 1), dtype=int)
    one = np.zeros((4, 6), dtype=bool)
    one[:2] = True
    two = np.zeros((4, 6), dtype=bool)
    two[1:3, :3] = True
    two[2:, 3:] = True
    two[3, 0] = True
    source = np.full((4, 6), 2)
    source_two = source.copy()
    source_two[3, 0] = 0

    def phi(second_source: np.ndarray) -> dict[str, float]:
        return shared_outside(
            ctx,  # type: ignore[arg-type]
            _epoch_layers(one, source),
            _epoch_layers(two, second_source),
            strata,
            density="agb_mg_ha",
            source="agb_model",
        )

    shared = phi(source_two)
    assert shared == pytest.approx({"reed": 0.5, "sedge": 0.0})
    # A shared cell that another model predicts in epoch 2 (reed's (1, 0) by the LiDAR
    # model, code 1) is not shared: φ_reed = 2 × 0.01² / √(6 × 0.01² × 6 × 0.01²) = 1/3.
    source_lidar = source_two.copy()
    source_lidar[1, 0] = 1
    assert phi(source_lidar)["reed"] == pytest.approx(1.0 / 3.0)
    # Cov(c₁, c₂) of the corrections = φ × SE_out,1 × SE_out,2 on each stratum's pair,
    # in the epochs' corrections orders: reed 0.5 × 30 × 40 = 600; sedge φ 0 → 0; mudflat
    # has no outside-AOA error in epoch 1 → 0. The joint's diagonal blocks are the epochs'
    # own covariances: SE² = 2,500, 2,500, 25 on each.
    first = KeyedTotals(
        keys=(("reed", "reed"), ("sedge", "sedge"), ("mudflat", "mudflat")),
        totals=np.ones(3),
        replicates=np.ones((2, 3)),
        corrections={"reed": (0.0, 50.0), "sedge": (0.0, 50.0), "mudflat": (0.0, 5.0)},
        outside_se={"reed": 30.0, "sedge": 20.0},
    )
    last = KeyedTotals(
        keys=(("sedge", "sedge"), ("reed", "reed"), ("mudflat", "mudflat")),
        totals=np.ones(3),
        replicates=np.ones((2, 3)),
        corrections={"sedge": (0.0, 50.0), "mudflat": (0.0, 5.0), "reed": (0.0, 50.0)},
        outside_se={"reed": 40.0, "sedge": 20.0, "mudflat": 5.0},
    )
    joint = outside_joint_covariance([first, last], {(0, 1): {**shared, "mudflat": 1.0}})
    expected = np.diag([2500.0, 2500.0, 25.0, 2500.0, 25.0, 2500.0])
    expected[0, 5] = expected[5, 0] = 600.0  # first's reed (row 0), last's reed (column 3 + 2)
    np.testing.assert_allclose(joint, expected, rtol=1e-12)
    # A middle epoch of reed alone, outside SE 35, shares φ 0.25 with the first and 0.8 with
    # the last: 0.25 × 30 × 35 = 262.5 and 0.8 × 35 × 40 = 1,120 t DM²; its own SE² 45² = 2,025.
    middle = KeyedTotals(
        keys=(("reed", "reed"),),
        totals=np.ones(1),
        replicates=np.ones((2, 1)),
        corrections={"reed": (0.0, 45.0)},
        outside_se={"reed": 35.0},
    )
    pairs = {(0, 1): {"reed": 0.25}, (1, 2): {"reed": 0.8}, (0, 2): {"reed": 0.5}}
    joint = outside_joint_covariance([first, middle, last], pairs)
    assert joint.shape == (7, 7)
    assert joint[3, 3] == 2025.0
    assert joint[0, 3] == joint[3, 0] == pytest.approx(262.5)
    assert joint[3, 6] == joint[6, 3] == pytest.approx(1120.0)
    assert joint[0, 6] == pytest.approx(600.0)
    assert np.count_nonzero(joint - np.diag(np.diag(joint))) == 6
