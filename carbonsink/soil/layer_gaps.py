"""Missing bulk densities estimated from organic matter (ideal mixing), and the gap record.

:func:`carbonsink.io.soil_sheets.usable_layers` merges a soil sheet's
replicate rows and (``incomplete_cores = "exclude"``) leaves out its unusable
rows and cores; :func:`fill_bulk_densities` then, with
``bulk_density_gaps = "pedotransfer"``, estimates each blank bulk density from
the layer's organic matter with the ideal-mixing model (Morris et al. 2016,
:func:`ideal_mixing_model`), fitted on the table's own complete layers when
they identify it, else with the published self-packing densities. The
prediction error becomes the layer's bulk-density standard error, so it
reaches the stock SE. Both steps are explicit and recorded, never silent
(docs/methodology.md §3.1a); with the defaults (``"error"``) nothing is filled
or dropped and the soil table's check lists every problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import least_squares

from carbonsink.errors import InputError
from carbonsink.io.soil_sheets import MIN_ERROR_LAYERS, SoilSheet, numeric_column, om_fraction

__all__ = [
    "IdealMixingModel",
    "LayerGaps",
    "fill_bulk_densities",
    "ideal_mixing_model",
]

FloatArray = npt.NDArray[np.float64]
BulkDensityGaps = Literal["error", "pedotransfer"]
IncompleteCores = Literal["error", "exclude"]

#: Self-packing densities of organic and mineral matter, g cm⁻³, and their standard
#: errors, fitted to 5,075 samples of US tidal wetland soils (Morris et al. 2016,
#: Earth's Future 4, 110–121, doi:10.1002/2015EF000334).
MORRIS_K_ORGANIC: Final = 0.085
MORRIS_K_ORGANIC_SE: Final = 0.0008
MORRIS_K_MINERAL: Final = 1.99
MORRIS_K_MINERAL_SE: Final = 0.028
#: The survey's own k1, k2 are fitted from this many complete layers on ...
MIN_FIT_LAYERS: Final = 30
#: ... whose organic-matter fractions span at least this range (both ends identified).
MIN_FIT_OM_SPAN: Final = 0.2
#: A fitted k is used only when its relative standard error is at most this ...
MAX_K_RELATIVE_SE: Final = 0.25
#: ... and it is physically possible: g cm⁻³ (k₂ cannot exceed the density of
#: quartz, 2.65; peat self-packs at 0.02–0.5).
K_ORGANIC_RANGE: Final = (0.02, 0.5)
K_MINERAL_RANGE: Final = (0.5, 2.65)


@dataclass(frozen=True)
class IdealMixingModel:
    """Bulk density from organic matter: 1/BD = f/k₁ + (1 − f)/k₂ (Morris et al. 2016).

    Attributes
    ----------
    k_organic_g_cm3, k_mineral_g_cm3
        k₁, k₂: the self-packing densities of pure organic and pure mineral
        matter, g cm⁻³.
    covariance_log
        2 × 2 covariance of (ln k₁, ln k₂).
    residual_sd_log
        SD of ln(BD_measured / BD_predicted) over the complete layers.
    n_layers
        Complete layers (bulk density and organic matter) the error and the
        fitted k's come from.
    fitted
        ``"both"``: k₁ and k₂ fitted on the table's layers; ``"organic"``: k₁
        fitted, k₂ Morris et al.'s (the layers do not reach the mineral end);
        ``"none"``: both Morris et al. (2016).
    """

    k_organic_g_cm3: float
    k_mineral_g_cm3: float
    covariance_log: FloatArray
    residual_sd_log: float
    n_layers: int
    fitted: Literal["both", "organic", "none"]

    def predict_parts(
        self, om_fraction: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Mean bulk density, its residual SE and its gradient in (ln k₁, ln k₂).

        Returns
        -------
        tuple
            ``mean`` (g cm⁻³), ``residual_se`` (g cm⁻³: the layer's own scatter
            about the curve) and ``gradient`` (``(..., 2)``, g cm⁻³ per unit
            ln k: the part of the error every filled layer shares through
            k₁ and k₂, whose covariance is :attr:`covariance_log`).

        Notes
        -----
        The curve gives the median m = 1 / (f/k₁ + (1 − f)/k₂) (the fit is on
        ln BD); with ln BD ~ N(ln m, v), v = s² + gᵀ Σ g, g = ∂ ln m / ∂(ln k₁,
        ln k₂) = (f/k₁, (1 − f)/k₂) × m, the mean is m exp(v / 2) (eq. 3.2c).
        The residual SE is mean × √(exp(s²) − 1) and the shared part's
        gradient is mean × g (first order).
        """
        f = np.asarray(om_fraction, dtype=np.float64)
        median = 1.0 / (f / self.k_organic_g_cm3 + (1.0 - f) / self.k_mineral_g_cm3)
        g = np.stack((f / self.k_organic_g_cm3, (1.0 - f) / self.k_mineral_g_cm3), -1)
        g = g * median[..., None]
        shared = np.einsum("...i,ij,...j->...", g, self.covariance_log, g)
        mean = median * np.exp((self.residual_sd_log**2 + shared) / 2.0)
        residual_se = mean * math.sqrt(math.expm1(self.residual_sd_log**2))
        return mean, residual_se, g * mean[..., None]

    def predict(self, om_fraction: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Mean bulk density and its total prediction SE at organic-matter fractions ``f``.

        The SE is √(residual SE² + gᵀ Σ g) of :meth:`predict_parts`.
        """
        mean, residual_se, gradient = self.predict_parts(om_fraction)
        shared = np.einsum("...i,ij,...j->...", gradient, self.covariance_log, gradient)
        return mean, np.sqrt(residual_se**2 + shared)

    def describe(self) -> str:
        """One line for the ledger: the k's, where they come from and the error."""
        origin = {
            "both": "k1 and k2 fitted",
            "organic": "k1 fitted, k2 of Morris et al. (2016)",
            "none": "k1 and k2 of Morris et al. (2016)",
        }[self.fitted]
        origin += f" on the table's {self.n_layers} layers with bulk density and organic matter"
        return (
            f"ideal mixing, k1 = {self.k_organic_g_cm3:.3f} g/cm³ (organic), "
            f"k2 = {self.k_mineral_g_cm3:.2f} g/cm³ (mineral), {origin}; "
            f"prediction error {math.expm1(self.residual_sd_log):.0%} (1 SD, relative)"
        )


def _log_residuals(log_k: FloatArray, f: FloatArray, log_bd: FloatArray) -> FloatArray:
    k1, k2 = np.exp(log_k)
    return np.asarray(log_bd + np.log(f / k1 + (1.0 - f) / k2), dtype=np.float64)


def _identified(log_k: FloatArray, variance: FloatArray) -> bool:
    """Both k's finite, physically possible and known to within :data:`MAX_K_RELATIVE_SE`."""
    k = np.exp(log_k)
    return bool(
        np.all(np.isfinite(variance))
        and np.all(np.sqrt(np.maximum(variance, 0.0)) <= MAX_K_RELATIVE_SE)
        and K_ORGANIC_RANGE[0] <= k[0] <= K_ORGANIC_RANGE[1]
        and K_MINERAL_RANGE[0] <= k[1] <= K_MINERAL_RANGE[1]
    )


def _fit_both(
    f: FloatArray, log_bd: FloatArray, start: FloatArray
) -> tuple[FloatArray, FloatArray, float, str] | None:
    """ln k₁, ln k₂ by least squares on ln BD, or ``None`` when they are not identified."""
    solution = least_squares(_log_residuals, start, args=(f, log_bd), method="lm")
    sigma2 = float(solution.fun @ solution.fun) / max(f.size - 2, 1)
    covariance = sigma2 * np.linalg.pinv(solution.jac.T @ solution.jac)
    if not _identified(solution.x, np.diag(covariance)):
        return None
    return np.asarray(solution.x, dtype=np.float64), covariance, sigma2, "both"


def _fit_organic(
    f: FloatArray, log_bd: FloatArray, literature: FloatArray, k_mineral_var: float
) -> tuple[FloatArray, FloatArray, float, str] | None:
    """ln k₁ with k₂ fixed at Morris et al.'s value (the mineral end is not in the data)."""

    def residuals(log_k1: FloatArray) -> FloatArray:
        return _log_residuals(np.array([log_k1[0], literature[1]]), f, log_bd)

    solution = least_squares(residuals, literature[:1], method="lm")
    sigma2 = float(solution.fun @ solution.fun) / max(f.size - 1, 1)
    k1_var = float(sigma2 / max(float(solution.jac[:, 0] @ solution.jac[:, 0]), 1e-300))
    log_k = np.array([solution.x[0], literature[1]])
    if not _identified(log_k, np.array([k1_var, k_mineral_var])):
        return None
    return log_k, np.diag([k1_var, k_mineral_var]), sigma2, "organic"


def ideal_mixing_model(
    om_fraction: npt.ArrayLike, bulk_density_g_cm3: npt.ArrayLike, *, path: str | None = None
) -> IdealMixingModel:
    """The ideal-mixing model of a table's complete layers (fitted, or the published k's).

    Parameters
    ----------
    om_fraction
        Organic-matter fraction of dry mass (loss on ignition, 0–1) of the
        layers that also have a measured bulk density.
    bulk_density_g_cm3
        Their dry bulk density, g cm⁻³.
    path
        The file, for messages.

    Returns
    -------
    IdealMixingModel
        When at least :data:`MIN_FIT_LAYERS` layers span an OM range of at
        least :data:`MIN_FIT_OM_SPAN`: k₁ and k₂ fitted by least squares on
        ln BD (Gauss–Newton covariance), if both are identified (relative SE
        ≤ :data:`MAX_K_RELATIVE_SE`, within :data:`K_ORGANIC_RANGE` and
        :data:`K_MINERAL_RANGE`); else k₁ alone with k₂ = 1.99 ± 0.028 g cm⁻³
        (organic soils rarely reach the mineral end), if identified; else
        Morris et al.'s k₁ = 0.085 ± 0.0008 and k₂ = 1.99 ± 0.028 g cm⁻³. The
        residual SD is always the table's own.

    Raises
    ------
    InputError
        Fewer than :data:`MIN_ERROR_LAYERS` complete layers: the prediction
        error cannot be estimated from the survey's soil.

    Notes
    -----
    1/BD = f/k₁ + (1 − f)/k₂ (Morris et al. 2016, eq. 1; Holmquist et al.
    2018 use it to fill the Coastal Carbon Network's bulk densities). The fit
    is on the log scale because the scatter grows with BD.
    """
    f = np.asarray(om_fraction, dtype=np.float64)
    bd = np.asarray(bulk_density_g_cm3, dtype=np.float64)
    keep = np.isfinite(f) & np.isfinite(bd) & (f >= 0.0) & (f <= 1.0) & (bd > 0.0)
    f, bd = f[keep], bd[keep]
    if f.size < MIN_ERROR_LAYERS:
        raise InputError(
            f"only {f.size} layer(s) have both bulk density and organic matter; estimating the "
            f"missing bulk densities needs at least {MIN_ERROR_LAYERS} to measure the "
            "prediction error",
            path=path,
            fix="measure bulk density on more layers, or set [soil] bulk_density_gaps = "
            '"error" and fill the gaps yourself',
        )
    log_bd = np.log(bd)
    literature = np.log([MORRIS_K_ORGANIC, MORRIS_K_MINERAL])
    literature_var = np.array(
        [
            (MORRIS_K_ORGANIC_SE / MORRIS_K_ORGANIC) ** 2,
            (MORRIS_K_MINERAL_SE / MORRIS_K_MINERAL) ** 2,
        ]
    )
    fit = None
    if f.size >= MIN_FIT_LAYERS and float(f.max() - f.min()) >= MIN_FIT_OM_SPAN:
        fit = _fit_both(f, log_bd, literature)
        if fit is None:
            fit = _fit_organic(f, log_bd, literature, literature_var[1])
    if fit is not None:
        log_k, covariance, sigma2, fitted = fit
    else:
        log_k, fitted = literature, "none"
        residuals = _log_residuals(log_k, f, log_bd)
        sigma2 = float(residuals @ residuals) / f.size
        covariance = np.diag(literature_var)
    k1, k2 = (float(v) for v in np.exp(log_k))
    return IdealMixingModel(
        k_organic_g_cm3=k1,
        k_mineral_g_cm3=k2,
        covariance_log=np.asarray(covariance, dtype=np.float64),
        residual_sd_log=math.sqrt(sigma2),
        n_layers=int(f.size),
        fitted=fitted,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class LayerGaps:
    """A soil table after :func:`fill_bulk_densities`, with the record of every repair.

    Attributes
    ----------
    layers
        The usable layers with their bulk densities filled (index: the file's
        lines; a merged interval keeps the first line of its rows).
    sheet
        The sheet they come from: its replicates, dropped rows and excluded
        cores (:class:`carbonsink.io.soil_sheets.SoilSheet`).
    model
        The ideal-mixing model, when bulk densities were filled (the lines
        in ``sheet.to_fill``).
    """

    layers: pd.DataFrame
    sheet: SoilSheet
    model: IdealMixingModel | None = None

    @property
    def filled_lines(self) -> tuple[int, ...]:
        """Lines whose bulk density the ideal-mixing model estimated."""
        return self.sheet.to_fill if self.model is not None else ()


def fill_bulk_densities(sheet: SoilSheet, *, path: str | None = None) -> LayerGaps:
    """Estimate the bulk densities a soil sheet marks ``to_fill`` from their organic matter.

    Parameters
    ----------
    sheet
        :func:`carbonsink.io.soil_sheets.usable_layers` of a soil table (its
        ``to_fill`` lines are set by ``bulk_density_gaps = "pedotransfer"``).
    path
        The file, for messages.

    Returns
    -------
    LayerGaps
        The usable layers, each blank bulk density replaced by the
        :func:`ideal_mixing_model` prediction and ``bulk_density_se_g_cm3`` by
        its error, and the record of every repair.

    Raises
    ------
    InputError
        Too few complete layers to measure the prediction error.
    """
    frame = sheet.layers
    model = None
    if sheet.to_fill:
        rows = frame.index.isin(sheet.to_fill)
        om = om_fraction(frame)
        bd = numeric_column(frame, "bulk_density_g_cm3")
        complete = np.isfinite(bd) & np.isfinite(om) & ~rows
        model = ideal_mixing_model(om[complete], bd[complete], path=path)
        estimate, se = model.predict(om[rows])
        frame = frame.copy()
        if not pd.api.types.is_float_dtype(frame["bulk_density_g_cm3"]):
            # keep a value that is not a number as written: the table check names it
            frame["bulk_density_g_cm3"] = frame["bulk_density_g_cm3"].astype("object")
        frame.loc[rows, "bulk_density_g_cm3"] = estimate
        if "bulk_density_se_g_cm3" not in frame.columns:
            frame["bulk_density_se_g_cm3"] = np.nan
        frame.loc[rows, "bulk_density_se_g_cm3"] = se
    return LayerGaps(layers=frame, sheet=sheet, model=model)
