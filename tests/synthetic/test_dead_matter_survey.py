"""The synthetic survey's dead organic matter: truth layers, plot columns, regression guard."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import Transformer

from carbonsink.grid import Grid
from tests.synthetic.conftest import digests

# ------------------------------------------------------- dead organic matter
# The documented DOM parameters (carbonsink.synthetic.parameters): dead:live
# ratios r per class for 2020 and 2025, a persistent mean-one lognormal
# multiplier m with SD of log 0.25 and correlation length 40 m (4 cells of 10 m).
DOM_RATIO = {
    2: (0.10, 0.10),  # mudflat
    3: (0.25, 0.25),  # sedge
    4: (0.45, 0.54),  # reed: +20 % standing dead by 2025
    5: (0.40, 0.48),  # miscanthus: +20 %
    6: (0.12, 0.12),  # poplar
}
CLASS_CODE = {"mudflat": 2, "sedge": 3, "reed": 4, "miscanthus": 5, "poplar": 6}


def test_dom_is_zero_on_water_and_averages_the_class_ratio(
    truth: dict[str, xr.Dataset],
) -> None:
    # DOM = r × AGB × m, so DOM/AGB = r × m in every vegetated cell.
    # Tolerance of a class mean of m over N cells: SD(m) = sqrt(e^(0.25²) − 1) = 0.254;
    # a Gaussian random field of kernel SD ℓ = 4 cells has correlation exp(−h²/(4ℓ²)),
    # which sums to 4πℓ² ≈ 201 cells, so the mean of N cells has the SD of ≈ N / 201
    # independent draws (an upper bound for m, since e^(σ²ρ) − 1 ≤ ρ (e^(σ²) − 1)).
    # Allow 4 such SDs.
    sd_m = np.sqrt(np.exp(0.25**2) - 1.0)
    cells_per_draw = 4.0 * np.pi * 4.0**2
    logs = []
    for index, ds in enumerate(truth.values()):
        cls = ds["class"].values
        inside = ds["inside_boundary"].values == 1
        agb = ds["agb_mg_ha"].values.astype(float)
        dom = ds["dom_mg_ha"].values.astype(float)
        assert np.all(dom[cls == 1] == 0.0)  # no dead matter on open water
        assert np.all(dom >= 0.0)
        for code, ratios in DOM_RATIO.items():
            sel = inside & (cls == code) & (agb > 0)
            ratio = dom[sel] / agb[sel]
            tol = 4.0 * sd_m / np.sqrt(sel.sum() / cells_per_draw)
            assert ratio.mean() == pytest.approx(ratios[index], rel=tol), (index, code)
            logs.append(np.log(ratio / ratios[index]))
    # log m = 0.25 F − 0.25²/2: SD 0.25 over all vegetated cells (≈ 100 independent
    # draws: the SD is known to ≈ 0.25 / sqrt(200) ≈ 0.02; allow ±0.06).
    assert np.concatenate(logs).std() == pytest.approx(0.25, abs=0.06)


def test_dom_ratio_changes_between_epochs_as_configured(truth: dict[str, xr.Dataset]) -> None:
    # m is the same field in both epochs, so where a cell keeps its class
    # (DOM/AGB)_2025 / (DOM/AGB)_2020 = r_2025 / r_2020 exactly: 0.54/0.45 = 0.48/0.40
    # = 1.2 in reed and Miscanthus, 1 elsewhere (float32 layers: rtol 1e-5).
    a, b = truth["2020"], truth["2025"]
    cls = a["class"].values
    same = cls == b["class"].values
    for code, (r_2020, r_2025) in DOM_RATIO.items():
        sel = same & (cls == code) & (a["agb_mg_ha"].values > 0) & (b["agb_mg_ha"].values > 0)
        assert sel.sum() > 1000, code
        before = a["dom_mg_ha"].values[sel] / a["agb_mg_ha"].values[sel]
        after = b["dom_mg_ha"].values[sel] / b["agb_mg_ha"].values[sel]
        np.testing.assert_allclose(after / before, r_2025 / r_2020, rtol=1e-5)


def test_dead_matter_is_collected_on_a_third_of_the_plots(root: Path) -> None:
    # max(5, round(n/3)) of a class's n plots (all when fewer): the small survey's
    # 8 mudflat, 24 sedge, 18 reed, 18 miscanthus and 13 poplar plots give
    # 5 + 8 + 6 + 6 + 5 = 30 of 81 plots; the other 51 (63 %) are left empty.
    expected = {"mudflat": 5, "sedge": 8, "reed": 6, "miscanthus": 6, "poplar": 5}
    for epoch in ("2020", "2025"):
        plots = pd.read_csv(root / f"plots_{epoch}.csv")
        counts = plots["veg_class"].value_counts().to_dict()
        assert counts == {"mudflat": 8, "sedge": 24, "reed": 18, "miscanthus": 18, "poplar": 13}
        dead = plots["agb_dead_g_m2"]
        assert plots.loc[dead.notna(), "veg_class"].value_counts().to_dict() == expected
        assert 0.55 <= dead.isna().mean() <= 0.72
        assert (dead.dropna() >= 0).all()
        # Missing means an empty field in the CSV, never 0 or a "nan" string.
        lines = (root / f"plots_{epoch}.csv").read_text(encoding="utf-8").splitlines()[1:]
        fields = [line.split(",")[4] for line in lines]
        assert sum(f == "" for f in fields) == dead.isna().sum()
        assert not any(f.lower() in ("0", "0.0", "nan") for f in fields)


def test_plot_dead_matter_matches_the_truth(root: Path, truth: dict[str, xr.Dataset]) -> None:
    to_utm = Transformer.from_crs("EPSG:4490", "EPSG:32649", always_xy=True)
    to_truth, dead_to_live = [], []
    for epoch, ds in truth.items():
        grid = Grid.from_xarray(ds)
        plots = pd.read_csv(root / f"plots_{epoch}.csv").dropna(subset=["agb_dead_g_m2"])
        x, y = to_utm.transform(plots["lon"].to_numpy(), plots["lat"].to_numpy())
        row, col = grid.index(x, y)
        # The 2 m GNSS error can move a plot into a cell of another class; keep the
        # plots whose recorded cell has the plot's class (nearly all of them).
        same = ds["class"].values[row, col] == plots["veg_class"].map(CLASS_CODE).to_numpy()
        assert same.mean() >= 0.9
        dom = 100.0 * ds["dom_mg_ha"].values[row, col][same]  # Mg/ha → g/m²
        agb = 100.0 * ds["agb_mg_ha"].values[row, col][same]
        dead = plots["agb_dead_g_m2"].to_numpy()[same]
        live = plots["agb_g_m2"].to_numpy()[same]
        to_truth.append(dead / dom)
        dead_to_live.append((dead / live) / (dom / agb))
    ratio, shared = np.concatenate(to_truth), np.concatenate(dead_to_live)
    # dead = 100 × DOM × H × H_d × (1 + 0.03 Z): mean-one factors, SD of log
    # sqrt(0.3² + 0.2² + 0.03²) ≈ 0.36 (1 m² clips; less for poplar). Over ~60 plots
    # the mean is 1 ± 0.36/sqrt(60) ≈ 0.05; allow 0.2. No plot strays by more than
    # 4 SDs of log (|log| ≤ 1.45).
    assert ratio.mean() == pytest.approx(1.0, abs=0.2)
    assert np.abs(np.log(ratio)).max() <= 4 * 0.36
    # Dead and live of a plot share the heterogeneity H: dead/live ÷ (DOM/AGB)
    # leaves only H_d and two weighing errors, SD of log sqrt(0.2² + 2 × 0.03²) ≈ 0.20
    # (independent heterogeneities would give ≥ sqrt(0.2² + 0.3² + 0.3²) ≈ 0.47).
    assert np.log(shared).std() < 0.3


# Regression guard: sha256 of the files of the small survey (seed 20240830) that
# the dead-organic-matter pool must not change, computed with the ORIGINAL
# generator (commit 8b005b0, before DOM was added) — not derived from any model.
# A change here means a DOM random draw leaked into another stream.
UNCHANGED_BY_DOM = {
    "boundary.geojson": "431209b48979a1490370a80bcfbd9d3cafaef8538953da4d7fd3c880d9a088c2",
    "imagery/s2_2020-09-10.tif": "8609905af32bf1bcc543bab9dccfc93394787908e1f84659f711858336859a2d",
    "imagery/s2_2020-09-20.tif": "5b0757041528d6377c0f43b61db8a3146902c913f3f4d5b9e955c8b0192d0d55",
    "imagery/s2_2025-09-13.tif": "42dd46e559bc0d5800b7d970d873b1e5c45a35bd8badd2ba46d4875890eb9be4",
    "imagery/s2_2025-09-23.tif": "eca7d71456863729c89698aacdf5c776b2524d2db6019aa60a9afc1297b33364",
    "landcover_2020.csv": "fd3d4aaa01c1b24b1015101f79be7169cf62b70cfaae455297397800edb8fc42",
    "landcover_2025.csv": "d8f384b3537c40d84eacab6cd9b68f05e4998d357c8396c2f3d4741a3f5d1e24",
    "lidar/2020/junshan_2020_409160_3254200.laz": (
        "2b21db7eae9ee796be6899585e3f6e0791df5bb3dfddbfb7e9e434f5d60407f6"
    ),
    "lidar/2020/junshan_2020_409160_3254600.laz": (
        "5eabcfad271d520ba6fc70a18269c10ccc555b247e1e89b2cc2193e079f3f9cb"
    ),
    "lidar/2020/junshan_2020_409830_3254200.laz": (
        "1e703693295a67765dbd7923251f6c339c9b6ced5bf2afd6e672673667a3d798"
    ),
    "lidar/2020/junshan_2020_409830_3254600.laz": (
        "83616e99ce93dd3384b577835e273ff76fb8e070178fb9df1f1f1c1798ebd8d0"
    ),
    "lidar/2025/junshan_2025_409140_3254230.laz": (
        "f292695ed9d4d8a85a8bcf73e6e4475ad8ef0f1a37a58e3dc92ef16a44245b26"
    ),
    "lidar/2025/junshan_2025_409140_3254610.laz": (
        "89a09b7e8d9d9ad04753e13f68050955f5d4a6b172ebbe7a4e78346aee4e6e43"
    ),
    "lidar/2025/junshan_2025_409820_3254230.laz": (
        "8dcf20eb91d9cc5ba2e6cf5386d6cb4ce0f45f6a0a5d06aa25367fc87ed122ba"
    ),
    "lidar/2025/junshan_2025_409820_3254610.laz": (
        "752b4a11cbe4ae9c269658a1542d021252122731a4939b73fcc848f0b593f491"
    ),
    "soil_2020.csv": "aa8b9a84245ceddc3b1dde931262b9591b5fb66f76b9fd3ad9d4137fde362658",
    # soil_2025.csv without the columns sediment deposition legitimately changes (its
    # BD, OM and the new accretion_cm): the sites, layers, method and date of the
    # original generator's file.
    "soil_2025.csv": "1326ca6cf7714053e68cf46dd797f4bef6012a5c6bc3aec4c5f028447971a3a7",
    # survey.toml: the original generator's file with one comment changed since: its
    # citation of the team's internal reference now names the project's own
    # docs/methodology.md §2.
    "survey.toml": "bf71053437162cb38bb6946ac2889c3abf94bbdd965563efa893f62fbdd807d3",
    # The plot tables without their new agb_dead_g_m2 column.
    "plots_2020.csv": "38162b872bd02b9917eade37d98c4b17478b194814526ad17b28751890374934",
    "plots_2025.csv": "afce18d09282404d0a1e822f8a20be21042a3aca582cecee231f4856dc3c7644",
}
# Same guard for the truth layers other than dom_mg_ha: sha256 over the sorted
# variable names and their values' bytes, from the ORIGINAL generator's files —
# without the layers sediment deposition added (SEDIMENT_LAYERS) and, in 2025,
# without the soil layers it legitimately changed (the fixed-depth stocks and the
# surface OC, now the sediment's); for 2025 the digest of the original file's
# remaining layers (the generator before deposition, whose other 2025 layers were
# the original's byte for byte).
SEDIMENT_LAYERS = (
    "soc_gain_0_30_mg_ha",
    "soc_gain_0_100_mg_ha",
    "soc_allochthonous_mg_ha",
    "deposit_cm",
)
CHANGED_BY_DEPOSITION = {
    "2020": (),
    "2025": ("soc_0_30_mg_ha", "soc_0_100_mg_ha", "soc_surface_pct"),
}
TRUTH_LAYERS_BEFORE_DOM = {
    "2020": "74ab9ebd1b4e77bfff27c9edba229e36e52222f9abcca815e59ac306089c1be5",
    "2025": "9f8b5d949dad768f8b86c577bf6de5e76978d22878becf5641a17efa63980d87",
}
# ... and the original generator's removals and net (t CO2e/yr, truth/totals.json
# before DOM), which the DOM-free figures must reproduce once the soil term is
# replaced: removals counted the fixed-depth 0–100 cm change of the world without
# deposition, SOC_0_100_BEFORE_DEPOSITION t C/yr (that generator's totals.json).
REMOVALS_BEFORE_DOM = 875.3513970706684
NET_BEFORE_DOM = 808.9853882940498
SOC_0_100_BEFORE_DEPOSITION = 267.97198415214046


def test_dead_organic_matter_leaves_every_other_output_unchanged(root: Path) -> None:
    found = digests(root)
    for epoch in ("2020", "2025"):
        table = pd.read_csv(root / f"plots_{epoch}.csv").drop(columns="agb_dead_g_m2")
        text = table.to_csv(index=False, lineterminator="\n").encode("utf-8")
        found[f"plots_{epoch}.csv"] = hashlib.sha256(text).hexdigest()
    sites = ["core_id", "lon", "lat", "depth_top_cm", "depth_bottom_cm", "method", "date"]
    table = pd.read_csv(root / "soil_2025.csv")[sites]
    text = table.to_csv(index=False, lineterminator="\n").encode("utf-8")
    found["soil_2025.csv"] = hashlib.sha256(text).hexdigest()
    # The survey file since gained the legend's herbaceous flags and the synthetic world's
    # zero between-year and lab-method variability (issue 15); without those lines it is
    # the file from before the dead-organic-matter pool.
    lines = (root / "survey.toml").read_text(encoding="utf-8").splitlines(keepends=True)
    # Sediment deposition changed the method-bias line and added the sediment OC prior.
    added = (
        "herbaceous = false",
        "peak_biomass_cv = 0.0",
        "method_bias_sd_pct = ",
        "sediment_oc_pct = ",
        "sediment_oc_sd_pct = ",
        "checkpoints = ",
    )
    kept = "".join(line for line in lines if not line.startswith(added)).encode("utf-8")
    found["survey.toml"] = hashlib.sha256(kept).hexdigest()
    assert {name: found[name] for name in UNCHANGED_BY_DOM} == UNCHANGED_BY_DOM
    for epoch, expected in TRUTH_LAYERS_BEFORE_DOM.items():
        with xr.open_dataset(root / "truth" / f"truth_{epoch}.nc") as ds:
            digest = hashlib.sha256()
            skip = ("dom_mg_ha", *SEDIMENT_LAYERS, *CHANGED_BY_DEPOSITION[epoch])
            for name in sorted(n for n in ds.data_vars if n not in skip):
                digest.update(str(name).encode("utf-8"))
                digest.update(ds[name].values.tobytes())
        assert digest.hexdigest() == expected, epoch
    sink = json.loads((root / "truth" / "totals.json").read_text(encoding="utf-8"))["sink"]
    # Vegetation part of the removals, 44/12 × (ΔC_agb + ΔC_bgb), unchanged; CH4 unchanged.
    soil = 44 / 12 * sink["delta_c_t_c_yr"]["soc_0_100"]
    vegetation = REMOVALS_BEFORE_DOM - 44 / 12 * SOC_0_100_BEFORE_DEPOSITION
    assert sink["removals_without_dom_t_co2e_yr"] - soil == pytest.approx(vegetation, abs=1e-9)
    assert sink["removals_without_dom_t_co2e_yr"] - sink["net_without_dom_t_co2e_yr"] == (
        pytest.approx(REMOVALS_BEFORE_DOM - NET_BEFORE_DOM, rel=1e-12)
    )
