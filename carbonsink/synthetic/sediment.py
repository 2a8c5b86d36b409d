"""The true soil of every epoch: profile, sediment deposition, compaction and carbon gain.

A depositional floodplain (East Dongting Lake) between two surveys:

1. **First epoch.** ``OC(z) = OC_deep + (OC_0 − OC_deep) e^{−z/λ}`` (% of dry
   mass) and ``BD(z) = BD_deep − (BD_deep − BD_0) e^{−z/30}`` (g cm⁻³), ``z``
   the depth in cm (:func:`first_epoch_soil`; the parameters are described in
   :mod:`carbonsink.synthetic.landscape`, item 6).
2. **Deposition.** By the second epoch a layer of new sediment of thickness
   ``d = years × rate`` lies on the old surface, ``rate = 0.6 × exp(−(z_elev −
   26)/1.2) × M_d`` cm/yr clipped to [0, 2] (``z_elev`` the first epoch's
   elevation in m, ``M_d = exp(0.3 F − 0.3²/2)`` a mean-one lognormal field,
   100 m correlation). Its bulk density is :data:`SEDIMENT_BD_G_CM3` and its
   organic carbon ``OC_sed = μ_sed × exp(0.1 F' − 0.1²/2)``, with ``μ_sed``
   drawn once per seed from ``N(1.2, 0.1²)`` %. That carbon was made
   elsewhere and brought by the floods: it is **allochthonous**,
   ``C_allo = d × BD_sed × OC_sed`` Mg C ha⁻¹ (1 cm × 1 g cm⁻³ × 1 % = 1 Mg C ha⁻¹).
3. **Compaction.** The old material is compacted under the new load: a layer
   at old depth ``ζ`` loses the fraction ``κ e^{−ζ/20}`` of its thickness, its
   mass and OC % unchanged (its BD rises by ``1 / (1 − κ e^{−ζ/20})``), with
   ``κ = clip(0.05 + 0.01 F'', 0.02, 0.08)`` (200 m correlation). Old depth
   ``ζ`` then lies at the new depth ``z = d + ζ − 20 κ (1 − e^{−ζ/20})``
   (:meth:`SoilProfile.new_depth`, inverted by Newton's method in
   :meth:`SoilProfile.old_depth`).
4. **Autochthonous gain.** ``a e^{−z/12}`` is added to OC % with ``z`` the
   depth below the current surface, so the gain also grows into the new
   sediment. ``a`` is set so that the carbon gained in the *reference
   material* — the first epoch's 0–30 cm material plus everything deposited on
   it, i.e. the new depths ``0 … z(30)`` — is ``years × r`` Mg C ha⁻¹, ``r`` the
   mean of the two epochs' class rates times a mean-one lognormal field
   (:func:`calibrate_gain`).
5. **Lab-method bias.** The second epoch's lab (dichromate) reads
   ``OC × (1 + b)``, ``b`` drawn once per seed from ``N(0, 0.02²)``
   (:class:`SoilWorld`); the first epoch's CHN lab is unbiased. A third
   epoch's samples go to the same dichromate lab, with the same ``b``.
6. **A third epoch** (:func:`later_epoch_soil`) continues the second over
   the years between them: more sediment of the same kind on the deposit
   (``d`` stays the total since the first epoch, what a marker horizon laid
   at the first survey measures), and ``a`` calibrated so that the reference
   material gains the second epoch's gain plus ``years × r``, ``r`` from the
   classes of the second and third epochs.

Stocks are ``Σ OC × BD × Δz`` over layers of at most :data:`SOIL_STEP_CM`
(docs/methodology.md §3), summed separately over the sediment and over the
old material; the old material is summed in its first-epoch depths ``ζ``,
where ``BD_new dz = BD_old dζ`` conserves its mass exactly. Without deposit
and compaction the layers are exactly the 0.5 cm layers of the first epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from carbonsink.synthetic.parameters import CLASSES, EPOCHS
from carbonsink.synthetic.random_fields import gaussian_field, named_stream

__all__ = [
    "BD_DEPTH_CM",
    "COMPACTION_DEPTH_CM",
    "COMPACTION_MEAN",
    "GAIN_DECAY_CM",
    "LAB_METHOD_BIAS_SD",
    "SEDIMENT_BD_G_CM3",
    "SEDIMENT_OC_MEAN_PCT",
    "SEDIMENT_OC_SD_PCT",
    "SOIL_STEP_CM",
    "SoilProfile",
    "SoilWorld",
    "calibrate_gain",
    "deposition_rate_cm_yr",
    "draw_soil_world",
    "first_epoch_soil",
    "later_epoch_soil",
    "second_epoch_soil",
]

FloatArray = npt.NDArray[np.float64]
#: A depth (cm) shared by every profile, or one per profile.
Depth: TypeAlias = float | FloatArray

#: Thickness of the layers the true soil stocks are summed over, cm (at most).
SOIL_STEP_CM: Final = 0.5
#: e-folding depth of the accumulated (autochthonous) soil carbon, cm.
GAIN_DECAY_CM: Final = 12.0
#: Depth over which bulk density approaches its deep value, cm.
BD_DEPTH_CM: Final = 30.0
#: e-folding depth of the compaction of the old profile, cm.
COMPACTION_DEPTH_CM: Final = 20.0
#: Mean, SD and range of the compaction coefficient κ.
COMPACTION_MEAN: Final = 0.05
COMPACTION_SD: Final = 0.01
COMPACTION_RANGE: Final = (0.02, 0.08)
#: Bulk density of the deposited sediment, g cm⁻³.
SEDIMENT_BD_G_CM3: Final = 0.85
#: The world's mean sediment OC (%) is drawn from N(SEDIMENT_OC_MEAN_PCT, SEDIMENT_OC_SD_PCT²).
SEDIMENT_OC_MEAN_PCT: Final = 1.2
SEDIMENT_OC_SD_PCT: Final = 0.1
#: SD of the log of the sediment OC's mean-one lognormal field.
SEDIMENT_OC_LOG_SD: Final = 0.1
#: Deposition rate ``0.6 × exp(−(z − 26)/1.2) × M_d`` cm/yr, clipped to [0, 2].
DEPOSITION_RATE_CM_YR: Final = 0.6
DEPOSITION_ELEVATION_M: Final = 26.0
DEPOSITION_SCALE_M: Final = 1.2
DEPOSITION_LOG_SD: Final = 0.3
DEPOSITION_MAX_CM_YR: Final = 2.0
#: SD of the later lab's relative method bias b.
LAB_METHOD_BIAS_SD: Final = 0.02
#: SD of the log of the lognormal field of the autochthonous gain rate.
GAIN_LOG_SD: Final = 0.25

_NEWTON_STEPS: Final = 50


def _depth(value: float | npt.ArrayLike) -> Depth:
    """A Python float for a scalar depth (so :func:`math.exp` is used), else a float array."""
    if np.ndim(value) == 0:
        return float(np.asarray(value))
    return np.asarray(value, dtype=np.float64)


def _exp(value: Depth) -> Depth:
    if isinstance(value, np.ndarray):
        return np.asarray(np.exp(value), dtype=np.float64)
    return math.exp(value)


def _layer_count(length: Depth) -> int:
    """Layers of at most :data:`SOIL_STEP_CM` that split the longest of ``length``."""
    longest = float(np.max(length))
    return max(0, math.ceil(longest / SOIL_STEP_CM - 1e-9))


@dataclass(frozen=True)
class SoilWorld:
    """The soil parameters drawn once per seed.

    Parameters
    ----------
    sediment_oc_pct_mean
        μ_sed, the world's mean OC of the deposited sediment, %.
    sediment_bd_g_cm3
        Bulk density of the deposited sediment, g cm⁻³.
    compaction_mean
        Mean of the compaction coefficient κ of the old profile.
    lab_method_bias
        b: the later epoch's lab reads OC × (1 + b).
    lab_method_bias_epoch
        The epoch whose lab is biased (2025); a third epoch's samples go to the
        same lab (:meth:`biased_epochs`).
    """

    sediment_oc_pct_mean: float
    sediment_bd_g_cm3: float
    compaction_mean: float
    lab_method_bias: float
    lab_method_bias_epoch: str

    def biased_epochs(self, names: Sequence[str]) -> tuple[str, ...]:
        """The epochs, of ``names`` (in time order), whose lab reads OC × (1 + b).

        Parameters
        ----------
        names
            The survey's epoch names.

        Returns
        -------
        tuple of str
            :attr:`lab_method_bias_epoch` and every epoch after it.
        """
        if self.lab_method_bias_epoch not in names:
            return ()
        return tuple(names[list(names).index(self.lab_method_bias_epoch) :])


def draw_soil_world(seed: int) -> SoilWorld:
    """Draw the world's soil parameters from the stream ``"landscape.soil_world"``.

    Parameters
    ----------
    seed
        Survey seed.

    Returns
    -------
    SoilWorld
        μ_sed ~ N(1.2, 0.1²) % (drawn first), then b ~ N(0, 0.02²).
    """
    rng = named_stream(seed, "landscape.soil_world")
    mu = float(rng.normal(SEDIMENT_OC_MEAN_PCT, SEDIMENT_OC_SD_PCT))
    bias = float(rng.normal(0.0, LAB_METHOD_BIAS_SD))
    return SoilWorld(
        sediment_oc_pct_mean=mu,
        sediment_bd_g_cm3=SEDIMENT_BD_G_CM3,
        compaction_mean=COMPACTION_MEAN,
        lab_method_bias=bias,
        lab_method_bias_epoch=EPOCHS[-1].name,
    )


@dataclass(frozen=True)
class SoilProfile:
    """Parameters of the true soil profile, as arrays of any (shared) shape, or scalars.

    Parameters
    ----------
    oc_surface_pct, oc_deep_pct, oc_decay_cm
        The first epoch's ``OC(ζ) = OC_deep + (OC_0 − OC_deep) e^{−ζ/λ}``, %.
    bd_surface_g_cm3, bd_deep_g_cm3
        The first epoch's ``BD(ζ) = BD_deep − (BD_deep − BD_0) e^{−ζ/30}``, g cm⁻³.
    gain_pct
        ``a`` of the autochthonous gain ``a e^{−z/12}`` (% OC), ``z`` below the
        current surface.
    deposit_cm
        Thickness ``d`` of the sediment deposited on the old surface, cm.
    compaction
        κ: old depth ``ζ`` loses the thickness fraction ``κ e^{−ζ/20}``.
    sediment_bd_g_cm3, sediment_oc_pct
        Bulk density and (allochthonous) OC % of the deposited sediment.

    Notes
    -----
    With ``d = 0`` and ``κ = 0`` (the first epoch) the profile is the first
    epoch's, with exactly the numbers of the model without deposition.
    """

    oc_surface_pct: FloatArray
    oc_deep_pct: FloatArray
    oc_decay_cm: FloatArray
    bd_surface_g_cm3: FloatArray
    bd_deep_g_cm3: FloatArray
    gain_pct: FloatArray
    deposit_cm: Depth = 0.0
    compaction: Depth = 0.0
    sediment_bd_g_cm3: Depth = 0.0
    sediment_oc_pct: Depth = 0.0

    # ----------------------------------------------------------- geometry
    def new_depth(self, old_depth_cm: float | npt.ArrayLike) -> Depth:
        """Depth (cm, below the current surface) of the old material at old depth ``ζ``.

        ``z = d + ζ − 20 κ (1 − e^{−ζ/20})``.
        """
        zeta = _depth(old_depth_cm)
        shrink = COMPACTION_DEPTH_CM * self.compaction * (1.0 - _exp(-zeta / COMPACTION_DEPTH_CM))
        return _depth(self.deposit_cm + zeta - shrink)

    def old_depth(self, depth_cm: float | npt.ArrayLike) -> Depth:
        """First-epoch depth ``ζ`` of the material now at ``depth_cm`` (0 inside the deposit).

        Notes
        -----
        Solves ``ζ − 20 κ (1 − e^{−ζ/20}) = max(z − d, 0)`` by Newton's method
        from ``ζ₀ = max(z − d, 0)``: the left side is increasing and convex, so
        the iterates converge monotonically (``ζ₀`` itself when ``κ = 0``).
        """
        z = _depth(depth_cm)
        target = _depth(np.maximum(np.asarray(z) - np.asarray(self.deposit_cm), 0.0))
        kappa = np.asarray(self.compaction, dtype=np.float64)
        if not np.any(kappa):
            return target
        zeta = np.asarray(target, dtype=np.float64)
        for _ in range(_NEWTON_STEPS):
            decay = np.exp(-zeta / COMPACTION_DEPTH_CM)
            residual = zeta - COMPACTION_DEPTH_CM * kappa * (1.0 - decay) - target
            step = residual / (1.0 - kappa * decay)
            zeta = zeta - step
            if float(np.max(np.abs(step))) <= 1e-12 * (1.0 + float(np.max(zeta))):
                break
        return _depth(zeta)

    # ------------------------------------------------------ point values
    def _old_oc(self, zeta: Depth) -> FloatArray:
        excess = (self.oc_surface_pct - self.oc_deep_pct) * np.exp(-zeta / self.oc_decay_cm)
        return np.asarray(self.oc_deep_pct + excess, dtype=np.float64)

    def _old_bd(self, zeta: Depth) -> FloatArray:
        deficit = (self.bd_deep_g_cm3 - self.bd_surface_g_cm3) * _exp(-zeta / BD_DEPTH_CM)
        return np.asarray(self.bd_deep_g_cm3 - deficit, dtype=np.float64)

    def _gain(self, depth: Depth) -> FloatArray:
        return np.asarray(self.gain_pct * _exp(-depth / GAIN_DECAY_CM), dtype=np.float64)

    def oc_pct(self, depth_cm: float | npt.ArrayLike) -> FloatArray:
        """Organic carbon (%) at ``depth_cm`` below the current surface."""
        z = _depth(depth_cm)
        base = np.where(
            np.asarray(z) < np.asarray(self.deposit_cm),
            self.sediment_oc_pct,
            self._old_oc(self.old_depth(z)),
        )
        return np.asarray(base + self._gain(z), dtype=np.float64)

    def bulk_density(self, depth_cm: float | npt.ArrayLike) -> FloatArray:
        """Bulk density (g cm⁻³) at ``depth_cm`` below the current surface."""
        z = _depth(depth_cm)
        zeta = self.old_depth(z)
        thinning = 1.0 - self.compaction * _exp(-zeta / COMPACTION_DEPTH_CM)
        old = self._old_bd(zeta) / thinning
        sediment = np.asarray(z) < np.asarray(self.deposit_cm)
        return np.asarray(np.where(sediment, self.sediment_bd_g_cm3, old), dtype=np.float64)

    def allochthonous_mg_ha(self) -> FloatArray:
        """Carbon of the deposited sediment, ``d × BD_sed × OC_sed`` Mg C ha⁻¹."""
        value = self.deposit_cm * self.sediment_bd_g_cm3 * self.sediment_oc_pct
        return np.asarray(
            np.broadcast_to(value, np.shape(self.oc_surface_pct)), dtype=np.float64
        ).copy()

    # ------------------------------------------------------- integration
    def _sublayers(
        self, sediment: tuple[Depth, Depth], old: tuple[Depth, Depth]
    ) -> Iterator[tuple[FloatArray, FloatArray, FloatArray, Depth]]:
        """``(base OC %, gain OC %, BD, thickness)`` of the layers of two intervals.

        ``sediment`` is an interval of new depths inside the deposit, ``old``
        one of first-epoch depths of the old material; each is split into
        equal layers of at most :data:`SOIL_STEP_CM`, evaluated at their
        midpoints. Old layers carry their first-epoch BD and thickness (the
        same mass as their compacted BD and thickness).
        """
        for kind, (top, bottom) in (("sediment", sediment), ("old", old)):
            length = _depth(np.maximum(np.asarray(bottom) - np.asarray(top), 0.0))
            n = _layer_count(length)
            if n == 0:
                continue
            step = _depth(np.asarray(length) / n)
            for i in range(n):
                mid = _depth(top + step * (i + 0.5))
                if kind == "sediment":
                    oc = np.asarray(self.sediment_oc_pct, dtype=np.float64)
                    bd = np.asarray(self.sediment_bd_g_cm3, dtype=np.float64)
                    yield oc, self._gain(mid), bd, step
                else:
                    yield (
                        self._old_oc(mid),
                        self._gain(self.new_depth(mid)),
                        self._old_bd(mid),
                        step,
                    )

    def _split(self, top_cm: Depth, bottom_cm: Depth) -> tuple[tuple[Depth, Depth], ...]:
        """The sediment and old-depth intervals of the new depths ``top … bottom``."""
        top, bottom = _depth(top_cm), _depth(bottom_cm)
        sediment_bottom = _depth(np.minimum(np.asarray(bottom), np.asarray(self.deposit_cm)))
        return (top, sediment_bottom), (self.old_depth(top), self.old_depth(bottom))

    def _total(
        self,
        layers: Iterator[tuple[FloatArray, FloatArray, FloatArray, Depth]],
        *,
        part: Literal["carbon", "gain", "mass"],
    ) -> FloatArray:
        """Sum of ``OC × BD × Δz`` (carbon), ``gain × BD × Δz`` or ``BD × Δz`` (mass)."""
        total = np.zeros(np.shape(self.oc_surface_pct), dtype=np.float64)
        for base, gain, bd, dz in layers:
            if part == "carbon":
                total += (base + gain) * bd * dz
            elif part == "gain":
                total += gain * bd * dz
            else:
                total += bd * dz
        return total

    def stock_mg_ha(self, top_cm: Depth, bottom_cm: Depth) -> FloatArray:
        """SOC stock between two depths below the current surface, Mg C ha⁻¹.

        Notes
        -----
        ``SOC = Σ OC_i [%] × BD_i [g cm⁻³] × d_i [cm]`` over layers of at most
        :data:`SOIL_STEP_CM` (docs/methodology.md §3), evaluated at layer
        midpoints; the deposit and the old material are summed apart.
        """
        return self._total(self._sublayers(*self._split(top_cm, bottom_cm)), part="carbon")

    def soil_mass_mg_ha(self, top_cm: Depth, bottom_cm: Depth) -> FloatArray:
        """Dry soil mass between two depths below the current surface, Mg ha⁻¹.

        ``Σ BD_i × d_i × 100`` (1 g cm⁻³ × 1 cm = 100 Mg ha⁻¹).
        """
        return 100.0 * self._total(self._sublayers(*self._split(top_cm, bottom_cm)), part="mass")

    def reference_stock_mg_ha(self, depth_cm: float) -> FloatArray:
        """SOC in the reference material, Mg C ha⁻¹.

        The reference material is the first epoch's 0–``depth_cm`` material
        plus the sediment deposited on it: the new depths ``0 … z(depth_cm)``.
        """
        layers = self._sublayers((0.0, self.deposit_cm), (0.0, float(depth_cm)))
        return self._total(layers, part="carbon")

    def reference_gain_mg_ha(self, depth_cm: float) -> FloatArray:
        """Autochthonous carbon gained in the reference material, Mg C ha⁻¹.

        ``∫₀^{z(D)} a e^{−z/12} BD(z) dz`` with ``z(D)`` the new depth of old
        depth ``D = depth_cm`` (see :meth:`reference_stock_mg_ha`).
        """
        if not np.any(self.gain_pct):  # nothing gained (the first epoch)
            return np.zeros(np.shape(self.oc_surface_pct), dtype=np.float64)
        layers = self._sublayers((0.0, self.deposit_cm), (0.0, float(depth_cm)))
        return self._total(layers, part="gain")

    def layer_means(self, top_cm: float, bottom_cm: float) -> tuple[FloatArray, FloatArray]:
        """What a lab measures on a homogenised layer: mass-weighted OC % and mean BD.

        Their product times the thickness equals :meth:`stock_mg_ha` of the layer.
        """
        carbon = np.zeros(np.shape(self.oc_surface_pct), dtype=np.float64)
        mass = np.zeros_like(carbon)
        for base, gain, bd, dz in self._sublayers(*self._split(top_cm, bottom_cm)):
            carbon += (base + gain) * bd * dz
            mass += bd * dz
        return carbon / mass, mass / (bottom_cm - top_cm)

    # ------------------------------------------------------------ copies
    def at(self, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]) -> SoilProfile:
        """The profiles of the cells ``(rows, cols)``."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = value if np.ndim(value) == 0 else np.asarray(value)[rows, cols]
        return replace(self, **values)

    def scaled(self, *, oc_factor: FloatArray, bd_factor: FloatArray) -> SoilProfile:
        """A copy with OC and BD multiplied by per-profile factors (micro-site variation)."""
        return replace(
            self,
            oc_surface_pct=self.oc_surface_pct * oc_factor,
            oc_deep_pct=self.oc_deep_pct * oc_factor,
            gain_pct=self.gain_pct * oc_factor,
            sediment_oc_pct=self.sediment_oc_pct * oc_factor,
            bd_surface_g_cm3=self.bd_surface_g_cm3 * bd_factor,
            bd_deep_g_cm3=self.bd_deep_g_cm3 * bd_factor,
            sediment_bd_g_cm3=self.sediment_bd_g_cm3 * bd_factor,
        )


# ------------------------------------------------------------------- builders
def first_epoch_soil(
    elevation: FloatArray, classes: npt.NDArray[np.int8], soil_fields: dict[str, FloatArray]
) -> SoilProfile:
    """The first epoch's profile (no deposit, no compaction, no gain).

    Parameters
    ----------
    elevation
        First-epoch elevation, m.
    classes
        First-epoch class codes.
    soil_fields
        Unit Gaussian fields ``soc_deep``, ``soc_residual``, ``bd_surface``,
        ``bd_deep`` and ``soc_decay``.

    Returns
    -------
    SoilProfile
        ``OC_0 = clip(OC_c − 0.08 (z − 27) + 0.45 R, max(0.8, OC_deep + 0.2), 4)``,
        ``OC_deep = clip(0.55 + 0.08 F, 0.35, 0.8)``, ``BD_0 = clip(BD_c + 0.05 F,
        0.8, 1.2)``, ``BD_deep = clip(1.42 + 0.04 F, 1.3, 1.5)``, ``λ = λ_c e^{0.1 F}``.
    """
    oc_class = np.zeros(elevation.shape)
    decay = np.zeros(elevation.shape)
    bd_class = np.zeros(elevation.shape)
    for params in CLASSES:
        cls = classes == params.code
        oc_class[cls] = params.soc_surface_pct
        decay[cls] = params.soc_decay_cm
        bd_class[cls] = params.bd_surface_g_cm3
    oc_deep = np.clip(0.55 + 0.08 * soil_fields["soc_deep"], 0.35, 0.8)
    oc_surface = oc_class - 0.08 * (elevation - 27.0) + 0.45 * soil_fields["soc_residual"]
    oc_surface = np.clip(oc_surface, np.maximum(0.8, oc_deep + 0.2), 4.0)
    bd_surface = np.clip(bd_class + 0.05 * soil_fields["bd_surface"], 0.8, 1.2)
    bd_deep = np.clip(1.42 + 0.04 * soil_fields["bd_deep"], 1.3, 1.5)
    return SoilProfile(
        oc_surface_pct=oc_surface,
        oc_deep_pct=oc_deep,
        oc_decay_cm=decay * np.exp(0.1 * soil_fields["soc_decay"]),
        bd_surface_g_cm3=bd_surface,
        bd_deep_g_cm3=bd_deep,
        gain_pct=np.zeros(elevation.shape),
    )


def deposition_rate_cm_yr(elevation: FloatArray, field: FloatArray) -> FloatArray:
    """Sediment deposition rate, cm/yr.

    Parameters
    ----------
    elevation
        First-epoch elevation, m.
    field
        Unit Gaussian random field of the lognormal multiplier.

    Returns
    -------
    numpy.ndarray
        ``clip(0.6 × exp(−(z − 26)/1.2) × exp(0.3 F − 0.3²/2), 0, 2)``.
    """
    sd = DEPOSITION_LOG_SD
    rate = (
        DEPOSITION_RATE_CM_YR
        * np.exp(-(elevation - DEPOSITION_ELEVATION_M) / DEPOSITION_SCALE_M)
        * np.exp(sd * field - sd**2 / 2)
    )
    return np.asarray(np.clip(rate, 0.0, DEPOSITION_MAX_CM_YR), dtype=np.float64)


def calibrate_gain(
    profile: SoilProfile, gain_mg_ha: FloatArray, *, depth_cm: float = 30.0
) -> SoilProfile:
    """Set ``a`` so that the reference material of ``0–depth_cm`` gains ``gain_mg_ha``.

    Parameters
    ----------
    profile
        The later epoch's profile (deposit, compaction, sediment); its own
        ``gain_pct`` is ignored.
    gain_mg_ha
        Autochthonous carbon to be gained in the reference material, Mg C ha⁻¹.
    depth_cm
        ``D``: the reference material is the first epoch's 0–D cm plus the deposit.

    Returns
    -------
    SoilProfile
        ``profile`` with ``a = gain / U``, ``U`` the reference gain of ``a = 1``.
    """
    unit = replace(profile, gain_pct=np.ones(np.shape(profile.oc_surface_pct)))
    per_unit = unit.reference_gain_mg_ha(depth_cm)
    return replace(profile, gain_pct=np.asarray(gain_mg_ha / per_unit, dtype=np.float64))


def _field(seed: int, name: str, shape: tuple[int, int], length: float) -> FloatArray:
    """The unit Gaussian field of the stream ``"landscape.<name>"``."""
    return gaussian_field(named_stream(seed, f"landscape.{name}"), shape, length_cells=length)


def _gain_rate(
    classes_1: npt.NDArray[np.int8], classes_2: npt.NDArray[np.int8], gain_field: FloatArray
) -> FloatArray:
    """``r = (r_c1 + r_c2)/2 × exp(0.25 F − 0.25²/2)`` Mg C ha⁻¹ yr⁻¹ of a period."""
    rate_1 = np.zeros(classes_1.shape)
    rate_2 = np.zeros(classes_2.shape)
    for params in CLASSES:
        rate_1[classes_1 == params.code] = params.soc_gain_mg_ha_yr
        rate_2[classes_2 == params.code] = params.soc_gain_mg_ha_yr
    sd = GAIN_LOG_SD
    return np.asarray(0.5 * (rate_1 + rate_2) * np.exp(sd * gain_field - sd**2 / 2))


def second_epoch_soil(
    first: SoilProfile,
    classes_1: npt.NDArray[np.int8],
    classes_2: npt.NDArray[np.int8],
    elevation: FloatArray,
    gain_field: FloatArray,
    *,
    seed: int,
    world: SoilWorld,
    years: float,
) -> SoilProfile:
    """The second epoch's profile: deposit on top, compacted old profile below, carbon gained.

    Parameters
    ----------
    first
        The first epoch's profile.
    classes_1, classes_2
        Class codes of the two epochs (for the gain rate).
    elevation
        First-epoch elevation, m (for the deposition rate).
    gain_field
        Unit Gaussian field of the gain rate's lognormal multiplier.
    seed
        Survey seed (streams ``"landscape.sediment_rate"``,
        ``"landscape.sediment_oc"`` and ``"landscape.compaction"``).
    world
        The world's sediment parameters.
    years
        Time between the epochs.

    Returns
    -------
    SoilProfile
        ``d = years × rate``; ``κ = clip(0.05 + 0.01 F, 0.02, 0.08)``;
        ``OC_sed = μ_sed exp(0.1 F − 0.005)``; ``a`` calibrated so that the
        0–30 cm reference material gains ``years × r``, ``r = (r_c1 + r_c2)/2 ×
        exp(0.25 F − 0.25²/2)`` Mg C ha⁻¹ yr⁻¹.
    """
    shape = elevation.shape
    rate = _gain_rate(classes_1, classes_2, gain_field)
    deposit = years * deposition_rate_cm_yr(elevation, _field(seed, "sediment_rate", shape, 10.0))
    low, high = COMPACTION_RANGE
    kappa = np.clip(
        COMPACTION_MEAN + COMPACTION_SD * _field(seed, "compaction", shape, 20.0), low, high
    )
    sd = SEDIMENT_OC_LOG_SD
    oc_sed = world.sediment_oc_pct_mean * np.exp(
        sd * _field(seed, "sediment_oc", shape, 15.0) - sd**2 / 2
    )
    buried = replace(
        first,
        deposit_cm=deposit,
        compaction=kappa,
        sediment_bd_g_cm3=np.full(shape, world.sediment_bd_g_cm3),
        sediment_oc_pct=oc_sed,
    )
    return calibrate_gain(buried, rate * years, depth_cm=30.0)


def later_epoch_soil(
    previous: SoilProfile,
    classes_1: npt.NDArray[np.int8],
    classes_2: npt.NDArray[np.int8],
    elevation: FloatArray,
    gain_field: FloatArray,
    *,
    seed: int,
    years: float,
) -> SoilProfile:
    """A third epoch's profile: the second's, a further period of deposit and gain on.

    The same model as :func:`second_epoch_soil`, continued over the ``years``
    from the previous epoch, and still described against the first epoch (the
    marker horizon and the reference material are the first survey's).

    Parameters
    ----------
    previous
        The previous (second) epoch's profile.
    classes_1, classes_2
        Class codes of the previous and this epoch (for the gain rate).
    elevation
        The previous epoch's elevation, m (for the deposition rate).
    gain_field
        Unit Gaussian field of the gain rate's lognormal multiplier (the same
        field as the previous period's).
    seed
        Survey seed (stream ``"landscape.sediment_rate"``: the deposition's
        spatial pattern persists from one period to the next).
    years
        Time between the previous epoch and this one.

    Returns
    -------
    SoilProfile
        ``d = d_prev + years × rate(z_prev)`` (the new sediment, of the same
        ``BD_sed`` and ``OC_sed``, lies on the previous deposit); κ unchanged
        (the old profile's compaction does not depend on the load); ``a``
        calibrated so that the reference material of the first epoch's 0–30 cm
        holds the previous epoch's gain plus ``years × r``, ``r = (r_c1 +
        r_c2)/2 × exp(0.25 F − 0.25²/2)`` with this period's classes.

    Notes
    -----
    The gain stays one profile ``a e^{−z/12}`` below the current surface, so
    the carbon gained in the reference material grows by exactly ``years × r``
    per cell; the gain in a thin layer of old material deep down may shift a
    little as the new deposit pushes it deeper.
    """
    shape = elevation.shape
    rate = _gain_rate(classes_1, classes_2, gain_field)
    new = years * deposition_rate_cm_yr(elevation, _field(seed, "sediment_rate", shape, 10.0))
    buried = replace(previous, deposit_cm=np.asarray(previous.deposit_cm) + new)
    gained = previous.reference_gain_mg_ha(30.0) + rate * years
    return calibrate_gain(buried, gained, depth_cm=30.0)
