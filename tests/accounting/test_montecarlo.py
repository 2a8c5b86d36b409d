"""Tests of carbonsink.accounting.montecarlo (IPCC Approach 2 propagation).

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

from carbonsink.accounting.montecarlo import (
    DEFAULT_DRAWS,
    Empirical,
    Fixed,
    LogNormal,
    MonteCarlo,
    Normal,
    Triangular,
    Uncertain,
    Uniform,
    convergence,
    parameter_key,
    run_until_converged,
    summarize,
)
from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.units import CO2_PER_C
from tests.conftest import PROJECT_ROOT

N = 200_000


def _draw(spec: Uncertain, n: int = N, seed: int = 1) -> np.ndarray:
    return MonteCarlo(seed, n).draw("x", spec)


# ----------------------------------------------------------- distributions: moments
def test_normal_moments() -> None:
    # N(5, 2²): SE(mean) = 2/√2e5 = 0.0045, SE(sd) = 2/√4e5 = 0.0032.
    x = _draw(Normal(5.0, 2.0))
    assert x.shape == (N,)
    assert np.mean(x) == pytest.approx(5.0, abs=0.018)
    assert np.std(x) == pytest.approx(2.0, abs=0.013)


def test_lognormal_from_mean_and_sd_moments() -> None:
    # mean 10, sd 5 (CV 0.5): σ² = ln(1.25) = 0.22314, SE(mean) = 5/√2e5 = 0.011;
    # excess kurtosis e^{4σ²} + 2e^{3σ²} + 3e^{2σ²} − 6 = 2.441 + 3.906 + 4.688 − 6 = 5.03,
    # SE(sd) ≈ 5 √(7.03 / 8e5) = 0.015.
    spec = LogNormal(mean=10.0, sd=5.0)
    assert spec.sigma_log == pytest.approx(math.sqrt(math.log(1.25)))
    x = _draw(spec)
    assert np.all(x > 0)
    assert np.mean(x) == pytest.approx(10.0, abs=0.045)
    assert np.std(x) == pytest.approx(5.0, abs=0.06)


def test_lognormal_from_median_and_gsd() -> None:
    # median 2, GSD 1.5: σ = ln 1.5 = 0.405465, σ² = 0.164402;
    # mean = 2 e^{0.082201} = 2.171348; e^{0.164402} = 1.178688,
    # sd = 2.171348 × √0.178688 = 2.171348 × 0.422715 = 0.917862.
    spec = LogNormal.from_median_gsd(2.0, 1.5)
    assert spec.mean == pytest.approx(2.171348, abs=1e-6)
    assert spec.sd == pytest.approx(0.917862, abs=1e-6)
    assert spec.mu_log == pytest.approx(math.log(2.0))
    assert spec.sigma_log == pytest.approx(0.405465, abs=1e-6)
    x = _draw(spec)
    # SE(median) = 1 / (2 f(m) √n), f(m) = 1/(m σ √2π) = 0.492 → 0.0023.
    assert np.median(x) == pytest.approx(2.0, abs=0.01)
    # SD of ln x: SE = σ/√(2n) = 0.0009 → GSD within 1.5 × e^{±0.0036}.
    assert math.exp(np.std(np.log(x))) == pytest.approx(1.5, abs=0.0055)
    assert spec.to_dict()["gsd"] == pytest.approx(1.5)


def test_uniform_moments() -> None:
    # U(2, 8): mean 5, var (8 − 2)²/12 = 3, sd 1.7321; SE(mean) = 1.7321/√2e5 = 0.0039.
    x = _draw(Uniform(2.0, 8.0))
    assert x.min() >= 2.0
    assert x.max() <= 8.0
    assert np.mean(x) == pytest.approx(5.0, abs=0.016)
    assert np.var(x) == pytest.approx(3.0, rel=0.01)


def test_triangular_moments() -> None:
    # T(0, 1, 4): mean (0 + 1 + 4)/3 = 1.6667; var (0 + 1 + 16 − 0 − 0 − 4)/18 = 13/18 = 0.7222;
    # SE(mean) = 0.8498/√2e5 = 0.0019.
    x = _draw(Triangular(0.0, 1.0, 4.0))
    assert x.min() >= 0.0
    assert x.max() <= 4.0
    assert np.mean(x) == pytest.approx(5.0 / 3.0, abs=0.008)
    assert np.var(x) == pytest.approx(13.0 / 18.0, rel=0.01)


def test_fixed_is_constant() -> None:
    x = _draw(Fixed(3.5), n=100)
    assert np.all(x == 3.5)


def test_empirical_resamples_with_replacement() -> None:
    # samples 1, 2, 3, 10: resampled mean 4, variance (1 + 4 + 9 + 100)/4 − 16 = 12.5;
    # SE(mean) = √12.5/√2e5 = 0.0079; each value has frequency 1/4, SE √(0.1875/2e5) = 0.001.
    x = _draw(Empirical(np.array([1.0, 2.0, 3.0, 10.0])))
    assert set(np.unique(x)) == {1.0, 2.0, 3.0, 10.0}
    assert np.mean(x) == pytest.approx(4.0, abs=0.032)
    assert np.var(x) == pytest.approx(12.5, rel=0.01)
    assert np.mean(x == 10.0) == pytest.approx(0.25, abs=0.004)


def test_empirical_rows_are_resampled_whole() -> None:
    # (B, k) replicates: column 2 is 10 × column 1 in every replicate, so in every draw.
    replicates = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    x = _draw(Empirical(replicates), n=1000)
    assert x.shape == (1000, 2)
    assert np.array_equal(x[:, 1], 10.0 * x[:, 0])


def test_empirical_copies_its_input_and_compares_by_value() -> None:
    replicates = np.array([1.0, 2.0, 3.0])
    spec = Empirical(replicates)
    replicates[0] = 99.0
    assert spec.samples[0] == 1.0
    assert Empirical(np.array([1.0, 2.0, 3.0])) == spec
    assert hash(Empirical(np.array([1.0, 2.0, 3.0]))) == hash(spec)
    assert Empirical(np.array([1.0, 2.0])) != spec
    with pytest.raises(ValueError, match="read-only"):
        spec.samples[0] = 5.0


@pytest.mark.parametrize(
    "build",
    [
        lambda: Normal(0.0, -1.0),
        lambda: Normal(math.nan, 1.0),
        lambda: LogNormal(0.0, 1.0),
        lambda: LogNormal(1.0, -0.1),
        lambda: LogNormal.from_median_gsd(1.0, 0.9),
        lambda: LogNormal.from_median_gsd(-1.0, 1.5),
        lambda: Uniform(3.0, 2.0),
        lambda: Triangular(0.0, 5.0, 4.0),
        lambda: Triangular(1.0, 1.0, 1.0),
        lambda: Fixed(math.inf),
    ],
)
def test_bad_distribution_parameters_are_config_errors(build: object) -> None:
    with pytest.raises(ConfigError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("samples", [[], [1.0, math.nan], np.zeros((2, 2, 2))])
def test_bad_empirical_samples_are_input_errors(samples: object) -> None:
    with pytest.raises(InputError):
        Empirical(samples)  # type: ignore[arg-type]


def test_every_descriptor_is_uncertain_and_json_describable() -> None:
    specs = [
        Normal(1.0, 0.1),
        LogNormal(1.0, 0.1),
        Uniform(0.0, 1.0),
        Triangular(0.0, 0.5, 1.0),
        Fixed(2.0),
        Empirical(np.array([1.0, 2.0])),
    ]
    for spec in specs:
        assert isinstance(spec, Uncertain)
        json.dumps(spec.to_dict())


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
        "from carbonsink.accounting.montecarlo import MonteCarlo, Normal, parameter_key;"
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


# ----------------------------------------------------------- summary
def test_summary_by_hand() -> None:
    # 0, 1, …, 100: mean = median = 50; linear-interpolated percentiles p5 = 5, p95 = 95,
    # p2.5 = 2.5, p97.5 = 97.5, p10 = 10, p90 = 90; sample variance n(n+1)/12 with
    # n = 101 → 858.5; relative half-width (95 − 5)/2/50 = 0.9.
    summary = summarize(np.arange(101.0), confidences=(0.80, 0.90), seed=7)
    assert summary.mean == 50.0
    assert summary.median == 50.0
    assert summary.sd == pytest.approx(math.sqrt(858.5))
    assert (summary.p5, summary.p95) == pytest.approx((5.0, 95.0))
    assert summary.ci90 == pytest.approx((5.0, 95.0))
    assert summary.ci95 == pytest.approx((2.5, 97.5))
    assert summary.relative_half_width_90 == pytest.approx(0.9)
    assert summary.n_draws == 101
    assert summary.seed == 7
    assert summary.intervals[0] == pytest.approx((0.80, 10.0, 90.0))
    assert summary.intervals[1] == pytest.approx((0.90, 5.0, 95.0))
    record = summary.to_dict()
    json.dumps(record)
    assert record["ci90"] == pytest.approx([5.0, 95.0])
    assert record["intervals"][0]["low"] == pytest.approx(10.0)


def test_summary_of_zero_mean_has_infinite_relative_half_width() -> None:
    summary = summarize(np.array([-1.0, 0.0, 1.0]))
    assert math.isinf(summary.relative_half_width_90)
    assert summary.to_dict()["relative_half_width_90"] is None


def test_summary_rejects_bad_draws_and_levels() -> None:
    with pytest.raises(InputError, match="1-D"):
        summarize(np.zeros((10, 2)))
    with pytest.raises(ModelError, match="not finite"):
        summarize(np.array([1.0, math.nan, 2.0]))
    with pytest.raises(InputError, match="confidence"):
        summarize(np.arange(10.0), confidences=(1.0,))


# ----------------------------------------------------------- convergence
def test_convergence_detects_too_few_draws() -> None:
    # Log-normal, mean 1, sd 1: σ = √ln 2 = 0.833, p95 = e^{−0.347 + 1.645 × 0.833} = 2.78;
    # SE(p95) at n = 500 is √(0.05 × 0.95/500) / f(p95) with f = 0.1031/(2.78 × 0.833) = 0.0445,
    # i.e. 0.22 = 8 % of p95: far from stable to 1 %.
    x = _draw(LogNormal(1.0, 1.0), n=500, seed=2)
    check = convergence(x, tolerance=0.01, block=50)
    assert not check.converged
    assert check.max_relative_change > 0.01
    assert list(check.table["n"]) == list(range(50, 501, 50))


def test_convergence_accepts_enough_draws() -> None:
    # N(100, 10), 200,000 draws: SE(p5) = √(0.05 × 0.95/n)/φ(1.645) × 10 = 0.021 × 10/√(n/1e4);
    # between n = 1e5 and 2e5 the change has SD ≈ 0.047, i.e. 0.04 % of p95 ≈ 116.
    x = _draw(Normal(100.0, 10.0), seed=3)
    check = convergence(x, tolerance=0.01, block=20_000)
    assert check.converged
    assert check.max_relative_change < 0.01
    assert len(check.table) == 10
    last = check.table.iloc[-1]
    assert last["relative_change_p5"] == 0.0
    assert last["p5"] == pytest.approx(100.0 - 1.645 * 10.0, abs=0.2)
    json.dumps(check.to_dict())


def test_convergence_scale_is_the_far_interval_end_for_a_difference_near_zero() -> None:
    # A difference centred on 0: p5 ≈ −16.45, p95 ≈ +16.45; the change is measured against
    # 16.45, not against a percentile near zero.
    x = _draw(Normal(0.0, 10.0), seed=4)
    check = convergence(x, tolerance=0.01, block=20_000)
    assert check.converged


def test_convergence_rejects_bad_block() -> None:
    with pytest.raises(InputError, match="block"):
        convergence(np.arange(10.0), block=20)
    with pytest.raises(InputError, match="tolerance"):
        convergence(np.arange(10.0), block=2, tolerance=0.0)


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
