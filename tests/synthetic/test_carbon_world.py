"""The synthetic world's carbon parameters: stated, or drawn from the survey's priors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbonsink.synthetic.carbon_world import (
    draw_carbon_world,
    nominal_carbon_world,
    range_log_sd,
)
from carbonsink.synthetic.landscape import Landscape, build_landscape
from carbonsink.synthetic.parameters import CLASS_BY_NAME, CLASSES, SCALES
from carbonsink.synthetic.readme import readme_text
from carbonsink.synthetic.truth import totals, truth_dataset

SEED = 20240830
#: Stated R and the range the survey (or the accounting's default, R/2 to 2R) gives it.
RANGES = {
    "mudflat": (1.0, 0.5, 2.0),
    "sedge": (1.5, 0.8, 4.0),
    "reed": (1.0, 0.5, 3.0),
    "miscanthus": (0.5, 0.3, 1.0),
    "poplar": (0.24, 0.2, 0.3),
}


def test_range_log_sd_by_hand() -> None:
    # σ = ln(high / low) / (2 × 1.6448536): reed ln 6 = 1.791759 → 0.544656;
    # CF ln(0.49 / 0.44) = 0.107631 → 0.032718.
    assert range_log_sd(0.5, 3.0) == pytest.approx(1.791759 / 3.289707, rel=1e-6)
    assert range_log_sd(0.44, 0.49) == pytest.approx(0.107631 / 3.289707, rel=1e-5)


def test_nominal_world_is_the_stated_values() -> None:
    world = nominal_carbon_world()
    assert not world.drawn
    assert world.carbon_fraction == 0.47
    assert world.root_shoot == {c.name: c.root_shoot for c in CLASSES}
    assert world.ch4_flux_mg_m2_d == {c.name: c.ch4_flux_mg_m2_d for c in CLASSES}


def test_drawn_world_is_reproducible_and_differs_by_seed() -> None:
    assert draw_carbon_world(7) == draw_carbon_world(7)
    assert draw_carbon_world(7).root_shoot != draw_carbon_world(8).root_shoot
    assert draw_carbon_world(7).root_shoot["water"] == 0.0


def test_drawn_values_follow_the_stated_priors() -> None:
    """Over 4,000 seeds each parameter has the stated mean and the prior's log-SD.

    A log-normal with mean v and log-SD σ has CV √(e^{σ²} − 1): reed σ = 0.5447,
    CV = 0.5866, so the mean of 4,000 draws has SE 0.5866 / √4000 = 0.0093 and 4 SE
    is 3.7 % of v. The SD of log X is estimated within ~1.1 % (SE σ / √8000).
    """
    worlds = [draw_carbon_world(seed) for seed in range(1, 4001)]
    n = len(worlds)
    for name, (value, low, high) in RANGES.items():
        draws = np.array([w.root_shoot[name] for w in worlds])
        sigma = range_log_sd(low, high)
        cv = math.sqrt(math.expm1(sigma**2))
        assert abs(draws.mean() - value) < 4 * cv * value / math.sqrt(n), name
        assert np.log(draws).std() == pytest.approx(sigma, rel=0.05), name
    fractions = np.array([w.carbon_fraction for w in worlds])
    assert abs(fractions.mean() - 0.47) < 4 * 0.0328 * 0.47 / math.sqrt(n)
    assert np.log(fractions).std() == pytest.approx(range_log_sd(0.44, 0.49), rel=0.05)
    for params in CLASSES:  # relative SD 0.5: σ² = ln(1.25), σ = 0.4724
        flux = np.array([w.ch4_flux_mg_m2_d[params.name] for w in worlds])
        v = params.ch4_flux_mg_m2_d
        assert abs(flux.mean() - v) < 4 * 0.5 * v / math.sqrt(n), params.name
        assert np.log(flux).std() == pytest.approx(math.sqrt(math.log(1.25)), rel=0.05)


@pytest.fixture(scope="module")
def drawn() -> Landscape:
    return build_landscape(SEED, SCALES["small"], draw_carbon=True)


def test_a_drawn_world_changes_only_the_truth(drawn: Landscape) -> None:
    stated = build_landscape(SEED, SCALES["small"])
    assert stated.carbon == nominal_carbon_world()
    assert drawn.carbon == draw_carbon_world(SEED)
    for a, b in zip(stated.epochs, drawn.epochs, strict=True):
        np.testing.assert_array_equal(a.agb_mg_ha, b.agb_mg_ha)
        np.testing.assert_array_equal(a.dom_mg_ha, b.dom_mg_ha)
        np.testing.assert_array_equal(a.soc_0_100_mg_ha, b.soc_0_100_mg_ha)


def test_truth_of_a_drawn_world_uses_its_values(drawn: Landscape) -> None:
    world = drawn.carbon
    datasets = {e.spec.name: truth_dataset(drawn, e) for e in drawn.epochs}
    out = totals(drawn, datasets)
    for ds in datasets.values():
        assert ds.attrs["carbon_fraction"] == world.carbon_fraction
        classes = ds["class"].values
        for name in ("mudflat", "sedge", "reed", "miscanthus", "poplar"):
            cells = classes == CLASS_BY_NAME[name].code
            np.testing.assert_allclose(
                ds["bgb_mg_ha"].values[cells],
                ds["agb_mg_ha"].values[cells] * world.root_shoot[name],
                rtol=1e-6,
            )
    last = out["epochs"]["2025"]
    assert last["stocks_t_c"]["agb_c"] == pytest.approx(
        last["agb_t_dm"]["total"] * world.carbon_fraction, rel=1e-12
    )
    # CH4 = Σ area_2025 × F × 365 d × 1e-5 (mg m⁻² → t ha⁻¹) × GWP 28.
    ch4 = sum(
        last["area_ha"][c.name] * world.ch4_flux_mg_m2_d[c.name] * 365e-5 * 28 for c in CLASSES
    )
    assert out["sink"]["ch4_t_co2e_yr"] == pytest.approx(ch4, rel=1e-9)
    assert out["carbon_world"]["drawn"] is True
    assert out["carbon_world"]["root_shoot"] == dict(world.root_shoot)
    assert "Drawn carbon parameters" in readme_text(drawn, scale="small", totals=out)
