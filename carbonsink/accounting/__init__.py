"""Accounting: carbon pools, stock change, non-CO2 gases, methodology profiles and credits.

Science only: functions take per-pixel layers and tables; files are read and
written through :mod:`carbonsink.io`.
"""

from carbonsink.accounting.credits import CreditChain, credit_chain
from carbonsink.accounting.distributions import (
    Empirical,
    Fixed,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
)
from carbonsink.accounting.ledger import Ledger, LedgerWarning, build_ledger
from carbonsink.accounting.montecarlo import MonteCarlo, run_until_converged
from carbonsink.accounting.non_co2 import GWP, ClassFlux, ch4_sensitivity, class_emissions
from carbonsink.accounting.parameters import ClassParameters, class_parameters
from carbonsink.accounting.pools import (
    POOLS,
    KeyedTotals,
    Pool,
    RatioTotals,
    StratumTotals,
    pool_layer,
)
from carbonsink.accounting.profiles import (
    BUILTIN_PROFILES,
    MethodologyProfile,
    list_profiles,
    load_profile,
)
from carbonsink.accounting.simulation import EpochInputs, years_between
from carbonsink.accounting.stocks import (
    adjust_to_areas,
    carbon_layers,
    change_layers,
    stock_change,
    stratum_stocks,
)
from carbonsink.accounting.summaries import Summary, convergence, summarize
from carbonsink.accounting.uncertainty_rules import RuleResult, all_rules, apply_rule

__all__ = [
    "BUILTIN_PROFILES",
    "GWP",
    "POOLS",
    "ClassFlux",
    "ClassParameters",
    "CreditChain",
    "Empirical",
    "EpochInputs",
    "Fixed",
    "KeyedTotals",
    "Ledger",
    "LedgerWarning",
    "LogNormal",
    "MethodologyProfile",
    "MonteCarlo",
    "Normal",
    "Pool",
    "RatioTotals",
    "RuleResult",
    "StratumTotals",
    "Summary",
    "Triangular",
    "Uniform",
    "adjust_to_areas",
    "all_rules",
    "apply_rule",
    "build_ledger",
    "carbon_layers",
    "ch4_sensitivity",
    "change_layers",
    "class_emissions",
    "class_parameters",
    "convergence",
    "credit_chain",
    "list_profiles",
    "load_profile",
    "pool_layer",
    "run_until_converged",
    "stock_change",
    "stratum_stocks",
    "summarize",
    "years_between",
]
