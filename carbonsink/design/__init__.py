"""Sampling design: where the next epoch's cores and plots earn the most credits (issue 21).

From a completed run, :mod:`~carbonsink.design.expected` predicts the claim's
uncertainty U at the next monitoring epoch for any number of cores and plots
per stratum — by the ledger's own Monte Carlo on a hypothetical next epoch
whose errors are those the design would leave — and
:mod:`~carbonsink.design.placement` orders each stratum's candidate sites
(docs/methodology.md §9).
"""
