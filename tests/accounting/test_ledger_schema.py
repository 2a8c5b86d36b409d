"""docs/ledger.md documents every key the ledger writes (the ledger's schema)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from carbonsink.accounting.distributions import Fixed, LogNormal
from carbonsink.accounting.ledger import LEDGER_SCHEMA, build_ledger
from carbonsink.accounting.parameters import ClassParameters
from carbonsink.accounting.pools import KeyedTotals, RatioTotals, StratumTotals
from carbonsink.accounting.profiles import load_profile
from carbonsink.accounting.simulation import EpochInputs

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger.md"


def _epoch(name: str, date: dt.date, agb: float, soc: float) -> EpochInputs:
    rng = np.random.default_rng(len(name) + date.year)
    return EpochInputs(
        name=name,
        date=date,
        strata=("sedge", "reed"),
        stratum_area_ha={"sedge": 10.0, "reed": 5.0},
        quantities={
            "agb_t_dm": KeyedTotals(
                keys=(("sedge", "sedge"), ("reed", "reed")),
                totals=np.array([agb, agb / 2]),
                replicates=np.array([agb, agb / 2]) + rng.normal(0, 5, size=(50, 2)),
                bootstrap_cells=(1500, 1500),
            ),
            "soc_t_c": StratumTotals.from_total_se({"sedge": soc, "reed": soc / 2}, 20.0),
            # Dead organic matter as dead:live ratios (reed its own, sedge the pooled one).
            "dom_t_dm": RatioTotals(
                base="agb_t_dm",
                ratios={"reed": (0.4, 0.05), "pooled": (0.3, 0.1)},
                group_of={"reed": "reed", "sedge": "pooled"},
            ),
        },
        class_area_ha={"sedge": (10.0, 1.0), "reed": (5.0, 0.5)},
    )


@pytest.fixture(scope="module")
def ledger_json() -> dict[str, Any]:
    classes = {
        c: ClassParameters(
            carbon_fraction=LogNormal(0.47, 0.01),
            root_shoot=Fixed(1.0),
            ch4_flux_mg_m2_d=LogNormal(2.0, 1.0),
            n2o_flux_mg_m2_d=Fixed(0.0),
            ch4_source="configured",
            n2o_source="configured",
        )
        for c in ("sedge", "reed")
    }
    ledger = build_ledger(
        [
            _epoch("2020", dt.date(2020, 9, 15), 100.0, 1000.0),
            _epoch("2025", dt.date(2025, 9, 18), 100.5, 1100.0),
        ],
        classes,
        profile=load_profile("vm0033"),
        seed=3,
        n_draws=2000,
        price_per_t=50.0,
        polygon={"sha256": "0" * 64, "method": "test", "bounds_lonlat": [0, 0, 1, 1]},
    )
    return json.loads(json.dumps(ledger.to_dict(), allow_nan=False))


def _documented(key: str, doc: str) -> bool:
    generic = re.sub(r"_(2020|2025)_", "_<epoch>_", key)
    generic = re.sub(r"^(agb|bgb|dom|soc_0_100|soc_0_30)_<epoch>", "<pool>_<epoch>", generic)
    generic = re.sub(r"^d_(agb|bgb|dom|soc_0_100|soc_0_30)_", "d_<pool>_", generic)
    generic = re.sub(r"^u_(agb|bgb|dom|soc_0_100|soc_0_30)$", "u_<pool>", generic)
    # The inputs of a quantity are named after its stem (agb_t_dm → agb_…).
    generic = re.sub(
        r"^(agb|dom|soc)_(bootstrap_replicates|bootstrap_cells|total_|stratum_se_t_c|held_strata|residual_correction_t_dm)",
        r"<stem>_\2",
        generic,
    )
    return f"`{key}`" in doc or f"`{generic}`" in doc


def test_every_key_of_the_ledger_is_documented(ledger_json: dict[str, Any]) -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert ledger_json["schema"] == LEDGER_SCHEMA
    keys: set[str] = set(ledger_json)
    for section in ("claim", "project", "monte_carlo", "polygon", "crediting_period", "units"):
        keys |= set(ledger_json[section])
    keys |= set(ledger_json["strata"][0]) | set(ledger_json["vintages"][0])
    period = ledger_json["periods"][0]
    keys |= set(period) | set(period["cumulative"]) | set(period["vintages"][0])
    keys |= set(ledger_json["stratum_periods"]["sedge"][0])
    keys |= set(ledger_json["project"]["net"])
    keys |= set(ledger_json["project"]["uncertainty_rules"][0])
    keys |= set(ledger_json["project"]["uncertainty"])
    combined = ledger_json["uncertainty_vm0033"]
    keys |= set(combined) | set(combined["strata"]["sedge"])
    keys |= set(combined["strata"]["sedge"]["terms"]["agb"])
    terms = {"agb", "bgb", "dom", "soc_0_100", "ch4", "n2o"}
    assert set(combined["strata"]["sedge"]["terms"]) == terms
    keys |= set(ledger_json["inputs"]["2020"])
    keys |= set(ledger_json["inputs"]["2020"]["dom_t_dm"])
    assert ledger_json["pools"] == ["agb", "bgb", "dom", "soc_0_100"]
    missing = sorted(k for k in keys if not _documented(k, doc))
    assert missing == []


def test_warning_codes_are_documented(ledger_json: dict[str, Any]) -> None:
    doc = DOC.read_text(encoding="utf-8")
    codes = {w["code"] for w in ledger_json["warnings"]}
    # AGB 100 → 100.5 t DM (sedge) and 50 → 50.25 (reed) against bootstrap noise of
    # SD 5 t DM per epoch and stratum: the agb and bgb changes are not detectable.
    assert codes
    assert all(f"`{code}`" in doc for code in codes)


def test_vm0033_equation_terms_are_the_last_stocks_and_the_period_emissions(
    ledger_json: dict[str, Any],
) -> None:
    """Eq. 87–91's E: each pool's stock at 2025 (44/12 × C) and CH4 over the period, t CO2e.

    The period 2020-09-15 → 2025-09-18 is 1,829 days = 5.0075 years of 365.25 days.
    """
    combined = ledger_json["uncertainty_vm0033"]
    assert combined["units"] == "t CO2e"
    strata = {row["stratum"]: row for row in ledger_json["strata"]}
    years = 1829 / 365.25
    for stratum in ("sedge", "reed"):
        terms = combined["strata"][stratum]["terms"]
        for pool in ("agb", "bgb", "dom", "soc_0_100"):
            stock = strata[stratum][f"{pool}_2025_t_c"]
            assert terms[pool]["estimate"] == pytest.approx(44 / 12 * stock, rel=1e-9), pool
        ch4 = strata[stratum]["ch4_t_co2e_yr"]
        assert terms["ch4"]["estimate"] == pytest.approx(ch4 * years, rel=1e-9)
        # A stock is known far better than the change between two stocks (SOC 1,000 →
        # 1,100 t C in sedge with a project SE of 20 t C in each epoch): the stratum's
        # U is below its net's Monte Carlo U.
        assert combined["strata"][stratum]["relative_half_width"] < strata[stratum]["u_monte_carlo"]
