"""The bias between two organic-carbon lab methods, measured on samples analysed by both.

When a later epoch's lab uses another organic-carbon method than the first
epoch's (e.g. dichromate 有机质 after CHN dry combustion), its SOC carries a
relative bias common to every core (docs/methodology.md §3.2, eq. 3.3a). A
set of soil samples measured by both methods estimates it:
:func:`calibrate_methods` combines their mean relative difference with the
survey's prior SD of the bias (``[soil] method_bias_sd_pct``) into the bias
the run corrects the later method's OC by and the SD left (eq. 3.3b).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from carbonsink.errors import ConfigError, InputError, InputTableError
from carbonsink.schemas import MIN_METHOD_PAIRS, check_table, method_names, rows_text
from carbonsink.soil.conversion import organic_carbon_pct

__all__ = ["MIN_DIFFERENCE_SD", "MethodCalibration", "calibrate_methods"]

#: The least SD of the samples' relative differences, 0.1 %: readings of two labs differ
#: by a few per cent (a lab's repeatability alone is 1–6 %); below this they are derived.
MIN_DIFFERENCE_SD: Final = 0.001


@dataclass(frozen=True)
class MethodCalibration:
    """The lab-method bias measured on samples by both methods (eq. 3.3b).

    ``mean_difference`` d̄ and ``sd_difference`` s_d are the mean and SD of
    the samples' relative differences d_i = OC_method,i / OC_reference,i − 1;
    ``bias`` b̂ and ``bias_sd`` σ_N the posterior mean and SD of the bias with
    ``prior_sd`` σ_m as prior. The later method's OC is multiplied by
    :attr:`factor` = 1 / (1 + b̂).
    """

    reference: str
    method: str
    pairs: int
    mean_difference: float
    sd_difference: float
    prior_sd: float
    bias: float
    bias_sd: float
    path: str

    @property
    def factor(self) -> float:
        """1 / (1 + b̂): what the later method's organic carbon is multiplied by."""
        return 1.0 / (1.0 + self.bias)

    def to_dict(self) -> dict[str, Any]:
        """The calibration as the ledger records it (relative values in %)."""
        return {
            "file": self.path,
            "reference_method": self.reference,
            "method": self.method,
            "pairs": self.pairs,
            "mean_difference_pct": 100.0 * self.mean_difference,
            "sd_difference_pct": 100.0 * self.sd_difference,
            "prior_sd_pct": 100.0 * self.prior_sd,
            "bias_pct": 100.0 * self.bias,
            "bias_sd_pct": 100.0 * self.bias_sd,
            "oc_factor": self.factor,
        }


def calibrate_methods(
    pairs: pd.DataFrame,
    *,
    reference: str,
    prior_sd: float,
    om_to_oc: str = "dichromate",
    path: str,
) -> MethodCalibration:
    """The bias of a lab method against the reference method from samples measured by both.

    Parameters
    ----------
    pairs
        The table of ``[soil] method_pairs`` (index = line numbers):
        ``sample_id``, ``method`` and the sample's carbon in ``soc_pct``,
        ``om_pct`` or ``om_g_kg``, one row per sample and method, two methods.
    reference
        The first epoch's organic-carbon method (one of the table's two).
    prior_sd
        σ_m, the bias's SD before the samples (``[soil] method_bias_sd_pct`` / 100), > 0.
    om_to_oc
        The conversion of rows that report organic matter, as for the cores.
    path
        The file name for messages.

    Returns
    -------
    MethodCalibration

    Raises
    ------
    InputError
        A table problem (schema, not two methods, a sample without its
        other row), fewer than :data:`MIN_METHOD_PAIRS` samples, a sample
        whose reference OC is 0, differences whose SD is below
        :data:`MIN_DIFFERENCE_SD` (derived, not measured); the reference
        method not in the table.
    ConfigError
        ``prior_sd`` 0: the survey then asserts the methods agree exactly.

    Notes
    -----
    Eq. 3.3b (docs/methodology.md §3.2), the normal mean of eq. 9.8 with the
    samples' own SD::

        d_i = OC_m,i / OC_r,i − 1,   v = s_d² / N × (N − 1) / (N − 3)
        1 / σ_N² = 1 / σ_m² + 1 / v,   b̂ = σ_N² d̄ / v

    b̂ is d̄ shrunk toward 0 by the prior N(0, σ_m²) (Gelman et al. 2013
    §2.5); (N − 1)/(N − 3) is the variance of Student's t with N − 1
    degrees of freedom, the price of estimating s_d from the same samples.
    """
    problems = [p for p in check_table(pairs, "method_pairs", path=path) if p.severity == "error"]
    if problems:
        raise InputTableError(problems, what="table of samples by both methods")
    if prior_sd <= 0:
        raise ConfigError(
            "[soil] method_pairs is given but method_bias_sd_pct is 0, which asserts that "
            "the two methods agree exactly",
            where="[soil].method_bias_sd_pct",
            fix="set method_bias_sd_pct to the bias's SD before these samples (a planning "
            "value such as 5), or remove method_pairs",
        )
    methods = method_names(pairs["method"])
    reference = reference.strip().lower()
    found = sorted(methods.dropna().unique())
    if reference not in found:
        raise InputError(
            f"the samples by both methods are measured by {' and '.join(found)}, not by the "
            f"first epoch's method {reference!r}",
            path=path,
            fix="measure each sample by the first epoch's method and the later epochs' method",
        )
    method = next(m for m in found if m != reference)
    oc = organic_carbon_pct(pairs, om_to_oc=om_to_oc, path=path)["oc_pct"]
    ids = pairs["sample_id"].astype("string").str.strip()
    by_method = {
        m: pd.Series(oc[(methods == m).to_numpy()].to_numpy(), index=ids[methods == m].to_numpy())
        for m in (reference, method)
    }
    ref = by_method[reference]
    later = by_method[method].reindex(ref.index)
    zero = ref.index[ref.to_numpy() <= 0]
    if len(zero):
        lines = pairs.index[(ids.isin(list(zero)) & (methods == reference)).to_numpy()]
        raise InputError(
            f"{len(zero)} sample(s) have no organic carbon by the reference method, so their "
            f"relative difference is undefined ({rows_text(pairs.attrs, list(lines))})",
            path=path,
            fix="measure samples that hold organic carbon, or remove these",
        )
    n = len(ref)
    if n < MIN_METHOD_PAIRS:
        raise InputError(
            f"{n} sample(s) measured by both methods; at least {MIN_METHOD_PAIRS} are needed "
            "to estimate the bias and its spread",
            path=path,
            fix=f"measure at least {MIN_METHOD_PAIRS} samples by both methods (carbonsink design "
            "says how many pay)",
        )
    d = later.to_numpy(dtype=np.float64) / ref.to_numpy(dtype=np.float64) - 1.0
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd < MIN_DIFFERENCE_SD:
        raise InputError(
            f"the {n} samples' relative differences between the methods have an SD of "
            f"{100 * sd:.3g} %: two labs' readings differ by a few per cent from sample to "
            "sample, so the later readings look computed from the first, not measured",
            path=path,
            fix="give each sample's reading by each method as its lab reported it",
        )
    v = sd * sd / n * (n - 1) / (n - 3)
    bias_sd = 1.0 / math.sqrt(1.0 / prior_sd**2 + 1.0 / v)
    bias = bias_sd**2 * mean / v
    return MethodCalibration(
        reference=reference,
        method=method,
        pairs=n,
        mean_difference=mean,
        sd_difference=sd,
        prior_sd=prior_sd,
        bias=bias,
        bias_sd=bias_sd,
        path=path,
    )
