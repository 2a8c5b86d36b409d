"""The report's tables from the ledger and the manifest: credit chain, strata, stocks, provenance.

Each builder turns part of the ledger (docs/ledger.md) or of the run's
manifest into the rows the template prints; they compute nothing but display
values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from carbonsink.i18n import N_
from carbonsink.i18n import gettext as _
from carbonsink.report.formatting import MISSING, format_number, format_percent

__all__ = [
    "chain_rows",
    "input_rows",
    "profile_rows",
    "stage_rows",
    "stock_table",
    "strata_rows",
    "term",
    "uncertainty_rows",
]

#: Terms the report takes from the results (SOC method, variogram model, what the variogram
#: is of, the soil change's basis), translated when shown; other values are shown as they are.
_TERMS: Final = frozenset(
    {
        N_("ordinary kriging"),
        N_("regression kriging"),
        N_("kriging"),
        N_("spherical"),
        N_("exponential"),
        N_("gaussian"),
        N_("values"),
        N_("residuals"),
        N_("fixed-depth"),
        N_("equivalent-mass"),
    }
)


def term(text: str) -> str:
    """A method or model name of the results, in the report's language when it is a known term.

    Parameters
    ----------
    text
        The name as the results give it (``"spherical"``, ``"fixed-depth"``).

    Returns
    -------
    str
        Its translation, or ``text`` itself when it is not one of the known terms.
    """
    return _(text) if text in _TERMS else text


#: Units of the credit chain's rates.
_RATE_UNITS: Final = "t CO2e/yr"


def _stratum(record: Mapping[str, Any]) -> str:
    """A row's stratum as shown: the class name, or "total" in the report's language."""
    name = str(record.get("stratum"))
    return _("total") if name == "total" else name


def _summary(term: Mapping[str, Any]) -> tuple[Any, Any]:
    return term.get("mean"), term.get("ci90")


def chain_rows(ledger: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The project's credit chain, one row per step (docs/ledger.md, ``project``)."""
    project = ledger["project"]
    profile = ledger["profile"]
    claim = ledger["claim"]
    removals, removals_ci = _summary(project["removals"])
    non_co2, non_co2_ci = _summary(project["non_co2_emissions"])
    gross, gross_ci = _summary(project["gross"])
    net, net_ci = _summary(project["net"])
    rows: list[dict[str, Any]] = [
        {
            "step": _("Removals"),
            "sign": "",
            "value": removals,
            "ci": removals_ci,
            "note": _("44/12 × Σ pools (C₂ − C₁) / years"),
            "kind": "term",
        },
        {
            "step": _("Non-CO2 emissions (CH4, N2O)"),
            "sign": "−",
            "value": non_co2,
            "ci": non_co2_ci,
            "note": _("in CO2e with the {gwp} GWP set").format(gwp=profile.get("gwp", "")),
            "kind": "term",
        },
        {
            "step": _("Baseline removals"),
            "sign": "−",
            "value": project.get("baseline_removals"),
            "ci": None,
            "note": "",
            "kind": "term",
        },
        {
            "step": _("Gross removals"),
            "sign": "=",
            "value": gross,
            "ci": gross_ci,
            "note": "",
            "kind": "subtotal",
        },
        {
            "step": _("Leakage"),
            "sign": "−",
            "value": project.get("leakage"),
            "ci": None,
            "note": _("{pct} % of gross").format(pct=format_number(profile.get("leakage_pct"), 1)),
            "kind": "term",
        },
        {
            "step": _("Net removals"),
            "sign": "=",
            "value": net,
            "ci": net_ci,
            "note": _u_note(project),
            "kind": "subtotal",
        },
    ]
    for rule in project.get("uncertainty_rules", []):
        applied = bool(rule.get("applied"))
        rows.append(
            {
                "step": (
                    _("Uncertainty deduction, rule {rule} (applied)")
                    if applied
                    else _("Uncertainty deduction, rule {rule} (not applied)")
                ).format(rule=rule.get("rule")),
                "sign": "−" if applied else "",
                "value": rule.get("deduction"),
                "ci": None,
                "note": str(rule.get("explanation", "")),
                "kind": "rule-applied" if applied else "rule",
            }
        )
    rows += [
        {
            "step": _("Adjusted net"),
            "sign": "=",
            "value": project.get("adjusted"),
            "ci": None,
            "note": _("after rule {rule}").format(rule=claim.get("rule_applied")),
            "kind": "subtotal",
        },
        {
            "step": _("Buffer (non-permanence)"),
            "sign": "−",
            "value": project.get("buffer"),
            "ci": None,
            "note": _buffer_note(project),
            "kind": "term",
        },
        {
            "step": _("Tradable per year"),
            "sign": "=",
            "value": project.get("tradable"),
            "ci": None,
            "note": _tradable_note(project, net, claim),
            "kind": "result",
        },
    ]
    return rows


def _tradable_note(project: Mapping[str, Any], net: Any, claim: Mapping[str, Any]) -> str:
    """Why the tradable credits are zero, when they are (every floored number says why)."""
    tradable, adjusted = project.get("tradable"), project.get("adjusted")
    if tradable is None or tradable > 0:
        return ""
    if net is not None and net <= 0:
        return _("zero: the net is not a sink (net ≤ 0), so there is nothing to credit")
    if adjusted is not None and adjusted <= 0:
        return _(
            "zero: the uncertainty deduction of rule {rule} takes the whole net (its row above "
            "says why)"
        ).format(rule=claim.get("rule_applied"))
    return _("zero: the buffer takes the whole adjusted net")


def _buffer_note(project: Mapping[str, Any]) -> str:
    """How the buffer was taken: its percentage and its base."""
    pct = format_number(project.get("buffer_pct"), 1)
    base = format_number(project.get("buffer_base_value"), 2)
    if project.get("buffer_base") == "stock-change":
        return _(
            "{pct} % of NER_stock {base} t CO2e/yr — the stock-change part of the net, "
            "not uncertainty-adjusted, without CH4/N2O (VM0033 v2.1 eq. 94)"
        ).format(pct=pct, base=base)
    return _("{pct} % of the adjusted net {base} t CO2e/yr").format(pct=pct, base=base)


def strata_rows(ledger: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per stratum (and the total): area, removals, non-CO2, net and tradable."""
    rows = []
    for record in ledger["strata"]:
        rows.append(
            {
                "stratum": _stratum(record),
                "area": record.get("area_ha"),
                "adjusted_area": record.get("adjusted_area_ha"),
                "removals": record.get("removals_t_co2e_yr"),
                "removals_ci": (
                    record.get("removals_p5_t_co2e_yr"),
                    record.get("removals_p95_t_co2e_yr"),
                ),
                "non_co2": record.get("non_co2_t_co2e_yr"),
                "net": record.get("net_t_co2e_yr"),
                "net_ci": (record.get("net_p5_t_co2e_yr"), record.get("net_p95_t_co2e_yr")),
                "buffer_base": record.get("buffer_base_t_co2e_yr"),
                "buffer": record.get("buffer_t_co2e_yr"),
                "tradable": record.get("tradable_t_co2e_yr"),
                "total": record.get("stratum") == "total",
            }
        )
    return rows


def uncertainty_rows(ledger: Mapping[str, Any]) -> dict[str, Any]:
    """U per stratum (Monte Carlo, VM0033 eq. 87–91, used) and per pool, as fractions."""
    pools = [str(p) for p in ledger["pools"]]
    rows = [
        {
            "stratum": _stratum(record),
            "monte_carlo": record.get("u_monte_carlo"),
            "equations": record.get("u_vm0033_equations"),
            "used": record.get("u_used"),
            "pools": [record.get(f"u_{pool}") for pool in pools],
            "total": record.get("stratum") == "total",
        }
        for record in ledger["strata"]
    ]
    return {"pools": pools, "rows": rows}


def soil_change_rows(ledger: Mapping[str, Any]) -> dict[str, Any] | None:
    """SOC change per stratum at fixed depth, at equivalent mass, the deduction and the count.

    From ``ledger["soil_change"]`` (docs/ledger.md); ``None`` for one epoch.
    """
    record = ledger.get("soil_change") or {}
    counted = record.get("counted") or record.get("fixed_depth")
    if not counted:
        return None
    fixed = record.get("fixed_depth") or {}
    esm = record.get("equivalent_mass") or {}
    allochthonous = record.get("allochthonous") or {}
    deducted = allochthonous.get("t_c") or {}
    rows = []
    for stratum, value in counted.items():
        total = stratum == "total"
        rows.append(
            {
                "stratum": _("total") if total else stratum,
                "fixed": fixed.get(stratum) or {},
                "esm": esm.get(stratum) or {},
                "deducted": allochthonous.get("total_t_c") if total else deducted.get(stratum),
                "counted": value,
                "total": total,
            }
        )
    rows.sort(key=lambda r: r["total"])
    return {
        "basis": record.get("basis"),
        "basis_shown": term(str(record.get("basis"))),
        "depth_cm": record.get("depth_cm"),
        "reference_mass_mg_ha": record.get("reference_mass_mg_ha"),
        "accretion": record.get("accretion") or {},
        "source": allochthonous.get("source"),
        "rows": rows,
    }


def biomass_correction_rows(ledger: Mapping[str, Any]) -> dict[str, Any] | None:
    """Each stratum's AGB correction per epoch, its SE, the outside-AOA part and φ.

    From ``ledger["inputs"][<epoch>]["agb_residual_correction_t_dm"]`` and
    ``ledger["outside_aoa_shared"]["agb_t_dm"]`` (docs/ledger.md,
    docs/methodology.md eq. 6.8a–d); ``pair`` names the first and last epochs
    whose φ is shown when there are three or more; ``None`` when no epoch
    corrects AGB.
    """
    epochs = [str(e["name"]) for e in ledger["epochs"]]
    inputs = ledger.get("inputs") or {}
    records = {e: (inputs.get(e) or {}).get("agb_residual_correction_t_dm") or {} for e in epochs}
    if not any(records.values()):
        return None
    shared = (ledger.get("outside_aoa_shared") or {}).get("agb_t_dm") or {}
    strata = list(dict.fromkeys(s for e in epochs for s in records[e]))
    rows = [
        {
            "stratum": stratum,
            "epochs": [
                {
                    "correction": None,
                    "se": None,
                    "outside_aoa_se": None,
                    **records[e].get(stratum, {}),
                }
                for e in epochs
            ],
            "shared": (shared.get(stratum) or {}).get("shared"),
        }
        for stratum in strata
    ]
    # With three epochs or more, φ is the first and last epochs' (the pairs' are in the ledger).
    pair = [epochs[0], epochs[-1]] if len(epochs) > 2 else None
    return {"epochs": epochs, "rows": rows, "two": len(epochs) > 1, "pair": pair}


def _u_note(project: Mapping[str, Any]) -> str:
    """U: the net's (Monte Carlo), the stocks' (VM0033 eq. 87–91), and the one the rule used."""
    u = project.get("uncertainty") or {}
    text = _("U = {u} (Monte Carlo 90 % half-width / mean)").format(
        u=format_percent(u.get("monte_carlo"))
    )
    if u.get("vm0033_equations") is not None:
        text += _("; VM0033 eq. 87–91: {u}; the rule uses {used} ({source})").format(
            u=format_percent(u.get("vm0033_equations")),
            used=format_percent(u.get("used")),
            source=u.get("source"),
        )
    return text


def stock_table(ledger: Mapping[str, Any]) -> dict[str, Any]:
    """Mean stock per pool, stratum and epoch with the 90 % interval of the stratum's stock."""
    epochs = [str(e["name"]) for e in ledger["epochs"]]
    pools = [str(p) for p in ledger["pools"]]
    rows = []
    for record in ledger["strata"]:
        rows.append(
            {
                "stratum": _stratum(record),
                "area": record.get("area_ha"),
                "epochs": [
                    {
                        "pools": [record.get(f"{pool}_{epoch}_t_c") for pool in pools],
                        "ci": (
                            record.get(f"stock_{epoch}_p5_t_c"),
                            record.get(f"stock_{epoch}_p95_t_c"),
                        ),
                    }
                    for epoch in epochs
                ],
                "total": record.get("stratum") == "total",
            }
        )
    return {"epochs": epochs, "pools": pools, "rows": rows}


def input_rows(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``manifest["inputs"]``: a list of ``{path, size, sha256}``."""
    return [
        {
            "path": str(item.get("path", "")),
            "size": item.get("size"),
            "sha256": item.get("sha256") or "",
        }
        for item in manifest.get("inputs") or []
    ]


def stage_rows(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``manifest["stages"]``: a list of ``{name, seconds, cached}``."""
    return [
        {
            "name": str(item.get("name", "")),
            "seconds": item.get("seconds"),
            "cached": item.get("cached"),
        }
        for item in manifest.get("stages") or []
    ]


def profile_rows(profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The methodology profile's settings as (label, text) pairs."""
    pools = profile.get("pools")
    leakage = f"{format_number(profile.get('leakage_pct'), 1)} %"
    return [
        (_("Profile"), f"{profile.get('name', '')} — {profile.get('title', '')}"),
        (_("Uncertainty rule"), str(profile.get("uncertainty_rule", MISSING))),
        (
            _("Allowable uncertainty"),
            f"{format_number(profile.get('allowable_uncertainty_pct'))} %",
        ),
        (_("Confidence"), format_percent(profile.get("confidence"), 0)),
        (_("GWP set"), str(profile.get("gwp", MISSING))),
        (_("Buffer"), f"{format_number(profile.get('buffer_pct'), 1)} %"),
        (_("Leakage"), leakage),
        (_("Leakage note"), str(profile.get("leakage_note") or MISSING)),
        (_("Pools"), ", ".join(map(str, pools)) if pools else MISSING),
        (_("Soil depth"), f"{format_number(profile.get('soil_depth_cm'), 0)} cm"),
        (_("Herbaceous biomass"), str(profile.get("herbaceous_biomass") or MISSING)),
        (_("Buffer base"), str(profile.get("buffer_base") or MISSING)),
        (_("Uncertainty source"), str(profile.get("uncertainty_source") or MISSING)),
        (_("Source"), str(profile.get("source") or MISSING)),
        (_("Origin"), str(profile.get("origin") or MISSING)),
        (_("Profile file SHA-256"), str(profile.get("sha256") or MISSING)),
        (
            _("Survey overrides"),
            ", ".join(map(str, profile.get("overrides") or [])) or _("none"),
        ),
    ]
