"""Whether a soil carbon change is larger than its minimum detectable difference (MDD).

A change between two epochs' mean SOC stocks smaller than the MDD of a
two-sample t-test cannot be told from sampling noise; the ledger records a
warning for it (docs/methodology.md §3).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from scipy.stats import t as student_t

from carbonsink.errors import InputError
from carbonsink.i18n import deferred, shown

__all__ = ["Detectability", "check_detectable", "minimum_detectable_difference"]

logger = logging.getLogger(__name__)


def minimum_detectable_difference(
    s: float,
    n: int,
    *,
    alpha: float = 0.05,
    two_sided: bool = True,
    df: int | None = None,
) -> float:
    """Minimum detectable difference between two epochs' mean SOC stocks.

    Parameters
    ----------
    s
        Standard deviation of the core stocks within an epoch (pooled), in the
        units of the difference (e.g. Mg C ha⁻¹).
    n
        Number of cores per epoch (≥ 2).
    alpha
        Significance level.
    two_sided
        Two-sided test (t at 1 − α/2) or one-sided (t at 1 − α).
    df
        Degrees of freedom of t; ``None``: 2(n − 1), the pooled two-sample
        t-test of two independent samples of n cores.

    Returns
    -------
    float
        MDD in the units of ``s``.

    Raises
    ------
    InputError
        If s < 0 or not finite, n < 2, alpha outside (0, 1) or df < 1.

    Notes
    -----
    MDD = t_{1−α/2, ν} · √(2 s² / n) (docs/methodology.md §3): the minimum
    detectable difference of a two-sample t-test (Zar 2010, Biostatistical
    Analysis, 5th ed., ch. 8) without its power term t_β, so a true difference
    equal to the MDD is detected with 50 % power; ν = 2(n − 1), the degrees of
    freedom of two independent samples of n cores (as used for soil carbon by
    Garten & Wullschleger 1999, J. Environ. Qual. 28:1359). Pass ``df=n - 1``
    for the more conservative choice of some
    protocols.
    """
    if not math.isfinite(s) or s < 0:
        raise InputError(
            f"standard deviation {s} is not a finite value ≥ 0",
            where="minimum detectable difference",
            fix="pass the SD of the core stocks",
        )
    if n < 2 or not 0 < alpha < 1 or (df is not None and df < 1):
        raise InputError(
            f"cannot compute the MDD with n={n} cores, alpha={alpha}, df={df}",
            where="minimum detectable difference",
            fix="use n ≥ 2 cores per epoch, 0 < alpha < 1 and df ≥ 1",
        )
    nu = 2 * (n - 1) if df is None else df
    quantile = 1.0 - alpha / 2.0 if two_sided else 1.0 - alpha
    return float(student_t.ppf(quantile, nu)) * math.sqrt(2.0 * s * s / n)


@dataclass(frozen=True)
class Detectability:
    """Whether a change exceeds the minimum detectable difference."""

    detectable: bool
    delta: float
    mdd: float
    n: int
    #: Warning text for the ledger when not detectable, else ``None``.
    warning: str | None


def check_detectable(
    delta: float,
    s: float,
    n: int,
    *,
    alpha: float = 0.05,
    two_sided: bool = True,
    df: int | None = None,
    units: str = "Mg C/ha",
) -> Detectability:
    """Compare a SOC change with its minimum detectable difference.

    Parameters
    ----------
    delta
        The change (e.g. mean ΔSOC between epochs).
    s, n, alpha, two_sided, df
        As in :func:`minimum_detectable_difference`.
    units
        Units of ``delta`` and ``s``, for the warning text.

    Returns
    -------
    Detectability
        ``detectable`` is ``|delta| ≥ MDD``; ``warning`` the text to record in
        the ledger otherwise.

    Notes
    -----
    Warn when |ΔSOC| < MDD (docs/methodology.md §3); MDD from
    :func:`minimum_detectable_difference`.
    """
    mdd = minimum_detectable_difference(s, n, alpha=alpha, two_sided=two_sided, df=df)
    detectable = abs(delta) >= mdd
    warning = None
    if not detectable:
        said = deferred(
            "ΔSOC {delta:.2f} {units} is below the minimum detectable difference "
            "{mdd:.2f} {units} ({n} cores per epoch, SD {sd:.2f} {units}, α = {alpha:g}, "
            "{sides})",
            delta=float(delta),
            units=units,
            mdd=float(mdd),
            n=n,
            sd=float(s),
            alpha=float(alpha),
            sides=deferred("two-sided") if two_sided else deferred("one-sided"),
        )
        logger.info(said)  # the log is English; the warning is in the active language
        warning = str(shown(said))
    return Detectability(detectable=detectable, delta=float(delta), mdd=mdd, n=n, warning=warning)
