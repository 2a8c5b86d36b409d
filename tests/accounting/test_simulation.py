"""Tests of carbonsink.accounting.simulation: the Monte Carlo of stocks, change and removals.

Hand example (one stratum ``sedge``, class ``sedge``: CF 0.5, R 1.0, no fluxes):
epochs 2020-01-01 and 2022-01-01, 731 days = 2.0013689 years; AGB 100 → 120 t DM
(no bootstrap spread); SOC 1000 → 1010 t C (SE 0); dead organic matter as a
dead:live ratio of AGB, 0.3 → 0.4. Stocks: AGB C 50 → 60, BGB C 50 → 60,
DOM C 0.3 × 100 × 0.5 = 15 → 0.4 × 120 × 0.5 = 24, SOC 1000 → 1010 t C.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from carbonsink.accounting.distributions import Fixed
from carbonsink.accounting.montecarlo import MonteCarlo
from carbonsink.accounting.parameters import ClassParameters, range_distribution
from carbonsink.accounting.pools import (
    POOLS,
    KeyedTotals,
    Quantity,
    RatioTotals,
    StratumTotals,
)
from carbonsink.accounting.simulation import (
    EpochInputs,
    TermDraws,
    simulate_terms,
    years_between,
)
from carbonsink.errors import InputError

T1, T2 = dt.date(2020, 1, 1), dt.date(2022, 1, 1)
YEARS = 731 / 365.25
CO2_PER_C = 44.0 / 12.0
POOL_LIST = [
    ("agb", POOLS["agb"]),
    ("bgb", POOLS["bgb"]),
    ("dom", POOLS["dom"]),
    ("soc_0_100", POOLS["soc"]),
]
GWP = {"CH4": 28.0, "N2O": 265.0}


def _class(
    cf: float = 0.5, rs: float = 1.0, peak_cv: float = 0.0, herbaceous: bool = False
) -> ClassParameters:
    return ClassParameters(
        carbon_fraction=Fixed(cf),
        root_shoot=Fixed(rs),
        ch4_flux_mg_m2_d=Fixed(0.0),
        n2o_flux_mg_m2_d=Fixed(0.0),
        ch4_source="configured",
        n2o_source="configured",
        peak_cv=peak_cv,
        herbaceous=herbaceous,
    )


def _epoch(
    name: str,
    date: dt.date,
    *,
    agb: dict[tuple[str, str], float],
    ratios: dict[str, tuple[float, float]],
    group_of: dict[str, str],
    soc: float,
    strata: tuple[str, ...] = ("sedge",),
) -> EpochInputs:
    keys = tuple(agb)
    totals = np.array(list(agb.values()))
    quantities: dict[str, Quantity] = {
        "agb_t_dm": KeyedTotals(keys=keys, totals=totals, replicates=np.tile(totals, (4, 1))),
        "dom_t_dm": RatioTotals(base="agb_t_dm", ratios=ratios, group_of=group_of),
        "soc_t_c": StratumTotals.from_total_se(dict.fromkeys(strata, soc), 0.0),
    }
    return EpochInputs(
        name=name,
        date=date,
        strata=strata,
        stratum_area_ha=dict.fromkeys(strata, 10.0),
        quantities=quantities,
        class_area_ha=dict.fromkeys(strata, (10.0, 0.0)),
    )


def test_dead_organic_matter_as_a_ratio_of_agb_enters_stocks_and_removals() -> None:
    epochs = [
        _epoch(
            "t1",
            T1,
            agb={("sedge", "sedge"): 100.0},
            ratios={"sedge": (0.3, 0.0)},
            group_of={"sedge": "sedge"},
            soc=1000.0,
        ),
        _epoch(
            "t2",
            T2,
            agb={("sedge", "sedge"): 120.0},
            ratios={"sedge": (0.4, 0.0)},
            group_of={"sedge": "sedge"},
            soc=1010.0,
        ),
    ]
    draws = simulate_terms(
        MonteCarlo(1, 500),
        epochs,
        {"sedge": _class()},
        strata=("sedge",),
        pools=POOL_LIST,
        gwp=GWP,
        error_covariance={},
    )
    assert draws.stocks["t1"]["dom"] == pytest.approx(15.0)
    assert draws.stocks["t2"]["dom"] == pytest.approx(24.0)
    assert draws.change["dom"] == pytest.approx(9.0 / YEARS)
    # 44/12 × (10 + 10 + 9 + 10) t C / 2.0013689 yr = 71.4511 t CO2e/yr
    assert years_between(T1, T2) == pytest.approx(YEARS)
    assert draws.removals == pytest.approx(CO2_PER_C * 39.0 / YEARS)


def test_classes_of_one_ratio_group_share_its_draw() -> None:
    # Two keys (sedge, reed) of AGB 100 and 50 t DM, both in the pooled group with
    # ratio 0.3 ± 0.05: one draw r scales both, so DOM C = r × 150 × 0.5 with
    # SD 0.05 × 75 = 3.75 t C (independent draws would give 0.05 × 0.5 × √(100² + 50²)
    # = 2.795 t C). With 20,000 draws the sample SD is within ±1.5 % (3 × 1/√(2n)).
    epoch = _epoch(
        "t1",
        T1,
        agb={("sedge", "sedge"): 100.0, ("sedge", "reed"): 50.0},
        ratios={"pooled": (0.3, 0.05)},
        group_of={"sedge": "pooled", "reed": "pooled"},
        soc=1000.0,
    )
    draws = simulate_terms(
        MonteCarlo(5, 20_000),
        [epoch],
        {"sedge": _class(), "reed": _class()},
        strata=("sedge",),
        pools=POOL_LIST,
        gwp=GWP,
        error_covariance={},
    )
    dom = draws.stocks["t1"]["dom"][:, 0]
    assert dom.mean() == pytest.approx(0.3 * 75.0, rel=0.01)
    assert dom.std(ddof=1) == pytest.approx(3.75, rel=0.03)


def test_a_ratio_draw_below_zero_is_zero() -> None:
    # Ratio 0.01 ± 1: about half the normal draws are negative; dead matter is never negative.
    epoch = _epoch(
        "t1",
        T1,
        agb={("sedge", "sedge"): 100.0},
        ratios={"sedge": (0.01, 1.0)},
        group_of={"sedge": "sedge"},
        soc=1000.0,
    )
    draws = simulate_terms(
        MonteCarlo(2, 2000),
        [epoch],
        {"sedge": _class()},
        strata=("sedge",),
        pools=POOL_LIST,
        gwp=GWP,
        error_covariance={},
    )
    dom = draws.stocks["t1"]["dom"]
    assert dom.min() == 0.0
    assert 0.4 < float(np.mean(dom == 0.0)) < 0.6


def test_a_class_without_a_ratio_group_is_an_input_error() -> None:
    epoch = _epoch(
        "t1",
        T1,
        agb={("sedge", "reed"): 100.0},
        ratios={"sedge": (0.3, 0.0)},
        group_of={"sedge": "sedge"},
        soc=1000.0,
    )
    with pytest.raises(InputError, match="no ratio for class 'reed'"):
        simulate_terms(
            MonteCarlo(1, 100),
            [epoch],
            {"sedge": _class(), "reed": _class()},
            strata=("sedge",),
            pools=POOL_LIST,
            gwp=GWP,
            error_covariance={},
        )


def test_a_ratio_to_a_quantity_that_is_not_keyed_is_refused() -> None:
    with pytest.raises(InputError, match="ratio to 'soc_t_c'"):
        EpochInputs(
            name="t1",
            date=T1,
            strata=("sedge",),
            stratum_area_ha={"sedge": 1.0},
            quantities={
                "soc_t_c": StratumTotals.from_total_se({"sedge": 1.0}, 0.0),
                "dom_t_dm": RatioTotals(
                    base="soc_t_c", ratios={"a": (0.1, 0.0)}, group_of={"sedge": "a"}
                ),
            },
            class_area_ha={},
        )


def _keyed_epoch(quantity: KeyedTotals) -> EpochInputs:
    return EpochInputs(
        name="t1",
        date=T1,
        strata=("sedge", "reed"),
        stratum_area_ha={"sedge": 10.0, "reed": 10.0},
        quantities={"agb_t_dm": quantity},
        class_area_ha={"sedge": (10.0, 0.0), "reed": (10.0, 0.0)},
    )


def _agb_stock(epoch: EpochInputs, classes: dict[str, ClassParameters], n: int) -> np.ndarray:
    draws = simulate_terms(
        MonteCarlo(5, n),
        [epoch],
        classes,
        strata=("sedge", "reed"),
        pools=[("agb", POOLS["agb"])],
        gwp=GWP,
        error_covariance={},
    )
    return draws.stocks["t1"]["agb"]


def test_residual_corrections_are_spread_over_their_stratum_keys() -> None:
    # Stratum sedge holds two keys, 60 and 20 t DM (shares 0.75, 0.25); reed one, 50 t DM.
    # Corrections: sedge +8 t DM exactly, reed −10 t DM exactly (no error): sedge AGB C =
    # 0.5 × (60 + 0.75 × 8 + 20 + 0.25 × 8) = 0.5 × 88 = 44, reed 0.5 × (50 − 10) = 20.
    keyed = KeyedTotals(
        keys=(("sedge", "sedge"), ("sedge", "reed"), ("reed", "reed")),
        totals=np.array([60.0, 20.0, 50.0]),
        replicates=np.tile([60.0, 20.0, 50.0], (4, 1)),
        corrections={"sedge": (8.0, 0.0), "reed": (-10.0, 0.0)},
    )
    classes = {"sedge": _class(), "reed": _class()}
    stock = _agb_stock(_keyed_epoch(keyed), classes, 200)
    np.testing.assert_allclose(stock[:, 0], 44.0)
    np.testing.assert_allclose(stock[:, 1], 20.0)


def test_a_corrected_stratum_takes_the_correction_error_not_the_bootstrap() -> None:
    # Replicates of both keys spread ±40 t DM (rows 10, 90, 10, 90 about a map of 50).
    # Sedge has a correction 0 ± 10 t DM: its AGB C = 0.5 × (50 + c) → SD 5 exactly as the
    # correction says (the bootstrap's model-fit error is inside the held-out residuals).
    # Reed has none: 0.5 × (50 ± 40) → values 5 and 45, SD 20.
    keyed = KeyedTotals(
        keys=(("sedge", "sedge"), ("reed", "reed")),
        totals=np.array([50.0, 50.0]),
        replicates=np.array([[10.0, 10.0], [90.0, 90.0], [10.0, 10.0], [90.0, 90.0]]),
        corrections={"sedge": (0.0, 10.0)},
    )
    stock = _agb_stock(_keyed_epoch(keyed), {"sedge": _class(), "reed": _class()}, 20_000)
    assert stock[:, 0].std() == pytest.approx(5.0, rel=0.03)
    assert set(np.round(stock[:, 1], 9)) == {5.0, 45.0}
    assert stock[:, 1].std() == pytest.approx(20.0, rel=0.03)


def test_an_uncorrected_stratum_draws_the_same_rows_whatever_the_corrected_columns_hold() -> None:
    # A run bootstraps only the strata without a correction and leaves the others' columns 0;
    # the reed draws (rows of its column resampled) are those of a run that bootstrapped both.
    def stock(sedge_column: list[float]) -> np.ndarray:
        keyed = KeyedTotals(
            keys=(("sedge", "sedge"), ("reed", "reed")),
            totals=np.array([50.0, 50.0]),
            replicates=np.column_stack([sedge_column, [10.0, 90.0, 30.0, 70.0]]),
            corrections={"sedge": (0.0, 10.0)},
        )
        return _agb_stock(_keyed_epoch(keyed), {"sedge": _class(), "reed": _class()}, 400)

    bootstrapped, left_zero = stock([5.0, 95.0, 20.0, 80.0]), stock([0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(bootstrapped, left_zero)
    # Reed: 0.5 × (replicate − mean 50 + map 50) → 5, 45, 15 or 35 t C.
    assert set(np.round(left_zero[:, 1], 9)) == {5.0, 45.0, 15.0, 35.0}


def test_no_bootstrap_draw_when_every_stratum_is_corrected() -> None:
    keyed = KeyedTotals(
        keys=(("sedge", "sedge"), ("reed", "reed")),
        totals=np.array([50.0, 50.0]),
        replicates=np.zeros((4, 2)),
        corrections={"sedge": (0.0, 0.0), "reed": (2.0, 0.0)},
    )
    mc = MonteCarlo(5, 100)
    draws = simulate_terms(
        mc,
        [_keyed_epoch(keyed)],
        {"sedge": _class(), "reed": _class()},
        strata=("sedge", "reed"),
        pools=[("agb", POOLS["agb"])],
        gwp=GWP,
        error_covariance={},
    )
    # Exact corrections: 0.5 × 50 and 0.5 × 52 in every draw, and no bootstrap stream drawn.
    np.testing.assert_allclose(draws.stocks["t1"]["agb"], np.tile([25.0, 26.0], (100, 1)))
    assert not any("bootstrap" in name for name in mc.specs)


def test_correlated_residual_corrections() -> None:
    # Corrections 0 ± 10 t DM in each stratum with correlation 0.8: AGB C = 0.5 × (50 + c),
    # so SD 5 each and Corr 0.8 between the strata (20,000 draws: SD within ~2 %).
    keyed = KeyedTotals(
        keys=(("sedge", "sedge"), ("reed", "reed")),
        totals=np.array([50.0, 50.0]),
        replicates=np.tile([50.0, 50.0], (4, 1)),
        corrections={"sedge": (0.0, 10.0), "reed": (0.0, 10.0)},
        correction_covariance=np.array([[100.0, 80.0], [80.0, 100.0]]),
    )
    classes = {"sedge": _class(), "reed": _class()}
    stock = _agb_stock(_keyed_epoch(keyed), classes, 20_000)
    assert stock.std(axis=0) == pytest.approx([5.0, 5.0], rel=0.03)
    assert np.corrcoef(stock.T)[0, 1] == pytest.approx(0.8, abs=0.02)


def test_a_herbaceous_class_carries_its_between_year_variability() -> None:
    # Sedge (herbaceous, CV 0.2) and reed (CV 0: a tree-like class) with 100 t DM each and
    # no bootstrap spread: sedge AGB C = 0.5 × 100 × F, F ~ N(1, 0.2²) → mean 50, SD 10;
    # reed exactly 50.
    keyed = KeyedTotals(
        keys=(("sedge", "sedge"), ("reed", "reed")),
        totals=np.array([100.0, 100.0]),
        replicates=np.tile([100.0, 100.0], (4, 1)),
    )
    stock = _agb_stock(
        _keyed_epoch(keyed), {"sedge": _class(peak_cv=0.2), "reed": _class()}, 20_000
    )
    assert stock[:, 0].mean() == pytest.approx(50.0, rel=0.01)
    assert stock[:, 0].std() == pytest.approx(10.0, rel=0.03)
    np.testing.assert_allclose(stock[:, 1], 50.0)


@pytest.mark.parametrize(("sedge_after", "credited"), [(150.0, 0.0), (60.0, -40.0)])
def test_herbaceous_biomass_in_steady_state(sedge_after: float, credited: float) -> None:
    # One stratum "mix": sedge (herbaceous) 100 t DM → sedge_after, poplar (woody) 100 → 120,
    # CF 0.5, R 1.0, no DOM. Steady state (eq. 2.4): the herbaceous change counts only when
    # it is a loss: ΔH = min(0, sedge_after − 100) t DM → credited t DM; the poplar gain
    # +20 t DM counts. AGB C change = 0.5 × (20 + credited) / YEARS t C/yr (BGB the same).
    # Stocks stay as measured: t2 AGB C = 0.5 × (sedge_after + 120).
    def epoch(name: str, date: dt.date, sedge: float, poplar: float) -> EpochInputs:
        return _epoch(
            name,
            date,
            agb={("mix", "sedge"): sedge, ("mix", "poplar"): poplar},
            ratios={"all": (0.0, 0.0)},
            group_of={"sedge": "all", "poplar": "all"},
            soc=1000.0,
            strata=("mix",),
        )

    classes = {"sedge": _class(herbaceous=True), "poplar": _class(), "mix": _class()}

    def run(steady: bool) -> TermDraws:
        return simulate_terms(
            MonteCarlo(1, 200),
            [epoch("t1", T1, 100.0, 100.0), epoch("t2", T2, sedge_after, 120.0)],
            classes,
            strata=("mix",),
            pools=POOL_LIST[:2],
            gwp=GWP,
            error_covariance={},
            herbaceous_steady_state=steady,
        )

    draws = run(True)
    expected = 0.5 * (20.0 + credited) / YEARS
    np.testing.assert_allclose(draws.change["agb"], expected)
    np.testing.assert_allclose(draws.change["bgb"], expected)
    np.testing.assert_allclose(draws.stocks["t2"]["agb"], 0.5 * (sedge_after + 120.0))
    # Credited (the default): the whole change, 0.5 × (20 + sedge_after − 100) / YEARS.
    np.testing.assert_allclose(run(False).change["agb"], 0.5 * (20.0 + sedge_after - 100.0) / YEARS)


def test_a_stratum_held_in_every_epoch_changes_by_exactly_zero() -> None:
    # Reed has no soil cores: held at 5,000 ± 300 t C in both epochs, its two errors one
    # and the same (its four entries 300² = 9e4). Its SOC change is 0 in every draw —
    # exactly, not to the rounding of the singular Σ's square root (~1e-12 t C/yr
    # here, ~1e-5 on a survey's) — while its stock still spreads ±300 t C. Sedge:
    # 1,000 → 1,010 t C, variance 25 each epoch, covariance 10 between them: change
    # 10 / 2.0014 yr ± √(25 + 25 − 2 × 10) / 2.0014 = √30 / 2.0014 ≈ 2.74 t C/yr.
    strata = ("sedge", "reed", "mudflat")
    # Epoch-major: sedge, reed, mudflat of t1, then of t2.
    joint = np.array(
        [
            [25.0, 0.0, 30.0, 10.0, 0.0, 5.0],
            [0.0, 9e4, 0.0, 0.0, 9e4, 0.0],
            [30.0, 0.0, 400.0, 5.0, 0.0, 200.0],
            [10.0, 0.0, 5.0, 25.0, 0.0, 30.0],
            [0.0, 9e4, 0.0, 0.0, 9e4, 0.0],
            [5.0, 0.0, 200.0, 30.0, 0.0, 400.0],
        ]
    )

    def epoch(name: str, date: dt.date, k: int) -> EpochInputs:
        totals = StratumTotals(
            totals={"sedge": 1000.0 + 10.0 * k, "reed": 5000.0, "mudflat": 3000.0},
            covariance=joint[3 * k : 3 * k + 3, 3 * k : 3 * k + 3],
            held=("reed",),
        )
        return EpochInputs(
            name=name,
            date=date,
            strata=strata,
            stratum_area_ha=dict.fromkeys(strata, 10.0),
            quantities={"soc_t_c": totals},
            class_area_ha=dict.fromkeys(strata, (10.0, 0.0)),
        )

    draws = simulate_terms(
        MonteCarlo(3, 20_000),
        [epoch("t1", T1, 0), epoch("t2", T2, 1)],
        dict.fromkeys(strata, _class()),
        strata=strata,
        pools=[("soc_0_100", POOLS["soc"])],
        gwp=GWP,
        error_covariance={"soc_t_c": joint[:3, 3:]},
    )
    change = draws.change["soc_0_100"]
    assert (change[:, 1] == 0.0).all()
    assert draws.stocks["t2"]["soc_0_100"][:, 1].std() == pytest.approx(300.0, rel=0.03)
    assert change[:, 0].mean() == pytest.approx(10.0 / YEARS, abs=0.1)
    assert change[:, 0].std() == pytest.approx(np.sqrt(30.0) / YEARS, rel=0.03)


def _corrected(name: str, date: dt.date, corrections: dict, outside: dict) -> EpochInputs:
    """Sedge and reed, 100 t DM each, no bootstrap spread, with residual corrections."""
    keyed = KeyedTotals(
        keys=(("sedge", "sedge"), ("reed", "reed")),
        totals=np.array([100.0, 100.0]),
        replicates=np.tile([100.0, 100.0], (4, 1)),
        corrections=corrections,
        outside_se=outside,
    )
    return dataclasses.replace(_keyed_epoch(keyed), name=name, date=date)


def test_outside_aoa_errors_shared_by_the_epochs_narrow_the_change() -> None:
    # Reed's corrections 0 ± 30 t DM (t1) and 0 ± 40 t DM (t2), all of it from cells
    # outside the AOA, half of whose area both epochs share: Cov = 0.5 × 30 × 40 = 600
    # (eq. 6.8d). Sedge's 0 ± 20 in each epoch, none outside: independent. With CF 0.5,
    # the AGB C change is 0.5 × (c₂ − c₁) / 2.0014 yr:
    #   reed  SD = 0.5 × √(900 + 1600 − 2 × 600) / 2.0014 = 0.5 × √1300 / 2.0014 = 9.007
    #   sedge SD = 0.5 × √(400 + 400) / 2.0014 = 7.066
    # and each stock keeps its own SD (reed 0.5 × 30 = 15 and 0.5 × 40 = 20).
    first = _corrected("t1", T1, {"sedge": (0.0, 20.0), "reed": (0.0, 30.0)}, {"reed": 30.0})
    last = _corrected("t2", T2, {"reed": (0.0, 40.0), "sedge": (0.0, 20.0)}, {"reed": 40.0})
    cross = np.array([[0.0, 0.0], [600.0, 0.0]])  # rows t1 (sedge, reed), cols t2 (reed, sedge)
    classes = {"sedge": _class(), "reed": _class()}

    def run(covariance: dict[str, np.ndarray]) -> TermDraws:
        return simulate_terms(
            MonteCarlo(8, 40_000),
            [first, last],
            classes,
            strata=("sedge", "reed"),
            pools=[("agb", POOLS["agb"])],
            gwp=GWP,
            error_covariance=covariance,
        )

    shared, alone = run({"agb_t_dm": cross}), run({})
    change = shared.change["agb"]
    assert change[:, 1].std() == pytest.approx(0.5 * np.sqrt(1300.0) / YEARS, rel=0.02)
    assert change[:, 0].std() == pytest.approx(0.5 * np.sqrt(800.0) / YEARS, rel=0.02)
    assert shared.stocks["t2"]["agb"][:, 1].std() == pytest.approx(20.0, rel=0.02)
    assert np.corrcoef(shared.stocks["t1"]["agb"][:, 1], shared.stocks["t2"]["agb"][:, 1])[
        0, 1
    ] == pytest.approx(0.5, abs=0.02)
    # Independent epochs: √(900 + 1600) × 0.5 / 2.0014 = 12.49; the first epoch's draws are
    # the same either way (the last epoch's are drawn given them).
    assert alone.change["agb"][:, 1].std() == pytest.approx(0.5 * 50.0 / YEARS, rel=0.02)
    np.testing.assert_array_equal(shared.stocks["t1"]["agb"], alone.stocks["t1"]["agb"])
    np.testing.assert_array_equal(shared.stocks["t2"]["agb"][:, 0], alone.stocks["t2"]["agb"][:, 0])


def _reed_agb(epochs: list[EpochInputs], cross: np.ndarray, n_draws: int) -> TermDraws:
    """The AGB terms of sedge and reed epochs with the corrections' covariance ``cross``."""
    return simulate_terms(
        MonteCarlo(8, n_draws),
        epochs,
        {"sedge": _class(), "reed": _class()},
        strata=("sedge", "reed"),
        pools=[("agb", POOLS["agb"])],
        gwp=GWP,
        error_covariance={"agb_t_dm": cross},
    )


def _three_reed_epochs() -> list[EpochInputs]:
    """Reed's corrections 0 ± 30, 40, 50 t DM (all outside the AOA), two years apart."""
    t3 = dt.date(2024, 1, 1)
    return [
        _corrected(name, date, {"reed": (0.0, se)}, {"reed": se})
        for name, date, se in (("t1", T1, 30.0), ("t2", T2, 40.0), ("t3", t3, 50.0))
    ]


def test_every_pair_of_epochs_shares_its_outside_aoa_errors() -> None:
    # Three epochs two years apart, reed's corrections 0 ± 30, 40, 50 t DM, all from cells
    # outside the AOA, shared by the pairs as φ₁₂ = 0.5, φ₂₃ = 0.6, φ₁₃ = 0.3 (eq. 6.8d):
    # Cov = 0.5 × 30 × 40 = 600, 0.6 × 40 × 50 = 1,200, 0.3 × 30 × 50 = 450 t DM². The
    # correlation matrix is positive definite (det = 0.64 − 0.5 × 0.32 + 0.3 × 0 = 0.48).
    # With CF 0.5 the AGB C stocks' differences have SDs
    #   t1 → t2: 0.5 × √(900 + 1600 − 2 × 600)   = 0.5 × √1300 = 18.03 t C
    #   t2 → t3: 0.5 × √(1600 + 2500 − 2 × 1200) = 0.5 × √1700 = 20.62 t C
    #   t1 → t3: 0.5 × √(900 + 2500 − 2 × 450)   = 0.5 × √2500 = 25.00 t C
    # Given the first and last epochs' block alone (the middle epoch drawn on its own),
    # t2 → t3 would be 0.5 × √(1600 + 2500) = 32.02 t C.
    epochs = _three_reed_epochs()
    joint = np.array([[900.0, 600.0, 450.0], [600.0, 1600.0, 1200.0], [450.0, 1200.0, 2500.0]])

    def run(cross: np.ndarray) -> dict[str, np.ndarray]:
        draws = _reed_agb(epochs, cross, 40_000)
        return {e: draws.stocks[e]["agb"][:, 1] for e in ("t1", "t2", "t3")}

    stock = run(joint)
    assert (stock["t2"] - stock["t1"]).std() == pytest.approx(0.5 * np.sqrt(1300.0), rel=0.02)
    assert (stock["t3"] - stock["t2"]).std() == pytest.approx(0.5 * np.sqrt(1700.0), rel=0.02)
    assert (stock["t3"] - stock["t1"]).std() == pytest.approx(25.0, rel=0.02)
    for epoch, se in (("t1", 30.0), ("t2", 40.0), ("t3", 50.0)):
        assert stock[epoch].std() == pytest.approx(0.5 * se, rel=0.02)
    first_last = run(joint[:1, 2:])
    assert (first_last["t3"] - first_last["t2"]).std() == pytest.approx(
        0.5 * np.sqrt(4100.0), rel=0.02
    )
    assert (first_last["t3"] - first_last["t1"]).std() == pytest.approx(25.0, rel=0.02)
    np.testing.assert_array_equal(stock["t1"], first_last["t1"])


@pytest.mark.parametrize(
    ("cross", "message"),
    [
        # Reed's correction alone in each epoch: a (1, 1) block or the (2, 2) joint, not
        # (2, 1).
        (np.zeros((2, 1)), r"shape \(2, 1\), not \(1, 1\) or \(2, 2\)"),
        # The (2, 2) joint whose diagonal is not the epochs' SEs² 900 and 1,600.
        (np.zeros((2, 2)), "diagonal block of epoch 't1' is not that epoch's own"),
        # Cov(c₁, c₂) = 600 but Cov(c₂, c₁) = 500: not symmetric.
        (np.array([[900.0, 600.0], [500.0, 1600.0]]), "is not symmetric"),
        (np.array([[np.nan]]), "is not finite"),
        # SEs 30 and 40: |Cov| may reach 30 × 40 = 1,200 (correlation 1); 1,500 would make
        # Σ₂ − C₁₂ᵀ Σ₁⁻¹ C₁₂ = 1600 − 1500² / 900 = −900 < 0.
        (np.array([[1500.0]]), "larger than their own covariances allow"),
    ],
    ids=["wrong-shape", "joint-not-the-epochs-own", "asymmetric", "nan", "beyond-the-epochs-own"],
)
def test_an_impossible_cross_covariance_is_refused(cross: np.ndarray, message: str) -> None:
    first = _corrected("t1", T1, {"reed": (0.0, 30.0)}, {"reed": 30.0})
    last = _corrected("t2", T2, {"reed": (0.0, 40.0)}, {"reed": 40.0})
    with pytest.raises(InputError, match=message):
        simulate_terms(
            MonteCarlo(8, 100),
            [first, last],
            {"sedge": _class(), "reed": _class()},
            strata=("sedge", "reed"),
            pools=[("agb", POOLS["agb"])],
            gwp=GWP,
            error_covariance={"agb_t_dm": cross},
        )


def test_pairs_within_bounds_that_make_no_joint_are_refused() -> None:
    # Three epochs of SE 30, 40, 50 t DM with correlations 0.9 (t1, t2), 0.9 (t2, t3) and
    # −0.9 (t1, t3): each pair is within |ρ| ≤ 1, but the correlation matrix has determinant
    # 1 − 3 × 0.81 + 2 × (0.9 × 0.9 × −0.9) = −2.888 < 0. Drawn given t1 and t2, t3's
    # variance would be negative; the message names t3 and the earlier epochs.
    sd = np.array([30.0, 40.0, 50.0])
    rho = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(InputError, match=r"epoch 't3' with the earlier epochs \('t1', 't2'\)"):
        _reed_agb(_three_reed_epochs(), rho * np.outer(sd, sd), 100)


def test_an_outside_aoa_se_above_its_correction_is_refused() -> None:
    keyed = KeyedTotals(
        keys=(("reed", "reed"),),
        totals=np.array([100.0]),
        replicates=np.tile([100.0], (4, 1)),
        corrections={"reed": (0.0, 30.0)},
        outside_se={"reed": 31.0},
    )
    with pytest.raises(InputError, match="outside-AOA SEs of reed"):
        keyed.check("agb_t_dm", where="epoch 't1'")
    negative = dataclasses.replace(keyed, outside_se={"reed": -20.0})
    with pytest.raises(InputError, match="outside-AOA SEs of reed"):
        negative.check("agb_t_dm", where="epoch 't1'")


@pytest.mark.parametrize("true_change_t_dm", [0.0, 40.0])
def test_the_interval_of_a_product_of_uncertain_factors_covers_its_truth(
    true_change_t_dm: float,
) -> None:
    """BGB = CF × R × AGB: the Monte Carlo's 90 % interval of its change is calibrated.

    The plug-in variance of a product of two estimates is biased up by
    σ_R²·v twice over (Goodman 1960), which once suggested the reed BGB
    intervals of the coverage benchmark were too wide for that reason; the
    percentile interval of the product is a scale mixture whose 90 % interval is
    narrower relative to its SD than a normal's, and the two cancel. Over 400
    surveys: a reed stratum of one key, true AGB 200 → 200 + Δ t DM, each epoch's
    map total off by N(0, 20²) with its correction's SE 20 t DM; R's truth drawn
    from the same prior as the ledger's (mean 1.0, range 0.5–3.0, log-normal);
    CF fixed at 0.5. Binomial SD of the share at 400: 1.5 points; the band is
    ±2 SD, 0.87–0.93 (the draws are seeded, so the count is the same every run).
    For a normal error, an interval 1.5× too wide covers Φ-share 0.986 (z = 2.47)
    and fails it, as does one a third narrower (0.73, z = 1.10).
    """
    prior = range_distribution(1.0, 0.5, 3.0, name="reed.root_shoot")
    reed = dataclasses.replace(_class(), root_shoot=prior)
    rng = np.random.default_rng(2026)
    true_r = prior.draw(rng, 400)
    covered = 0
    for survey, r in enumerate(true_r):
        epochs = []
        for name, date, truth in (("t1", T1, 200.0), ("t2", T2, 200.0 + true_change_t_dm)):
            mapped = truth + rng.normal(0.0, 20.0)
            keyed = KeyedTotals(
                keys=(("reed", "reed"),),
                totals=np.array([mapped]),
                replicates=np.full((4, 1), mapped),
                corrections={"reed": (0.0, 20.0)},
            )
            epochs.append(dataclasses.replace(_keyed_epoch(keyed), name=name, date=date))
        draws = simulate_terms(
            MonteCarlo(survey + 1, 4_000),
            epochs,
            {"sedge": _class(), "reed": reed},
            strata=("sedge", "reed"),
            pools=[("bgb", POOLS["bgb"])],
            gwp=GWP,
            error_covariance={},
        )
        low, high = np.percentile(draws.change["bgb"][:, 1], [5.0, 95.0])
        covered += bool(low <= 0.5 * r * true_change_t_dm / YEARS <= high)
    assert 0.87 <= covered / len(true_r) <= 0.93
