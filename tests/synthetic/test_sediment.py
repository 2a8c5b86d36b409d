"""Tests of the synthetic soil's deposition, compaction and carbon gain (synthetic.sediment).

Expected values are hand arithmetic on single-cell profiles with round numbers,
or independent integrals (scipy) of the documented model — never the
generator's own output:

* old depth ζ lies at the new depth ``z = d + ζ − 20 κ (1 − e^{−ζ/20})``;
* a compacted old layer keeps its mass: ``BD_new = BD_old / (1 − κ e^{−ζ/20})``;
* the sediment holds ``d × BD_sed × OC_sed`` Mg C/ha (1 cm × 1 g/cm³ × 1 % = 1 Mg C/ha);
* the gain ``a e^{−z/12}`` is calibrated on the reference material, the new
  depths ``0 … z(30)``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize

from carbonsink.synthetic.fieldwork import CORE_LAYERS_CM, soil_cores
from carbonsink.synthetic.landscape import Landscape, build_landscape
from carbonsink.synthetic.parameters import CLASSES, SCALES
from carbonsink.synthetic.sediment import SoilProfile, calibrate_gain

SEED = 20240830


def _profile(
    n: int = 1,
    *,
    oc: tuple[float, float] = (2.0, 2.0),
    bd: tuple[float, float] = (1.0, 1.0),
    decay: float = 20.0,
    deposit: float | None = None,
    kappa: float | None = None,
    bd_sed: float = 0.85,
    oc_sed: float = 1.2,
    gain: float = 0.0,
) -> SoilProfile:
    """``n`` identical profiles; ``oc``/``bd`` are (surface, deep) values."""

    def full(value: float) -> np.ndarray:
        return np.full(n, value, dtype=np.float64)

    extra = {}
    if deposit is not None:
        extra = {
            "deposit_cm": full(deposit),
            "compaction": full(kappa or 0.0),
            "sediment_bd_g_cm3": full(bd_sed),
            "sediment_oc_pct": full(oc_sed),
        }
    return SoilProfile(
        oc_surface_pct=full(oc[0]),
        oc_deep_pct=full(oc[1]),
        oc_decay_cm=full(decay),
        bd_surface_g_cm3=full(bd[0]),
        bd_deep_g_cm3=full(bd[1]),
        gain_pct=full(gain),
        **extra,
    )


# A realistic first-epoch profile: OC 2.5 % at the surface, 0.55 % deep (λ = 22 cm),
# BD 0.9 g/cm³ at the surface, 1.42 deep (e-folding 30 cm).
REALISTIC = {"oc": (2.5, 0.55), "bd": (0.9, 1.42), "decay": 22.0}


def _first_epoch_model(p: SoilProfile, top: float, bottom: float) -> tuple[np.ndarray, ...]:
    """The first epoch's model as documented, on 0.5 cm midpoints: stock, mean OC, mean BD."""
    stock = np.zeros(p.oc_surface_pct.shape)
    carbon = np.zeros_like(stock)
    mass = np.zeros_like(stock)
    n = round((bottom - top) / 0.5)
    for z in top + 0.5 * (np.arange(n) + 0.5):
        oc = p.oc_deep_pct + (p.oc_surface_pct - p.oc_deep_pct) * np.exp(-z / p.oc_decay_cm)
        bd = p.bd_deep_g_cm3 - (p.bd_deep_g_cm3 - p.bd_surface_g_cm3) * math.exp(-z / 30.0)
        stock += oc * bd * 0.5
        carbon += oc * bd
        mass += bd
    return stock, carbon / mass, mass / n


# ------------------------------------------------------------------ (a)
def test_without_deposit_and_compaction_the_profile_is_the_first_epochs() -> None:
    scalar = _profile(3, **REALISTIC)  # d and κ default to the scalar 0
    arrays = _profile(3, **REALISTIC, deposit=0.0, kappa=0.0)  # d = 0, κ = 0 per cell
    for top, bottom in ((0, 30), (0, 100), *CORE_LAYERS_CM):
        stock, oc, bd = _first_epoch_model(scalar, float(top), float(bottom))
        # Bit for bit on the first epoch's path ...
        np.testing.assert_array_equal(scalar.stock_mg_ha(float(top), float(bottom)), stock)
        means = scalar.layer_means(float(top), float(bottom))
        np.testing.assert_array_equal(means[0], oc)
        np.testing.assert_array_equal(means[1], bd)
        # ... and to rounding with d = 0, κ = 0 given per cell.
        np.testing.assert_allclose(arrays.stock_mg_ha(float(top), float(bottom)), stock, rtol=1e-13)
        np.testing.assert_allclose(arrays.layer_means(float(top), float(bottom))[0], oc, rtol=1e-13)
    for z in (0.0, 0.3, 7.0, 55.5):
        assert arrays.old_depth(z) == pytest.approx(z, abs=1e-12)
        assert arrays.new_depth(z) == pytest.approx(z, abs=1e-12)
        np.testing.assert_allclose(arrays.oc_pct(z), 0.55 + 1.95 * math.exp(-z / 22.0), rtol=1e-13)
        np.testing.assert_allclose(
            arrays.bulk_density(z), 1.42 - 0.52 * math.exp(-z / 30.0), rtol=1e-13
        )
    # Nothing deposited, nothing gained.
    np.testing.assert_array_equal(arrays.allochthonous_mg_ha(), 0.0)
    np.testing.assert_array_equal(arrays.reference_gain_mg_ha(30.0), 0.0)


# ------------------------------------------------------------------ (b)
def test_compaction_keeps_the_old_material_and_moves_it_down() -> None:
    # d = 2 cm, κ = 0.05, constant BD 1 g/cm³: old depth 30 cm lies at
    # z = 2 + 30 − 20 × 0.05 × (1 − e^{−1.5}) = 32 − 0.77687 = 31.22313 cm.
    p = _profile(deposit=2.0, kappa=0.05)
    assert float(p.new_depth(30.0)[0]) == pytest.approx(32.0 - (1.0 - math.exp(-1.5)), abs=1e-12)
    assert float(p.old_depth(31.223130160148430)[0]) == pytest.approx(30.0, abs=1e-9)
    assert float(p.old_depth(1.5)[0]) == 0.0  # inside the deposit: above the old surface
    # The old surface layer is squeezed by 1 − 0.05: BD 1/0.95 = 1.052632 just below d.
    assert float(p.bulk_density(2.0 + 1e-9)[0]) == pytest.approx(1.0 / 0.95, rel=1e-8)
    assert float(p.bulk_density(1.0)[0]) == 0.85  # the sediment
    # Mass of the old 0–30 cm: 30 cm × 1 g/cm³ = 30 g/cm² = 3000 Mg/ha, now between d and z(30).
    mass = p.soil_mass_mg_ha(p.deposit_cm, p.new_depth(30.0))
    assert float(mass[0]) == pytest.approx(3000.0, rel=1e-12)

    # A realistic profile, D = 30 and 100 cm: the second epoch's mass between d and
    # z(D), integrated independently over the NEW depths on 0.005 cm midpoints of the
    # point BD, equals the first epoch's 0–D mass on its 0.5 cm layers.
    first = _profile(**REALISTIC)
    second = _profile(**REALISTIC, deposit=2.37, kappa=0.065)
    for depth in (30.0, 100.0):
        top, bottom = 2.37, float(second.new_depth(depth)[0])
        n = math.ceil((bottom - top) / 0.005)
        z = top + (bottom - top) / n * (np.arange(n) + 0.5)
        column = _profile(n, **REALISTIC, deposit=2.37, kappa=0.065)
        fine = 100.0 * float(np.sum(column.bulk_density(z))) * (bottom - top) / n
        before = float(first.soil_mass_mg_ha(0.0, depth)[0])
        assert fine == pytest.approx(before, rel=1e-5), depth
        assert float(second.soil_mass_mg_ha(top, bottom)[0]) == pytest.approx(before, rel=1e-9)
        # The compacted column is thinner than D by 20 κ (1 − e^{−D/20}).
        assert bottom - top == pytest.approx(depth - 1.3 * (1 - math.exp(-depth / 20)), abs=1e-9)


# ------------------------------------------------------------------ (c)
def test_reference_material_adds_the_deposited_sediment_carbon() -> None:
    # OC 2 %, BD 1 g/cm³: the first epoch's 0–30 cm holds 2 × 1 × 30 = 60 Mg C/ha.
    # d = 2 cm of BD 0.85 and OC 1.2 % adds 2 × 0.85 × 1.2 = 2.04 Mg C/ha: with no
    # gain the reference material (new depths 0 … z(30)) holds 62.04 Mg C/ha.
    first = _profile()
    second = _profile(deposit=2.0, kappa=0.05)
    assert float(first.stock_mg_ha(0.0, 30.0)[0]) == pytest.approx(60.0, rel=1e-12)
    assert float(second.allochthonous_mg_ha()[0]) == pytest.approx(2.04, rel=1e-12)
    assert float(second.reference_stock_mg_ha(30.0)[0]) == pytest.approx(62.04, rel=1e-12)
    # ... and the same over the new depths 0 … z(30) given explicitly.
    assert float(second.stock_mg_ha(0.0, second.new_depth(30.0))[0]) == pytest.approx(
        62.04, rel=1e-9
    )
    # The fixed-depth 0–30 cm stock is not that: below the 2 cm deposit it holds the
    # old material down to ζ* with ζ* − (1 − e^{−ζ*/20}) = 28 (ζ* ≈ 28.77), i.e.
    # 2.04 + 2 × ζ* Mg C/ha.
    zeta = optimize.brentq(lambda x: x - (1.0 - math.exp(-x / 20.0)) - 28.0, 20.0, 40.0)
    fixed = float(second.stock_mg_ha(0.0, 30.0)[0])
    assert fixed == pytest.approx(2.04 + 2.0 * zeta, rel=1e-9)
    assert abs(fixed - 62.04) > 1.0
    # A realistic profile: the old material carries its first-epoch carbon along.
    first = _profile(**REALISTIC)
    second = _profile(**REALISTIC, deposit=3.1, kappa=0.03, bd_sed=0.85, oc_sed=1.3)
    for depth in (30.0, 100.0):
        expected = float(first.stock_mg_ha(0.0, depth)[0]) + 3.1 * 0.85 * 1.3
        assert float(second.reference_stock_mg_ha(depth)[0]) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ (d)
def test_gain_is_calibrated_on_the_reference_material() -> None:
    # Sedge: 1.6 Mg C/ha/yr for 5 years = 8 Mg C/ha in the reference material of
    # d = 2 cm (BD 0.85), κ = 0.05 over BD 1 g/cm³. Independently:
    # U = ∫₀^{z(30)} e^{−z/12} BD(z) dz = 0.85 × 12 (1 − e^{−2/12}) + ∫ old part,
    # the old part over the new depths with BD = 1 / (1 − κ e^{−ζ(z)/20}).
    target = 5.0 * 1.6
    p = calibrate_gain(_profile(deposit=2.0, kappa=0.05), np.array([target]), depth_cm=30.0)
    z30 = 32.0 - (1.0 - math.exp(-1.5))

    def old_part(z: float) -> float:
        zeta = optimize.brentq(lambda x: 2.0 + x - (1.0 - math.exp(-x / 20.0)) - z, 0.0, 40.0)
        return math.exp(-z / 12.0) / (1.0 - 0.05 * math.exp(-zeta / 20.0))

    sediment = 0.85 * 12.0 * (1.0 - math.exp(-2.0 / 12.0))
    unit = sediment + integrate.quad(old_part, 2.0, z30, epsabs=1e-12)[0]
    assert float(p.gain_pct[0]) == pytest.approx(target / unit, rel=1e-4)  # 0.5 cm layers
    assert float(p.reference_gain_mg_ha(30.0)[0]) == pytest.approx(target, rel=1e-12)
    # The gain grows into the sediment: its surface OC is OC_sed + a.
    assert float(p.oc_pct(0.0)[0]) == pytest.approx(1.2 + target / unit, rel=1e-4)
    # The reference stock is the first epoch's + the sediment's + the gain.
    assert float(p.reference_stock_mg_ha(30.0)[0]) == pytest.approx(60.0 + 2.04 + 8.0, rel=1e-12)


# ----------------------------------------------------- the landscape's soil
@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return build_landscape(SEED, SCALES["small"])


def test_landscape_deposit_compaction_and_gain(landscape: Landscape) -> None:
    first, last = landscape.epochs
    years = landscape.years
    assert years == pytest.approx(1829 / 365.25)
    inside = landscape.grid.boundary_mask(landscape.boundary)
    land = inside & (landscape.crop(last.class_code) != 1)
    # The first epoch: nothing deposited, nothing gained.
    for layer in ("deposit_cm", "soc_allochthonous_mg_ha", "soc_gain_0_30_mg_ha"):
        assert np.all(getattr(first, layer) == 0.0), layer
    # rate = 0.6 exp(−(z − 26)/1.2) × lognormal, clipped to 0–2 cm/yr: 0–10 cm in 5 years;
    # over the land inside the boundary the mean rate is 0.2–0.6 cm/yr (the brief).
    deposit = last.deposit_cm
    assert deposit.min() >= 0.0 and deposit.max() <= 2.0 * years + 1e-9
    assert 0.2 <= landscape.crop(deposit)[land].mean() / years <= 0.6
    # Lower ground gets more: the deposit falls with the 2020 elevation.
    z = first.elevation_m
    assert deposit[z < 26.0].mean() > 2 * deposit[(z > 27.0) & (z < 28.0)].mean()
    kappa = np.asarray(last.soil.compaction)
    assert kappa.min() >= 0.02 and kappa.max() <= 0.08
    assert kappa.mean() == pytest.approx(0.05, abs=0.01)
    # Sediment OC = μ_sed × exp(0.1 F − 0.005): within ±5 SD of log around μ_sed.
    mu = landscape.soil_world.sediment_oc_pct_mean
    assert 1.2 - 5 * 0.1 <= mu <= 1.2 + 5 * 0.1
    ratio = np.asarray(last.soil.sediment_oc_pct) / mu
    assert ratio.min() >= math.exp(-0.5) and ratio.max() <= math.exp(0.5)
    np.testing.assert_allclose(
        last.soc_allochthonous_mg_ha, deposit * 0.85 * np.asarray(last.soil.sediment_oc_pct)
    )
    # Mass conservation over the whole grid: the old 0–30 cm material lies between d
    # and z(30).
    moved = last.soil.soil_mass_mg_ha(last.soil.deposit_cm, last.soil.new_depth(30.0))
    np.testing.assert_allclose(moved, first.soil.soil_mass_mg_ha(0.0, 30.0), rtol=1e-9)
    # The gain over the reference material is years × r with r = (r_c1 + r_c2)/2 × a
    # mean-one lognormal field (SD of log 0.25): where the class is kept its log ratio
    # to years × r_c has SD ≈ 0.25 and mean ≈ −0.25²/2 (a spatially correlated field:
    # allow ±0.08 on the SD and ±0.15 on the mean). Water gains nothing.
    rate = np.zeros(z.shape)
    for params in CLASSES:
        rate[last.class_code == params.code] = params.soc_gain_mg_ha_yr
    kept = (first.class_code == last.class_code) & (rate > 0)
    log_ratio = np.log(last.soc_gain_0_30_mg_ha[kept] / (years * rate[kept]))
    assert log_ratio.std() == pytest.approx(0.25, abs=0.08)
    assert log_ratio.mean() == pytest.approx(-(0.25**2) / 2, abs=0.15)
    water = (first.class_code == 1) & (last.class_code == 1)
    assert np.all(last.soc_gain_0_30_mg_ha[water] == 0.0)
    assert np.all(last.soc_gain_0_100_mg_ha >= last.soc_gain_0_30_mg_ha)


# ------------------------------------------------------------------ (e)
def test_lab_bias_scales_every_later_value_and_cores_record_the_accretion(
    landscape: Landscape,
) -> None:
    last = landscape.epochs[-1]
    world = landscape.soil_world
    assert world.lab_method_bias_epoch == "2025"
    assert abs(world.lab_method_bias) <= 5 * 0.02  # N(0, 0.02²)

    def cores(bias: float, epoch: int) -> pd.DataFrame:
        biased = replace(landscape, soil_world=replace(world, lab_method_bias=bias))
        return soil_cores(biased, biased.epochs[epoch])

    # The bias draws nothing, so the cores are the same; om_g_kg (rounded to 0.01)
    # is (1 + b) times the unbiased value: |Δ| ≤ 0.005 + 0.005 (1 + b).
    unbiased = cores(0.0, 1)
    for bias in (world.lab_method_bias, 0.10):
        table = cores(bias, 1)
        pd.testing.assert_frame_equal(
            table.drop(columns="om_g_kg"), unbiased.drop(columns="om_g_kg")
        )
        scaled = (1.0 + bias) * unbiased["om_g_kg"].to_numpy()
        assert np.abs(table["om_g_kg"].to_numpy() - scaled).max() <= 0.005 * (2.0 + bias) + 1e-9
    # The 2020 CHN lab is unbiased and 2020 has no marker horizon.
    pd.testing.assert_frame_equal(cores(0.10, 0), cores(0.0, 0))
    assert "accretion_cm" not in cores(0.0, 0).columns
    # Accretion = d × (1 + 0.1 Z) ≥ 0, to 0.1 cm, one value per core: within 4 SDs.
    sites = unbiased.attrs["sites"]
    row, col = landscape.grid.index(sites["core_x"].to_numpy(), sites["core_y"].to_numpy())
    d = last.deposit_cm[row + landscape.window[0], col + landscape.window[1]]
    per_core = unbiased.groupby("core_id", sort=True)["accretion_cm"]
    assert (per_core.nunique() == 1).all()
    measured = per_core.first().to_numpy()  # C2025-01, -02, … in site order
    assert np.all(measured >= 0.0)
    np.testing.assert_allclose(measured * 10.0, np.round(measured * 10.0), atol=1e-9)
    assert np.all(np.abs(measured - d) <= 0.05 + 4 * 0.1 * d)
    assert measured.sum() / d.sum() == pytest.approx(1.0, abs=0.05)
