"""Tests of carbonsink.accounting.pools: the pool registry and the measured quantities."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from carbonsink.accounting.pools import (
    POOLS,
    KeyedTotals,
    RatioTotals,
    StratumTotals,
    counted_pools,
    pool_for_key,
    pool_layer,
    stream_name,
)
from carbonsink.errors import InputError


def test_registry_order_and_entries() -> None:
    # The canonical order of a profile's pools (VM0033 v2.1 §8.1).
    assert list(POOLS) == ["agb", "bgb", "dom", "soc"]
    assert POOLS["bgb"].quantity == POOLS["agb"].quantity == "agb_t_dm"
    assert POOLS["bgb"].factors == ("carbon_fraction", "root_shoot")
    assert POOLS["dom"].quantity == "dom_t_dm"
    assert POOLS["soc"].factors == ()


def test_ledger_names_and_layers() -> None:
    assert POOLS["soc"].key(100.0) == "soc_0_100"
    assert POOLS["agb"].key(100.0) == "agb"
    assert pool_layer("soc_0_30") == "soc_0_30_mg_ha"
    assert pool_layer("dom") == "dom_c_mg_ha"
    assert pool_for_key("soc_0_100") is POOLS["soc"]
    with pytest.raises(InputError, match="unknown pool 'litter'"):
        pool_for_key("litter")
    with pytest.raises(InputError, match="unknown pool"):
        pool_for_key("agb_0_30")


def test_counted_pools_follow_the_profile_and_the_measured_quantities() -> None:
    counted, absent = counted_pools(
        ["agb", "bgb", "dom", "soc"], ["agb_t_dm", "soc_t_c"], soil_depth_cm=100.0
    )
    assert [key for key, _ in counted] == ["agb", "bgb", "soc_0_100"]
    assert [p.name for p in absent] == ["dom"]
    assert absent[0].not_measured == "no dead-organic-matter layer"
    counted, absent = counted_pools(
        ["soc", "dom"], ["agb_t_dm", "dom_t_dm", "soc_t_c"], soil_depth_cm=30.0
    )
    assert [key for key, _ in counted] == ["dom", "soc_0_30"]
    assert absent == []


def test_stream_names() -> None:
    assert stream_name("agb_t_dm", KeyedTotals, epoch="2020") == "agb_bootstrap/2020"
    assert stream_name("soc_t_c", StratumTotals, epoch="2025", group="reed") == (
        "soc_total/2025/reed"
    )
    assert (
        stream_name("dom_t_dm", RatioTotals, epoch="2025", group="pooled")
        == "dom_ratio/2025/pooled"
    )


@pytest.mark.parametrize(
    ("totals", "replicates", "match"),
    [
        ([1.0, 2.0], [[1.0], [1.0]], "1 agb_t_dm keys but"),
        ([1.0], [[1.0, 2.0]], "replicates have shape"),
        ([np.nan], [[1.0], [1.0]], "not finite"),
    ],
)
def test_keyed_totals_check(totals: list[float], replicates: list[list[float]], match: str) -> None:
    quantity = KeyedTotals(keys=(("a", "a"),), totals=totals, replicates=replicates)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=match) as info:
        quantity.check("agb_t_dm", where="epoch '2020'")
    assert "2020" in str(info.value)


def test_ratio_totals_check() -> None:
    with pytest.raises(InputError, match="not finite and ≥ 0"):
        RatioTotals(base="agb_t_dm", ratios={"a": (-0.1, 0.0)}, group_of={"a": "a"}).check(
            "dom_t_dm", where="x"
        )
    with pytest.raises(InputError, match="groups without a ratio: pooled"):
        RatioTotals(base="agb_t_dm", ratios={"a": (0.1, 0.0)}, group_of={"b": "pooled"}).check(
            "dom_t_dm", where="x"
        )


def test_records_for_the_ledger() -> None:
    keyed = KeyedTotals(keys=(("sedge", "reed"),), totals=[10.0], replicates=[[9.0], [11.0]])  # type: ignore[arg-type]
    # bootstrap SD of 9 and 11 (ddof = 1): √((1 + 1) / 1) = √2
    assert keyed.record("agb_t_dm") == {
        "agb_t_dm": {"sedge/reed": {"map": 10.0, "bootstrap_sd": pytest.approx(2**0.5)}},
        "agb_bootstrap_replicates": 2,
        "agb_residual_correction_t_dm": {},
    }
    # A corrected stratum's keys take no bootstrap spread: the run bootstraps only the others,
    # and the ledger shows no SD for them (unless every stratum was bootstrapped to compare).
    mixed = KeyedTotals(
        keys=(("sedge", "reed"), ("water", "sedge")),
        totals=[10.0, 2.0],  # type: ignore[arg-type]
        replicates=[[0.0, 1.0], [0.0, 4.0]],  # type: ignore[arg-type]
        corrections={"sedge": (0.5, 3.0)},
    )
    assert mixed.bootstrapped() == [1]
    # SD of 1 and 4 (ddof = 1): √((1.5² + 1.5²) / 1) = √4.5
    assert mixed.record("agb_t_dm")["agb_t_dm"] == {
        "sedge/reed": {"map": 10.0},
        "water/sedge": {"map": 2.0, "bootstrap_sd": pytest.approx(4.5**0.5)},
    }
    assert mixed.record("agb_t_dm")["agb_bootstrap_replicates"] == 2
    corrected = dataclasses.replace(mixed, corrections={"sedge": (0.5, 3.0), "water": (0.0, 1.0)})
    assert corrected.bootstrapped() == []
    assert corrected.record("agb_t_dm")["agb_t_dm"]["water/sedge"] == {"map": 2.0}
    assert corrected.record("agb_t_dm")["agb_bootstrap_replicates"] == 0
    compared = dataclasses.replace(corrected, comparison=True)
    shown = compared.record("agb_t_dm")
    assert shown["agb_t_dm"]["sedge/reed"] == {"map": 10.0, "bootstrap_sd": 0.0}
    assert shown["agb_bootstrap_replicates"] == 2
    totals = StratumTotals.from_total_se({"a": 1.0, "b": 2.5}, 0.5)
    assert totals.total == 3.5
    # One shared relative error: stratum SEs 0.5 × 1/3.5 = 0.142857 and 0.5 × 2.5/3.5
    # = 0.357143, perfectly correlated, so the total's SE is their sum, 0.5.
    assert totals.record("soc_t_c") == {
        "soc_t_c": {"a": 1.0, "b": 2.5},
        "soc_total_t_c": 3.5,
        "soc_total_se_t_c": pytest.approx(0.5),
        "soc_stratum_se_t_c": {"a": pytest.approx(0.5 / 3.5), "b": pytest.approx(1.25 / 3.5)},
        "soc_held_strata": [],
    }
    with pytest.raises(InputError, match="SE of the total"):
        StratumTotals.from_total_se({"a": 1.0}, -0.5)
    ratio = RatioTotals(base="agb_t_dm", ratios={"pooled": (0.3, 0.1)}, group_of={"a": "pooled"})
    assert ratio.record("dom_t_dm") == {
        "dom_t_dm": {
            "ratio_to": "agb_t_dm",
            "ratios": {"pooled": {"ratio": 0.3, "se": 0.1}},
            "group_of": {"a": "pooled"},
        }
    }
