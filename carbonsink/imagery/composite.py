"""Per-epoch composites: the median of each pixel's usable observations.

Clouds, shadows, snow and fill differ from scene to scene; a composite takes,
per pixel and band, the median of the scenes in which the pixel is usable,
and records how many scenes that was (``valid_count``). Scenes that are
wholly unusable inside the survey are flagged, and a composite with no
usable scene at all is an error rather than an all-NaN layer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import rioxarray  # noqa: F401  (the .rio accessor keeps the CRS)
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.imagery.masks import water_mask
from carbonsink.imagery.scenes import Scene

__all__ = ["composite_scenes", "fill_composite_gaps"]

logger = logging.getLogger(__name__)


def _nanmedian_last_axis(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Median over the last axis ignoring NaN; NaN where all are NaN.

    Sorting puts NaN last, so the median of the ``n`` valid values is the
    mean of sorted elements ``(n - 1) // 2`` and ``n // 2``. Unlike
    :func:`numpy.nanmedian` this raises no warning on all-NaN pixels (a
    warning filter is not thread-safe under dask).
    """
    ordered = np.sort(values, axis=-1)
    count = np.sum(~np.isnan(ordered), axis=-1)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0)[..., None] // 2, axis=-1)
    high = np.take_along_axis(ordered, (count // 2)[..., None], axis=-1)
    median = 0.5 * (low[..., 0] + high[..., 0])
    return np.where(count > 0, median, np.nan).astype(np.float32)


def _common_bands(scenes: Sequence[Scene]) -> list[str]:
    first = [str(b) for b in scenes[0].reflectance["band"].values]
    shared = [b for b in first if all(b in s.reflectance["band"].values for s in scenes[1:])]
    if not shared:
        raise InputError(
            "the scenes of this epoch have no band in common: "
            + "; ".join(f"{s.source}: {list(s.reflectance['band'].values)}" for s in scenes),
            fix="composite scenes of the same sensor, or give band maps with common names",
        )
    dropped = sorted(set(first) - set(shared))
    if dropped:
        logger.info("bands %s are not in every scene and are left out of the composite", dropped)
    return shared


def composite_scenes(
    scenes: Sequence[Scene],
    *,
    inside: xr.DataArray | None = None,
    min_usable_fraction: float = 0.0,
) -> xr.Dataset:
    """Median composite of the usable observations of several scenes.

    Parameters
    ----------
    scenes
        Scenes of one epoch on the same grid (same phenological window).
    inside
        Boolean ``(y, x)`` survey mask for the per-scene usable fractions;
        the whole grid by default.
    min_usable_fraction
        Scenes with a smaller usable fraction inside the survey are left out
        and flagged (0: only wholly unusable scenes are).

    Returns
    -------
    xarray.Dataset
        ``reflectance`` ``(band, y, x)`` float32 median (NaN where no scene is
        usable); ``valid_count`` ``(y, x)`` uint8, the number of usable
        observations; ``water`` (MNDWI of the composite > 0) when green and
        SWIR1 are present. Attributes: ``scenes`` (sources), ``scene_dates``,
        ``usable_fraction`` (per scene, 0–1), ``flagged_scenes`` (left out,
        with the reason).

    Raises
    ------
    InputError
        No scene, scenes on different grids, or not one usable scene.

    Notes
    -----
    ρ̃_b(x) = median{ρ_b,s(x) : s usable at x}, the per-pixel median of
    valid observations used for cloud-free composites (e.g. Flood 2013,
    Remote Sens. 5:6481–6500, on medoid/median compositing). Lazy inputs
    give a lazy composite (the scene axis is one chunk).
    """
    if not scenes:
        raise InputError("no scene to composite", fix="list the epoch's images in the survey")
    first = scenes[0].reflectance
    shape = first.shape[1:]
    for scene in scenes[1:]:
        if scene.reflectance.shape[1:] != shape:
            raise InputError(
                f"{scene.source} is on a {scene.reflectance.shape[1:]} grid, "
                f"{scenes[0].source} on {shape}",
                path=scene.source,
                fix="read every scene onto the same analysis grid",
            )
        # Same shape is not the same grid: a shifted grid would stack different
        # ground cells (the concat below overrides coordinates).
        if not all(
            np.array_equal(scene.reflectance[axis].values, first[axis].values)
            for axis in ("y", "x")
        ):
            raise InputError(
                f"{scene.source} is on a grid with other cell coordinates than "
                f"{scenes[0].source} (same {shape} shape, different place)",
                path=scene.source,
                fix="read every scene onto the same analysis grid",
            )
    bands = _common_bands(scenes)
    kept: list[Scene] = []
    fractions: list[float] = []
    flagged: list[str] = []
    for scene in scenes:
        fraction = scene.usable_fraction(inside)
        fractions.append(fraction)
        if fraction <= 0.0 or fraction < min_usable_fraction:
            reason = (
                "no usable pixel inside the survey (cloud, shadow, snow or no data)"
                if fraction <= 0.0
                else f"only {fraction:.1%} usable, below {min_usable_fraction:.0%}"
            )
            flagged.append(f"{scene.source}: {reason}")
            logger.warning("scene %s left out of the composite: %s", scene.source, reason)
        else:
            kept.append(scene)
    if not kept:
        raise InputError(
            "no scene of this epoch has a usable pixel inside the survey: " + "; ".join(flagged),
            fix="add a clearer scene from the same season, or check the QA band and sensor",
        )

    stack = xr.concat(
        [s.reflectance.sel(band=bands).where(s.usable) for s in kept],
        dim="scene",
        coords="minimal",
        compat="override",
        join="override",
    )
    if stack.chunks is not None:
        stack = stack.chunk({"scene": -1})
    median = xr.apply_ufunc(
        _nanmedian_last_axis,
        stack,
        input_core_dims=[["scene"]],
        dask="parallelized",
        output_dtypes=[np.float32],
        keep_attrs=False,
    ).transpose("band", "y", "x")
    median.name = "reflectance"
    median.attrs = {**kept[0].reflectance.attrs, "long_name": "median composite reflectance"}

    counts = stack.notnull().all("band").sum("scene").astype(np.uint8)
    counts.name = "valid_count"
    counts.attrs = {"units": "1", "long_name": "number of usable observations"}

    layers: dict[str, xr.DataArray] = {"reflectance": median, "valid_count": counts}
    if {"green", "swir1"} <= set(bands):
        layers["water"] = water_mask(median)
    reference = kept[0].reflectance
    if reference.rio.crs is not None:
        transform = reference.rio.transform()
        for layer in layers.values():  # in place: each layer is this function's own
            layer.rio.write_crs(reference.rio.crs, inplace=True)
            layer.rio.write_transform(transform, inplace=True)
    return xr.Dataset(
        layers,
        attrs={
            "scenes": [s.source for s in scenes],
            "scene_dates": [s.date.isoformat() if s.date else "" for s in scenes],
            "usable_fraction": fractions,
            "flagged_scenes": flagged,
            "unmasked_scenes": [
                s.source
                for s in kept
                if str(s.masks.attrs.get("cloud_mask", "")).startswith("none")
            ],
            "sensor": kept[0].sensor,
        },
    )


def fill_composite_gaps(composite: xr.Dataset, inside: xr.DataArray | None = None) -> xr.Dataset:
    """Fill cells without a usable observation from the nearest cell that has one.

    Parameters
    ----------
    composite
        The output of :func:`composite_scenes` (computed: the fill needs the
        whole grid).
    inside
        Boolean ``(y, x)`` survey mask: only gaps inside are filled (all by
        default).

    Returns
    -------
    xarray.Dataset
        A copy whose ``reflectance`` has no gap inside the survey, with a
        boolean ``gap_filled`` layer and, in its attributes, the number of
        cells filled. ``valid_count`` is unchanged (0 at filled cells).

    Notes
    -----
    Nearest-neighbour imputation by the Euclidean distance transform (scipy
    ``distance_transform_edt``): every cell takes the spectrum of the closest
    cell with at least one usable observation. A cloud gap then borrows its
    neighbours' cover instead of being dropped, which would bias totals low
    by the gap's share of the area; the filled cells are flagged so the
    report can show them.
    """
    from scipy.ndimage import distance_transform_edt

    reflectance = np.asarray(composite["reflectance"].values)
    observed = np.isfinite(reflectance).all(axis=0)
    area = np.ones(observed.shape, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    gaps = area & ~observed
    filled = reflectance.copy()
    if gaps.any() and observed.any():
        rows, cols = distance_transform_edt(~observed, return_distances=False, return_indices=True)
        filled[:, gaps] = reflectance[:, rows[gaps], cols[gaps]]
    out = composite.copy()
    out["reflectance"] = composite["reflectance"].copy(data=filled)
    gap_layer = composite["valid_count"].copy(data=gaps)
    gap_layer.name = "gap_filled"
    gap_layer.attrs = {
        "units": "1",
        "long_name": "no usable observation: spectrum of the nearest observed cell",
    }
    out["gap_filled"] = gap_layer
    out.attrs = {**composite.attrs, "gap_filled_cells": int(gaps.sum())}
    if "water" in composite:
        out["water"] = water_mask(out["reflectance"])
    return out
