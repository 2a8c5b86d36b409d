"""A report's content for the report tests: two epochs (or one) of a small wetland.

:func:`build_content` fills a :class:`~carbonsink.report.ReportContent` with a
ledger built by the accounting, 20 × 30-cell layers, accuracy and area tables,
cross-validation tables and soil cores; hostile strings (:data:`EVIL`,
:data:`EVIL_PATH`) check the escaping. :func:`read_page` parses a rendered
page back.
"""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from carbonsink.accounting.distributions import Fixed, LogNormal
from carbonsink.accounting.ledger import LedgerWarning, build_ledger
from carbonsink.accounting.parameters import ClassParameters
from carbonsink.accounting.pools import KeyedTotals, StratumTotals
from carbonsink.accounting.profiles import load_profile
from carbonsink.accounting.simulation import EpochInputs
from carbonsink.grid import Grid
from carbonsink.i18n import deferred
from carbonsink.imagery.accuracy import accuracy_report, confusion_matrix
from carbonsink.imagery.area_estimate import olofsson_area_estimate
from carbonsink.report import EpochReport, MethodologyRow, ReportContent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>"
EVIL_PATH = 'data/<img src=x onerror="alert(1)">.tif'
FULL_SHA = "ab12" * 16
STAGE_WARNING = "3 cores are shallower than 100 cm & were extrapolated (<30 cm deep)"
LEGEND = {"water": 1, "mudflat": 2, "sedge": 3, "reed": 4}


#: A ledger's ``soil_change`` record (docs/ledger.md), hand-made: sedge gains 12.5 t C at fixed
#: depth, 20.0 at equivalent mass, of which 4.0 allochthonous; reed is held.
SOIL_CHANGE: dict[str, Any] = {
    "basis": "equivalent-mass",
    "depth_cm": 100.0,
    "reference_mass_mg_ha": 12_345.0,
    "years": 5.0,
    "accretion": {"cores": 9, "cores_measured": 8, "mean_accretion_cm": 1.5},
    "allochthonous": {
        "source": "accreted mass × sediment OC 1.2 % ± 0.1",
        "relative_sd": 0.083,
        "t_c": {"sedge": 4.0, "reed": 0.0},
        "total_t_c": 4.0,
    },
    "fixed_depth": {
        "sedge": {"change_t_c": 12.5, "se_t_c": 3.25},
        "reed": {"change_t_c": None, "se_t_c": None},
        "total": {"change_t_c": 12.5, "se_t_c": 3.25},
    },
    "equivalent_mass": {
        "sedge": {"change_t_c": 20.0, "se_t_c": 2.75},
        "reed": {"change_t_c": None, "se_t_c": None},
        "total": {"change_t_c": 20.0, "se_t_c": 2.75},
    },
    "counted": {
        "sedge": {"change_t_c": 16.0, "se_t_c": 2.85},
        "reed": {"change_t_c": None, "se_t_c": None},
        "total": {"change_t_c": 16.0, "se_t_c": 2.85},
    },
}


#: Sedge's AGB corrections per epoch and the share of its outside-AOA area both hold
#: (docs/ledger.md); reed has one in 2025 only (it held no modelled biomass in 2020).
AGB_CORRECTIONS: dict[str, dict[str, Any]] = {
    "2020": {"sedge": {"correction": 12.5, "se": 30.0, "outside_aoa_se": 20.0}},
    "2025": {
        "sedge": {"correction": -7.5, "se": 40.0, "outside_aoa_se": 25.0},
        "reed": {"correction": 3.25, "se": 6.5, "outside_aoa_se": 0.0},
    },
}
OUTSIDE_SHARED = {"agb_t_dm": {"sedge": {"shared": 0.4, "covariance_t_dm2": 200.0}}}


def _ledger_epoch(name: str, date: dt.date, agb: float, soc: float) -> EpochInputs:
    # As in tests/accounting/test_ledger_schema.py: two strata, 10 and 5 ha.
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
            ),
            "soc_t_c": StratumTotals.from_total_se({"sedge": soc, "reed": soc / 2}, 20.0),
        },
        class_area_ha={"sedge": (10.0, 1.0), "reed": (5.0, 0.5)},
    )


def _ledger(*, two_epochs: bool) -> dict[str, Any]:
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
    epochs = [_ledger_epoch("2020", dt.date(2020, 9, 15), 100.0, 1000.0)]
    if two_epochs:
        epochs.append(_ledger_epoch("2025", dt.date(2025, 9, 18), 100.5, 1100.0))
    ledger = build_ledger(
        epochs,
        classes,
        profile=load_profile("vm0033"),
        seed=3,
        n_draws=2000,
        price_per_t=50.0,
        warnings=[LedgerWarning("extrapolated-cores", STAGE_WARNING, where="epoch 2020")],
        polygon={
            "sha256": FULL_SHA,
            "method": "test",
            "bounds_lonlat": [112.9, 29.3, 113.0, 29.4],
            "area_ha": 15.0,
        },
    )
    # The report reads the ledger as written to ledger.json.
    record = dict(json.loads(json.dumps(ledger.to_dict(), allow_nan=False)))
    for epoch, corrections in AGB_CORRECTIONS.items():
        if epoch in record["inputs"]:
            record["inputs"][epoch]["agb_residual_correction_t_dm"] = corrections
    if two_epochs:
        record["soil_change"] = SOIL_CHANGE
        record["outside_aoa_shared"] = OUTSIDE_SHARED
    return record


GRID = Grid.from_bounds((500_000, 3_250_000, 500_300, 3_250_200), crs=32649, resolution=10.0)


def _layers(offset: float) -> xr.Dataset:
    """20 × 30 layers of plausible wetland values, NaN outside an elliptic boundary."""
    rng = np.random.default_rng(int(offset))
    rows, cols = np.mgrid[0:20, 0:30]
    inside = ((rows - 9.5) / 9) ** 2 + ((cols - 14.5) / 14) ** 2 <= 1
    codes = np.select([cols < 5, cols < 10, cols < 20], [1, 2, 3], 4).astype(np.uint8)
    agb = np.select([codes == 1, codes == 2], [0.0, 0.5], 12 + 4 * rng.random((20, 30)))
    soc = 60 + offset + 30 * cols / 29 + rng.normal(0, 3, (20, 30))

    def inner(values: np.ndarray) -> np.ndarray:
        return np.where(inside, values, np.nan)

    ds = GRID.dataset()
    ds["landcover"] = GRID.dataarray(
        np.where(inside, codes, 255).astype(np.uint8),
        name="landcover",
        units="1",
        long_name="land-cover class",
        attrs={"flag_values": list(LEGEND.values()), "flag_meanings": " ".join(LEGEND)},
    )
    for name, values, units, long_name in (
        ("agb_mg_ha", agb, "Mg DM/ha", "above-ground biomass"),
        ("agb_lower_mg_ha", agb * 0.7, "Mg DM/ha", "AGB lower bound"),
        ("agb_upper_mg_ha", agb * 1.4, "Mg DM/ha", "AGB upper bound"),
        ("soc_mg_ha", soc, "Mg C/ha", "SOC stock"),
        ("soc_sd_mg_ha", 4 + rng.random((20, 30)), "Mg C/ha", "SOC kriging SD"),
        ("carbon_mg_ha", soc + 0.47 * 2 * agb, "Mg C/ha", "total carbon"),
    ):
        ds[name] = GRID.dataarray(inner(values), name=name, units=units, long_name=long_name)
    for name, values in (
        ("agb_outside_aoa", np.zeros((20, 30), bool)),
        ("inside_boundary", inside),
    ):
        ds[name] = GRID.dataarray(values, name=name, units="1", long_name=name)
    return ds


def _epoch_report(name: str, date: str, offset: float) -> EpochReport:
    classes = list(LEGEND)
    rng = np.random.default_rng(7)
    reference = np.repeat(classes, 25)
    mapped = reference.copy()
    mapped[rng.choice(reference.size, 12, replace=False)] = "sedge"
    accuracy = accuracy_report(mapped, reference, classes=classes)
    areas = olofsson_area_estimate(
        confusion_matrix(mapped, reference, classes=classes),
        pd.Series({"water": 3.0, "mudflat": 2.5, "sedge": 10.0, "reed": 5.0}),
    ).table
    cv = {}
    predictions = {}
    for model in ("imagery", "lidar"):
        cv[model] = pd.DataFrame(
            {
                "fold": ["0", "1", "2", "pooled"],
                "n": [10, 11, 9, 30],
                "n_blocks": [3, 3, 2, 8],
                "r2": [0.61, 0.55, 0.70, 0.62],
                "rmse_mg_ha": [2.1, 2.5, 1.9, 2.2],
                "relative_rmse": [0.17, 0.2, 0.15, 0.18],
                "bias_mg_ha": [0.3, -0.2, 0.1, 0.07],
                "coverage": [0.9, 0.82, 0.89, 0.87],
            }
        )
        observed = np.linspace(2, 25, 30)
        predicted = observed * 0.9 + rng.normal(0, 2, 30)
        predictions[model] = pd.DataFrame(
            {
                "observed": observed,
                "predicted": predicted,
                "lower": predicted - 3,
                "upper": predicted + 4,
            }
        )
    cores = pd.DataFrame(
        {
            "x": [500_060.0, 500_150.0, 500_240.0, 500_100.0],
            "y": [3_250_100.0, 3_250_060.0, 3_250_120.0, 3_250_150.0],
            "soc_mg_ha": [70.0, 80.0, 95.0, 85.0],
            "extrapolated": [False, True, False, True],
        },
        index=pd.Index(["C1", "C2", "C3", "C4"], name="core_id"),
    )
    return EpochReport(
        name=name,
        date=date,
        layers=_layers(offset),
        soil_depth_cm=100.0,
        accuracy=accuracy.to_dict(),
        areas=areas,
        biomass_cv=cv,
        biomass_predictions=predictions,
        biomass_models_used=("lidar", "imagery"),
        lidar_decision=deferred(
            "LiDAR model not used: on the {n} plots under LiDAR (only those, so not the pooled "
            "figures of the CV tables) its spatial-CV RMSE is {lidar:.2f} Mg DM/ha against "
            "{imagery:.2f} for the imagery model",
            n=30,
            lidar=21.4,
            imagery=19.85,
        ),
        cores=cores,
        # A spherical variogram: nugget 20, partial sill 80 (Mg C/ha)², range 150 m; its
        # curve and three experimental classes, and the four cores' leave-one-out CV.
        soil_variogram={
            "model": "spherical",
            "nugget": 20.0,
            "psill": 80.0,
            "range_m": 150.0,
            "units": "(Mg C/ha)^2",
            "of": "values",
            "curve_m": [0.0, 75.0, 150.0, 225.0],
            "curve_semivariance": [0.0, 75.0, 100.0, 100.0],  # 20 + 80 × (0.75 − 0.0625)
            "lag_m": [50.0, 100.0, 150.0],
            "semivariance": [45.0, 80.0, 98.0],
            "n_pairs": [2, 3, 1],
        },
        soil_cv={
            "method": "ordinary-kriging",
            "n": 4,
            "rmse_mg_ha": 9.25,
            "mean_error_mg_ha": -1.5,
            "r2": 0.21,
            "coverage": 0.75,
            "interval": 0.9,
        },
        soil_cv_predictions=pd.DataFrame(
            {
                "observed": [70.0, 80.0, 95.0, 85.0],
                "predicted": [82.0, 81.0, 78.0, 83.0],
                "lower": [64.0, 63.0, 60.0, 65.0],
                "upper": [100.0, 99.0, 96.0, 101.0],
            },
            index=cores.index,
        ),
    )


def _manifest() -> dict[str, Any]:
    return {
        "inputs": [
            {"path": "imagery/2020/S2.tif", "size": 12_345_678, "sha256": FULL_SHA},
            {"path": EVIL_PATH, "size": 512, "sha256": "cd34" * 16},
        ],
        # The layout carbonsink.pipeline.run writes.
        "carbonsink": "9.8.7",
        "survey": "survey.toml",
        "survey_sha256": "ef56" * 16,
        "versions": {"carbonsink": "9.8.7", "numpy": "2.1.0"},
        "seed": 3,
        "stages": [
            {"name": "epoch-2020", "seconds": 12.5, "cached": False},
            {"name": "accounting", "seconds": 0.4, "cached": True},
        ],
        "wall_seconds": 61.04,
    }


def build_content(*, two_epochs: bool, title: str = EVIL) -> ReportContent:
    ledger = _ledger(two_epochs=two_epochs)
    epochs = [_epoch_report("2020", "2020-09-15", 0.0)]
    change = None
    draws = None
    if two_epochs:
        epochs.append(_epoch_report("2025", "2025-09-18", 5.0))
        first, last = epochs[0].layers, epochs[1].layers
        removals = (last["carbon_mg_ha"] - first["carbon_mg_ha"]) * 44 / 12 / 5
        sd = np.hypot(first["soc_sd_mg_ha"], last["soc_sd_mg_ha"]) * 44 / 12 / 5
        change = GRID.dataset()
        change["removals_t_co2e_ha_yr"] = removals.assign_attrs(units="t CO2e/ha/yr")
        change["removals_sd_t_co2e_ha_yr"] = sd.assign_attrs(units="t CO2e/ha/yr")
        net = ledger["project"]["net"]
        draws = np.random.default_rng(5).normal(net["mean"], net["sd"], 4000)
    return ReportContent(
        title=title,
        ledger=ledger,
        manifest=_manifest(),
        epochs=epochs,
        change=change,
        net_draws=draws,
        methodology=[
            MethodologyRow("carbon fraction", "0.47", "IPCC 2006 Vol. 4 Table 4.3"),
            MethodologyRow("root:shoot <sedge>", "1.5", "Mokany et al. 2006"),
        ],
    )


# ----------------------------------------------------------------- a small HTML reader

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class PageReader(HTMLParser):
    """Collects tags, attributes, text, elements by id and checks that tags are balanced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.ids: dict[str, list[str]] = {}
        self._open_ids: list[tuple[int, str]] = []
        self.rows: list[tuple[str | None, list[str]]] = []  # (class, cell texts)
        self._row: tuple[str | None, list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.starts.append((tag, attributes))
        if tag in VOID:
            return
        self.stack.append(tag)
        if attributes.get("id"):
            self._open_ids.append((len(self.stack), str(attributes["id"])))
            self.ids[str(attributes["id"])] = []
        if tag == "tr":
            self._row = (attributes.get("class"), [])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        if self._open_ids and self._open_ids[-1][0] == len(self.stack):
            self._open_ids.pop()
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for _, name in self._open_ids:
            self.ids[name].append(data)
        if self._cell is not None:
            self._cell.append(data)

    def element_text(self, element_id: str) -> str:
        return " ".join("".join(self.ids[element_id]).split())

    def all_text(self) -> str:
        return " ".join("".join(self.text).split())


def read_page(page: str) -> PageReader:
    reader = PageReader()
    reader.feed(page)
    reader.close()
    return reader
