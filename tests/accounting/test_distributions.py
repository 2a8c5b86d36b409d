"""Tests of carbonsink.accounting.distributions: moments, parameters and descriptions.

Monte Carlo error bounds used below: with n independent draws of a quantity of
standard deviation σ, the standard error of the sample mean is σ/√n and that
of the sample SD is ≈ σ/√(2n) (normal case; σ·√((κ−1)/(4n)) with kurtosis κ
in general), and of the sample variance ≈ σ²·√(2/n). Assertions allow ≈ 4
standard errors, so a correct implementation fails with probability < 1e-4
(and, with fixed seeds, the tests are deterministic anyway).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from carbonsink.accounting.distributions import (
    Empirical,
    Fixed,
    LogNormal,
    Normal,
    Triangular,
    Uncertain,
    Uniform,
)
from carbonsink.accounting.montecarlo import MonteCarlo
from carbonsink.errors import ConfigError, InputError

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
