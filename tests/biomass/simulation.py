"""Simulated regression data with known noise, shared by the biomass estimator tests."""

from __future__ import annotations

import numpy as np

N_TRAIN = 2000
N_TEST = 2000
NOISE_SD = 1.0


def signal(X: np.ndarray) -> np.ndarray:
    """The noise-free target f(x) = 3 sin(x0) + x1²."""
    return 3.0 * np.sin(X[:, 0]) + X[:, 1] ** 2


def simulate(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points x ~ U(-2, 2)² and y = f(x) + N(0, NOISE_SD²)."""
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    return X, signal(X) + rng.normal(0.0, NOISE_SD, size=n)
