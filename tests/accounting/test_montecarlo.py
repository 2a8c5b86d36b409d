"""Tests of carbonsink.accounting.montecarlo (IPCC Approach 2 propagation): the seeded engine.

Monte Carlo error bounds used below: with n independent draws of a quantity of
standard deviation σ, the standard error of the sample mean is σ/√n and that
of the sample SD is ≈ σ/√(2n) (normal case; σ·√((κ−1)/(4n)) with kurtosis κ
in general), and of the sample variance ≈ σ²·√(2/n). Assertions allow ≈ 4
standard errors, so a correct implementation fails with probability < 1e-4
(and, with fixed seeds, the tests are deterministic anyway).
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from carbonsink.accounting.distributions import Empirical, LogNormal, Normal, Uncertain
from carbonsink.accounting.montecarlo import (
    DEFAULT_DRAWS,
    MonteCarlo,
    parameter_key,
    run_until_converged,
)
from carbonsink.accounting.summaries import summarize
from carbonsink.errors import ConfigError, ModelError
from carbonsink.units import CO2_PER_C
from tests.conftest import PROJECT_ROOT

N = 200_000


# ----------------------------------------------------------- propagation by hand
def test_product_of_independent_normals_by_hand() -> None:
    # C = A × D, A ~ N(100, 10), D ~ N(2, 0.2), independent:
    # E[C] = 100 × 2 = 200; Var C = μA²σD² + μD²σA² + σA²σD² = 400 + 400 + 4 = 804,
    # SD 28.355, relative SD √(0.1² + 0.1² + (0.1 × 0.1)²) = √0.0201 = 0.14177.
    # SE(mean) = 28.355/√2e5 = 0.063; SE(sd) ≈ 28.355/√4e5 = 0.045.
    mc = MonteCarlo(11, N)
    c = mc.evaluate(
        lambda d: d["A"] * d["D"], specs={"A": Normal(100.0, 10.0), "D": Normal(2.0, 0.2)}
    )
    assert np.mean(c) == pytest.approx(200.0, abs=0.26)
    assert np.std(c) == pytest.approx(math.sqrt(804.0), abs=0.2)
    assert np.std(c) / np.mean(c) == pytest.approx(math.sqrt(0.0201), abs=0.0015)


def test_shared_carbon_fraction_is_drawn_once_for_both_epochs() -> None:
    # B1 ~ N(100, 5), B2 ~ N(120, 5), CF ~ N(0.47, 0.02).
    # Shared CF: Δ = CF (B2 − B1), X = B2 − B1 ~ N(20, 50):
    #   Var Δ = 0.47² × 50 + 20² × 0.02² + 0.02² × 50 = 11.045 + 0.16 + 0.02 = 11.225.
    # Independent CFs: Δ = CF1 B2 − CF2 B1,
    #   Var(CF1 B2) = 0.2209 × 25 + 120² × 0.0004 + 0.0004 × 25 = 5.5225 + 5.76 + 0.01 = 11.2925,
    #   Var(CF2 B1) = 5.5225 + 100² × 0.0004 + 0.01 = 9.5325; sum 20.825.
    # SE of a variance ≈ Var √(2/n) = 0.3 % of it at n = 2e5; allow 2 %.
    cf, b1, b2 = Normal(0.47, 0.02), Normal(100.0, 5.0), Normal(120.0, 5.0)
    mc = MonteCarlo(3, N)
    first = mc.draw("carbon_fraction", cf)
    second = mc.draw("carbon_fraction", cf)
    assert second is first
    shared = mc.evaluate(
        lambda d: d["carbon_fraction"] * (d["b2"] - d["b1"]), specs={"b1": b1, "b2": b2}
    )
    independent = mc.evaluate(
        lambda d: d["cf_2025"] * d["b2"] - d["cf_2020"] * d["b1"],
        specs={"cf_2020": cf, "cf_2025": cf},
    )
    assert np.var(shared) == pytest.approx(11.225, rel=0.02)
    assert np.var(independent) == pytest.approx(20.825, rel=0.02)
    # E[Δ] = 0.47 × 20 = 9.4 in both cases.
    assert np.mean(shared) == pytest.approx(9.4, abs=4 * math.sqrt(11.225 / N))
    assert np.mean(independent) == pytest.approx(9.4, abs=4 * math.sqrt(20.825 / N))


def test_a_name_drawn_again_from_another_distribution_is_a_config_error() -> None:
    mc = MonteCarlo(1, 100)
    mc.draw("cf", Normal(0.47, 0.01))
    mc.draw("cf", Normal(0.47, 0.01))  # same spec: reused, no error
    with pytest.raises(ConfigError, match="'cf' was drawn from"):
        mc.draw("cf", Normal(0.45, 0.01))


def test_draws_are_read_only_and_recorded() -> None:
    mc = MonteCarlo(1, 100)
    x = mc.draw("cf", Normal(0.47, 0.01))
    with pytest.raises(ValueError, match="read-only"):
        x[0] = 1.0
    assert set(mc.draws) == {"cf"}
    assert mc.specs["cf"] == Normal(0.47, 0.01)
    record = mc.to_dict()
    assert record["seed"] == 1
    assert record["n_draws"] == 100
    assert record["parameters"]["cf"] == {"distribution": "normal", "mean": 0.47, "sd": 0.01}
    json.dumps(record)


def test_evaluate_rejects_wrong_shape_and_non_finite_output() -> None:
    mc = MonteCarlo(1, 100)
    mc.draw("a", Normal(0.0, 1.0))
    with pytest.raises(ModelError, match="shape"):
        mc.evaluate(lambda d: np.sum(d["a"]))
    with pytest.raises(ModelError, match="not finite"):
        mc.evaluate(lambda d: np.where(d["a"] > 0, np.nan, 1.0))


@pytest.mark.parametrize(("seed", "n_draws"), [(-1, 100), (1.5, 100), (True, 100), (1, 1)])
def test_bad_seed_or_draw_count_is_a_config_error(seed: object, n_draws: object) -> None:
    with pytest.raises(ConfigError):
        MonteCarlo(seed, n_draws)  # type: ignore[arg-type]


# ----------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_draws_whatever_the_order() -> None:
    specs: dict[str, Uncertain] = {
        "a": Normal(0.0, 1.0),
        "b": LogNormal(2.0, 1.0),
        "c": Empirical(np.array([1.0, 2.0, 3.0])),
    }
    one, two = MonteCarlo(42, 1000), MonteCarlo(42, 1000)
    for name in ["a", "b", "c"]:
        one.draw(name, specs[name])
    for name in ["c", "b", "a"]:
        two.draw(name, specs[name])
    for name in specs:
        assert np.array_equal(one.draws[name], two.draws[name])
    assert DEFAULT_DRAWS == 10_000
    assert MonteCarlo(42).n_draws == DEFAULT_DRAWS


def test_named_streams_are_independent() -> None:
    # Two names, same distribution: different draws, correlation ~ 0 (SE 1/√n = 0.0022).
    mc = MonteCarlo(5, N)
    x = mc.draw("x", Normal(0.0, 1.0))
    y = mc.draw("y", Normal(0.0, 1.0))
    assert not np.array_equal(x, y)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.009


def test_parameter_key_does_not_depend_on_python_hash_seed() -> None:
    code = (
        "from carbonsink.accounting.distributions import Normal;"
        "from carbonsink.accounting.montecarlo import MonteCarlo, parameter_key;"
        "print(parameter_key('carbon_fraction'));"
        "print(MonteCarlo(9, 5).draw('carbon_fraction', Normal(0.47, 0.01)).tolist())"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", code],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(run.stdout.split("\n"))
    assert outputs[0] == outputs[1]
    assert int(outputs[0][0]) == parameter_key("carbon_fraction")
    here = MonteCarlo(9, 5).draw("carbon_fraction", Normal(0.47, 0.01)).tolist()
    assert json.loads(outputs[0][1]) == here
    assert 0 <= parameter_key("carbon_fraction") < 2**64


def test_different_seed_moves_the_total_only_within_its_interval() -> None:
    # C = A × D as above with n = 20,000: SE(mean) = 28.355/√2e4 = 0.20, so two seeds'
    # means differ by a normal of SD 0.20 √2 = 0.28; allow 4 × 0.28 = 1.13.
    specs = {"A": Normal(100.0, 10.0), "D": Normal(2.0, 0.2)}
    outputs = [
        MonteCarlo(seed, 20_000).evaluate(lambda d: d["A"] * d["D"], specs=specs) for seed in (1, 2)
    ]
    first, second = (summarize(out, seed=seed) for out, seed in zip(outputs, (1, 2), strict=True))
    assert not np.array_equal(outputs[0], outputs[1])
    assert first.mean != second.mean
    assert abs(first.mean - second.mean) < 1.13
    assert first.ci90[0] < second.mean < first.ci90[1]
    assert second.ci90[0] < first.mean < second.ci90[1]


def test_run_until_converged_doubles_the_draws() -> None:
    # Log-normal CV 0.5 (σ = 0.472): relative SE of p95 ≈ √(0.0475/n) σ / φ(1.645)
    # = 1.0/√n, i.e. 1 % at n = 10,000, so 5,000 draws are not enough.
    spec = LogNormal(10.0, 5.0)

    def model(mc: MonteCarlo) -> np.ndarray:
        return mc.evaluate(lambda d: d["x"], specs={"x": spec})

    run = run_until_converged(model, seed=8, start=5_000, max_draws=640_000)
    assert run.convergence.converged
    assert run.n_draws > 5_000
    assert run.n_draws in {5_000 * 2**k for k in range(8)}
    assert run.draws.shape == (run.n_draws,)
    assert run.summary.n_draws == run.n_draws
    assert run.summary.seed == 8
    again = run_until_converged(model, seed=8, start=5_000, max_draws=640_000)
    assert again.n_draws == run.n_draws
    assert again.summary == run.summary
    json.dumps(run.to_dict())


def test_run_until_converged_reports_when_max_draws_is_reached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def model(mc: MonteCarlo) -> np.ndarray:
        return mc.evaluate(lambda d: d["x"], specs={"x": LogNormal(1.0, 1.0)})

    with caplog.at_level(logging.WARNING, logger="carbonsink.accounting.montecarlo"):
        run = run_until_converged(model, seed=1, start=200, max_draws=300)
    assert run.n_draws == 300
    assert not run.convergence.converged
    assert "not converged at 300 draws" in caplog.text


# ----------------------------------------------------------- coverage
def _sink_interval(seed: int, *, shared: bool) -> tuple[float, float]:
    """90 % interval of a synthetic sink from one seed's 'measurements'.

    Truth: 1000 ha, AGB 100 → 120 Mg/ha in 5 years, CF 0.47. Measured AGB means have
    SE 5 Mg/ha each; the carbon fraction is known to SD 0.02 and the same value serves
    both epochs (one error shared by both).
    """
    survey = np.random.default_rng([seed, 99])
    b1_hat = survey.normal(100.0, 5.0)
    b2_hat = survey.normal(120.0, 5.0)
    cf_hat = survey.normal(0.47, 0.02)
    cf = Normal(cf_hat, 0.02)
    specs = {"b1": Normal(b1_hat, 5.0), "b2": Normal(b2_hat, 5.0)}
    if shared:
        specs |= {"cf_2020": cf}
        cf_names = ("cf_2020", "cf_2020")
    else:
        specs |= {"cf_2020": cf, "cf_2025": cf}
        cf_names = ("cf_2020", "cf_2025")
    sink = MonteCarlo(seed, 10_000).evaluate(
        lambda d: 1000.0 * (d[cf_names[1]] * d["b2"] - d[cf_names[0]] * d["b1"]) / 5.0 * CO2_PER_C,
        specs=specs,
    )
    return summarize(sink).ci90


def test_ninety_percent_interval_covers_the_truth_about_ninety_percent_of_the_time() -> None:
    # Truth: 1000 ha × 0.47 × (120 − 100) / 5 yr × 44/12 = 6893.3 t CO2e/yr.
    # Over 200 seeds the number of covering intervals is Binomial(200, 0.90) if the
    # intervals are right: SD √(200 × 0.9 × 0.1) = 4.2 seeds = 2.1 %; 85–95 % is ±2.4 SD
    # (a correct method falls outside with probability ≈ 2 %), while intervals that are
    # 35 % too wide (independent carbon-fraction draws, below) or too narrow fall outside.
    truth = 1000.0 * 0.47 * 20.0 / 5.0 * CO2_PER_C
    assert truth == pytest.approx(6893.33, abs=0.01)
    seeds = range(200)
    covered = [
        low <= truth <= high for low, high in (_sink_interval(s, shared=True) for s in seeds)
    ]
    assert 0.85 <= np.mean(covered) <= 0.95
    # Treating the shared carbon fraction as two independent errors inflates the
    # variance from ≈ 11.2 to ≈ 20.8 (see the shared-parameter test): the interval is
    # √(20.8/11.2) = 1.36 × too wide, so coverage ≈ P(|Z| < 1.645 × 1.36) = 97.4 %.
    wide = [low <= truth <= high for low, high in (_sink_interval(s, shared=False) for s in seeds)]
    assert np.mean(wide) > 0.95
