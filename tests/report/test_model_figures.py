"""The SOC variogram figure: the model's curve and the experimental classes it was fitted to."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.image import imread

from carbonsink.report.model_figures import variogram_figure

CURVE = "#1f4e79"
POINTS = "#c05a00"


def _has(png: bytes, hex_colour: str) -> bool:
    pixels = np.asarray(imread(io.BytesIO(png), format="png"), dtype=np.float64)[..., :3]
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(pixels - rgb).max(axis=-1) <= 1.5 / 255).any())


def _variogram(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "model": "spherical",
        "nugget": 20.0,
        "psill": 80.0,
        "range_m": 150.0,
        "units": "(Mg C/ha)^2",
        "of": "residuals",
        "curve_m": [0.0, 75.0, 150.0, 225.0],
        "curve_semivariance": [0.0, 75.0, 100.0, 100.0],
        "lag_m": [50.0, 100.0],
        "semivariance": [45.0, 80.0],
        "n_pairs": [12, 30],
    }
    return {**base, **changes}


def test_the_figure_draws_the_curve_and_the_classes() -> None:
    png = variogram_figure(_variogram(), title="SOC variogram")
    assert png.startswith(b"\x89PNG") and _has(png, CURVE) and _has(png, POINTS)
    assert png == variogram_figure(_variogram(), title="SOC variogram")  # reproducible


def test_a_given_variogram_has_no_classes_and_no_curve_no_plot() -> None:
    given = variogram_figure(_variogram(lag_m=[], semivariance=[], n_pairs=[]), title="given")
    assert _has(given, CURVE) and not _has(given, POINTS)
    empty = variogram_figure(_variogram(curve_m=[], curve_semivariance=[]), title="none")
    assert not _has(empty, CURVE)
